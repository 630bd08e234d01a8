"""JSONPath queries over changes (jsonpath-rw)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonpath_rw import parse

from sample.changes import Change


def query(changes: Iterable[Change], path: str) -> list[Any]:
    records = [{"day": c.day.isoformat(), "kind": c.kind, "text": c.text} for c in changes]
    return [match.value for match in parse(path).find(records)]
