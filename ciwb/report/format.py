"""Numbers as a reader writes them: `$1,020.82`, `1 h 02 min`, `35.1 s`, `74.1 %`, `12,345`.

One set of formatters for findings, tables, chart hover text and the index page, so a figure
reads the same wherever it appears. A missing value is never printed as `None` or `NaN`: the
caller says what it means (`unpriced`, `no evidence`), else it is a dash.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

__all__ = ["DASH", "count", "duration", "is_missing", "number", "share", "usd", "usd_range", "when"]

DASH = "—"


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def usd(value: float | None, missing: str = DASH, *, cents: bool = True) -> str:
    if is_missing(value):
        return missing
    sign = "−" if value < 0 else ""
    return f"{sign}${abs(value):,.{2 if cents else 0}f}"


def usd_range(low: float | None, high: float | None, missing: str = DASH) -> str:
    """`$12.30–$14.10`, or one figure when the bounds agree to the cent."""
    if is_missing(low) and is_missing(high):
        return missing
    if is_missing(low) or is_missing(high) or round(low, 2) == round(high, 2):
        return usd(high if is_missing(low) else low)
    return f"{usd(low)}–{usd(high)}"


def duration(seconds: float | None, missing: str = DASH) -> str:
    """`35.1 s` under a minute, `4 min 05 s` under an hour, `1 h 02 min`, `3 d 4 h` beyond."""
    if is_missing(seconds):
        return missing
    sign = "−" if seconds < 0 else ""
    s = abs(float(seconds))
    if s < 60:
        return f"{sign}{s:.1f} s"
    if s < 3600:
        m, rest = divmod(round(s), 60)
        return f"{sign}{m} min {rest:02d} s"
    if s < 86400 * 2:
        h, rest = divmod(round(s / 60), 60)
        return f"{sign}{h:,} h {rest:02d} min"
    d, rest = divmod(round(s / 3600), 24)
    return f"{sign}{d:,} d {rest} h"


def share(value: float | None, missing: str = DASH, *, of: float = 1.0) -> str:
    """A fraction (of 1, or of 100 for a percentage column) as `74.1 %`."""
    if is_missing(value):
        return missing
    return f"{100.0 * value / of:.1f} %"


def count(value: float | None, missing: str = DASH) -> str:
    if is_missing(value):
        return missing
    return f"{round(value):,}"


def number(value: float | None, missing: str = DASH, digits: int = 2) -> str:
    if is_missing(value):
        return missing
    return f"{value:,.{digits}f}"


def when(value: date | datetime | str | None, missing: str = DASH) -> str:
    if is_missing(value) or value == "":
        return missing
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)
