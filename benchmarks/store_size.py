"""Store size: bytes per build of a store holding every record's raw JSON.

The store is a seeded demo history written through the real path (ciwb.demo: generate,
normalise, write_batch), so every row keeps its raw API record. Baseline in the same run:
the same rows copied table by table into a fresh DuckDB file with DuckDB's default
compression and no indexes (`CREATE TABLE AS`), i.e. plain DuckDB tables of the same data.
Both files are checked to hold the same rows (count and a hash of every row per table, as
readers see them: the columns the store derives on read are compared by their values, in
the copy stored as plain columns), so the figure never shrinks by dropping anything.

    python benchmarks/store_size.py [--builds 200000] [--db PATH (keep)]

Prints bytes per build for both, and the ciwb store scaled to 1 M builds (target ≤ 1 GB).
The default is 200,000 builds, scaled: the demo generator holds its whole history in memory
(~16 GB for `--builds 1000000`, which is the issue's exact figure on a machine that has it);
`--builds 100000` is a quick run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from ciwb.demo import load_demo
from ciwb.store import readable_columns, table_fingerprints


def tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1",
            [catalog],
        ).fetchall()
    ]


def plain_copy(store: Path, copy: Path) -> None:
    """Every column as readers see it, derived ones included, stored as plain columns."""
    con = duckdb.connect(str(copy))
    con.execute(f"ATTACH '{store}' AS src (READ_ONLY)")
    for table in tables(con, "src"):
        cols = ", ".join(f'"{c}"' for c in readable_columns(con, "src", table))
        con.execute(f"CREATE TABLE {table} AS SELECT {cols} FROM src.{table}")
    assert table_fingerprints(con, "src", logical=True) == table_fingerprints(con, logical=True)
    con.execute("CHECKPOINT")
    con.close()


def breakdown(store: Path) -> list[tuple[str, int]]:
    """Blocks per table (a block is 256 KiB); what is left over is indexes and the catalog."""
    con = duckdb.connect(str(store), read_only=True)
    out = []
    for table in tables(con, con.execute("SELECT current_database()").fetchone()[0]):
        blocks = con.execute(
            "SELECT count(DISTINCT block_id) + coalesce(sum(len(additional_block_ids)), 0) "
            f"FROM pragma_storage_info('{table}') WHERE persistent AND block_id >= 0"
        ).fetchall()[0][0]
        out.append((table, int(blocks or 0)))
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="keep the store at this path (reused if present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ciwb-bench-size-") as scratch:
        store = args.db or Path(scratch) / "store.duckdb"
        if not store.exists():
            t0 = time.perf_counter()
            load_demo(store, builds=args.builds, seed=args.seed)
            print(f"demo store written in {time.perf_counter() - t0:.1f}s (not timed)")
        with duckdb.connect(str(store), read_only=True) as con:
            builds = con.execute("SELECT count(*) FROM builds").fetchall()[0][0]
            with_raw = con.execute("SELECT count(*) FROM builds WHERE raw IS NOT NULL").fetchall()
            raw_bytes = con.execute("SELECT sum(strlen(raw::VARCHAR)) FROM builds").fetchall()
        copy = Path(scratch) / "plain.duckdb"
        plain_copy(store, copy)
        ours, plain = store.stat().st_size, copy.stat().st_size
        print(
            f"{builds:,} builds, {with_raw[0][0]:,} with raw JSON ({raw_bytes[0][0] / builds:,.0f} B each)"
        )
        print("same rows in both files (count + hash of every row, per table): yes")
        print(f"ciwb store:               {ours / 1e6:9.1f} MB  {ours / builds:8,.0f} B/build")
        print(f"plain DuckDB CTAS copy:   {plain / 1e6:9.1f} MB  {plain / builds:8,.0f} B/build")
        print(f"ratio ciwb / plain copy: {ours / plain:.2f}")
        print(
            f"ciwb store per 1 M builds (scaled): {ours / builds * 1e6 / 1e9:.2f} GB (target ≤ 1 GB)"
        )
        for table, blocks in sorted(breakdown(store), key=lambda tb: -tb[1])[:8]:
            print(f"  {table:<20} {blocks * 262144 / builds:8,.0f} B/build")


if __name__ == "__main__":
    main()
