"""`--executor NAME` finds a local executor or a remote runner through one registry."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ciwb.errors import CiwbError
from ciwb.experiments import register_remote_runner, run_experiment, run_source
from ciwb.experiments.runners import REMOTE_RUNNERS
from ciwb.replay import ExecutorOptions, ReplayOptions, SourceOptions


class FakeRunner:
    """A remote runner that records what it was asked to run."""

    name = "fake"
    isolation = "fake runner: nothing runs"
    seen: list[str] = []

    def __init__(self, project: str | None = None, **options: object) -> None:
        self.project = project

    @classmethod
    def for_replay(cls, options: ReplayOptions) -> FakeRunner:
        return cls(options.source.project)

    def check(self, source: Path, buildspec: str | None) -> None:
        self.seen.append("check")

    def run_build(self, options: ReplayOptions):  # noqa: ANN201
        self.seen.append(f"build {self.project}")
        return "a build"

    def run_cells(self, source, cells, **kwargs) -> None:  # noqa: ANN001
        self.seen.append(f"cells {sorted(c.name for c in cells)} x{kwargs['repeat']}")


@pytest.fixture
def fake_runner():
    FakeRunner.seen = []
    register_remote_runner(FakeRunner)  # type: ignore[arg-type]
    yield FakeRunner
    REMOTE_RUNNERS.pop("fake")


def test_an_unknown_executor_names_every_known_one(tmp_path: Path) -> None:
    options = ReplayOptions(SourceOptions(tmp_path), executor=ExecutorOptions("podman"))
    with pytest.raises(CiwbError, match=r"unknown executor 'podman' \(known: codebuild, docker"):
        run_source(options)


def test_a_registered_remote_runner_serves_run_and_experiment(fake_runner, tmp_path: Path) -> None:
    options = ReplayOptions(SourceOptions(tmp_path, project="p"), executor=ExecutorOptions("fake"))
    assert run_source(options) == "a build"
    db = tmp_path / "ciwb.duckdb"
    run_experiment(tmp_path, archs="amd64,arm64", repeat=2, executor="fake", project="p", db=db)
    assert fake_runner.seen == [
        "build p",
        "check",
        "cells ['amd64/small/none', 'arm64/small/none'] x2",
    ]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT executor FROM experiments").fetchall() == [("fake",)]
    con.close()
