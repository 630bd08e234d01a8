"""The replay runner inside containers: both architectures, compute shapes, caches, experiments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ciwb.errors import CiwbError
from ciwb.experiments import run_experiment
from ciwb.images import host_arch
from ciwb.replay import BuildContext, CacheOptions, ExecutorOptions
from support.replay import log_text, phase_statuses
from support.tiers import needs_docker, needs_qemu

UNAME = """\
version: 0.2
phases:
  build:
    commands:
      - echo "machine=$(uname -m) cpus=$(nproc) src=$CODEBUILD_SRC_DIR"
"""

# Installs "dependencies" once; a warm cache skips the work (echo "a""b" prints ab, so
# the output differs from the command line the log also shows). One relative and one absolute
# cache path (the absolute one lives inside the container).
CACHED = """\
version: 0.2
phases:
  install:
    commands:
      - if [ -f deps/lib.txt ]; then echo "deps-""from-cache"; else mkdir -p deps && echo v1 > deps/lib.txt; fi
      - if [ -f /root/.tool-cache/tool ]; then echo "tool-""from-cache"; else mkdir -p /root/.tool-cache && echo t > /root/.tool-cache/tool; fi
  build:
    commands:
      - cat deps/lib.txt
cache:
  key: deps-$(codebuild-hash-files requirements.txt)
  paths:
    - deps/**/*
    - /root/.tool-cache/**/*
"""


@pytest.mark.docker
@needs_docker
@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize(
    ("arch", "machine", "env_type"),
    [("amd64", "x86_64", "LINUX_CONTAINER"), ("arm64", "aarch64", "ARM_CONTAINER")],
)
def test_same_buildspec_on_both_architectures(replay, arch, machine, env_type) -> None:
    docker = ExecutorOptions("docker", arch=arch, compute="small")
    result = replay(UNAME, executor=docker, name=f"app-{arch}")
    assert result.status == "SUCCEEDED", log_text(result)
    # small is 2 vCPUs (CodeBuild's table), capped at this host's CPUs
    cpus = min(2, os.cpu_count() or 1)
    assert f"machine={machine} cpus={cpus} src=/codebuild/output/src" in log_text(result)
    environment = result.record["environment"]
    assert (environment["type"], environment["computeType"]) == (env_type, "BUILD_GENERAL1_SMALL")
    assert result.emulated == (arch != host_arch())
    assert any("emulated" in n for n in result.notes) == result.emulated
    assert result.image_id and result.image_id.startswith("sha256:")


@pytest.mark.docker
@needs_docker
def test_cache_is_restored_before_install_and_saved_after(replay, tmp_path: Path) -> None:
    options = dict(
        executor=ExecutorOptions("docker"),
        cache=CacheOptions("local", dir=tmp_path / "cache"),
        build=BuildContext(cache_project="shared"),
    )
    files = {"requirements.txt": "lib==1\n"}
    cold = replay(CACHED, files, name="cold", **options)
    assert cold.status == "SUCCEEDED", log_text(cold)
    assert not cold.cache["restore"]["hit"] and cold.cache["save"]["saved"]
    assert "deps-from-cache" not in log_text(cold)

    warm = replay(CACHED, files, name="warm", **options)
    text = log_text(warm)
    assert warm.cache["restore"]["hit"] and warm.cache["restore"]["bytes"] > 0
    assert "deps-from-cache" in text and "tool-from-cache" in text
    assert text.index("Cache restored") < text.index("Entering phase INSTALL")
    assert "immutable" in warm.cache["save"]["skipped"]
    assert warm.record["cache"] == {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]}

    changed = replay(CACHED, {"requirements.txt": "lib==2\n"}, name="changed", **options)
    assert not changed.cache["restore"]["hit"]  # a new key, no fallback-keys
    assert phase_statuses(changed)["INSTALL"] == "SUCCEEDED"


def test_local_executor_refuses_a_foreign_arch(replay) -> None:
    foreign = "arm64" if host_arch() == "amd64" else "amd64"
    with pytest.raises(CiwbError, match="use --executor docker"):
        replay(UNAME, executor=ExecutorOptions("local", arch=foreign))


@pytest.mark.docker
@needs_docker
@needs_qemu
@pytest.mark.qemu
def test_experiment_stores_cold_then_warm_runs_per_cell(make_source, tmp_path: Path) -> None:
    src = make_source(CACHED, {"requirements.txt": "lib==1\n"}, name="proj")
    db = tmp_path / "exp.duckdb"
    result = run_experiment(
        src,
        archs="amd64,arm64",
        computes="small",
        caches="none,local",
        repeat=2,
        db=db,
        out=tmp_path / "out",
        cache_options=CacheOptions(dir=tmp_path / "cache"),
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT cell, repetition, temperature, emulated, host_arch, image_digest, status, "
            "total_s, details FROM experiment_runs ORDER BY started_at"
        ).fetchall()
        matrix = json.loads(con.execute("SELECT matrix FROM experiments").fetchone()[0])
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (f"{arch}/small/{cache}", rep, "cold" if rep == 1 else "warm")
        for arch in ("amd64", "arm64")
        for cache in ("none", "local")
        for rep in (1, 2)
    ]
    assert all(r[6] == "SUCCEEDED" and r[7] > 0 for r in rows)
    assert {r[0].split("/")[0]: r[3] for r in rows} == {
        "amd64": host_arch() != "amd64",
        "arm64": host_arch() != "arm64",
    }
    assert {r[4] for r in rows} == {host_arch()}
    assert all(r[5].startswith("sha256:") for r in rows)
    assert matrix["project"] == "proj"
    warm_local = [json.loads(r[8]) for r in rows if r[0].endswith("/local") and r[1] == 2]
    assert all(d["cache"]["restore"]["hit"] for d in warm_local)
    cold_local = [json.loads(r[8]) for r in rows if r[0].endswith("/local") and r[1] == 1]
    assert not any(d["cache"]["restore"]["hit"] for d in cold_local)
    cells = {(s.cell, s.temperature) for s in result.summary() if s.phase == "TOTAL"}
    assert len(cells) == 8


def test_experiment_without_s3_location_fails_before_running(make_source, tmp_path: Path) -> None:
    src = make_source(UNAME, name="noloc")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ciwb",
            "replay",
            "experiment",
            str(src),
            "--cache",
            "none,s3",
            "--db",
            str(tmp_path / "x.duckdb"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert proc.returncode == 2
    assert "--cache s3 needs --cache-location" in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing ran
