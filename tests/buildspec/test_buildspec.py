"""The parser: scalars as written, what CodeBuild accepts, positions on every problem."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ciwb.buildspec import (
    BuildspecError,
    OnFailure,
    load_buildspec,
    parse_buildspec,
    parse_on_failure,
)


def _ok(text: str):
    spec, diags = parse_buildspec(text, "b.yml")
    errors = [d for d in diags if d.severity == "error"]
    assert spec is not None and not errors, errors
    return spec, [d for d in diags if d.severity == "warning"]


def test_scalars_stay_as_written_and_booleans_are_coerced_per_key():
    spec, _ = _ok("""\
version: 0.2
env:
  variables:
    CI: true
    RATIO: 1.50
    EMPTY:
phases:
  install:
    runtime-versions:
      python: 3.10
      nodejs: 20
artifacts:
  files: ['**/*']
  discard-paths: yes
  enable-symlinks: "no"
""")
    assert spec.version == "0.2"
    assert spec.phases["install"].runtime_versions == {"python": "3.10", "nodejs": "20"}
    assert spec.env.variables == {"CI": "true", "RATIO": "1.50", "EMPTY": ""}
    assert spec.artifacts.discard_paths is True and spec.artifacts.enable_symlinks is False


def test_scalar_where_a_list_is_expected_null_commands_and_block_scalars():
    spec, _ = _ok("""\
version: 0.2
phases:
  install:
    commands:
  build:
    commands: make all
  post_build:
    commands:
      - |
        if [ -n "$X" ]; then
          echo yes
        fi
      - >
        echo folded
        line
artifacts:
  files: dist/app.zip
""")
    assert spec.phases["install"].commands == []
    assert [c.text for c in spec.phases["build"].commands] == ["make all"]
    block, folded = spec.phases["post_build"].commands
    assert block.text == 'if [ -n "$X" ]; then\n  echo yes\nfi'
    assert folded.text == "echo folded line"
    assert (block.line, block.col) == (9, 9)
    assert spec.artifacts.files == ["dist/app.zip"]


def test_crlf_line_endings_and_version_01_environment():
    text = (
        "version: 0.1\r\nenvironment_variables:\r\n  plaintext:\r\n    A: b\r\nphases:\r\n"
        "  build:\r\n    commands:\r\n      - echo hi\r\n"
    )
    spec, _ = _ok(text)
    assert spec.version == "0.1" and spec.env.variables == {"A": "b"}
    assert spec.phases["build"].commands[0].text == "echo hi"


def test_tab_indentation_is_an_error_with_line_and_column():
    _, diags = parse_buildspec("version: 0.2\nphases:\n  build:\n\tcommands: [x]\n", "t.yml")
    assert [str(d) for d in diags] == [
        "t.yml:4:1: tab character in indentation (YAML allows spaces only)"
    ]


def test_unknown_keys_warn_and_type_errors_point_at_the_node():
    spec, diags = parse_buildspec(
        """\
version: 0.2
phases:
  build:
    comands: [x]
    commands:
      - echo ok
      - key: value
  tests:
    commands: [x]
artifacts:
  discard-paths: maybe
colour: blue
""",
        "b.yml",
    )
    messages = [str(d) for d in diags]
    assert "b.yml:4:5: warning: unknown key 'comands' in phases.build (ignored)" in messages
    assert (
        "b.yml:8:3: warning: unknown phase 'tests' (install, pre_build, build, post_build); "
        "it will not run" in messages
    )
    assert "b.yml:12:1: warning: unknown key 'colour' in the buildspec (ignored)" in messages
    assert any(
        m.startswith("b.yml:7:9: a command in phases.build.commands must be a string")
        for m in messages
    )
    assert (
        "b.yml:11:18: artifacts.discard-paths must be yes/no or true/false, not 'maybe'" in messages
    )
    assert "b.yml:11:3: artifacts.files is required" in messages


def test_bad_version_and_missing_phases():
    _, diags = parse_buildspec("version: 1.0\n", "v.yml")
    assert [str(d) for d in diags] == [
        "v.yml:1:10: unsupported version '1.0' (0.1 or 0.2)",
        "v.yml:1:1: phases is required",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ABORT", OnFailure("ABORT", text="ABORT")),
        ("continue", OnFailure("CONTINUE", text="continue")),
        ("RETRY", OnFailure("RETRY", 3, None, "RETRY")),
        ("RETRY-7", OnFailure("RETRY", 7, None, "RETRY-7")),
        ("RETRY-timeout|reset", OnFailure("RETRY", 3, "timeout|reset", "RETRY-timeout|reset")),
        (
            "RETRY-2-exit status [0-9]+",
            OnFailure("RETRY", 2, "exit status [0-9]+", "RETRY-2-exit status [0-9]+"),
        ),
    ],
)
def test_on_failure_forms(text, expected):
    assert parse_on_failure(text) == expected


@pytest.mark.parametrize("text", ["RETRY-101", "RETRY-(", "SOMETIMES"])
def test_bad_on_failure_is_an_error(text):
    with pytest.raises(ValueError):
        parse_on_failure(text)


def test_load_raises_with_every_error(tmp_path):
    path = tmp_path / "buildspec.yml"
    path.write_text("version: 0.3\nphases:\n  build:\n    on-failure: NEVER\n")
    with pytest.raises(BuildspecError) as err:
        load_buildspec(path)
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path}:") for line in lines)


def test_validate_cli_exit_codes(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("version: 0.2\nphases:\n  build:\n    commands: [x]\nextra: 1\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("version: 0.2\nphases:\n  build:\n\tcommands: [x]\n")

    def run(*files):
        return subprocess.run(
            [sys.executable, "-m", "ciwb.cli", "replay", "validate", *files],
            capture_output=True,
            text=True,
        )

    warn = run(str(good))
    assert warn.returncode == 0 and f"{good}:5:1: warning: unknown key 'extra'" in warn.stdout
    fail = run(str(good), str(bad))
    assert fail.returncode == 1
    assert f"{bad}:4:1: tab character in indentation" in fail.stderr


def test_a_missing_colon_is_explained():
    # seen in a public buildspec: `version 0.1` without its colon
    _, diags = parse_buildspec("version 0.1\n\nphases:\n  build:\n    commands: [x]\n", "m.yml")
    assert [str(d) for d in diags] == [
        "m.yml:3:7: mapping values are not allowed here (a key above may lack its ':', "
        "or a value with ': ' needs quotes)"
    ]
