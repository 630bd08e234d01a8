"""Time as the store keeps it: naive UTC, everywhere.

The store's TIMESTAMP columns hold naive UTC, so every timestamp is made naive UTC at the
edge. Two parsers because there are two kinds of input: `to_utc` takes what AWS and its tools
print (datetimes, epoch seconds, ISO strings), `parse_when` takes what a user types for
`--since`/`--until` (the same, a date, or a span back from now such as 90d).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ciwb.errors import CiwbError

__all__ = ["parse_when", "to_utc", "utcnow"]

_SPAN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def utcnow() -> datetime:
    """Now, naive UTC (the form of every TIMESTAMP column in the store)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_utc(value: Any) -> datetime | None:
    """Any timestamp form seen in boto3 results, CLI output or archives → naive UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    if isinstance(value, str):
        text = value.strip()
        try:
            return to_utc(float(text))
        except ValueError:
            pass
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        return to_utc(datetime.fromisoformat(text))
    raise ValueError(f"not a timestamp: {value!r}")


def parse_when(
    value: str | date | datetime | None, *, now: datetime | None = None, option: str | None = None
) -> datetime | None:
    """A user's time bound → naive UTC; None when no bound was given.

    A span (`90d`, `12h`, `2w`) counts back from `now`; a date is its midnight; anything else
    must be a timestamp `to_utc` reads. `option` (`--since`) names the bound in the error.
    """
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        match = _SPAN.match(value)
        if match:
            base = now or utcnow()
            return base - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        return to_utc(value)
    except (ValueError, OverflowError, OSError):
        what = (
            f"{option} {value!r}: not a date or span"
            if option
            else f"not a date or span: {value!r}"
        )
        raise CiwbError(what, hint="use e.g. 2025-01-31, 90d, 12w or 36h") from None
