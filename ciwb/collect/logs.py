"""Reading a build's CloudWatch log as a stream of (timestamp_ms, message) events.

The group and stream come from the build record (`logs.groupName`, `logs.streamName`),
never derived from the project name: projects can override them
(docs/reference/codebuild-facts.md, "CloudWatch Logs"). Pages are consumed one at a time
and the reader stops at a per-build byte cap, so no log is ever held whole in memory.
The events go to the agent-log parser shared with the replay engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ciwb.collect.sources.live import log_event_pages

__all__ = ["DEFAULT_LOG_CAP_BYTES", "LogEvent", "LogParser", "LogReadStats", "stream_log_events"]

DEFAULT_LOG_CAP_BYTES = 50 * 1024 * 1024

LogEvent = tuple[int, str]  # (epoch milliseconds as CloudWatch stamped it, message)
# events → whatever the parser yields per command; adapted to CommandRows by the pipeline.
LogParser = Callable[[Iterable[LogEvent]], Any]


@dataclass
class LogReadStats:
    events: int = 0
    bytes: int = 0
    truncated: bool = False


def stream_log_events(
    client: Any, group: str, stream: str, *, cap_bytes: int, stats: LogReadStats
) -> Iterator[LogEvent]:
    """Events from the head of the stream until its end or `cap_bytes` of messages."""
    for page in log_event_pages(client, group, stream):
        for event in page:
            message = event.get("message") or ""
            size = len(message.encode("utf-8", "replace"))
            if stats.bytes + size > cap_bytes:
                stats.truncated = True
                return  # stops the page generator too: no further GetLogEvents call
            stats.events += 1
            stats.bytes += size
            yield int(event["timestamp"]), message
