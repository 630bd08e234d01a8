"""The dated, sourced price table: seed CSVs in data/pricing/ plus the store's `prices` rows.

An unknown price is *unpriced*, never zero (docs/design.md, "Cost"): a zero or missing price in a
CSV is refused, and a build whose (region, environment, compute type) has no row is counted
as unpriced by every cost output. When several rows share a key, the newest `as_of` wins,
so `ciwb pricing refresh` supersedes the seed without deleting it.

Price sources: "list" is the seed plus the store's `prices` rows (Price List API); "bill" adds
the effective rates learned from imported billing data (`bill_rates`, written by ciwb.bill,
dated by billing period). With `prices="bill"` (the default) a bill rate wins over a list price
for its key whatever their dates, so builds are costed at what the organisation pays, and
builds in regions with no list price get one; keys the bill does not cover keep list prices.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl
import pyarrow as pa

from ciwb.datafiles import data_dir
from ciwb.errors import PricingError

__all__ = [
    "PRICE_SOURCES",
    "PriceRow",
    "PricingError",
    "bill_prices",
    "current_prices",
    "pricing_dir",
    "read_price_csv",
    "register_prices",
    "seed_prices",
    "show_prices",
    "write_prices",
]

UNIT_SECONDS = {"minute": 60, "second": 1}
PRICE_SOURCES = ("bill", "list")
BILL_CONFIDENCE = "bill"
_COLUMNS = (
    "region",
    "environment_type",
    "compute_type",
    "unit",
    "price",
    "currency",
    "source",
    "as_of",
    "confidence",
)


class PriceRow(NamedTuple):
    region: str
    environment_type: str
    compute_type: str
    unit: str
    price: float
    currency: str
    source: str
    as_of: date
    confidence: str


def pricing_dir() -> Path:
    """`$CIWB_PRICING_DIR`, else the wheel's bundled copy, else the repo's data/pricing/."""
    return data_dir("pricing", "CIWB_PRICING_DIR")


def _check(row: PriceRow, where: str) -> PriceRow:
    if row.unit not in UNIT_SECONDS:
        raise PricingError(f"{where}: unit must be minute or second, not {row.unit!r}")
    if not row.price > 0:
        raise PricingError(
            f"{where}: price must be positive; leave an unknown price out instead of writing 0"
        )
    return row


def read_price_csv(path: Path) -> list[PriceRow]:
    """Rows of one price CSV, validated; errors name the file and line."""
    rows: list[PriceRow] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise PricingError(f"{path}:1: missing columns {', '.join(missing)}")
        for line, record in enumerate(reader, start=2):
            where = f"{path}:{line}"
            try:
                row = PriceRow(
                    region=record["region"].strip(),
                    environment_type=record["environment_type"].strip(),
                    compute_type=record["compute_type"].strip(),
                    unit=record["unit"].strip(),
                    price=float(record["price"]),
                    currency=record["currency"].strip(),
                    source=record["source"].strip(),
                    as_of=date.fromisoformat(record["as_of"].strip()),
                    confidence=record["confidence"].strip(),
                )
            except (TypeError, ValueError) as exc:
                raise PricingError(f"{where}: {exc}") from None
            rows.append(_check(row, where))
    return rows


def seed_prices(directory: Path | None = None) -> list[PriceRow]:
    """Every row of every CSV in the pricing directory."""
    folder = directory or pricing_dir()
    rows: list[PriceRow] = []
    for path in sorted(folder.glob("*.csv")):
        rows.extend(read_price_csv(path))
    return rows


def write_prices(con: duckdb.DuckDBPyConnection, rows: Sequence[PriceRow]) -> int:
    """Upsert rows into the store's `prices` table (key: region, environment, compute, as_of)."""
    for i, row in enumerate(rows):
        _check(row, f"price row {i}")
    if not rows:
        return 0
    data = pa.Table.from_pylist([r._asdict() for r in rows])
    con.register("_ciwb_new_prices", data)
    try:
        cols = ", ".join(_COLUMNS)
        con.execute(f"INSERT OR REPLACE INTO prices ({cols}) SELECT {cols} FROM _ciwb_new_prices")
    finally:
        con.unregister("_ciwb_new_prices")
    return len(rows)


def _latest(rows: Iterable[PriceRow], as_of: date | None) -> list[PriceRow]:
    best: dict[tuple[str, str, str], PriceRow] = {}
    for row in rows:
        if as_of is not None and row.as_of > as_of:
            continue
        key = (row.region, row.environment_type, row.compute_type)
        if key not in best or row.as_of >= best[key].as_of:
            best[key] = row
    return sorted(best.values())


def bill_prices(con: duckdb.DuckDBPyConnection) -> list[PriceRow]:
    """Effective rates from the bill as price rows (empty when no bill was imported)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'bill_rates'"
    ).fetchall()[0][0]
    if not exists:
        return []
    records = con.execute(
        "SELECT region, environment_type, compute_type, unit, rate, currency, usage_types, "
        "billing_period, period_open FROM bill_rates ORDER BY billing_period"
    ).fetchall()
    return [
        PriceRow(
            region=region,
            environment_type=env,
            compute_type=compute,
            unit=unit,
            price=float(rate),
            currency=currency,
            source=f"bill {period:%Y-%m}{' (open period)' if is_open else ''}: {usage_types}",
            as_of=period,
            confidence=BILL_CONFIDENCE,
        )
        for region, env, compute, unit, rate, currency, usage_types, period, is_open in records
    ]


def current_prices(
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    as_of: date | None = None,
    seed_dir: Path | None = None,
    prices: str = "bill",
) -> list[PriceRow]:
    """The price in force per key: newest `as_of` (not after `as_of`) over seed and store.

    With `prices="bill"` the newest bill rate of a key wins over any list price of that key.
    """
    if prices not in PRICE_SOURCES:
        raise PricingError(f"unknown price source {prices!r}", hint="use bill or list")
    rows = list(seed_prices(seed_dir))
    if con is not None:
        for record in con.execute(f"SELECT {', '.join(_COLUMNS)} FROM prices").fetchall():
            rows.append(PriceRow(*record))
    listed = _latest(rows, as_of)
    if prices == "list" or con is None:
        return listed
    billed = {
        (r.region, r.environment_type, r.compute_type): r for r in _latest(bill_prices(con), as_of)
    }
    merged = {(r.region, r.environment_type, r.compute_type): r for r in listed} | billed
    return sorted(merged.values())


_PRICE_SCHEMA = pa.schema(
    [
        ("region", pa.string()),
        ("environment_type", pa.string()),
        ("compute_type", pa.string()),
        ("unit", pa.string()),
        ("unit_s", pa.int32()),
        ("price", pa.float64()),
        ("currency", pa.string()),
        ("source", pa.string()),
        ("as_of", pa.date32()),
        ("confidence", pa.string()),
    ]
)


def register_prices(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: date | None = None,
    name: str = "_ciwb_prices",
    prices: str = "bill",
) -> list[PriceRow]:
    """Register the prices in force as relation `name` on `con` (works read-only)."""
    rows = current_prices(con, as_of=as_of, prices=prices)
    data = pa.Table.from_pylist(
        [{**r._asdict(), "unit_s": UNIT_SECONDS[r.unit]} for r in rows], schema=_PRICE_SCHEMA
    )
    con.register(name, data)
    return rows


def show_prices(
    db: str | os.PathLike[str] | None = None,
    *,
    region: str | None = None,
    as_of: date | None = None,
    prices: str = "bill",
) -> pl.DataFrame:
    """The prices in force (seed plus store), one row per region, environment and compute."""
    from ciwb.store import connect, resolve_db_path

    if resolve_db_path(db).exists():
        with connect(db, read_only=True) as con:
            rows = current_prices(con, as_of=as_of, prices=prices)
    else:
        rows = current_prices(None, as_of=as_of)
    frame = pl.DataFrame(
        [r._asdict() for r in rows],
        schema={
            "region": pl.String,
            "environment_type": pl.String,
            "compute_type": pl.String,
            "unit": pl.String,
            "price": pl.Float64,
            "currency": pl.String,
            "source": pl.String,
            "as_of": pl.Date,
            "confidence": pl.String,
        },
    )
    if region:
        frame = frame.filter(pl.col("region") == region)
    return frame
