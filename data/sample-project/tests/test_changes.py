from datetime import date

import pytest

from sample import parse_changes, render_table


def test_parses_and_sorts_newest_first():
    changes = parse_changes(["2025-01-02 fix: b", "# note", "", "Jan 5 2025 feat: a"])
    assert [c.day for c in changes] == [date(2025, 1, 5), date(2025, 1, 2)]
    assert changes[0].kind == "feat" and changes[0].text == "a"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        parse_changes(["2025-01-02 oops: b"])


def test_table_has_a_header_and_a_row_per_change():
    table = render_table(parse_changes(["2025-01-02 fix: b", "2025-01-03 docs: c"]))
    lines = table.splitlines()
    assert lines[0].split("|")[1].strip() == "date"
    assert len(lines) == 4


def test_jsonpath_query_selects_fields():
    from sample.query import query

    changes = parse_changes(["2025-01-02 fix: b", "2025-01-03 docs: c"])
    assert query(changes, "$[*].kind") == ["docs", "fix"]
