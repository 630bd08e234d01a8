"""Time in one place: AWS timestamps and a user's --since/--until, both to naive UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ciwb.codebuild.clock import parse_when, to_utc, utcnow
from ciwb.errors import CiwbError


def test_timestamps_in_every_form_become_naive_utc():
    expected = datetime(2026, 11, 2, 9, 30, 0)
    assert to_utc(datetime(2026, 11, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))) == expected
    assert to_utc("2026-11-02T09:30:00Z") == expected
    assert to_utc("2026-11-02T11:30:00+02:00") == expected
    assert to_utc(expected.replace(tzinfo=UTC).timestamp()) == expected
    assert to_utc(str(expected.replace(tzinfo=UTC).timestamp())) == expected
    assert to_utc(None) is None


def test_utcnow_is_naive_utc():
    before = datetime.now(UTC).replace(tzinfo=None)
    now = utcnow()
    assert now.tzinfo is None
    assert before <= now <= datetime.now(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("90d", datetime(2025, 10, 2, 12)),
        ("12h", datetime(2025, 12, 31, 0)),
        ("2w", datetime(2025, 12, 17, 12)),
        ("2025-06-01", datetime(2025, 6, 1)),
        ("2025-06-01T08:00:00+02:00", datetime(2025, 6, 1, 6)),
    ],
)
def test_since_accepts_ages_and_dates(text, expected):
    assert parse_when(text, now=datetime(2025, 12, 31, 12), option="--since") == expected


def test_since_rejects_nonsense_in_one_line():
    with pytest.raises(CiwbError, match="--since 'last tuesday'"):
        parse_when("last tuesday", option="--since")


def test_a_bound_may_be_a_date_an_aware_datetime_or_nothing():
    assert parse_when(date(2026, 1, 31)) == datetime(2026, 1, 31)
    aware = datetime(2026, 1, 31, 2, tzinfo=timezone(timedelta(hours=2)))
    assert parse_when(aware) == datetime(2026, 1, 31)
    assert parse_when(None) is None
    assert parse_when("") is None
    with pytest.raises(CiwbError, match="not a date or span: 'soon'"):
        parse_when("soon")
