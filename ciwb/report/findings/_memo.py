"""One computation per report run: findings and the sections below them share results.

A report's findings and its tables call the same analytics and what-ifs with the same
selection; computing each once keeps `ciwb report` as fast as it was before it had findings.
The cache lives for the kernel (one report), and `clear()` (called by `notebook.setup`)
empties it so a re-run in JupyterLab reads the store afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["clear", "memo"]

T = TypeVar("T")
_CACHE: dict[tuple, Any] = {}


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Path):
        return str(value.resolve())
    return value


def memo(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`, computed once per distinct arguments."""
    key = (fn.__module__, fn.__qualname__, _freeze(args), _freeze(kwargs))
    if key not in _CACHE:
        _CACHE[key] = fn(*args, **kwargs)
    return _CACHE[key]


def clear() -> None:
    _CACHE.clear()
