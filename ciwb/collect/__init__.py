"""AWS → store: sources (live API, raw archive, EventBridge events), normalise, sync ledger.

Names are loaded lazily: `ciwb.store` imports `ciwb.codebuild.normalise`, and the collector
imports `ciwb.store`, so eager imports here would be circular.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CollectOptions": "ciwb.collect.pipeline",
    "CollectSummary": "ciwb.collect.pipeline",
    "collect": "ciwb.collect.pipeline",
    "ImportSummary": "ciwb.collect.importer",
    "import_events": "ciwb.collect.importer",
    "import_paths": "ciwb.collect.importer",
    "CollectProgress": "ciwb.collect.progress",
    "NullProgress": "ciwb.collect.progress",
    "RichProgress": "ciwb.collect.progress",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ciwb.collect' has no attribute {name!r}")
