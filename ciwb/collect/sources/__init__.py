"""Where records come from: the live API, a raw archive or CLI JSON, EventBridge events."""

from ciwb.collect.sources.archive import RawArchive, RawPage, iter_raw_pages
from ciwb.collect.sources.events import build_from_event, read_build_events

__all__ = ["RawArchive", "RawPage", "build_from_event", "iter_raw_pages", "read_build_events"]
