"""The collector's background store writer: order, drain, and errors in the caller."""

from __future__ import annotations

import pytest

from ciwb.codebuild.normalise import NormalisedBatch, normalise_project
from ciwb.store.writer import BackgroundWriter
from support.queries import query as _q


def _project(name: str) -> NormalisedBatch:
    batch = NormalisedBatch()
    batch.projects.append(
        normalise_project(
            {"name": name, "arn": f"arn:aws:codebuild:us-east-1:123456789012:project/{name}"}
        )
    )
    return batch


def test_batches_are_committed_in_order_once_drained(db_path):
    writer = BackgroundWriter(db_path)
    for i in range(20):
        writer(_project(f"p{i:02d}"), {})
    writer.drain()
    assert writer.rows["projects"] == 20  # counted as each transaction commits
    writer.close()
    assert _q(db_path, "SELECT name FROM projects ORDER BY rowid") == [
        (f"p{i:02d}",) for i in range(20)
    ]


def test_a_failed_write_is_raised_in_the_callers_thread_and_later_batches_are_dropped(db_path):
    writer = BackgroundWriter(db_path)
    writer(_project("first"), {})
    writer(NormalisedBatch(), {"no_such_table": [("x",)]})
    writer(_project("after-the-failure"), {})
    with pytest.raises(KeyError, match="no_such_table"):
        writer.drain()
    writer.close()
    assert _q(db_path, "SELECT name FROM projects") == [("first",)]
