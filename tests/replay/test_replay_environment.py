"""CodeBuild's variables, precedence, env files, secrets (file and AWS via moto), masking."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from ciwb.errors import CiwbError
from ciwb.replay import (
    EnvironmentOptions,
    OutputOptions,
    ReplayOptions,
    SourceOptions,
    read_env_file,
    run_replay,
)
from ciwb.replay.environment import Masker, SecretSource, parse_secret_ref
from ciwb.store import connect
from support.replay import log_text

PRINT_ENV = """\
    version: 0.2
    env:
      variables:
        FROM_SPEC: spec
        BOTH: spec
        CODEBUILD_BUILD_ID: hijack
    phases:
      build:
        commands:
          - env | grep -E '^(CODEBUILD_|AWS_REGION|FROM_SPEC|BOTH)' | sort
    """


def _env_lines(result) -> dict[str, str]:
    out = {}
    for line in log_text(result).splitlines():
        if not line.startswith("[Container]") and "=" in line:
            name, _, value = line.partition("=")
            out[name] = value
    return out


def test_codebuild_variables_have_aws_formats_and_git_source_version(make_source, tmp_path):
    src = make_source(PRINT_ENV)
    subprocess.run(["git", "init", "-q", "-b", "main", str(src)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(src),
            "-c",
            "user.email=a@b",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            "init",
            "--allow-empty",
        ],
        check=True,
    )
    subprocess.run(
        ["git", "-C", str(src), "remote", "add", "origin", "https://example.invalid/org/app.git"],
        check=True,
    )
    head = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    result = run_replay(
        ReplayOptions(
            SourceOptions(src),
            environment=EnvironmentOptions(region="eu-west-1", account="123456789012"),
            output=OutputOptions(db=tmp_path / "db.duckdb", out=tmp_path / "out"),
        )
    )
    env = _env_lines(result)
    uid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(rf"app:{uid}", env["CODEBUILD_BUILD_ID"])  # reserved: not "hijack"
    assert env["CODEBUILD_BUILD_ARN"] == (
        f"arn:aws:codebuild:eu-west-1:123456789012:build/{env['CODEBUILD_BUILD_ID']}"
    )
    assert env["CODEBUILD_PROJECT_ARN"] == "arn:aws:codebuild:eu-west-1:123456789012:project/app"
    assert env["CODEBUILD_RESOLVED_SOURCE_VERSION"] == head
    assert env["CODEBUILD_SOURCE_VERSION"] == "refs/heads/main"
    assert env["CODEBUILD_SOURCE_REPO_URL"] == "https://example.invalid/org/app.git"
    assert env["CODEBUILD_BUILD_SUCCEEDING"] == "1" and env["AWS_REGION"] == "eu-west-1"
    assert env["CODEBUILD_START_TIME"].isdigit() and len(env["CODEBUILD_START_TIME"]) == 13
    assert Path(env["CODEBUILD_SRC_DIR"]).name == "src" and env["CODEBUILD_SRC_DIR"] != str(src)
    assert result.record["resolvedSourceVersion"] == head


def test_env_file_overrides_the_buildspec(make_source, tmp_path):
    src = make_source(PRINT_ENV)
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nBOTH=override=with=equals\n\nFROM_HOST\n")
    overrides = read_env_file(env_file, host={"FROM_HOST": "h"})
    assert overrides == {"BOTH": "override=with=equals", "FROM_HOST": "h"}
    result = run_replay(
        ReplayOptions(
            SourceOptions(src),
            environment=EnvironmentOptions(env_file=env_file),
            output=OutputOptions(db=tmp_path / "d.duckdb", out=tmp_path / "o"),
        )
    )
    env = _env_lines(result)
    assert env["BOTH"] == "override=with=equals" and env["FROM_SPEC"] == "spec"


def test_env_file_rejects_a_bad_line_with_its_position(tmp_path):
    bad = tmp_path / "env"
    bad.write_text("OK=1\nnot a var line\n")
    with pytest.raises(CiwbError, match=r"env:2:1: not a NAME=value line"):
        read_env_file(bad)


def test_secret_reference_splits_an_arn_first():
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    ref = parse_secret_ref(f"{arn}:password:AWSPREVIOUS")
    assert (ref.secret_id, ref.json_key, ref.version_stage, ref.version_id) == (
        arn,
        "password",
        "AWSPREVIOUS",
        None,
    )
    assert parse_secret_ref("name:::v-1").version_id == "v-1"


SECRET_SPEC = """\
    version: 0.2
    env:
      parameter-store:
        PARAM: /app/token
      secrets-manager:
        DB_PASS: db:password
        OLD_PASS: db:password:AWSPREVIOUS
      exported-variables: [LEAK]
    phases:
      build:
        commands:
          - echo "param=$PARAM pass=$DB_PASS old=$OLD_PASS"
          - export LEAK="x$DB_PASS"
          - for v in "$PARAM" "$DB_PASS" "$OLD_PASS"; do printf %s "$v" | sha256sum; done
    """


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _assert_resolved(result, param: str, current: str, previous: str) -> None:
    """The values the build saw, by digest (the log masks the values themselves): PARAM, the
    AWSCURRENT password for DB_PASS and the AWSPREVIOUS one for OLD_PASS."""
    digests = [line.split()[0] for line in log_text(result).splitlines() if line.endswith("  -")]
    named = {_digest(v): v for v in (param, current, previous)}  # so a failure names the value
    assert [named.get(d, d) for d in digests] == [param, current, previous]


def _assert_masked(result, tmp_path, secrets):
    text = log_text(result)
    assert "param=*** pass=*** old=***" in text
    for value in secrets:
        assert value not in text
    assert result.exported == {"LEAK": "x***"}
    with connect(tmp_path / "ciwb.duckdb", read_only=True) as con:
        dumped = json.dumps(
            con.execute("SELECT * FROM builds JOIN build_phases USING (build_arn)").fetchall(),
            default=str,
        )
        dumped += json.dumps(con.execute("SELECT * FROM build_commands").fetchall(), default=str)
    for value in secrets:
        assert value not in dumped


def test_secrets_from_a_file_are_masked_and_never_stored(replay, tmp_path):
    secrets_file = tmp_path / "secrets.yml"
    secrets_file.write_text(
        "parameter-store:\n  /app/token: tok-123\n"
        'secrets-manager:\n  db:\n    stages:\n      AWSCURRENT: \'{"password": "pw-current"}\'\n'
        '      AWSPREVIOUS: \'{"password": "pw-previous"}\'\n'
    )
    result = replay(SECRET_SPEC, environment=EnvironmentOptions(secrets_file=secrets_file))
    assert result.status == "SUCCEEDED"
    _assert_masked(result, tmp_path, ["tok-123", "pw-current", "pw-previous"])
    _assert_resolved(result, "tok-123", "pw-current", "pw-previous")


def test_a_missing_secret_fails_download_source(replay, tmp_path):
    secrets_file = tmp_path / "secrets.yml"
    secrets_file.write_text("parameter-store:\n  /app/token: t\n")  # no secrets-manager db
    result = replay(SECRET_SPEC, environment=EnvironmentOptions(secrets_file=secrets_file))
    download = next(p for p in result.phases if p.phase_type == "DOWNLOAD_SOURCE")
    assert download.status == "FAILED" and download.context_code == "CLIENT_ERROR"
    assert "db not found" in download.context_message
    assert "BUILD" not in {p.phase_type for p in result.phases}


def test_resolve_secrets_reads_ssm_and_secrets_manager_over_http(replay, tmp_path, aws_env):
    import boto3

    session = boto3.Session(region_name="us-east-1")
    session.client("ssm").put_parameter(Name="/app/token", Value="tok-aws", Type="SecureString")
    sm = session.client("secretsmanager")
    sm.create_secret(Name="db", SecretString=json.dumps({"password": "pw-old"}))
    sm.put_secret_value(SecretId="db", SecretString=json.dumps({"password": "pw-new"}))
    resolve = EnvironmentOptions(resolve_secrets=True, region="us-east-1")
    result = replay(SECRET_SPEC, environment=resolve)
    assert result.status == "SUCCEEDED", log_text(result)
    _assert_masked(result, tmp_path, ["tok-aws", "pw-new", "pw-old"])
    # put_secret_value moved AWSCURRENT to pw-new and AWSPREVIOUS to pw-old
    _assert_resolved(result, "tok-aws", "pw-new", "pw-old")

    from ciwb.replay.environment import resolve_secrets

    first = sm.list_secret_version_ids(SecretId="db")["Versions"]
    (old_id,) = [v["VersionId"] for v in first if v["VersionStages"] == ["AWSPREVIOUS"]]
    values = resolve_secrets(
        {"PARAM": "/app/token"},
        {"NOW": "db:password", "BEFORE": "db:password:AWSPREVIOUS", "BY_ID": f"db:::{old_id}"},
        SecretSource(session=session, region="us-east-1"),
    )
    assert values == {
        "PARAM": "tok-aws",
        "NOW": "pw-new",
        "BEFORE": "pw-old",
        "BY_ID": json.dumps({"password": "pw-old"}),
    }


def test_masker_masks_multiline_secrets_line_by_line():
    mask = Masker(["line-one\nline-two", "short"])
    assert mask("a line-two b short") == "a *** b ***"


def test_secrets_file_honours_version_id_and_stage():
    source = SecretSource(
        secrets={
            "db": {
                "stages": {"AWSCURRENT": "cur", "AWSPREVIOUS": "prev"},
                "versions": {"v-123": '{"k": "by-id"}'},
            },
        }
    )
    from ciwb.replay.environment import resolve_secrets

    values = resolve_secrets({}, {"A": "db", "B": "db::AWSPREVIOUS", "C": "db:k::v-123"}, source)
    assert values == {"A": "cur", "B": "prev", "C": "by-id"}
    with pytest.raises(CiwbError, match="no version AWSPENDING"):
        resolve_secrets({}, {"D": "db::AWSPENDING"}, source)
