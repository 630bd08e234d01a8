"""Benchmark: `ciwb cost summary` (DuckDB SQL) on a store of 1,000,000 builds, against the
same computation in pandas in the same run.

The store: a seeded demo history (ciwb.demo, through the real normalisation path), then
its builds and phases replicated in SQL with fresh ARNs and shifted times up to the target
count (raw JSON dropped from the copies to keep the file small). Both sides compute the same
thing: per build, the lower bound (from PROVISIONING start) and the upper bound (from
SUBMITTED), billed per minute rounded up (per second on Lambda), priced from the same
price table, summed per project. The pandas side starts from the same DuckDB file.

    .venv/bin/python benchmarks/cost_summary.py [--builds 1000000] [--base 20000] [--db PATH]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ciwb.cost import BillingOptions, cost_summary
from ciwb.cost.billing import BILLING_RULES
from ciwb.cost.prices import UNIT_SECONDS, current_prices
from ciwb.store import connect, readable_columns
from ciwb.store.derived import insert_columns


def build_store(path: Path, builds: int, base: int, seed: int = 7) -> None:
    from ciwb.demo import load_demo

    load_demo(path, builds=base, seed=seed)
    replicate(path, builds)


def replicate(path: Path, builds: int) -> None:
    """Copy the store's builds and phases, shifted in time, until it holds `builds`."""
    with connect(path) as con:
        have = con.execute("SELECT count(*) FROM builds").fetchall()[0][0]
        copies = math.ceil(builds / have) - 1
        span = con.execute(
            "SELECT epoch(max(start_time)) - epoch(min(start_time)) FROM builds"
        ).fetchall()[0][0]
        con.execute("UPDATE builds SET raw = NULL")
        # One INSERT per table: copy k of every build, shifted k whole spans, new ARNs,
        # numbered so that exactly `builds` rows exist at the end.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE pick AS
            SELECT b.build_arn, k,
                   b.build_arn || '#' || k AS new_arn,
                   to_seconds(CAST({span + 1} * k AS BIGINT)) AS shift
            FROM (SELECT build_arn FROM builds) b, range(1, {copies + 1}) AS r(k)
            ORDER BY k, b.build_arn
            LIMIT {max(builds - have, 0)}
            """
        )
        catalog = con.execute("SELECT current_database()").fetchall()[0][0]
        for table, copied in (
            (
                "builds",
                """SELECT b.* REPLACE (
                    p.new_arn AS build_arn, b.build_id || '#' || p.k AS build_id,
                    b.start_time + p.shift AS start_time, b.end_time + p.shift AS end_time)
                FROM builds b JOIN pick p USING (build_arn)""",
            ),
            (
                "build_phases",
                """SELECT ph.* REPLACE (
                    p.new_arn AS build_arn,
                    ph.start_time + p.shift AS start_time, ph.end_time + p.shift AS end_time)
                FROM build_phases ph JOIN pick p USING (build_arn)""",
            ),
        ):
            # as the writer stores rows: derived columns left to the table, helpers filled
            targets, values = insert_columns(table, readable_columns(con, catalog, table))
            con.execute(
                f"INSERT INTO {table} ({', '.join(targets)}) SELECT {', '.join(values)}"
                f" FROM ({copied})"
            )
        con.execute("CHECKPOINT")


def pandas_summary(path: Path) -> pd.DataFrame:
    """The same per-project cost bounds, computed in pandas from the same DuckDB file."""
    with connect(path, read_only=True) as con:
        con.execute("SELECT 1").fetchall()
        builds = con.sql(
            "SELECT build_arn, project_name, region, environment_type, compute_type,"
            " fleet_arn, start_time, end_time, total_s FROM builds"
            " WHERE build_complete AND start_time IS NOT NULL AND end_time IS NOT NULL"
        ).df()
        phases = con.sql("SELECT build_arn, phase_type, start_time FROM build_phases").df()
        prices = pd.DataFrame([p._asdict() for p in current_prices(con)])
    prov = (
        phases[phases["phase_type"] == "PROVISIONING"]
        .groupby("build_arn", as_index=False)["start_time"]
        .min()
        .rename(columns={"start_time": "provisioning_start"})
    )
    b = builds.merge(prov, on="build_arn", how="left")
    b["upper_s"] = b["total_s"].clip(lower=0).round(3)
    lower = (b["end_time"] - b["provisioning_start"]).dt.total_seconds().clip(lower=0).round(3)
    b["lower_s"] = lower.fillna(0.0)
    rules = pd.DataFrame(
        [
            {"environment_type": env, "granularity_s": r.granularity_s, "minimum_s": r.minimum_s}
            for r in BILLING_RULES
            for env in r.environment_types
        ]
    )
    b = b.merge(rules, on="environment_type", how="left")
    windows = {"WINDOWS_CONTAINER", "WINDOWS_SERVER_2022_CONTAINER"}
    b["price_env"] = b["environment_type"].where(
        ~b["environment_type"].isin(windows), "WINDOWS_SERVER_2019_CONTAINER"
    )
    prices["unit_s"] = prices["unit"].map(UNIT_SECONDS)
    b = b.merge(
        prices[["region", "environment_type", "compute_type", "price", "unit_s"]].rename(
            columns={"environment_type": "price_env"}
        ),
        on=["region", "price_env", "compute_type"],
        how="left",
    )
    priced = b["fleet_arn"].isna() & b["granularity_s"].notna() & b["price"].notna()
    for bound in ("lower", "upper"):
        s = b[f"{bound}_s"]
        billed = np.maximum(np.ceil(s / b["granularity_s"]) * b["granularity_s"], b["minimum_s"])
        billed = billed.where(s > 0, 0.0).where(priced)
        b[f"cost_{bound}"] = billed / b["unit_s"] * b["price"]
    b["priced"] = priced
    out = b.groupby("project_name").agg(
        builds=("build_arn", "size"),
        priced_builds=("priced", "sum"),
        cost_lower=("cost_lower", "sum"),
        cost_upper=("cost_upper", "sum"),
    )
    return out.sort_values("cost_upper", ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=20_000)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.duckdb"
        if not path.exists():
            t = time.perf_counter()
            build_store(path, args.builds, args.base)
            print(f"built store: {time.perf_counter() - t:.1f}s")
        with connect(path, read_only=True) as con:
            n = con.execute("SELECT count(*) FROM builds").fetchall()[0][0]
            p = con.execute("SELECT count(*) FROM build_phases").fetchall()[0][0]
        print(f"store: {n:,} builds, {p:,} phases ({path.stat().st_size / 1e9:.2f} GB)")

        timings: dict[str, float] = {}
        for name, run in (
            ("duckdb", lambda: cost_summary(path, by="project", options=BillingOptions())),
            ("pandas", lambda: pandas_summary(path)),
        ):
            best = math.inf
            for _ in range(2):
                t = time.perf_counter()
                result = run()
                best = min(best, time.perf_counter() - t)
            timings[name] = best
            if name == "duckdb":
                duck = result
            else:
                pand = result

        total_duck = duck.cost_upper
        total_pandas = float(pand["cost_upper"].sum())
        assert math.isclose(total_duck, total_pandas, rel_tol=1e-9), (total_duck, total_pandas)
        assert duck.priced_builds == int(pand["priced_builds"].sum())
        print(
            f"cost summary --by project over {duck.builds:,} builds "
            f"({duck.unpriced_builds:,} unpriced): total ${duck.cost_lower:,.2f} – "
            f"${duck.cost_upper:,.2f}, identical in both"
        )
        print(f"duckdb (ciwb.cost.cost_summary): {timings['duckdb']:.2f}s (best of 2)")
        print(f"pandas (same computation):       {timings['pandas']:.2f}s (best of 2)")
        print(f"ratio pandas/duckdb: {timings['pandas'] / timings['duckdb']:.1f}x")


if __name__ == "__main__":
    main()
