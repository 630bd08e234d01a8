"""Migration 10 (issue 16): columns that follow from others of their row are computed on read.

Readers see every column with the value that used to be stored; the file holds less. A store
written before is upgraded in place with every value and analysis result as it was, and ends
holding exactly what today's writer writes for the same history; a row whose stored values
do not follow from the others stops the upgrade with the store untouched; values the
derivations cannot express (an irregular metric series, a log stream named otherwise, an id
that is not its ARN's) are kept as given.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ciwb.analytics import failure_rates, phase_breakdown, projects_overview
from ciwb.codebuild.normalise import NormalisedBatch, normalise_build, normalise_metric
from ciwb.demo import DemoConfig, generate, history_batches
from ciwb.errors import StoreError
from ciwb.store import MIGRATIONS, connect, migrate, table_fingerprints, write_batch
from ciwb.store.derived import DERIVED, HELPERS
from ciwb.store.migrations import derive_instead_of_store
from support.builds import build_record
from support.old_stores import demo_store_at

DERIVE = next(m for m in MIGRATIONS if m.apply is derive_instead_of_store).version
SEED = 5


def _logical(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    return table_fingerprints(con, exclude=("schema_migrations",), logical=True)


def _results(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    frames = {
        table: con.sql(f"SELECT * EXCLUDE (ingested_at) FROM {table}").pl()
        if table == "builds"
        else con.sql(f"SELECT * FROM {table}").pl()
        for table in DERIVED
    }
    frames["build_facts"] = con.sql("SELECT * FROM build_facts").pl()
    frames["phase_breakdown"] = phase_breakdown(con)
    frames["projects_overview"] = projects_overview(con)
    frames["failure_rates"] = failure_rates(con)
    return frames


def _readable(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    return frame.drop([h for h, _ in HELPERS.get(table, ()) if h in frame.columns])


@pytest.fixture(scope="module")
def old_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo history written by the store as it was just before the migration."""
    return demo_store_at(tmp_path_factory.mktemp("old") / "old.duckdb", DERIVE - 1, seed=SEED)


def _stored_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT column_name FROM pragma_storage_info('{table}')"
        ).fetchall()
    }


def test_upgrade_keeps_every_value_and_result(old_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    con = duckdb.connect(str(db))
    before, results_before = _logical(con), _results(con)
    assert before["build_metrics"][0] > before["builds"][0] >= 1_500
    con.close()

    with connect(db) as con:  # a writer brings the file up to date in place
        assert _logical(con) == before
        for name, frame in _results(con).items():
            ours = _readable(frame, name)
            assert ours.columns == results_before[name].columns, name  # same order
            # rows that tie on the functions' sort keys may come back in either order
            assert_frame_equal(
                ours.sort(pl.all()), results_before[name].sort(pl.all()), check_exact=True
            )
        for table, derived in DERIVED.items():
            assert not derived & _stored_columns(con, table), table
        # a writer's store holds what today's writer writes for the same history
        today = duckdb.connect(str(tmp_path / "today.duckdb"))
        migrate(today)
        for batch in history_batches(generate(DemoConfig(builds=1_500, seed=SEED))):
            write_batch(today, batch)
        today.close()
        con.execute(f"ATTACH '{tmp_path / 'today.duckdb'}' AS today (READ_ONLY)")
        for table in DERIVED:
            stored = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = 'today'"
                    " AND table_name = ? AND column_name <> 'ingested_at'",
                    [table],
                ).fetchall()
            ]
            cols = ", ".join(stored)
            for one, other in (("main", "today"), ("today", "main")):
                differ = con.execute(
                    f"SELECT count(*) FROM (SELECT {cols} FROM {one}.{table}"
                    f" EXCEPT ALL SELECT {cols} FROM {other}.{table})"
                ).fetchall()
                assert differ == [(0,)], (table, one)


def test_a_row_that_does_not_follow_stops_the_upgrade(old_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE build_metrics SET max_value = max_value + 1"
            " WHERE (build_arn, metric_name) IN (SELECT (build_arn, metric_name) FROM build_metrics"
            " LIMIT 1)"
        )
        before = _logical(con)
    with pytest.raises(RuntimeError, match="build_metrics: 1 row") as refused:
        with connect(db):
            pass
    assert isinstance(refused.value, StoreError)  # the CLI's one line with a hint, no traceback
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchall() == [
            (DERIVE - 1,)
        ]
        assert _logical(con) == before


def test_statistics_computed_otherwise_to_the_last_bit_are_kept(
    old_store: Path, tmp_path: Path
) -> None:
    # a store written where the mean's float sum was compensated (Python 3.12's sum) or the
    # p95 interpolated the other way round (numpy): one ulp off the derivation, still upgraded,
    # and read back exactly as stored
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE build_metrics SET mean_value = nextafter(mean_value, 1e308),"
            " p95_value = nextafter(p95_value, -1e308)"
            " WHERE (build_arn, metric_name) IN (SELECT (build_arn, metric_name) FROM build_metrics"
            " WHERE points > 1 LIMIT 3)"
        )
        before = _logical(con)
    with connect(db) as con:
        assert _logical(con) == before
        assert con.execute(
            "SELECT count(mean_value_given), count(p95_value_given) FROM build_metrics"
        ).fetchall() == [(3, 3)]


def test_values_the_derivations_cannot_express_are_kept(db_path: Path) -> None:
    t0 = datetime(2026, 3, 2, 9, 0)
    regular = [t0 + timedelta(minutes=i) for i in range(4)]
    gap = [t0, t0 + timedelta(minutes=1), t0 + timedelta(minutes=5)]
    record = build_record("odd", 1)
    arn = record["arn"]
    renamed = dict(
        record,
        arn=record["arn"].replace("odd", "odd2"),
        id=record["id"].replace("odd", "odd2"),
        logs={"groupName": "g"},
    )
    other_id = dict(
        record,
        arn=record["arn"].replace("odd", "odd3"),
        id="not-its-arn:1",
        logs={"groupName": "g", "streamName": "custom/stream"},
    )
    metrics = [
        normalise_metric(arn, "A", timestamps=regular, values=[1.0, 3.0, 2.0, 8.5], period_s=60),
        normalise_metric(arn, "B", timestamps=gap, values=[0.1, 0.2, 0.7], period_s=60),
        normalise_metric(arn, "C", timestamps=[], values=[], period_s=60),
        normalise_metric(arn, "D", timestamps=[t0], values=[42.0], period_s=None),
        normalise_metric(arn, "E", timestamps=regular[:2], values=[1.0, 2.0], period_s=300),
    ]
    # a mean summed otherwise (one ulp off list_sum / len) is written as given
    metrics[1] = metrics[1]._replace(mean_value=math.nextafter(metrics[1].mean_value, math.inf))
    batch = NormalisedBatch()
    for r in (record, renamed):
        batch.add_build(r, origin="aws")
    batch.builds.append(normalise_build(other_id)[0])  # a row, not a raw record
    batch.build_metrics.extend(metrics)
    empty = NormalisedBatch()  # a batch of series that are all empty: no type to infer
    empty.build_metrics.append(normalise_metric(arn, "F", timestamps=[], values=[], period_s=60))
    metrics.append(empty.build_metrics[0])
    with connect(db_path) as con:
        write_batch(con, batch)
        write_batch(con, empty)
        stored = con.execute(
            "SELECT metric_name, period_s, points, min_value, mean_value, max_value, p95_value,"
            " series_ts, series_values, series_ts_start IS NOT NULL FROM build_metrics"
            " ORDER BY metric_name"
        ).fetchall()
        builds = con.execute(
            "SELECT build_arn, build_id, log_stream, build_id_given IS NULL,"
            " log_stream_is_arn_uuid FROM builds ORDER BY build_arn"
        ).fetchall()
    assert [tuple(row[:9]) for row in stored] == [
        (
            m.metric_name,
            m.period_s,
            m.points,
            m.min_value,
            m.mean_value,
            m.max_value,
            m.p95_value,
            m.series_ts,
            m.series_values,
        )
        for m in metrics
    ]
    assert [row[9] for row in stored] == [True, False, False, False, False, False]
    uuid = arn.rsplit(":", 1)[1]
    assert builds == sorted(
        [
            (arn, record["id"], record["logs"]["streamName"], True, True),
            (renamed["arn"], renamed["id"], None, True, False),
            (other_id["arn"], "not-its-arn:1", "custom/stream", False, False),
        ]
    )
    assert record["logs"]["streamName"] == uuid
