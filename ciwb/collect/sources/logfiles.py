"""Build logs people have: `aws logs get-log-events` / `filter-log-events` JSON, and plain text.

The JSON is what the AWS CLI prints: `{"events": [{"timestamp", "message", "ingestionTime"}],
"nextForwardToken", "nextBackwardToken"}` for get-log-events (which does not name its stream),
and `{"events": [{"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}],
"searchedLogStreams": [...]}` for filter-log-events. A plain-text log is the file the console
downloads, or lines copied from the console or from the local agent; the agent-log parser reads
each as it is (see `agent_log`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "FILTER_LOG_EVENTS",
    "GET_LOG_EVENTS",
    "is_text_log",
    "log_operation",
    "read_text_log",
]

GET_LOG_EVENTS = "GetLogEvents"
FILTER_LOG_EVENTS = "FilterLogEvents"
_SNIFF_BYTES = 64 * 1024


def log_operation(doc: dict[str, Any]) -> str | None:
    """GetLogEvents / FilterLogEvents when `doc` is that command's output, else None."""
    events = doc.get("events")
    if not isinstance(events, list):
        return None
    if events and not all(isinstance(e, dict) and "message" in e for e in events):
        return None
    if "searchedLogStreams" in doc or any("logStreamName" in e for e in events):
        return FILTER_LOG_EVENTS
    if "nextForwardToken" in doc or "nextBackwardToken" in doc or events:
        return GET_LOG_EVENTS
    return None


def is_text_log(path: str | os.PathLike[str]) -> bool:
    """A plain-text agent log: not JSON, and an agent line within its first 64 KiB."""
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"{") or (body.startswith(b"[") and not body.startswith(b"[Container] ")):
        return False  # JSON
    return b"[Container] " in head


def read_text_log(path: str | os.PathLike[str]) -> Iterator[str]:
    """The log's lines (a byte that is not UTF-8 is replaced, never fatal)."""
    with open(Path(path), encoding="utf-8-sig", errors="replace", newline="") as fh:
        for line in fh:
            yield line.rstrip("\r\n")
