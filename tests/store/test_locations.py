"""Where ciwb keeps its files: one store per user (platformdirs), $CIWB_DB / $CIWB_HOME to
override, replays beside the store, the old `data/ciwb.duckdb` still found; every command
that writes says where it wrote."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ciwb.store import default_db_path, replays_dir, resolve_db_path

REPO = Path(__file__).parents[2]
STATE = REPO / "tests" / "fixtures" / "aws_events" / "build-state-change.json"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CIWB_", "XDG_")) and k != "HOME"
    }
    env.update(HOME=str(tmp_path / "home"), **extra)
    return env


def _import_events(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "ciwb", "import-events", str(STATE)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _store_line(run: subprocess.CompletedProcess) -> Path:
    assert run.returncode == 0, run.stderr
    return Path(re.search(r"^store: (.+)$", run.stdout, re.M).group(1))


def test_the_default_store_is_one_per_user_whatever_the_directory(tmp_path):
    env = _env(tmp_path)
    expected = tmp_path / "home" / ".local" / "share" / "ciwb" / "ciwb.duckdb"
    if sys.platform != "linux":
        pytest.skip("the expected path is Linux's XDG data directory")

    first = _store_line(_import_events(tmp_path / "a", env))
    second = _store_line(_import_events(tmp_path / "b" / "deeper", env))

    assert first == second == expected and expected.is_file()
    assert (
        not (tmp_path / "a" / "data").exists() and not (tmp_path / "b" / "deeper" / "data").exists()
    )


def test_ciwb_home_and_ciwb_db_override_it(tmp_path):
    home = tmp_path / "ciwb-home"
    assert _store_line(_import_events(tmp_path / "a", _env(tmp_path, CIWB_HOME=str(home)))) == (
        home / "ciwb.duckdb"
    )
    db = tmp_path / "elsewhere" / "mine.duckdb"
    env = _env(tmp_path, CIWB_HOME=str(home), CIWB_DB=str(db))
    assert _store_line(_import_events(tmp_path / "a", env)) == db and db.is_file()


def test_a_store_at_the_old_default_is_found_with_a_one_line_notice(tmp_path):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    legacy = project / "data" / "ciwb.duckdb"
    first = _import_events(project, _env(tmp_path, CIWB_DB=str(legacy)))
    assert first.returncode == 0, first.stderr and legacy.is_file()

    run = _import_events(project, _env(tmp_path))

    assert _store_line(run).resolve() == legacy.resolve()
    notice = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(notice) == 1 and "old default" in notice[0] and str(legacy) in notice[0]
    assert not (tmp_path / "home" / ".local" / "share" / "ciwb").exists()


def test_replays_go_beside_the_store(tmp_path, monkeypatch):
    monkeypatch.delenv("CIWB_DB", raising=False)
    monkeypatch.setenv("CIWB_HOME", str(tmp_path / "h"))
    monkeypatch.chdir(tmp_path)
    assert resolve_db_path() == default_db_path() == tmp_path / "h" / "ciwb.duckdb"
    assert replays_dir() == tmp_path / "h" / "replays"
    assert replays_dir(tmp_path / "x" / "s.duckdb") == tmp_path / "x" / "replays"
    assert replays_dir("rel/s.duckdb") == tmp_path / "rel" / "replays"


def test_make_demo_keeps_its_documented_store():
    """`make demo` names data/demo.duckdb on every ciwb command, so no default applies."""
    makefile = (REPO / "Makefile").read_text()
    assert "DEMO_DB ?= data/demo.duckdb" in makefile
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    commands = [line for line in recipe.splitlines() if "$(CIWB)" in line]
    assert commands and all("--db $(DEMO_DB)" in line for line in commands)
