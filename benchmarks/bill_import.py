"""`ciwb bill import` of a 1,000,000-line-item CUR 2.0 export vs DuckDB `read_parquet` + filter.

The export is written in the CUR 2.0 layout of ciwb.bill.cur2_writer (every column of the
data dictionary's fixed schema, map columns included), one folder per billing period, several
Parquet parts per period, all services, CodeBuild a fraction (`--codebuild-share`, 5 %).
Baseline (same run, same files): DuckDB `CREATE TABLE … AS SELECT * FROM read_parquet(files)
WHERE line_item_product_code = 'CodeBuild'` into a fresh DuckDB file. Measured: `import_bill`
into a fresh store (detect the layout, read and filter every file, map usage types, keep every
source column as JSON, replace the periods, recompute bill rates). Rounds are interleaved
because this machine is shared; the median of `--repeat` rounds is reported.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ciwb.bill import import_bill
from ciwb.bill.cur2_writer import CUR2_SCHEMA, write_cur2_period

SERVICES = [
    ("AmazonEC2", "USE1-BoxUsage:m5.large", "Hrs"),
    ("AmazonS3", "USE1-TimedStorage-ByteHrs", "GB-Mo"),
    ("AWSLambda", "USE1-Lambda-GB-Second", "Lambda-GB-Second"),
    ("AmazonCloudWatch", "USE1-DataProcessing-Bytes", "GB"),
    ("AmazonRDS", "USE1-InstanceUsage:db.r6g.large", "Hrs"),
]
CODEBUILD = [
    "USE1-Build-Min:Linux:g1.small",
    "USE1-Build-Min:Linux:g1.medium",
    "USE1-Build-Min:ARM:g1.large",
    "USW2-Build-Min:ARM:g1.small",
    "USE1-Build-Sec:Lambda.1GB",
]


def part(rows: int, period: date, share: float, seed: int) -> pa.Table:
    """One Parquet part: `rows` line items of `period`, CodeBuild with probability `share`."""
    rng = np.random.default_rng(seed)
    is_cb = rng.random(rows) < share
    svc = rng.integers(0, len(SERVICES), rows)
    cbt = rng.integers(0, len(CODEBUILD), rows)
    product = np.where(is_cb, "CodeBuild", np.array([s[0] for s in SERVICES])[svc])
    usage = np.where(is_cb, np.array(CODEBUILD)[cbt], np.array([s[1] for s in SERVICES])[svc])
    unit = np.where(is_cb, "Minutes", np.array([s[2] for s in SERVICES])[svc])
    amount = rng.uniform(0.1, 500, rows).round(3)
    rate = rng.uniform(0.001, 0.1, rows).round(6)
    start0 = datetime(period.year, period.month, 1, tzinfo=UTC)
    days = rng.integers(0, 28, rows)
    starts = [start0 + timedelta(days=int(d)) for d in days]
    ends = [s + timedelta(days=1) for s in starts]
    end_period = datetime(
        (period + timedelta(days=32)).year, (period + timedelta(days=32)).month, 1, tzinfo=UTC
    )
    columns: dict[str, pa.Array] = {}
    for field in CUR2_SCHEMA:
        columns[field.name] = pa.nulls(rows, type=field.type)
    columns.update(
        {
            "bill_bill_type": pa.array(["Anniversary"] * rows),
            "bill_billing_period_start_date": pa.array(
                [start0] * rows, CUR2_SCHEMA.field("bill_billing_period_start_date").type
            ),
            "bill_billing_period_end_date": pa.array(
                [end_period] * rows, CUR2_SCHEMA.field("bill_billing_period_end_date").type
            ),
            "bill_invoice_id": pa.array([f"INV-{period:%Y%m}"] * rows),
            "bill_payer_account_id": pa.array(["999988887777"] * rows),
            "identity_line_item_id": pa.array([f"{seed}-{i}" for i in range(rows)]),
            "line_item_usage_account_id": pa.array(
                np.array(["111122223333", "444455556666"])[rng.integers(0, 2, rows)]
            ),
            "line_item_line_item_type": pa.array(["Usage"] * rows),
            "line_item_product_code": pa.array(product),
            "line_item_usage_type": pa.array(usage),
            "product_usagetype": pa.array(usage),
            "line_item_operation": pa.array(["Usage"] * rows),
            "line_item_usage_amount": pa.array(amount),
            "line_item_unblended_rate": pa.array([f"{r:.6f}" for r in rate]),
            "line_item_unblended_cost": pa.array(amount * rate),
            "line_item_net_unblended_cost": pa.array(amount * rate),
            "line_item_currency_code": pa.array(["USD"] * rows),
            "line_item_usage_start_date": pa.array(
                starts, CUR2_SCHEMA.field("line_item_usage_start_date").type
            ),
            "line_item_usage_end_date": pa.array(
                ends, CUR2_SCHEMA.field("line_item_usage_end_date").type
            ),
            "pricing_unit": pa.array(unit),
            "product_region_code": pa.array(
                np.where(np.char.startswith(usage.astype(str), "USW2"), "us-west-2", "us-east-1")
            ),
            "product_servicecode": pa.array(product),
            "product": pa.array(
                [[("product_name", "x"), ("region", "us-east-1")]] * rows,
                CUR2_SCHEMA.field("product").type,
            ),
            "resource_tags": pa.array(
                [[("user_project", "p")]] * rows, CUR2_SCHEMA.field("resource_tags").type
            ),
        }
    )
    return pa.table([columns[f.name] for f in CUR2_SCHEMA], schema=CUR2_SCHEMA)


def write_export(root: Path, rows: int, periods: int, parts: int, share: float) -> list[Path]:
    files = []
    per_part = rows // (periods * parts)
    first = date(2025, 1, 1)
    for p in range(periods):
        period = (first + timedelta(days=31 * p)).replace(day=1)
        for k in range(parts):
            table = part(per_part, period, share, seed=p * 100 + k)
            files.append(write_cur2_period(root, "bench", period, table, part=k + 1))
    return files


def baseline(files: list[Path], target: Path) -> int:
    con = duckdb.connect(str(target))
    listing = ", ".join(f"'{f}'" for f in files)
    con.execute(
        f"CREATE TABLE t AS SELECT * FROM read_parquet([{listing}]) "
        "WHERE line_item_product_code = 'CodeBuild'"
    )
    n = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    con.close()
    return int(n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=3)
    parser.add_argument("--parts", type=int, default=4, help="Parquet files per period")
    parser.add_argument("--codebuild-share", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="work directory (default: $TMPDIR)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ciwb-bench-bill-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        files = write_export(
            work / "export", args.rows, args.periods, args.parts, args.codebuild_share
        )
        size = sum(f.stat().st_size for f in files)
        print(
            f"wrote {args.rows:,} line items in {len(files)} files ({size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        ours, theirs = [], []
        kept = expected = 0
        for r in range(args.repeat):
            db = work / f"store-{r}.duckdb"
            t = time.perf_counter()
            kept = import_bill(work / "export" / "bench", db).line_items
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            expected = baseline(files, work / f"baseline-{r}.duckdb")
            theirs.append(time.perf_counter() - t)
            print(f"round {r + 1}: import {ours[-1]:.2f} s, read_parquet+filter {theirs[-1]:.2f} s")
        assert kept == expected, (kept, expected)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"CodeBuild line items kept: {kept:,} of {args.rows:,}")
        print(
            f"ciwb bill import: {a:.2f} s (median of {args.repeat}); "
            f"DuckDB read_parquet + filter: {b:.2f} s; ratio {a / b:.2f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
