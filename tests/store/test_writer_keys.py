"""Child tables without a primary key (migration 9): the writer keeps their keys unique.

Every way rows reach the store (write_batch, upsert_rows, StoreWriter, BackgroundWriter's
grouped transactions) is driven twice over the same history, with re-reads that change
what a key holds, and after each the child tables must hold each key once, with the last
value written.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import duckdb
import pytest

from ciwb.codebuild.agent_log import command_rows
from ciwb.codebuild.normalise import (
    NormalisedBatch,
    normalise_build,
    normalise_code_coverage,
    normalise_metric,
)
from ciwb.demo import DemoConfig, generate, history_batches
from ciwb.store import BackgroundWriter, StoreWriter, connect, upsert_rows, write_batch
from ciwb.store.writes import TABLE_KEYS, WRITER_KEYED

PARENT_KEYED = ("builds", "build_batches", "reports", "projects", "fleets")


def _duplicates(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per writer-keyed table: rows beyond one per key (0 everywhere when the keys hold)."""
    out = {}
    for table in sorted(WRITER_KEYED):
        key = ", ".join(TABLE_KEYS[table][0])
        out[table] = con.execute(
            f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}"
        ).fetchall()[0][0]
    return out


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = sorted(WRITER_KEYED | set(PARENT_KEYED))
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}


def _coverage(report_arn: str, path: str, pct: float) -> dict:
    return {"reportARN": report_arn, "filePath": path, "lineCoveragePercentage": pct}


@pytest.fixture(scope="module")
def history():
    return generate(DemoConfig(builds=600, seed=11))


def test_child_tables_have_no_primary_key_and_parents_keep_theirs(db_path: Path) -> None:
    with connect(db_path) as con:
        keyed = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        }
        not_null = {
            (r[0], r[1])
            for r in con.execute(
                "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT is_nullable"
            ).fetchall()
        }
    assert keyed.isdisjoint(WRITER_KEYED)
    assert set(PARENT_KEYED) <= keyed
    for table in WRITER_KEYED:  # a key column may still never be NULL
        assert {(table, k) for k in TABLE_KEYS[table][0]} <= not_null, table


def test_rewriting_a_history_every_way_never_duplicates_a_key(db_path: Path, history) -> None:
    batches = list(history_batches(history, chunk=150))
    with connect(db_path) as con:
        for batch in batches:
            write_batch(con, batch)
        once = _counts(con)
        assert _duplicates(con) == dict.fromkeys(WRITER_KEYED, 0)
        assert min(once[t] for t in ("build_phases", "build_metrics", "test_cases")) > 0

    # the same rows again: through StoreWriter, then BackgroundWriter, which commits batches
    # queued back to back in one transaction
    writer = StoreWriter(db_path)
    for batch in batches:
        writer(batch, {})
    writer.close()
    background = BackgroundWriter(db_path, depth=8)
    for batch in batches + batches:
        background(batch, {})
    background.close()
    with connect(db_path) as con:
        assert _counts(con) == once
        assert _duplicates(con) == dict.fromkeys(WRITER_KEYED, 0)
        # and row by row through upsert_rows, every child table
        everything = NormalisedBatch()
        for batch in batches:
            everything.extend(batch)
        for table in ("build_commands", "build_metrics", "test_cases", "build_batch_groups"):
            upsert_rows(con, table, getattr(everything, table))
        phases = [normalise_build(r)[1] for r in history.builds[:50]]
        upsert_rows(con, "build_phases", [p for rows in phases for p in rows])
        assert _counts(con) == once
        assert _duplicates(con) == dict.fromkeys(WRITER_KEYED, 0)


def test_a_reread_replaces_what_each_key_holds(db_path: Path, history) -> None:
    with connect(db_path) as con:
        for batch in history_batches(history, chunk=200):
            write_batch(con, batch)
        arn, metric, points = con.execute(
            "SELECT build_arn, metric_name, points FROM build_metrics ORDER BY ALL LIMIT 1"
        ).fetchall()[0]
        report = con.execute("SELECT report_arn FROM reports ORDER BY 1 LIMIT 1").fetchall()[0][0]
        logged, commands = con.execute(
            "SELECT build_arn, count(*) FROM build_commands GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchall()[0]
        before = _counts(con)

        batch = NormalisedBatch()
        batch.build_metrics.append(
            normalise_metric(
                arn, metric, timestamps=[history.builds[0]["startTime"]], values=[42.0], period_s=60
            )
        )
        # a log read again that now parses to a single command: the build keeps only that one
        batch.build_commands.extend(
            command_rows(
                ["[Container] 2026/03/02 10:00:00.000000 Running command make"],
                build_arn=logged,
                source_name="cloudwatch",
            )
        )
        coverage = [normalise_code_coverage(_coverage(report, f"src/{i}.py", 50.0)) for i in "ab"]
        write_batch(con, batch, {"code_coverages": coverage})
        write_batch(
            con,
            NormalisedBatch(),
            {"code_coverages": [normalise_code_coverage(_coverage(report, "src/a.py", 75.0))]},
        )
        assert con.execute(
            "SELECT points, series_values FROM build_metrics WHERE build_arn = ? AND metric_name = ?",
            [arn, metric],
        ).fetchall() == [(1, [42.0])]
        assert con.execute(
            "SELECT count(*) FROM build_commands WHERE build_arn = ?", [logged]
        ).fetchall() == [(1,)]
        assert con.execute(
            "SELECT file_path, line_coverage_pct FROM code_coverages ORDER BY 1"
        ).fetchall() == [("src/a.py", 75.0), ("src/b.py", 50.0)]
        after = _counts(con)
        assert points >= 1 and commands > 1
        assert after["build_commands"] == before["build_commands"] - commands + 1
        assert after["build_metrics"] == before["build_metrics"]
        assert _duplicates(con) == dict.fromkeys(WRITER_KEYED, 0)


def test_an_in_progress_build_read_as_rows_loses_its_extra_phases(db_path: Path, history) -> None:
    """Phases replaced as a set for a stored build, whether it arrives raw or as rows."""
    done = next(b for b in history.builds if len(b["phases"]) == 11)
    running = copy.deepcopy(done)
    running["phases"] = running["phases"][:4]
    for record, raw in ((done, True), (running, False), (done, False), (running, True)):
        batch = NormalisedBatch()
        if raw:
            batch.add_build(record, origin="aws")
        else:
            build, phases = normalise_build(record)
            batch.builds.append(build)
            batch.build_phases.extend(phases)
        with connect(db_path) as con:
            write_batch(con, batch)
            assert con.execute("SELECT count(*) FROM build_phases").fetchall() == [
                (len(record["phases"]),)
            ]


def test_phases_without_their_build_are_refused_and_nothing_is_written(db_path: Path) -> None:
    record = generate(DemoConfig(builds=20, seed=2)).builds[0]
    _, phases = normalise_build(record)
    batch = NormalisedBatch()
    batch.build_phases.extend(phases)
    with connect(db_path) as con:
        with pytest.raises(ValueError, match="build_phases"):
            write_batch(con, batch)
        assert con.execute("SELECT count(*) FROM build_phases").fetchall() == [(0,)]


def test_concurrent_walks_through_one_writer_keep_keys_unique(db_path: Path, history) -> None:
    """Several threads writing overlapping batches through one BackgroundWriter (the collector's
    concurrent walks): whatever the grouping, every key once."""
    batches = list(history_batches(history, chunk=100))
    writer = BackgroundWriter(db_path, depth=6)

    def walk() -> None:
        for batch in batches:
            writer(batch, {})
        writer.sync()

    threads = [threading.Thread(target=walk) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    with connect(db_path) as con:
        assert _duplicates(con) == dict.fromkeys(WRITER_KEYED, 0)
        assert con.execute("SELECT count(*) FROM builds").fetchall() == [(len(history.builds),)]
