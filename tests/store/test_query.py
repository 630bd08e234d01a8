"""The one read path: a Selection built from what a user types, and SQL into polars."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from ciwb import analytics, cost
from ciwb.errors import CiwbError, StoreError
from ciwb.store import Selection, connect, fetch_frame, reading
from support.builds import T0, build_record
from support.stores import write_store

NOW = datetime(2026, 1, 31, 12, 0)


def test_selection_takes_spans_dates_datetimes_and_iso_strings():
    sel = Selection("30d", date(2026, 1, 31), "api", "", now=NOW)
    assert sel.since == NOW - timedelta(days=30)
    assert sel.until == datetime(2026, 1, 31)
    assert sel.projects == ("api",)  # one string is one project name
    assert sel.region is None
    # A time zone is converted to UTC, the store's clock.
    assert Selection(since="2026-01-01T02:00:00+02:00").since == datetime(2026, 1, 1)
    assert Selection(until="2026-01-01").until == datetime(2026, 1, 1)
    assert Selection(projects=["a", "b"], region="eu-west-1").projects == ("a", "b")


def test_selection_is_frozen_hashable_and_empty_filters_are_no_filter():
    assert Selection() == Selection(None, "", [], "")
    assert len({Selection(projects=["a"]), Selection(projects=("a",))}) == 1
    with pytest.raises(AttributeError):
        Selection().region = "us-east-1"  # type: ignore[misc]


def test_a_bad_bound_is_a_user_error_with_a_hint():
    with pytest.raises(CiwbError, match="not a date or span: 'last week'.*90d"):
        Selection(since="last week")


def test_selection_renders_parameterised_sql_for_an_alias():
    assert Selection().where("b") == ("TRUE", [])
    sql, params = Selection("2026-01-01", "2026-02-01", ["api"], "eu-west-1").where("f")
    assert sql == (
        "TRUE AND f.start_time >= ? AND f.start_time < ?"
        " AND f.project_name IN (SELECT unnest(?::VARCHAR[])) AND f.region = ?"
    )
    assert params == [datetime(2026, 1, 1), datetime(2026, 2, 1), ["api"], "eu-west-1"]


@pytest.fixture
def two_regions(db_path):
    write_store(
        db_path,
        [
            build_record("api", 1, phases={"BUILD": 60}),
            build_record("api", 2, start=T0 + timedelta(days=2), phases={"BUILD": 60}),
            build_record("web", 1, phases={"BUILD": 60}, region="eu-west-1"),
        ],
    )
    return db_path


def test_analytics_and_cost_read_the_same_builds_for_one_selection(two_regions):
    later = Selection(since=(T0 + timedelta(days=1)).replace(tzinfo=None))
    eu = Selection(region="eu-west-1")
    assert analytics.projects_overview(two_regions, later)["builds"].to_list() == [1]
    assert cost.cost_summary(two_regions, later).builds == 1
    assert analytics.projects_overview(two_regions, eu)["project_name"].to_list() == ["web"]
    assert cost.cost_summary(two_regions, eu).table["project_name"].to_list() == ["web"]
    assert cost.cost_summary(two_regions).builds == 3


def test_readers_hold_the_file_only_for_the_call(two_regions):
    analytics.projects_overview(two_regions)
    assert fetch_frame(two_regions, "SELECT count(*) AS n FROM builds")["n"].to_list() == [3]
    with connect(two_regions, lock_timeout_s=0) as con:  # a writer gets in straight after
        assert con.execute("SELECT count(*) FROM builds").fetchall() == [(3,)]


def test_fetch_frame_on_a_caller_connection_never_drops_its_unfinished_result(two_regions):
    con = duckdb.connect(str(two_regions), read_only=True)
    try:
        con.execute("SELECT build_arn FROM builds").fetchone()  # two rows left unread
        with pytest.raises(StoreError, match="unfinished result from execute"):
            fetch_frame(con, "SELECT 1 AS one")
        assert len(con.fetchall()) == 2  # still the caller's to read
        with reading(con) as same:
            assert same is con
            assert fetch_frame(same, "SELECT ? AS one", [1])["one"].to_list() == [1]
    finally:
        con.close()


def test_a_projects_usual_compute_and_cache_type_breaks_ties_by_name(db_path):
    # two builds on each of two compute types (and cache types): mode() would name either,
    # by whichever thread saw its rows first; a report must say the same on every run
    write_store(
        db_path,
        [
            build_record("api", n, start=T0 + timedelta(hours=n), compute_type=ct, cache_type=cache)
            for n, (ct, cache) in enumerate(
                [
                    ("BUILD_GENERAL1_SMALL", "S3"),
                    ("BUILD_GENERAL1_LARGE", "LOCAL"),
                    ("BUILD_GENERAL1_LARGE", "S3"),
                    ("BUILD_GENERAL1_SMALL", "LOCAL"),
                    ("BUILD_GENERAL1_MEDIUM", "NO_CACHE"),
                ],
                start=1,
            )
        ],
    )
    with connect(db_path) as con:
        con.execute("SET threads = 4")
        seen = {
            tuple(analytics.projects_overview(con).select("compute_type", "cache_type").row(0))
            for _ in range(20)
        }
    assert seen == {("BUILD_GENERAL1_LARGE", "LOCAL")}
