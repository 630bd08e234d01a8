from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import duckdb

from ciwb.codebuild.normalise import NormalisedBatch, normalise_build
from ciwb.demo import generate, history_batches
from ciwb.store import connect, export_parquet, write_batch

COUNTED = (
    "projects",
    "builds",
    "build_phases",
    "build_metrics",
    "build_batches",
    "build_batch_groups",
    "reports",
    "test_cases",
)


def _counts(db) -> dict[str, int]:
    with connect(db, read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in COUNTED}


def _load(db, history) -> None:
    with connect(db) as con:
        for batch in history_batches(history, chunk=250):
            write_batch(con, batch)


def test_reingesting_the_same_records_changes_no_count(db_path):
    history = generate(builds=800, seed=21)
    _load(db_path, history)
    first = _counts(db_path)
    assert first["builds"] == len(history.builds)
    assert first["test_cases"] == len(history.test_cases) > 0
    _load(db_path, history)
    assert _counts(db_path) == first


def _written(counts: dict[str, int]) -> dict[str, int]:
    return {table: n for table, n in counts.items() if n}


def test_write_batch_returns_the_rows_it_wrote_for_inserts_and_rereads(db_path):
    """The counts `ciwb collect` and `ciwb demo` print and collect_runs.rows_written keeps:
    derived here from the records themselves (one builds row per build, one build_phases row
    per phase), for raw records (the collector's path) and for rows (the demo's)."""
    history = generate(builds=300, seed=5)
    records = history.builds
    phases = sum(len(r["phases"]) for r in records)
    raw = NormalisedBatch()
    for record in records:
        raw.add_build(record, origin="aws", now=None)
    with connect(db_path) as con:
        inserted = write_batch(con, raw)
        reread = write_batch(con, raw)  # the same builds read again: every row rewritten
    assert _written(inserted) == {"builds": len(records), "build_phases": phases}
    assert reread == inserted
    assert {t: n for t, n in _counts(db_path).items() if n} == _written(inserted)

    demo = NormalisedBatch()  # everything the demo loader writes, in one batch
    for batch in history_batches(history, chunk=100):
        demo.extend(batch)
    with connect(tmp := db_path.with_name("demo.duckdb")) as con:
        first = write_batch(con, demo)
        again = write_batch(con, demo)
    known = {
        "projects": len(history.projects),
        "builds": len(records),
        "build_phases": phases,
        "build_metrics": len(history.metrics),
        "build_batches": len(history.build_batches),
        "reports": len(history.reports),
        "test_cases": len(history.test_cases),
    }
    assert {t: first[t] for t in known} == known
    assert again == first
    assert _counts(tmp) == {t: first[t] for t in COUNTED}


def _running(record: dict) -> dict:
    """`record` as read while its fifth phase ran: five phases, no end, not complete."""
    running = copy.deepcopy(record)
    running["phases"] = running["phases"][:5]
    last = running["phases"][-1]
    running["phases"][-1] = {
        "phaseType": last["phaseType"],
        "phaseStatus": "IN_PROGRESS",
        "startTime": last["startTime"],
    }
    running.update(buildStatus="IN_PROGRESS", buildComplete=False, currentPhase=last["phaseType"])
    running.pop("endTime", None)
    return running


def test_in_progress_build_is_replaced_by_its_completed_record(db_path):
    history = generate(builds=200, seed=4)
    done = next(
        b for b in history.builds if b["buildStatus"] == "SUCCEEDED" and len(b["phases"]) == 11
    )
    running = _running(done)
    for record in (running, done):
        batch = NormalisedBatch()
        batch.add_build(record, origin="aws", now=None)
        with connect(db_path) as con:
            written = write_batch(con, batch)
        assert _written(written) == {"builds": 1, "build_phases": len(record["phases"])}
        with connect(db_path, read_only=True) as con:
            status, complete, phases = con.execute(
                "SELECT b.status, b.build_complete, count(p.seq) FROM builds b"
                " JOIN build_phases p USING (build_arn) GROUP BY ALL"
            ).fetchall()[0]
        if record is running:
            assert (status, complete, phases) == ("IN_PROGRESS", False, 5)
    assert (status, complete, phases) == ("SUCCEEDED", True, 11)
    build, _ = normalise_build(done)
    with connect(db_path, read_only=True) as con:
        total = con.execute("SELECT total_s FROM build_facts").fetchall()[0][0]
    assert total == build.total_s


def test_a_reader_process_works_while_a_writer_process_writes(db_path, tmp_path):
    """Reads interleave with the writes by a handshake, not by luck: after each batch the
    writer says how many builds it has written and waits for the reader, which reads then
    (exactly that many) and once more while the writer goes on with the next batch."""
    with connect(db_path):
        pass
    writer = textwrap.dedent(
        f"""
        import sys
        from ciwb.demo import generate, history_batches
        from ciwb.store import connect, write_batch
        history = generate(builds=3000, seed=9)
        done = 0
        for batch in history_batches(history, chunk=200):
            with connect({str(db_path)!r}) as con:   # one batch of work per connection
                write_batch(con, batch)
            done += batch.build_count()
            print(done, flush=True)
            sys.stdin.readline()                      # the reader has read
        print("end", len(history.builds), flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", writer], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )

    def count() -> int:
        with connect(db_path, read_only=True, lock_timeout_s=60) as con:
            return con.execute("SELECT count(*) FROM builds").fetchall()[0][0]

    announced: list[int] = []
    at_announce: list[int] = []
    meanwhile: list[int] = []
    while not (line := proc.stdout.readline()).startswith("end"):
        assert line, "the writer died"
        announced.append(int(line))
        at_announce.append(count())
        proc.stdin.write("go\n")
        proc.stdin.flush()
        meanwhile.append(count())  # while the next batch is being written
    total = int(line.split()[1])
    proc.stdin.close()
    assert proc.wait() == 0
    assert at_announce == announced  # each read sees exactly the batches committed
    assert announced[0] == 0 and announced[-1] == total and len(announced) >= 10
    # a read during a write sees the store before or after that batch, never half of it
    following = announced[1:] + [total]
    assert all(n in (a, b) for n, a, b in zip(meanwhile, announced, following, strict=True))
    assert _counts(db_path)["builds"] == total


def test_export_writes_parquet_partitioned_by_month(db_path, tmp_path):
    history = generate(builds=600, seed=2)
    _load(db_path, history)
    result = export_parquet(str(tmp_path / "out"), db_path)
    assert result.tables["builds"] == len(history.builds)
    months = sorted(p.name for p in (tmp_path / "out" / "builds").iterdir())
    assert len(months) >= 3 and all(m.startswith("month=") for m in months)
    con = duckdb.connect()
    n = con.execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/out/build_phases/*/*.parquet',"
        " hive_partitioning = true)"
    ).fetchall()[0][0]
    assert n == _counts(db_path)["build_phases"]


def test_each_build_keeps_its_own_raw_record_in_a_batch_of_many_scan_blocks(db_path):
    """A batch far larger than DuckDB's parallel scan unit (the raw builds are parsed on
    every core): every stored row still carries its own record's raw JSON, not a neighbour's."""
    base = [b for b in generate(builds=30, seed=5).builds if b.get("buildComplete")][0]
    batch = NormalisedBatch()
    for i in range(20_000):
        record = copy.deepcopy(base)
        project = f"p{i % 7}"
        record["id"] = f"{project}:{i:08x}-0000-0000-0000-000000000000"
        record["arn"] = base["arn"].rsplit(":build/", 1)[0] + f":build/{record['id']}"
        record["projectName"], record["buildNumber"] = project, i + 1
        batch.add_build(record, origin="aws", now=None)
    with connect(db_path) as con:
        write_batch(con, batch)
        total, misplaced = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE json_extract_string(raw, '$.arn')"
            " <> build_arn OR CAST(json_extract(raw, '$.buildNumber') AS BIGINT)"
            " <> build_number) FROM builds"
        ).fetchall()[0]
    assert (total, misplaced) == (20_000, 0)


def test_rereading_stored_builds_stores_what_a_first_read_of_them_stores(tmp_path):
    """A resync re-reads the builds it last saw running, into a store closed (checkpointed)
    since: every column of their rows (generated and materialised ones too) and their phases
    end as if the completed records had been the only read."""
    history = generate(builds=300, seed=9)
    done = [b for b in history.builds if len(b["phases"]) == 11]
    assert len(done) > 100

    def load(db, records) -> None:
        batch = NormalisedBatch()
        for record in records:
            batch.add_build(record, origin="aws", now=None)
        with connect(db) as con:
            write_batch(con, batch)

    reread, fresh = tmp_path / "reread.duckdb", tmp_path / "fresh.duckdb"
    load(reread, [_running(b) for b in done[::2]] + done[1::2])
    load(reread, done)  # another run: half of them re-read complete, half unchanged
    load(fresh, done)
    con = duckdb.connect(str(reread), read_only=True)
    con.execute(f"ATTACH '{fresh}' AS fresh (READ_ONLY)")
    for table in ("builds", "build_phases"):
        columns = ", ".join(
            f'"{c}"'
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_catalog = 'reread' AND table_name = ?",
                [table],
            ).fetchall()
            if c != "ingested_at"
        )
        for a, b in (("reread.main", "fresh.main"), ("fresh.main", "reread.main")):
            extra = con.execute(
                f"SELECT count(*) FROM (SELECT {columns} FROM {a}.{table}"
                f" EXCEPT ALL SELECT {columns} FROM {b}.{table})"
            ).fetchall()[0][0]
            assert extra == 0, f"{table}: {extra} rows of {a} not in {b}"
    assert con.execute("SELECT count(*), count(DISTINCT build_arn) FROM builds").fetchall() == [
        (len(done), len(done))
    ]
    assert con.execute(
        "SELECT count(*) FROM builds WHERE status = 'IN_PROGRESS' OR build_id IS NULL"
    ).fetchall() == [(0,)]
    con.close()
