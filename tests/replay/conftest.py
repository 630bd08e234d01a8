"""Replay fixtures: real source trees under tmp_path, real shells, a real DuckDB file."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ciwb.replay import ReplayRequest, ReplayResult, run_replay


@pytest.fixture
def make_source(tmp_path: Path) -> Callable[..., Path]:
    def make(buildspec: str, files: dict[str, str] | None = None, name: str = "app") -> Path:
        src = tmp_path / name
        src.mkdir()
        (src / "buildspec.yml").write_text(textwrap.dedent(buildspec))
        for rel, text in (files or {}).items():
            path = src / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return src

    return make


@pytest.fixture
def replay(make_source, tmp_path: Path) -> Callable[..., ReplayResult]:
    """Run a buildspec text through the real runner; stores into tmp_path/ciwb.duckdb."""

    def run(buildspec: str, files: dict[str, str] | None = None, **options) -> ReplayResult:
        src = make_source(buildspec, files, name=options.pop("name", "app"))
        request = ReplayRequest(
            source=src, out_dir=tmp_path / "out", db=tmp_path / "ciwb.duckdb", **options
        )
        return run_replay(request)

    return run
