"""Cache strategies by name (`none`, `local`, `s3`), papermill-style: a small registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ciwb.errors import CiwbError
from ciwb.replay.cache.base import Cache, NoCache
from ciwb.replay.cache.local import LocalCache
from ciwb.replay.cache.s3 import S3Cache

_FACTORIES: dict[str, Callable[..., Cache]] = {}


def register_cache(name: str, factory: Callable[..., Cache]) -> None:
    """Make `--cache NAME` build a cache with `factory(project=..., **options)`."""
    _FACTORIES[name] = factory


def cache_names() -> list[str]:
    return sorted(_FACTORIES)


def get_cache(name: str, *, project: str = "default", **options: Any) -> Cache:
    """A cache strategy by name; `options` go to its constructor (e.g. `location=` for s3)."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise CiwbError(
            f"unknown cache strategy {name!r}", hint=f"choose one of {', '.join(cache_names())}"
        ) from None
    try:
        return factory(project=project, **options)
    except TypeError as exc:
        raise CiwbError(f"cache {name!r}: {exc}") from None


register_cache("none", lambda project="default", **_: NoCache())
register_cache("local", LocalCache)
register_cache("s3", S3Cache)
