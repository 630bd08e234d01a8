"""Every report of a demo store, as a reader at 1280 px sees it in headless Chromium: findings
first, nothing wider than the page, cells a person can read, charts with axis titles, no
network; and the headline figures are the ones the library computes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ciwb import analytics
from ciwb.cost import cost_summary, run_whatif
from ciwb.report import format as fmt
from support.chromium import CHROMIUM, network_requests, open_page

REPORTS = [
    "bottleneck_report",
    "cache_tuning",
    "cost_report",
    "explore",
    "graviton_vs_x86",
    "reconciliation",
]
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)

PROBE = """JSON.stringify((() => {
  const heads = [...document.querySelectorAll('h2')];
  const findings = document.querySelector('.ciwb-findings');
  const after = (a, b) => !!(a && b && (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING));
  const cells = [...document.querySelectorAll('td, th')].map(c => c.innerText.trim());
  const wide = [...document.querySelectorAll('table, .js-plotly-plot, img, pre')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .map(e => e.tagName + '.' + e.className);
  return {
    scroll_width: document.documentElement.scrollWidth,
    inner_width: window.innerWidth,
    first_h2: heads.length ? heads[0].innerText.trim() : null,
    findings_under_first_h2: after(heads[0], findings) && (heads.length < 2 || after(findings, heads[1])),
    findings: findings ? findings.querySelectorAll('li').length : 0,
    bad_cells: cells.filter(t => /^".*"$/.test(t) || ['null', 'None', 'NaN', 'nan'].includes(t)),
    wide: wide,
    charts: [...document.querySelectorAll('.js-plotly-plot')].map(p => ({
      title: p.layout && p.layout.title && p.layout.title.text,
      x: p.layout && p.layout.xaxis && p.layout.xaxis.title && p.layout.xaxis.title.text,
      y: p.layout && p.layout.yaxis && p.layout.yaxis.title && p.layout.yaxis.title.text,
    })),
  };
})())"""


def _page(all_reports: Path, name: str):
    (path,) = all_reports.glob(f"{name}-*.html")
    return open_page(path, width=1280, probe=PROBE)


def _headline_figure(name: str, db: Path) -> str:
    """One figure each report's findings show, computed by the library call behind it."""
    if name == "cost_report":
        s = cost_summary(db)
        return f"total cost {fmt.usd_range(s.cost_lower, s.cost_upper)}"
    if name == "bottleneck_report":
        slower = analytics.duration_regressions(db).filter(
            analytics.duration_regressions(db)["direction"] == "slower"
        )
        row = slower.sort("change_pct", descending=True).row(0, named=True)
        return (
            f"{row['project_name']} got {row['change_pct']:.1f} % slower from {row['change_date']}"
        )
    if name == "graviton_vs_x86":
        table = run_whatif("arm64", db).table
        row = table.filter(table["speed_factor"].is_not_null()).row(0, named=True)
        return f"arm64 takes {row['speed_factor']:.2f} × the x86 time"
    if name == "cache_tuning":
        row = analytics.cache_idle_expiry(db).sort("cliff", descending=True).row(0, named=True)
        return f"expires after {row['expiry_min']:.0f} min idle"
    if name == "reconciliation":
        from ciwb.report.findings import findings_for

        return findings_for("reconciliation", db=db)[0].title
    overview = analytics.projects_overview(db)
    return f"of {int(overview['builds'].sum()):,} builds succeeded"


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("name", REPORTS)
def test_report_page_reads_well_at_1280_px(all_reports, report_db, name):
    page = _page(all_reports, name)
    probe = page.probe
    assert page.errors == []
    assert network_requests(page) == []
    # findings first: the first section, with at least one finding in it
    assert probe["first_h2"] == "Findings"
    assert probe["findings_under_first_h2"] and probe["findings"] >= 1
    # no horizontal scroll, nothing wider than the window
    assert probe["scroll_width"] <= probe["inner_width"] == 1280
    assert probe["wide"] == []
    # cells a person can read
    assert probe["bad_cells"] == []
    # every chart is titled and has axis titles in words
    assert probe["charts"], name
    for chart in probe["charts"]:
        assert chart["title"] and chart["x"] and chart["y"], chart
    assert _headline_figure(name, report_db) in page.text


def test_findings_json_sits_beside_each_report(all_reports):
    for name in REPORTS:
        (path,) = all_reports.glob(f"{name}-*.findings.json")
        data = json.loads(path.read_text())
        assert data["report"] == name
        assert data["findings"] and {"title", "evidence", "strength", "action"} <= set(
            data["findings"][0]
        )
        assert data["window"]["builds"] > 0


@needs_chromium
@pytest.mark.browser
def test_index_shows_each_reports_headline(all_reports, report_db):
    page = open_page(all_reports / "index.html", width=1280, probe=PROBE)
    assert page.errors == []
    assert network_requests(page) == []
    assert page.probe["scroll_width"] <= 1280
    s = cost_summary(report_db)
    assert f"total cost {fmt.usd_range(s.cost_lower, s.cost_upper)}" in page.text
    for name in REPORTS:
        (path,) = all_reports.glob(f"{name}-*.findings.json")
        top = json.loads(path.read_text())["findings"][0]["title"]
        assert top in page.text, name


def test_executed_notebooks_carry_what_jupyterlab_draws(all_reports):
    """JupyterLab draws text/html and plotly's JSON: every table, chart and the findings of
    the executed notebook is one of those, so the notebook reads as the HTML does."""
    import nbformat

    from ciwb.report.headline import MIMETYPE
    from ciwb.report.html import PLOTLY_MIMETYPE

    for name in REPORTS:
        (path,) = all_reports.glob(f"{name}-*.ipynb")
        shown = [
            o
            for c in nbformat.read(path, as_version=4).cells
            for o in c.get("outputs", [])
            if o.get("output_type") in ("display_data", "execute_result")
        ]
        assert shown, name
        for out in shown:
            data = out.get("data", {})
            assert "text/html" in data or PLOTLY_MIMETYPE in data or "text/markdown" in data, (
                name,
                list(data),
            )
        findings = [o for o in shown if MIMETYPE in o.get("data", {})]
        assert len(findings) == 1 and "ciwb-findings" in "".join(findings[0]["data"]["text/html"])


# Click each numeric header of every interactive (long) table, ascending then descending,
# and read that column's cells on the first page, as a reader sorting the table sees them.
SORT_PROBE = """(async () => {
  const out = [];
  // DataTables orders after the click on a timer: wait for it before reading
  const settle = () => new Promise(r => setTimeout(() => requestAnimationFrame(r), 50));
  for (const table of document.querySelectorAll('table.dataTable')) {
    const heads = [...table.querySelectorAll('thead th')];
    for (const [i, th] of heads.entries()) {
      if (!th.classList.contains('dt-right')) continue;
      const read = () => [...table.querySelectorAll('tbody tr')]
        .map(tr => tr.children[i] ? tr.children[i].innerText.trim() : '');
      // the sort button a reader clicks (itables' header sorts from its icon only)
      const button = th.querySelector('.dt-column-order') || th;
      button.click();
      await settle();
      const first = read();
      button.click();
      await settle();
      const second = read();
      out.push({column: th.innerText.trim(), first, second});
    }
  }
  return JSON.stringify(out);
})()"""

_DURATION = re.compile(
    r"(?:(?P<d>[\d,]+) d (?P<dh>\d+) h|(?P<h>[\d,]+) h (?P<hm>\d+) min"
    r"|(?P<m>\d+) min (?P<ms>\d+) s|(?P<s>[\d.]+) s)"
)


def _number(text: str) -> float | None:
    """The number a formatted cell shows (`4 min 05 s` is 245), None for a missing-value word."""
    sign = -1.0 if text.startswith(("−", "-")) else 1.0
    body = text.lstrip("−-")
    if m := _DURATION.fullmatch(body):
        g = {k: float(v.replace(",", "")) if v else 0.0 for k, v in m.groupdict().items()}
        seconds = g["d"] * 86400 + g["dh"] * 3600 + g["h"] * 3600 + g["hm"] * 60
        return sign * (seconds + g["m"] * 60 + g["ms"] + g["s"])
    if m := re.match(r"\$?([\d,]*\.?\d+)", body):
        return sign * float(m.group(1).replace(",", ""))
    return None


@needs_chromium
@pytest.mark.browser
def test_long_tables_sort_numeric_columns_by_their_numbers(all_reports):
    sorted_columns = 0
    for name in REPORTS:
        (path,) = all_reports.glob(f"{name}-*.html")
        page = open_page(path, width=1280, probe=SORT_PROBE)
        assert page.errors == [], name
        for column in page.probe:
            orders = []
            for cells in (column["first"], column["second"]):
                values = [v for v in map(_number, cells) if v is not None]
                orders.append(values)
            if any(len(set(values)) < 2 for values in orders):
                continue  # a page of one value has no order to get wrong
            # the two clicks sort one way then the other (which first depends on the
            # table's initial order): each page is in order, and the two orders differ
            directions = [
                "up" if v == sorted(v) else "down" if v == sorted(v, reverse=True) else None
                for v in orders
            ]
            assert None not in directions and directions[0] != directions[1], (name, column)
            sorted_columns += 1
    assert sorted_columns >= 3  # the reports do have long tables with numeric columns
