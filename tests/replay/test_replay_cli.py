"""`ciwb replay run` as a user runs it: JSON result, phase table, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "ciwb.cli", "replay", "run", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


SPEC = """\
    version: 0.2
    env:
      variables: {GREETING: hi}
      exported-variables: [GREETING, ART]
    phases:
      build:
        commands:
          - mkdir -p dist && echo "$GREETING" > dist/out.txt
          - export ART=built
    artifacts:
      files: ['dist/*']
      name: bundle
    """


def test_json_result_has_status_phases_exports_and_artifacts(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text(textwrap.dedent(SPEC))
    env_file = tmp_path / "env"
    env_file.write_text("GREETING=override\n")
    done = _cli(
        src,
        "--out",
        tmp_path / "out",
        "--db",
        tmp_path / "db.duckdb",
        "--json",
        "--unpacked",
        "--env-file",
        env_file,
        "--timeout",
        "2m",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED"
    assert [p["phase"] for p in result["phases"]][4:9] == [
        "INSTALL",
        "PRE_BUILD",
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
    ]
    assert all(p["seconds"] is None or p["seconds"] >= 0 for p in result["phases"])
    assert result["exported_variables"] == {"GREETING": "override", "ART": "built"}
    (artifact,) = result["artifacts"]
    assert artifact["zip"].endswith("/bundle.zip") and artifact["files"] == 1
    with open(f"{artifact['dir']}/dist/out.txt") as fh:
        assert fh.read() == "override\n"
    assert "no isolation" in done.stderr.lower()


def test_table_output_and_failure_exit_code(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands: [exit 9]\n")
    done = _cli(src, "--out", tmp_path / "out", "--db", tmp_path / "db.duckdb")
    assert done.returncode == 1
    assert "BUILD" in done.stdout and "FAILED" in done.stdout and "exit status 9" in done.stdout
    assert "log: " in done.stdout


def test_an_invalid_buildspec_is_a_failed_download_source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n\tcommands: [x]\n")
    done = _cli(src, "--out", tmp_path / "out", "--db", tmp_path / "db.duckdb", "--json")
    assert done.returncode == 1
    download = next(p for p in json.loads(done.stdout)["phases"] if p["phase"] == "DOWNLOAD_SOURCE")
    assert download["context_code"] == "YAML_FILE_ERROR"
    assert "buildspec.yml:4:1: tab character" in download["context_message"]


def test_follow_streams_the_log_to_stderr(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n")
    done = _cli(src, "--out", tmp_path / "out", "--db", tmp_path / "db.duckdb", "--follow")
    assert done.returncode == 0
    assert "Running command echo hi" in done.stderr and "\nhi\n" in done.stderr
