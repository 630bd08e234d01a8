"""`--since` and `--until`: an ISO date or datetime, or a span back from now (90d, 12w)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ciwb.errors import CiwbError

__all__ = ["parse_when"]

_SPAN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """A naive-UTC datetime, or None when no bound was given."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    match = _SPAN.match(value)
    if match:
        base = now or datetime.now(UTC).replace(tzinfo=None)
        return base - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CiwbError(
            f"not a date or span: {value!r}", hint="use e.g. 2025-01-31, 90d, 12w or 36h"
        ) from None
    return parse_when(parsed)
