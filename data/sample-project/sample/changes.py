"""`2025-01-31 fix: text` lines → dated, typed changes."""

from __future__ import annotations

from datetime import date

import attrs
from dateutil import parser as dateparser

KINDS = ("feat", "fix", "docs", "chore")


@attrs.frozen(order=True)
class Change:
    day: date
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    text: str = ""


def parse_changes(lines: list[str]) -> list[Change]:
    """Parse `DATE KIND: text` lines (any date format dateutil reads), newest first."""
    changes = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        head, _, text = line.partition(":")
        when, _, kind = head.rpartition(" ")  # the date may contain spaces; the kind cannot
        changes.append(Change(dateparser.parse(when).date(), kind.strip(), text.strip()))
    return sorted(changes, reverse=True)
