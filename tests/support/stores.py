"""Small real DuckDB stores, written the way `collect` writes them.

boto3-shaped records (support.builds) → `ciwb.codebuild.normalise` → `ciwb.store.write_batch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ciwb.codebuild.normalise import NormalisedBatch, normalise_metric
from ciwb.store import connect, write_batch
from support.builds import T0

__all__ = ["write_store"]


def write_store(
    db: Path,
    builds: Iterable[Mapping[str, Any]],
    metrics: Iterable[tuple[str, str, list[float]]] = (),
) -> Path:
    """Normalise and write builds (and per-build metric series from T0) into a DuckDB file."""
    batch = NormalisedBatch()
    now = datetime(2025, 6, 1)
    for record in builds:
        batch.add_build(record, origin="aws", now=now)
    for build_arn, metric, values in metrics:
        stamps = [T0 + timedelta(minutes=i) for i in range(len(values))]
        batch.build_metrics.append(
            normalise_metric(build_arn, metric, timestamps=stamps, values=values, period_s=60)
        )
    with connect(db) as con:
        write_batch(con, batch)
    return db
