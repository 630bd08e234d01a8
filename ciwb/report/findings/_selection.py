"""What producers need from a selection: the store and the filters, whatever carries them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["filters", "period", "store"]


def store(db: Any, selection: Any) -> Any:
    return db if db is not None else getattr(selection, "db", None)


def filters(selection: Any) -> dict[str, Any]:
    """since / until / projects / region, as the analytics take them (None: everything)."""
    if selection is None:
        return {}
    found = getattr(selection, "filters", None)
    if isinstance(found, dict):
        return dict(found)
    return {}


def period(selection: Any) -> dict[str, Any]:
    """The filters `ciwb.cost` takes: costs span regions, so no region filter."""
    return {k: v for k, v in filters(selection).items() if k != "region"}


def path(db: Any) -> Path | None:
    return Path(db) if isinstance(db, str | Path) else None
