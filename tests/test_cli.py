"""The CLI as a user runs it: a real subprocess, real files, one clear line on bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from ciwb import __version__


def ciwb(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ciwb", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def assert_one_line_error(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]


def test_version():
    result = ciwb("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ciwb {__version__}"


def test_demo_then_info_then_export(tmp_path):
    db = tmp_path / "demo.duckdb"
    result = ciwb("demo", "--db", str(db), "--builds", "1200", "--seed", "3", "--quiet")
    assert result.returncode == 0, result.stderr
    # The same seed in-process gives the records the command wrote (the history is fixed).
    from ciwb.demo import generate

    history = generate(builds=1200, seed=3)
    builds, phases = len(history.builds), sum(len(b["phases"]) for b in history.builds)
    assert f"{builds:,} builds across {len(history.projects)} projects" in result.stdout
    printed = dict(re.findall(r"│ (\w+) +│ +([\d,]+) │", result.stdout))
    assert (printed["builds"], printed["build_phases"], printed["test_cases"]) == (
        f"{builds:,}",
        f"{phases:,}",
        f"{len(history.test_cases):,}",
    )
    assert (tmp_path / "demo.planted.json").exists()

    info = ciwb("db", "info", "--db", str(db), "--json")
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["schema_version"] >= 2
    # the summary's counts are the rows the store holds
    assert {t: f"{n:,}" for t, n in data["tables"].items() if t in printed} == printed
    assert data["builds_by_origin"] == {"demo": builds}

    exported = ciwb("db", "export", str(tmp_path / "parquet"), "--db", str(db))
    assert exported.returncode == 0, exported.stderr
    assert any((tmp_path / "parquet" / "builds").iterdir())


def test_demo_refuses_to_overwrite_a_store_with_real_history(tmp_path):
    from ciwb.codebuild.normalise import NormalisedBatch
    from ciwb.demo import generate
    from ciwb.store import connect, write_batch

    db = tmp_path / "mine.duckdb"
    batch = NormalisedBatch()
    batch.add_build(generate(builds=100, seed=1).builds[0], origin="aws", now=None)
    with connect(db) as con:
        write_batch(con, batch)
    result = ciwb("demo", "--db", str(db), "--builds", "100", "--quiet")
    assert_one_line_error(result, "not demo data")
    from ciwb.store import db_info

    assert db_info(db).builds_by_origin == {"aws": 1}


def test_corrupt_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"\x00garbage" * 512)
    assert_one_line_error(ciwb("db", "info", "--db", str(bad)), "not a readable DuckDB file")


def test_missing_file_is_one_line_and_exit_2(tmp_path):
    assert_one_line_error(
        ciwb("db", "info", "--db", str(tmp_path / "nope.duckdb")), "no such DuckDB file"
    )


def test_newer_schema_is_one_line_and_exit_2(tmp_path):
    from ciwb.store import connect

    db = tmp_path / "future.duckdb"
    with connect(db) as con:
        con.execute("INSERT INTO schema_migrations VALUES (99, 'future', now(), '9.0')")
    assert_one_line_error(ciwb("db", "info", "--db", str(db)), "newer ciwb")


def test_locked_file_is_one_line_and_exit_2(tmp_path):
    db = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from ciwb.store import connect
                with connect({str(db)!r}) as con:
                    print("holding", flush=True)
                    sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        result = ciwb("db", "info", "--db", str(db), env={"CIWB_LOCK_TIMEOUT": "1"})
        assert_one_line_error(result, "locked by another process")
    finally:
        holder.communicate("")


@pytest.mark.parametrize("args", [["db", "info", "--bogus"], ["nosuchcommand"]])
def test_usage_errors_do_not_trace(args):
    result = ciwb(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
