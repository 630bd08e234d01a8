"""Per-build phase facts materialised in `builds` (issue 16): every writer fills them from the
same record as the build's phases, a re-read build has them replaced, and a store written
before them is upgraded in place with every analysis result as it was."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ciwb.analytics import failure_rates, phase_breakdown, projects_overview
from ciwb.codebuild.normalise import NormalisedBatch, normalise_build
from ciwb.demo import DemoConfig, generate, history_batches
from ciwb.store import MIGRATIONS, connect, write_batch
from ciwb.store.migrations import compress_raw_json, materialise_phase_facts
from support.builds import build_record
from support.old_stores import demo_store_at

FACTS = next(m for m in MIGRATIONS if m.apply is materialise_phase_facts).version
PHASES = (
    "SUBMITTED QUEUED PROVISIONING DOWNLOAD_SOURCE INSTALL PRE_BUILD BUILD POST_BUILD"
    " UPLOAD_ARTIFACTS FINALIZING"
).split()
FAILING = "('FAILED', 'FAULT', 'TIMED_OUT', 'STOPPED')"
FACT_COLUMNS = [f"{p.lower()}_s" for p in PHASES] + ["failed_phase", "failed_context_code"]

# The facts as the build_facts view of migration 2 aggregated them from the phase rows.
FROM_PHASES = (
    "SELECT b.build_arn, "
    + ", ".join(f"f.{c}" for c in FACT_COLUMNS)
    + " FROM builds b LEFT JOIN (SELECT build_arn, "
    + ", ".join(f"sum(duration_s) FILTER (WHERE phase_type = '{p}')" for p in PHASES)
    + f", arg_min(phase_type, seq) FILTER (WHERE status IN {FAILING})"
    + f", arg_min(context_code, seq) FILTER (WHERE status IN {FAILING})"
    + " FROM build_phases GROUP BY build_arn) f(build_arn, "
    + ", ".join(FACT_COLUMNS)
    + ") USING (build_arn)"
)
STORED = f"SELECT build_arn, {', '.join(FACT_COLUMNS)} FROM builds"

# phase_breakdown as it was before issue 16: a join of the chosen builds with their phase rows.
BREAKDOWN_FROM_PHASES = f"""
    WITH chosen AS (
        SELECT build_arn, project_name, total_s FROM builds b
        WHERE b.status = 'SUCCEEDED' AND b.build_complete AND b.total_s IS NOT NULL
    ),
    wall AS (SELECT project_name, sum(total_s) AS wall_s FROM chosen GROUP BY project_name),
    per_phase AS (
        SELECT c.project_name, p.phase_type, count(*) AS builds, sum(p.duration_s) AS total_s,
               quantile_cont(p.duration_s, [0.50, 0.90, 0.95, 0.99]) AS q
        FROM chosen c JOIN build_phases p USING (build_arn)
        WHERE p.duration_s IS NOT NULL
        GROUP BY c.project_name, p.phase_type
    )
    SELECT pp.project_name, pp.phase_type,
           pp.phase_type IN ('SUBMITTED', 'QUEUED', 'PROVISIONING') AS waiting,
           pp.builds, pp.total_s, pp.total_s / pp.builds AS mean_s,
           pp.total_s / nullif(w.wall_s, 0) AS share_of_wall,
           pp.q[1] AS p50_s, pp.q[2] AS p90_s, pp.q[3] AS p95_s, pp.q[4] AS p99_s
    FROM per_phase pp JOIN wall w USING (project_name)
    ORDER BY pp.project_name, list_position({PHASES}, pp.phase_type)
"""
SUMS = ("total_s", "mean_s", "share_of_wall")


def _differences(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Rows of the stored facts not in the phase rows' aggregate, and the other way round."""
    one = con.execute(f"SELECT count(*) FROM (({STORED}) EXCEPT ALL ({FROM_PHASES}))").fetchall()
    other = con.execute(f"SELECT count(*) FROM (({FROM_PHASES}) EXCEPT ALL ({STORED}))").fetchall()
    return one[0][0], other[0][0]


def _same_breakdown(ours: pl.DataFrame, reference: pl.DataFrame) -> None:
    """The same rows in the same order, counts and percentiles exactly (the same values are
    selected from), sums to 1e-12 (they are added up in another order)."""
    assert ours.columns == reference.columns
    assert_frame_equal(ours.drop(SUMS), reference.drop(SUMS), check_exact=True)
    assert_frame_equal(ours.select(SUMS), reference.select(SUMS), rel_tol=1e-12, abs_tol=0)


@pytest.fixture(scope="module")
def old_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo history written by the store as it was just before the phase facts."""
    return demo_store_at(tmp_path_factory.mktemp("old") / "old.duckdb", FACTS - 1, seed=11)


def test_upgrade_fills_the_facts_and_keeps_every_result(old_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    con = duckdb.connect(str(db))
    columns = {r[0] for r in con.execute("DESCRIBE builds").fetchall()}
    assert not columns & set(FACT_COLUMNS)
    facts = con.sql("SELECT * FROM build_facts").pl()
    overview, failures = projects_overview(con), failure_rates(con)
    breakdown = con.sql(BREAKDOWN_FROM_PHASES).pl()
    failed = con.execute("SELECT count(*) FROM build_facts WHERE failed_phase IS NOT NULL")
    assert failed.fetchall()[0][0] > 0  # the history has failures to carry over
    con.close()

    with connect(db) as con:  # a writer brings the file up to date in place
        assert _differences(con) == (0, 0)
        after = con.sql("SELECT * FROM build_facts").pl()
        assert after.columns == facts.columns
        assert_frame_equal(after.sort(pl.all()), facts.sort(pl.all()), check_exact=True)
        # rows that tie on the functions' sort keys may come back in either order
        for ours, theirs in ((projects_overview(con), overview), (failure_rates(con), failures)):
            assert_frame_equal(ours.sort(pl.all()), theirs.sort(pl.all()), check_exact=True)
        _same_breakdown(phase_breakdown(con), breakdown)
        # build_facts no longer reads the phase rows: it is a projection of builds
        view = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'build_facts'")
        assert "build_phases" not in view.fetchall()[0][0]


def test_upgrade_keeps_raw_compressed(old_store: Path, tmp_path: Path) -> None:
    assert next(m for m in MIGRATIONS if m.apply is compress_raw_json).version < FACTS
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    with connect(db) as con:
        con.execute("CHECKPOINT")
        ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'builds'")
        assert "raw JSON USING COMPRESSION ZSTD" in ddl.fetchall()[0][0]
        compression = con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('builds')"
            " WHERE column_name = 'raw' AND segment_type <> 'VALIDITY'"
        ).fetchall()
        assert compression == [("ZSTD",)]


def test_the_writer_fills_the_facts_from_the_build_record(db_path: Path) -> None:
    with connect(db_path) as con:
        for batch in history_batches(generate(DemoConfig(builds=1_200, seed=4))):
            write_batch(con, batch)
        assert _differences(con) == (0, 0)
        counts = con.execute(
            "SELECT count(*), count(build_s), count(failed_phase), count(failed_context_code)"
            " FROM builds"
        ).fetchall()[0]
    builds, timed, failed, coded = counts
    assert builds >= 1_200 and timed > 0 and failed > 0 and coded > 0


def test_failed_phase_and_code_are_the_first_failing_ones(db_path: Path) -> None:
    # a failing phase without a context code, then one with: the view's arg_min skips NULLs
    record = build_record(
        "facts",
        1,
        status="FAILED",
        phases=[
            ("SUBMITTED", 0.5),
            ("PROVISIONING", 10.25),
            ("INSTALL", 3.0),
            ("BUILD", 40.0, "FAILED", "", ""),
            ("POST_BUILD", 2.0, "FAILED", "COMMAND_EXECUTION_ERROR", "exit status 1"),
            ("FINALIZING", 1.5),
        ],
    )
    batch = NormalisedBatch()
    batch.add_build(record, origin="aws")
    with connect(db_path) as con:
        write_batch(con, batch)
        assert _differences(con) == (0, 0)
        row = con.execute(
            "SELECT queued_s, provisioning_s, build_s, failed_phase, failed_context_code"
            " FROM build_facts"
        ).fetchall()
    assert row == [(None, 10.25, 40.0, "BUILD", "COMMAND_EXECUTION_ERROR")]
    build, _ = normalise_build(record)
    assert (build.build_s, build.failed_phase, build.failed_context_code) == row[0][2:]


def test_a_re_read_build_has_its_facts_replaced(db_path: Path) -> None:
    """In progress (SUBMITTED … BUILD running), then complete with every phase: the second
    write replaces the facts, including the ones that were NULL and the ones that change."""
    rng = random.Random(16)
    running = build_record("facts", 2, complete=False, rng=random.Random(16))
    done = build_record("facts", 2, status="FAILED", rng=rng)
    assert running["arn"] == done["arn"]
    seen = []
    for record in (running, done, running, done):
        batch = NormalisedBatch()
        batch.add_build(record, origin="aws")
        with connect(db_path) as con:
            write_batch(con, batch)
            assert _differences(con) == (0, 0)
            seen.append(
                con.execute(
                    "SELECT status, build_s, finalizing_s, failed_phase FROM build_facts"
                ).fetchall()
            )
    build_s = build_record("facts", 2, status="FAILED", rng=random.Random(16))["phases"][6]
    assert build_s["phaseType"] == "BUILD"
    assert seen[0] == [("IN_PROGRESS", None, None, None)]
    status, build_seconds, finalizing, failed_phase = seen[1][0]
    assert (status, failed_phase) == ("FAILED", "BUILD")
    assert build_seconds == (build_s["endTime"] - build_s["startTime"]).total_seconds()
    assert finalizing is not None
    assert seen[2] == seen[0] and seen[3] == seen[1]
