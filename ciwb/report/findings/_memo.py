"""One computation per report run: findings and the sections below them share results.

A report's findings and its tables call the same analytics and what-ifs with the same
selection; computing each once keeps `ciwb report` as fast as it was before it had findings.
The cache lives for the kernel (one report), and `clear()` (called by `notebook.setup`)
empties it so a re-run in JupyterLab reads the store afresh.

`ciwb report` goes further: its analysis pass (`ciwb.report.analysis`) fills this cache for
every report of the run at once and `dump`s it; each report's kernel `load`s it in
`notebook.setup`, so no kernel computes what another report (or the pass) already has.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["clear", "dump", "load", "memo"]

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
        stored = _LOADED.pop(key, None)
        _CACHE[key] = pickle.loads(stored) if stored is not None else fn(*args, **kwargs)
    return _CACHE[key]


def clear() -> None:
    _CACHE.clear()
    _LOADED.clear()


# Results `load` read, still pickled: a report unpickles only what it asks for (one report's
# batch timeline is tens of MB at a million builds; the others never pay for it).
_LOADED: dict[tuple, bytes] = {}


def dump(path: str | os.PathLike[str]) -> None:
    """Write every result computed so far to `path` (for `load` in another process)."""
    entries = {k: pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL) for k, v in _CACHE.items()}
    with open(path, "wb") as f:
        pickle.dump(entries, f, protocol=pickle.HIGHEST_PROTOCOL)


def load(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Add the results `dump` wrote to `paths` (files this run's own pass wrote: trusted)."""
    for path in paths:
        with open(path, "rb") as f:
            _LOADED.update(pickle.load(f))
