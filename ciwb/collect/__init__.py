"""AWS → store: sources (live API, raw archive, EventBridge events), normalise, sync ledger."""

from ciwb.collect.importer import ImportSummary, import_events, import_paths
from ciwb.collect.pipeline import CollectOptions, CollectSummary, collect
from ciwb.collect.progress import CollectProgress, NullProgress, RichProgress

__all__ = [
    "CollectOptions",
    "CollectProgress",
    "CollectSummary",
    "ImportSummary",
    "NullProgress",
    "RichProgress",
    "collect",
    "import_events",
    "import_paths",
]
