"""Which usage type AWS bills a build under, and back: the mapping is data (data/billing/).

A bill line item's usage type is `<region prefix>-<usage>`: `USE1-Build-Min:Linux:g1.small`,
`USW2-Build-Min:ARM:g1.large`, `Build-Sec:Lambda.1GB` (free-tier pages omit the prefix or write
`Global-`). Each row of usage_types.csv cites where its spelling comes from and says whether it
is inferred; an unknown usage type maps to None so callers report it instead of dropping it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ciwb.datafiles import data_dir
from ciwb.errors import BillError

__all__ = [
    "UsageMapping",
    "billing_dir",
    "build_usage_type",
    "map_usage_type",
    "region_prefixes",
    "split_usage_type",
    "usage_mappings",
]


@dataclass(frozen=True)
class UsageMapping:
    """One row of usage_types.csv (`usage_type` without region prefix; `*` is a wildcard)."""

    usage_type: str
    environment_type: str
    compute_type: str
    unit: str  # minute | second (fleets: instance-minute, written minute)
    kind: str  # on_demand | fleet
    preferred: bool
    inferred: bool
    source: str


def billing_dir() -> Path:
    """`$CIWB_BILLING_DIR`, else the wheel's bundled copy, else the repo's data/billing/."""
    return data_dir("billing", "CIWB_BILLING_DIR")


def _bool(text: str, where: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise BillError(f"{where}: expected true or false, not {text!r}")
    return value == "true"


@cache
def _load(folder: str) -> tuple[tuple[UsageMapping, ...], tuple[tuple[str, str], ...]]:
    path = Path(folder) / "usage_types.csv"
    rows: list[UsageMapping] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, rec in enumerate(csv.DictReader(handle), start=2):
            where = f"{path}:{line}"
            if rec["unit"] not in ("minute", "second") or rec["kind"] not in ("on_demand", "fleet"):
                raise BillError(f"{where}: unit must be minute|second, kind on_demand|fleet")
            rows.append(
                UsageMapping(
                    usage_type=rec["usage_type"].strip(),
                    environment_type=rec["environment_type"].strip(),
                    compute_type=rec["compute_type"].strip(),
                    unit=rec["unit"],
                    kind=rec["kind"],
                    preferred=_bool(rec["preferred"], where),
                    inferred=_bool(rec["inferred"], where),
                    source=rec["source"].strip(),
                )
            )
    regions: list[tuple[str, str]] = []
    with (Path(folder) / "regions.csv").open(newline="", encoding="utf-8") as handle:
        for rec in csv.DictReader(handle):
            regions.append((rec["region"].strip(), rec["prefix"].strip()))
    return tuple(rows), tuple(regions)


def usage_mappings() -> tuple[UsageMapping, ...]:
    """Every row of usage_types.csv."""
    return _load(str(billing_dir()))[0]


def region_prefixes() -> dict[str, str]:
    """Usage-type prefix → region (`USE1` → us-east-1; `EU` and `EUW1` → eu-west-1)."""
    return {prefix: region for region, prefix in _load(str(billing_dir()))[1]}


def _preferred_prefix() -> dict[str, str]:
    out: dict[str, str] = {}
    for region, prefix in _load(str(billing_dir()))[1]:
        out.setdefault(region, prefix)
    return out


_PREFIX = re.compile(r"^(?P<prefix>[A-Z]{2,4}\d?|Global)-(?P<rest>.+)$")


def split_usage_type(usage_type: str) -> tuple[str | None, str]:
    """`USW2-Build-Min:ARM:g1.large` → ("us-west-2", "Build-Min:ARM:g1.large").

    The region is None when there is no prefix, `Global-`, or a prefix regions.csv lacks.
    """
    match = _PREFIX.match(usage_type or "")
    if not match:
        return None, usage_type or ""
    prefix, rest = match.group("prefix"), match.group("rest")
    if prefix == "Global":
        return None, rest
    return region_prefixes().get(prefix), rest


def map_usage_type(usage_type: str) -> UsageMapping | None:
    """The mapping row a billed usage type falls under; None when none matches (unknown).

    For a fleet pattern row the compute type returned is the instance type after `Reserved:`.
    """
    _, rest = split_usage_type(usage_type)
    for row in usage_mappings():
        if row.usage_type.endswith("*"):
            stem = row.usage_type[:-1]
            if rest.startswith(stem) and len(rest) > len(stem):
                return UsageMapping(**{**row.__dict__, "compute_type": rest[len(stem) :]})
        elif row.usage_type == rest:
            return row
    return None


def build_usage_type(
    region: str | None, environment_type: str | None, compute_type: str | None
) -> str | None:
    """The usage type a build on demand is billed under, e.g. `USE1-Build-Min:Linux:g1.small`."""
    from ciwb.cost.billing import price_environment

    env = price_environment(environment_type)
    for row in usage_mappings():
        if (
            row.kind == "on_demand"
            and row.preferred
            and row.environment_type == env
            and row.compute_type == compute_type
        ):
            prefix = _preferred_prefix().get(region or "")
            return f"{prefix}-{row.usage_type}" if prefix else row.usage_type
    return None
