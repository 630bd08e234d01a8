"""Findings as a reader sees them: a ranked list under the report's window, as HTML.

The same markup opens every report (in JupyterLab and in the HTML) and fills each card of
the index page; its style travels with it (`STYLE`), so it looks the same everywhere.
"""

from __future__ import annotations

import html

from ciwb.report import format as fmt
from ciwb.report.findings import Finding
from ciwb.report.headline import Headline

__all__ = ["STYLE", "findings_html", "headline_html", "window_line"]

STYLE = """
.ciwb-findings{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:100%}
.ciwb-findings .ciwb-window{color:#444;margin:.2rem 0 .8rem;padding:0}
.ciwb-findings ol{list-style:none;margin:0!important;padding:0!important;counter-reset:f}
.ciwb-findings li{counter-increment:f;border:1px solid #ddd;border-left:5px solid #4c78a8;
  border-radius:6px;padding:.55rem .8rem;margin:0 0 .55rem;background:#fff}
.ciwb-findings li.moderate{border-left-color:#f58518}
.ciwb-findings li.weak{border-left-color:#bab0ac}
.ciwb-findings .t{font-weight:600;font-size:1.02rem}
.ciwb-findings .t::before{content:counter(f) ". ";color:#888}
.ciwb-findings .worth{float:right;font-weight:600;color:#2a6f2a;margin-left:1rem;
  white-space:nowrap}
.ciwb-findings .ev,.ciwb-findings .next{color:#333;font-size:.92rem;margin-top:.2rem;
  overflow-wrap:anywhere}
.ciwb-findings .tag{display:inline-block;font-size:.75rem;padding:0 .4rem;border-radius:3px;
  background:#eef;color:#335;margin-right:.3rem}
.ciwb-findings code{font-size:.85rem;background:#f4f4f4;padding:0 .25rem;border-radius:3px;
  overflow-wrap:anywhere}
"""


def window_line(h: Headline) -> str:
    w = h.window
    span = f"{w.first:%Y-%m-%d} to {w.last:%Y-%m-%d}" if w.first and w.last else "no builds"
    line = f"{span} · {w.builds:,} builds"
    if h.cost_low is not None or h.cost_high is not None:
        line += f" · total cost {fmt.usd_range(h.cost_low, h.cost_high)}"
    if h.unpriced_builds:
        line += f" ({h.unpriced_builds:,} builds unpriced)"
    return line


def _item(f: Finding) -> str:
    worth = ""
    if f.usd_per_month_high is not None or f.usd_per_month_low is not None:
        worth = (
            f"<span class='worth'>{fmt.usd_range(f.usd_per_month_low, f.usd_per_month_high)}"
            " per month</span>"
        )
    command = f" <code>{html.escape(f.command)}</code>" if f.command else ""
    return (
        f"<li class='{f.strength}'>{worth}<div class='t'>{html.escape(f.title)}</div>"
        f"<div class='ev'><span class='tag'>{f.strength} evidence</span>"
        f"{html.escape(f.evidence)}</div>"
        f"<div class='next'><b>Next:</b> {html.escape(f.action)}{command}</div></li>"
    )


def findings_html(findings: list[Finding], limit: int | None = None) -> str:
    shown = findings[:limit] if limit else findings
    if not shown:
        return "<p><em>No findings for this selection.</em></p>"
    return "<ol>" + "".join(_item(f) for f in shown) + "</ol>"


def headline_html(h: Headline, *, limit: int | None = None, style: bool = True) -> str:
    css = f"<style>{STYLE}</style>" if style else ""
    return (
        f"{css}<div class='ciwb-findings'><p class='ciwb-window'>{html.escape(window_line(h))}"
        f"</p>{findings_html(h.findings, limit)}</div>"
    )
