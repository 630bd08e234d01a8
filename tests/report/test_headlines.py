"""Each rendered report shows the figures the library computes: a headline number on the
page is compared with the call that produced it, not just "the cells ran, a chart exists".

Pages are read as a reader gets them (the HTML file `ciwb report all` wrote, tags stripped
to cell text); numbers are accepted as written plainly or with thousands separators, so the
check holds whichever table renderer draws them.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from ciwb import analytics, cost
from ciwb.store import Selection

ALL = Selection()


def _page(all_reports: Path, name: str) -> str:
    (path,) = all_reports.glob(f"{name}-*.html")
    return path.read_text()


def _rows(page: str) -> list[list[str]]:
    """Every table row on the page as its cells' visible text (quotes of polars' repr off)."""
    rows = []
    for row in re.findall(r"<tr\b.*?</tr>", page, flags=re.S | re.I):
        cells = re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", row, flags=re.S | re.I)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip().strip('"') for c in cells])
    # Long tables are interactive (itables): their rows travel as JSON inside the page's
    # script (`data_json`, a JSON string holding the rows), not as <tr> elements. A cell is
    # its text, or [text, number] for the hidden numeric sort keys: read the text of each.
    for found in re.finditer(r'"data_json":\s*("(?:[^"\\]|\\.)*")', page):
        for cells in json.loads(json.loads(found.group(1))):
            texts = [c[0] if isinstance(c, list) else c for c in cells]
            rows.append([html.unescape(re.sub(r"<[^>]+>", "", str(c))).strip() for c in texts])
    return rows


def _shown(n: int) -> set[str]:
    return {str(n), f"{n:,}"}


def _row_shows(page: str, *cells: str, count: int) -> bool:
    """Some table row has all `cells` and the integer `count` (as the page writes it)."""
    return any(set(cells) <= set(row) and _shown(count) & set(row) for row in _rows(page))


def test_explore_shows_each_projects_build_count(all_reports, report_db):
    page = _page(all_reports, "explore")
    overview = analytics.projects_overview(report_db, ALL)
    assert overview.height > 10
    for row in overview.iter_rows(named=True):
        assert _row_shows(page, row["project_name"], count=row["builds"]), row["project_name"]


def test_bottleneck_report_shows_the_phase_breakdown_counts(all_reports, report_db):
    page = _page(all_reports, "bottleneck_report")
    breakdown = analytics.phase_breakdown(report_db, ALL)
    build = breakdown.filter(breakdown["phase_type"] == "BUILD")  # the phase the page leads with
    assert build.height > 10
    # the biggest BUILD phases by total time: the rows the page leads with
    for row in build.sort("total_s", descending=True).head(5).iter_rows(named=True):
        assert _row_shows(page, row["project_name"], "BUILD", count=row["builds"]), row


def test_cache_tuning_shows_the_projects_whose_cache_expires(all_reports, report_db):
    page = _page(all_reports, "cache_tuning")
    expiry = analytics.cache_idle_expiry(report_db, ALL)
    assert expiry.height >= 1
    for row in expiry.iter_rows(named=True):
        assert _row_shows(page, row["project_name"], count=row["builds"]), row


def test_graviton_report_shows_the_builds_per_architecture(all_reports, report_db):
    page = _page(all_reports, "graviton_vs_x86")
    comparison = analytics.arch_comparison(report_db, ALL)
    assert {"arm64", "x86_64"} <= set(comparison["arch"])
    for row in comparison.iter_rows(named=True):
        assert _row_shows(page, row["project_name"], row["arch"], count=row["builds"]), row


@pytest.mark.parametrize("name", ["cost_report", "reconciliation"])
def test_cost_pages_show_the_cost_summary_totals(all_reports, report_db, name):
    page = html.unescape(re.sub(r"<[^>]+>", "", _page(all_reports, name)))
    summary = cost.cost_summary(report_db, ALL)
    assert summary.builds > 1000 and summary.cost_lower > 0
    assert f"{summary.builds:,} builds" in page
    assert f"{summary.cost_lower:,.2f}" in page and f"{summary.cost_upper:,.2f}" in page
