"""Output names: the report, a digest of its parameters, and a UTC timestamp.

`bottleneck_report-3f2a9c1e-20260301T060000Z.html`: two runs with the same parameters
share a digest (easy to find the previous one), and never overwrite each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["output_stem", "parameter_digest", "timestamp"]


def parameter_digest(parameters: Mapping[str, Any]) -> str:
    """8 hex characters of SHA-256 over the parameters as canonical JSON."""
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def output_stem(report: str, parameters: Mapping[str, Any], now: datetime | None = None) -> str:
    return f"{report}-{parameter_digest(parameters)}-{timestamp(now)}"
