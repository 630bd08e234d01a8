"""The executor registry and the local executor's workspace."""

from __future__ import annotations

import subprocess

import pytest

from ciwb.errors import CiwbError
from ciwb.replay import OutputOptions, ReplayOptions, SourceOptions, run_replay
from ciwb.replay.executors import EXECUTORS, get_executor


def test_the_registry_knows_local_and_names_what_it_knows():
    assert "local" in EXECUTORS
    with pytest.raises(CiwbError, match=r"unknown executor 'podman' \(known: .*local"):
        get_executor("podman")


def test_local_says_it_gives_no_isolation(replay):
    result = replay("version: 0.2\nphases:\n  build:\n    commands: [true]\n")
    assert any("NO isolation" in note for note in result.notes)
    assert "NO isolation" in result.log_path.read_text()


def test_honour_gitignore_copies_only_what_git_would_commit(make_source, tmp_path):
    src = make_source(
        "version: 0.2\nphases:\n  build:\n    commands: [ls -a | sort | tr '\\n' ' ']\n",
        {
            ".gitignore": "secret.env\nnode_modules/\n",
            "secret.env": "TOKEN=x",
            "node_modules/big.js": "x",
            "app.py": "print(1)",
        },
    )
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    for honour, expected in ((True, False), (False, True)):
        result = run_replay(
            ReplayOptions(
                SourceOptions(src, honour_gitignore=honour),
                output=OutputOptions(db=tmp_path / "db.duckdb", out=tmp_path / "out"),
            )
        )
        listing = next(
            line for line in result.log_path.read_text().splitlines() if line.startswith(". ..")
        )
        assert "app.py" in listing and ".git" in listing
        assert ("secret.env" in listing) is expected
        assert ("node_modules" in listing) is expected


def test_honour_gitignore_outside_a_repository_is_a_clear_error(make_source, tmp_path):
    src = make_source("version: 0.2\nphases:\n  build:\n    commands: [true]\n")
    with pytest.raises(CiwbError, match="not a git repository"):
        run_replay(
            ReplayOptions(
                SourceOptions(src, honour_gitignore=True),
                output=OutputOptions(db=tmp_path / "d.duckdb", out=tmp_path / "o"),
            )
        )
