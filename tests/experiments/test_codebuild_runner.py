"""The `codebuild` remote runner against moto's CodeBuild over HTTP, and botocore's Stubber.

moto 5.2.5 keeps only projectName/sourceVersion of a StartBuild and fabricates a fresh set
of phases on every BatchGetBuilds/StopBuild (never setting buildComplete). As in
tests/support/seeded_codebuild.py, those lookups are replaced by plain ones that behave like
AWS: the build remembers its overrides, is IN_PROGRESS on its first read and complete with
one realistic set of phases on the next (or never, for the stop/timeout tests); StopBuild
completes it as STOPPED. The patches apply to the suite's moto server (support.aws). Stubber (which validates against the service model) pins the exact
StartBuild request per cell.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from botocore.stub import Stubber
from moto.codebuild import models as cb_models
from moto.codebuild import responses as cb_responses

from ciwb.errors import CiwbError
from ciwb.experiments import remote_runner, run_experiment, run_source
from ciwb.experiments.codebuild import CodeBuildProject
from ciwb.replay import (
    CacheOptions,
    ExecutorOptions,
    OutputOptions,
    ReplayOptions,
    SourceOptions,
)
from support.aws import ACCOUNT, REGION

PROJECT = "webapp"
IMAGE = "aws/codebuild/standard:7.0"
SPEC = """\
version: 0.2
phases:
  install:
    commands:
      - pip install -r requirements.txt
  build:
    commands:
      - pytest
cache:
  paths:
    - /root/.cache/pip/**/*
"""
# seconds per phase of a finished build (its timestamps; durationInSeconds is not read)
PHASE_SECONDS = {
    "SUBMITTED": 0.2,
    "QUEUED": 1.5,
    "PROVISIONING": 12.0,
    "DOWNLOAD_SOURCE": 3.0,
    "INSTALL": 21.5,
    "PRE_BUILD": 0.5,
    "BUILD": 30.25,
    "POST_BUILD": 0.5,
    "UPLOAD_ARTIFACTS": 1.0,
    "FINALIZING": 2.0,
}


@dataclass
class Lifecycle:
    """What the patched backend saw and how its builds progress."""

    hang: bool = False  # builds never finish (stop / timeout tests)
    calls: list[str] = field(default_factory=list)  # "start" / "get" / "stop", in order
    started: list[dict[str, Any]] = field(default_factory=list)  # StartBuild params
    reads: dict[str, int] = field(default_factory=dict)

    def finish(self, build: dict[str, Any], status: str = "SUCCEEDED") -> None:
        start = datetime.fromisoformat(build["startTime"].replace("Z", "+00:00"))
        phases, at = [], start
        for phase, seconds in PHASE_SECONDS.items():
            end = at + timedelta(seconds=seconds)
            stopped = status == "STOPPED" and phase == "BUILD"
            phases.append(
                {
                    "phaseType": phase,
                    "phaseStatus": "STOPPED" if stopped else "SUCCEEDED",
                    "startTime": at.isoformat(),
                    "endTime": end.isoformat(),
                    "durationInSeconds": int(seconds),
                }
            )
            at = end
            if stopped:
                break
        phases.append({"phaseType": "COMPLETED", "startTime": at.isoformat()})
        build.update(
            phases=phases,
            endTime=at.isoformat(),
            currentPhase="COMPLETED",
            buildStatus=status,
            buildComplete=True,
        )


@pytest.fixture
def codebuild(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Lifecycle:
    """moto's CodeBuild with a project `webapp` and builds that progress like AWS's."""
    life = Lifecycle()
    original_start = cb_responses.CodeBuildResponse.start_build

    def start_build(self: Any) -> Any:
        result = original_start(self)
        name = self._get_param("projectName")
        build = self.codebuild_backend.build_metadata[name].build_metadata
        params = {k: v for k, v in json.loads(self.body).items()}
        life.started.append(params)
        life.calls.append("start")
        env = build["environment"]
        env["type"] = params.get("environmentTypeOverride", env["type"])
        env["computeType"] = params.get("computeTypeOverride", env["computeType"])
        env["image"] = params.get("imageOverride", env["image"])
        build["cache"] = params.get("cacheOverride", build["cache"])
        build["source"]["buildspec"] = params.get("buildspecOverride")
        build["logs"].update(groupName=f"/aws/codebuild/{name}", streamName=build["id"])
        return result

    def batch_get_builds(self: Any, ids: list[str]) -> list[dict[str, Any]]:
        life.calls.append("get")
        found = []
        for history in self.build_metadata_history.values():
            for build in history:
                if build["id"] not in ids:
                    continue
                life.reads[build["id"]] = life.reads.get(build["id"], 0) + 1
                if not build.get("buildComplete"):
                    if life.reads[build["id"]] == 1 or life.hang:
                        build["currentPhase"] = "INSTALL"
                    else:
                        life.finish(build)
                found.append(copy.deepcopy(build))
        return found

    def stop_build(self: Any, build_id: str) -> dict[str, Any] | None:
        life.calls.append("stop")
        for history in self.build_metadata_history.values():
            for build in history:
                if build["id"] == build_id:
                    if not build.get("buildComplete"):
                        life.finish(build, "STOPPED")
                    return copy.deepcopy(build)
        return None

    monkeypatch.setattr(cb_responses.CodeBuildResponse, "start_build", start_build)
    monkeypatch.setattr(cb_models.CodeBuildBackend, "batch_get_builds", batch_get_builds)
    monkeypatch.setattr(cb_models.CodeBuildBackend, "stop_build", stop_build)
    boto3.client("codebuild", region_name=REGION).create_project(
        name=PROJECT,
        source={"type": "S3", "location": "bucket/webapp.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": IMAGE,
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-build",
    )
    return life


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "app"
    src.mkdir()
    (src / "buildspec.yml").write_text(SPEC)
    return src


def _quick(**extra: Any) -> dict[str, Any]:
    return {"poll_s": 0.01, "max_poll_s": 0.02, **extra}


def _rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- moto over HTTP


def test_experiment_runs_cells_as_codebuild_builds_stored_as_aws_and_native(
    codebuild: Lifecycle, source: Path, tmp_path: Path
) -> None:
    db = tmp_path / "ciwb.duckdb"
    result = run_experiment(
        source,
        archs="amd64,arm64",
        computes="small,medium",
        caches="none",
        repeat=2,
        executor="codebuild",
        project=PROJECT,
        db=db,
        executor_options=_quick(),
    )
    # all four cold builds start before the first wait, then the four warm ones
    first_get = codebuild.calls.index("get")
    assert codebuild.calls[:first_get] == ["start"] * 4
    assert codebuild.calls.count("start") == 8
    second_round = [i for i, c in enumerate(codebuild.calls) if c == "start"][4]
    assert "get" in codebuild.calls[first_get:second_round]
    assert {
        (p["environmentTypeOverride"], p["computeTypeOverride"]) for p in codebuild.started
    } == {
        ("LINUX_CONTAINER", "BUILD_GENERAL1_SMALL"),
        ("LINUX_CONTAINER", "BUILD_GENERAL1_MEDIUM"),
        ("ARM_CONTAINER", "BUILD_GENERAL1_SMALL"),
        ("ARM_CONTAINER", "BUILD_GENERAL1_MEDIUM"),
    }
    assert all(p["buildspecOverride"] == SPEC for p in codebuild.started)
    assert all(p["imageOverride"] == IMAGE for p in codebuild.started)  # the project's image

    builds = _rows(db, "SELECT build_arn, origin, status, arch, compute_type FROM builds")
    assert len(builds) == 8
    assert {b[1] for b in builds} == {"aws"} and {b[2] for b in builds} == {"SUCCEEDED"}
    assert {(b[3], b[4]) for b in builds} >= {
        ("arm64", "BUILD_GENERAL1_MEDIUM"),
        ("x86_64", "BUILD_GENERAL1_SMALL"),
    }
    runs = _rows(
        db,
        "SELECT cell, temperature, emulated, build_arn, status, total_s, details "
        "FROM experiment_runs ORDER BY cell, repetition",
    )
    assert len(runs) == 8
    assert {r[0] for r in runs} == {
        "amd64/small/none",
        "amd64/medium/none",
        "arm64/small/none",
        "arm64/medium/none",
    }
    assert [r[1] for r in runs[:2]] == ["cold", "warm"]
    assert not any(r[2] for r in runs)  # native, never emulated
    assert {r[3] for r in runs} == {b[0] for b in builds}  # each run names its stored build
    expected_total = sum(s for p, s in PHASE_SECONDS.items() if p not in ("SUBMITTED", "QUEUED"))
    assert all(r[5] == pytest.approx(expected_total) for r in runs)
    assert json.loads(runs[0][6])["phases"]["INSTALL"] == pytest.approx(21.5)
    phases = _rows(
        db,
        f"SELECT count(*) FROM build_phases WHERE build_arn = '{runs[0][3]}' "
        "AND phase_type = 'INSTALL'",
    )
    assert phases == [(1,)]
    summary = {(s.cell, s.temperature, s.phase) for s in result.summary()}
    assert ("arm64/medium/none", "warm", "INSTALL") in summary


def test_s3_cells_get_a_fresh_cache_prefix_per_experiment_and_cell(
    codebuild: Lifecycle, source: Path, tmp_path: Path
) -> None:
    run_experiment(
        source,
        archs="arm64",
        computes="small",
        caches="none,s3,local",
        repeat=1,
        executor="codebuild",
        project=PROJECT,
        db=tmp_path / "ciwb.duckdb",
        cache_options=CacheOptions(location="s3://bucket/cache"),
        executor_options=_quick(),
    )
    caches = {p["cacheOverride"]["type"]: p["cacheOverride"] for p in codebuild.started}
    assert caches["NO_CACHE"] == {"type": "NO_CACHE"}
    assert caches["LOCAL"]["modes"] == ["LOCAL_SOURCE_CACHE", "LOCAL_CUSTOM_CACHE"]
    location = caches["S3"]["location"]
    assert location.startswith("bucket/cache/ciwb-exp-") and location.endswith("/arm64-small")


def test_replay_run_with_codebuild_is_one_stored_build(
    codebuild: Lifecycle, source: Path, tmp_path: Path
) -> None:
    db = tmp_path / "ciwb.duckdb"
    runner = remote_runner("codebuild", PROJECT, **_quick())
    assert runner is not None
    result = runner.run_build(
        ReplayOptions(
            SourceOptions(source, project=PROJECT, source_version="abc123"),
            executor=ExecutorOptions("codebuild", arch="arm64", image="custom:1"),
            output=OutputOptions(db=db),
        )
    )
    assert result.status == "SUCCEEDED"
    assert [p.phase_type for p in result.phases][-1] == "COMPLETED"
    assert codebuild.started[0]["sourceVersion"] == "abc123"
    assert codebuild.started[0]["imageOverride"] == "custom:1"
    assert _rows(db, "SELECT origin, arch, image FROM builds") == [("aws", "arm64", "custom:1")]


def test_ctrl_c_while_waiting_stops_the_builds_and_stores_them(
    codebuild: Lifecycle, source: Path, tmp_path: Path
) -> None:
    codebuild.hang = True

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    db = tmp_path / "ciwb.duckdb"
    with pytest.raises(KeyboardInterrupt):
        run_experiment(
            source,
            archs="amd64,arm64",
            repeat=3,
            executor="codebuild",
            project=PROJECT,
            db=db,
            executor_options=_quick(sleep=interrupt),
        )
    assert codebuild.calls.count("stop") == 2 and codebuild.calls.count("start") == 2
    assert _rows(db, "SELECT DISTINCT status FROM builds") == [("STOPPED",)]
    assert _rows(db, "SELECT count(*), min(status) FROM experiment_runs") == [(2, "STOPPED")]


def test_wait_timeout_stops_what_still_runs(
    codebuild: Lifecycle, source: Path, tmp_path: Path
) -> None:
    codebuild.hang = True
    with pytest.raises(CiwbError, match=r"timed out after 0s .* stopped 1 build\(s\)"):
        run_source(
            ReplayOptions(
                SourceOptions(source, project=PROJECT),
                executor=ExecutorOptions("codebuild", timeout="0.001s"),
                output=OutputOptions(db=tmp_path / "ciwb.duckdb"),
            )
        )
    assert codebuild.calls.count("stop") == 1
    assert _rows(tmp_path / "ciwb.duckdb", "SELECT status FROM builds") == [("STOPPED",)]


def test_missing_project_is_one_line_and_starts_nothing(
    codebuild: Lifecycle, source: Path, tmp_path: Path
) -> None:
    with pytest.raises(CiwbError, match="CodeBuild project 'nope' not found"):
        run_experiment(
            source, executor="codebuild", project="nope", db=tmp_path / "ciwb.duckdb", repeat=1
        )
    assert codebuild.started == []


# ---------------------------------------------------------------- CLI


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ciwb.cli", "replay", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_cli_without_project_says_so_in_one_line(source: Path, tmp_path: Path) -> None:
    for command in (["run"], ["experiment", "--repeat", "1"]):
        out = _cli([*command, str(source), "--executor", "codebuild"], {})
        assert out.returncode == 2
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "--project" in lines[0], out.stderr


def test_cli_experiment_against_moto(
    codebuild: Lifecycle, aws_env: dict[str, str], source: Path, tmp_path: Path
) -> None:
    db = tmp_path / "ciwb.duckdb"
    out = _cli(
        [
            "experiment",
            str(source),
            "--executor",
            "codebuild",
            "--project",
            PROJECT,
            "--arch",
            "amd64,arm64",
            "--compute",
            "small",
            "--cache",
            "none",
            "--repeat",
            "1",
            "--db",
            str(db),
        ],
        aws_env,
    )
    # the CLI polls at the default interval: the server finishes on the second read
    assert out.returncode == 0, out.stderr
    assert "arm64/small/none" in out.stdout
    assert _rows(db, "SELECT count(*) FROM experiment_runs WHERE NOT emulated") == [(2,)]


def test_no_credentials_is_one_line(source: Path, tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ciwb.cli",
            "replay",
            "run",
            str(source),
            "--executor",
            "codebuild",
            "--project",
            PROJECT,
        ],
        capture_output=True,
        text=True,
        env={**clean, **env},
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no AWS credentials" in lines[0], out.stderr


# ---------------------------------------------------------------- Stubber: exact requests


def _finished(build_id: str, env_type: str, compute: str, cache: dict[str, Any]) -> dict:
    start = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    return {
        "id": build_id,
        "arn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}",
        "projectName": PROJECT,
        "buildStatus": "SUCCEEDED",
        "buildComplete": True,
        "currentPhase": "COMPLETED",
        "startTime": start,
        "endTime": start + timedelta(seconds=60),
        "phases": [
            {
                "phaseType": "INSTALL",
                "phaseStatus": "SUCCEEDED",
                "startTime": start,
                "endTime": start + timedelta(seconds=20),
            },
            {"phaseType": "COMPLETED", "startTime": start + timedelta(seconds=60)},
        ],
        "environment": {"type": env_type, "image": IMAGE, "computeType": compute},
        "cache": cache,
    }


def test_start_build_requests_per_cell_are_exact(source: Path, tmp_path: Path) -> None:
    client = boto3.client(
        "codebuild", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    project = {
        "name": PROJECT,
        "arn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{PROJECT}",
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": IMAGE,
            "computeType": "BUILD_GENERAL1_SMALL",
        },
    }
    stub.add_response("batch_get_projects", {"projects": [project]}, {"names": [PROJECT]})
    cells = [
        ("amd64", "LINUX_CONTAINER", "BUILD_GENERAL1_LARGE", {"type": "NO_CACHE"}),
        ("arm64", "ARM_CONTAINER", "BUILD_GENERAL1_LARGE", {"type": "NO_CACHE"}),
    ]
    ids = []
    for i, (_arch, env_type, compute, cache) in enumerate(cells):
        build_id = f"{PROJECT}:{i}"
        ids.append(build_id)
        stub.add_response(
            "start_build",
            {"build": {"id": build_id}},
            {
                "projectName": PROJECT,
                "buildspecOverride": SPEC,
                "environmentTypeOverride": env_type,
                "computeTypeOverride": compute,
                "imageOverride": "my/image:2",
                "cacheOverride": cache,
                "sourceVersion": "refs/heads/main",
            },
        )
    stub.add_response(
        "batch_get_builds",
        {"builds": [_finished(b, c[1], c[2], c[3]) for b, c in zip(ids, cells, strict=True)]},
        {"ids": ids},
    )
    with stub:
        run_experiment(
            source,
            archs="amd64,arm64",
            computes="large",
            caches="none",
            repeat=1,
            image="my/image:2",
            executor="codebuild",
            project=PROJECT,
            db=tmp_path / "ciwb.duckdb",
            executor_options=_quick(client=client, source_version="refs/heads/main"),
        )
        stub.assert_no_pending_responses()


def test_access_denied_is_one_line(source: Path, tmp_path: Path) -> None:
    client = boto3.client(
        "codebuild", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    stub.add_client_error(
        "batch_get_projects",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: codebuild:BatchGetProjects",
    )
    with stub, pytest.raises(CiwbError, match="access denied .*BatchGetProjects") as err:
        CodeBuildProject(PROJECT, client=client).project_record()
    assert "\n" not in str(err.value)


def test_s3_cache_without_location_fails_before_starting(source: Path, tmp_path: Path) -> None:
    with pytest.raises(CiwbError, match="--cache-location"):
        run_source(
            ReplayOptions(
                SourceOptions(source, project=PROJECT),
                executor=ExecutorOptions("codebuild"),
                cache=CacheOptions("s3"),
            )
        )
