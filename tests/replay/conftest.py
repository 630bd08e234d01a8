"""Replay fixtures: real source trees under tmp_path, real shells, a real DuckDB file."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ciwb.replay import OutputOptions, ReplayOptions, ReplayResult, SourceOptions, run_replay


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
    """Run a buildspec text through the real runner; stores into tmp_path/ciwb.duckdb.

    `groups` are ReplayOptions' other groups (environment=, executor=, cache=, build=).
    """

    def run(
        buildspec: str,
        files: dict[str, str] | None = None,
        *,
        name: str = "app",
        project: str | None = None,
        unpacked: bool = False,
        **groups,
    ) -> ReplayResult:
        src = make_source(buildspec, files, name=name)
        options = ReplayOptions(
            SourceOptions(src, project=project),
            output=OutputOptions(
                db=tmp_path / "ciwb.duckdb", out=tmp_path / "out", unpacked=unpacked
            ),
            **groups,
        )
        return run_replay(options)

    return run
