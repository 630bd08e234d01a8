"""`ciwb import` of the build logs people have: `aws logs get-log-events` and
`filter-log-events` JSON, the console's plain-text download, console copies with line
numbers and the local agent's compose output: all give the same `build_commands` rows.

The logs are real excerpts from public issues (tests/fixtures/agent_logs/SOURCE.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ciwb.collect import import_events, import_paths
from ciwb.errors import CiwbError
from support.queries import query as _q

LOGS = Path(__file__).parents[1] / "fixtures" / "agent_logs"
STATE = Path(__file__).parents[1] / "fixtures" / "aws_events" / "build-state-change.json"
ARN = (
    "arn:aws:codebuild:us-west-2:123456789012:build/"
    "my-sample-project:8745a7a9-c340-456a-9166-edf953571bEX"
)
BUILD_ID = "my-sample-project:8745a7a9-c340-456a-9166-edf953571bEX"
STREAM = "8745a7a9-c340-456a-9166-edf953571bEX"
COMMANDS = "SELECT * FROM build_commands ORDER BY build_arn, seq"
_BRACKET = re.compile(r"^\[Container\] (\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})")


def _clean(name: str) -> list[str]:
    """The excerpt as CloudWatch holds it: without what copying it added."""
    lines = (LOGS / name).read_text().splitlines()
    if name == "local-agent-compose.log":
        return [re.sub(r"^agent_1  \| ?", "", line) for line in lines]
    if name == "console-copy-numbered.log":
        return [re.sub(r"^\d+ \| ?", "", line) for line in lines if line != "--"]
    return lines


def _events(lines: list[str]) -> list[dict]:
    """CloudWatch events: each line one event, stamped with the time its agent line gives."""
    out, last = [], None
    for n, line in enumerate(lines):
        match = _BRACKET.match(line)
        if match:
            when = datetime.strptime(match.group(1), "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
            last = int(when.timestamp() * 1000)
        out.append({"timestamp": last, "message": line + "\n", "ingestionTime": last + 500 + n})
    return out


def _forms(name: str, tmp_path: Path) -> dict[str, Path]:
    clean = _clean(name)
    events = _events(clean)
    forms = {
        "as posted": (LOGS / name).read_text(),
        "clean text": "\n".join(clean) + "\n",
        "console download (CRLF)": "\r\n".join(clean) + "\r\n",
        "console copy, line numbers": "".join(
            f"{n:>4} | {line}\n" for n, line in enumerate(clean, 1)
        ),
        "local agent compose": "".join(f"agent_1  | {line}\n" for line in clean),
        "get-log-events": json.dumps(
            {
                "events": events,
                "nextForwardToken": "f/3781246873286745123456789012345678901234567890123456",
                "nextBackwardToken": "b/3781246873286745123456789012345678901234567890123456",
            },
            indent=4,
        ),
        "filter-log-events": json.dumps(
            {
                "events": [
                    {"logStreamName": STREAM, "eventId": f"3781246{n:013d}", **e}
                    for n, e in enumerate(events)
                ],
                "searchedLogStreams": [{"logStreamName": STREAM, "searchedCompletely": True}],
            },
            indent=4,
        ),
    }
    paths = {}
    for n, (form, text) in enumerate(forms.items()):
        path = tmp_path / f"{n}-{name}{'.json' if 'events' in form else ''}"
        path.write_bytes(text.encode())
        paths[form] = path
    return paths


EXPECTED = {
    "local-agent-compose.log": [("INSTALL", "juawefhkejfhekj", 127)],
    "console-build-failed.log": [("BUILD", 'docker build --tag "${IMAGE_URI}" ./src', 1)],
    "console-copy-numbered.log": [(None, 'grep -Fq "Congratulations"', 1)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_form_of_a_real_log_gives_the_same_command_rows(name, tmp_path):
    results = {}
    for form, path in _forms(name, tmp_path).items():
        db = tmp_path / f"{form}.duckdb"
        import_events(STATE, db)
        build = None if form == "filter-log-events" else BUILD_ID
        summary = import_paths([path], db, build=build)
        assert summary.records["logs"] == 1, form
        results[form] = _q(db, COMMANDS)

    clean = results["clean text"]
    assert [(r[2], r[3], r[7]) for r in clean] == EXPECTED[name]
    assert all(r[0] == ARN and r[8] == "cloudwatch" for r in clean)
    for form, rows in results.items():
        assert rows == clean, form


def test_an_agent_log_as_a_console_download_times_its_commands(tmp_path, db_path):
    log = tmp_path / "build.log"
    log.write_text(
        "[Container] 2024/01/02 03:04:05.100000 Entering phase BUILD\n"
        "[Container] 2024/01/02 03:04:05.200000 Running command make test\n"
        "ok\n"
        "[Container] 2024/01/02 03:04:09.700000 Running command make dist\n"
        "[Container] 2024/01/02 03:04:10.000000 Phase complete: BUILD State: SUCCEEDED\n"
    )
    import_events(STATE, db_path)

    import_paths([log], db_path, build=ARN)

    assert _q(db_path, "SELECT seq, command, duration_s, exit_status FROM build_commands") == [
        (0, "make test", 4.5, 0),
        (1, "make dist", 0.3, 0),
    ]


def test_a_log_that_names_no_build_asks_for_build(tmp_path, db_path):
    paths = _forms("console-build-failed.log", tmp_path)
    import_events(STATE, db_path)
    for form in ("clean text", "get-log-events"):
        with pytest.raises(CiwbError, match="does not say which build"):
            import_paths([paths[form]], db_path)
    with pytest.raises(CiwbError, match="not in the store"):
        import_paths([paths["clean text"]], db_path, build="other:1234")
    with pytest.raises(CiwbError, match="one build's whole log"):
        import_paths([paths["clean text"], paths["as posted"]], db_path, build=BUILD_ID)


def test_import_cli_attaches_a_console_log_to_a_build(tmp_path, db_path):
    import_events(STATE, db_path)
    path = _forms("local-agent-compose.log", tmp_path)["console copy, line numbers"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CIWB_"))}

    run = subprocess.run(
        [sys.executable, "-m", "ciwb", "import", str(path), "--build", BUILD_ID]
        + ["--db", str(db_path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["records"] == {"build_commands": 1, "logs": 1}
    assert _q(db_path, "SELECT command, exit_status FROM build_commands") == [
        ("juawefhkejfhekj", 127)
    ]
