"""`index.html`: each report's headline — window, builds, total cost, top findings — and links.

Styled like the reports (the same page style and finding cards), readable offline.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime

from ciwb.report.result import ReportResult

__all__ = ["render_index"]

TITLES = {
    "cost_report": "Cost report",
    "bottleneck_report": "Bottlenecks",
    "graviton_vs_x86": "Graviton (arm64) vs x86_64",
    "cache_tuning": "Cache tuning",
    "explore": "Explore the build history",
}
ORDER = ["cost_report", "bottleneck_report", "graviton_vs_x86", "cache_tuning", "explore"]

_STYLE = """
body { max-width: 1100px; margin: 2rem auto; padding: 0 1.2rem; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .8rem 1rem; margin: 0 0 1.2rem; }
.card h2 { margin: .1rem 0 .3rem; font-size: 1.3rem; border: 0; }
.card h2 a { color: #1f4e79; text-decoration: none; }
.card.failed { border-color: #e45756; }
.links { font-size: .9rem; color: #555; margin: .4rem 0 0; }
.failed .error { color: #b00; }
details { font-size: .85rem; color: #555; }
code { font-size: .8rem; }
"""


def _card(r: ReportResult) -> str:
    from ciwb.report.findings_view import findings_html, window_line
    from ciwb.report.headline import Headline

    title = html.escape(TITLES.get(r.name, r.name))
    heading = f'<a href="{html.escape(r.html_name)}">{title}</a>' if r.html_name else title
    body = ""
    if r.headline:
        h = Headline.from_dict(r.headline)
        more = len(h.findings) - 3
        body = (
            f"<div class='ciwb-findings'><p class='ciwb-window'>{html.escape(window_line(h))}</p>"
            f"{findings_html(h.findings, limit=3)}</div>"
            + (
                f"<p class='links'>and {more} more finding(s) in the report.</p>"
                if more > 0
                else ""
            )
        )
    if not r.ok:
        body += f"<p class='error'>failed: {html.escape(r.error or '')}</p>"
    links = [f'<a href="{html.escape(r.notebook_name)}">executed notebook</a>']
    if r.findings_name:
        links.append(f'<a href="{html.escape(r.findings_name)}">findings (JSON)</a>')
    params = html.escape(json.dumps(r.parameters, sort_keys=True, default=str))
    return (
        f"<section class='card {'ok' if r.ok else 'failed'}'><h2>{heading}</h2>{body}"
        f"<p class='links'>{' · '.join(links)} · ran in {r.seconds:.1f} s</p>"
        f"<details><summary>parameters</summary><code>{params}</code></details></section>"
    )


def _summary(results: Sequence[ReportResult]) -> str:
    """The run's window, builds and total cost, from the first report that priced them."""
    from ciwb.report.findings_view import window_line
    from ciwb.report.headline import Headline

    for r in results:
        if r.headline and (r.headline.get("cost_low") is not None):
            line = window_line(Headline.from_dict(r.headline))
            return f"<p class='ciwb-window'><b>{html.escape(line)}</b></p>"
    return ""


def render_index(results: Sequence[ReportResult], *, started: datetime, db: str) -> str:
    from ciwb.report.findings_view import STYLE
    from ciwb.report.page import page_css

    rank = {name: i for i, name in enumerate(ORDER)}
    ordered = sorted(results, key=lambda r: (rank.get(r.name, len(ORDER)), r.name))
    cards = "\n".join(_card(r) for r in ordered)
    summary = _summary(ordered)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ciwb reports {started:%Y-%m-%d %H:%M} UTC</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{page_css()}{STYLE}{_STYLE}</style></head>
<body>
<h1>ciwb reports</h1>
<p>Run started {started:%Y-%m-%d %H:%M:%S} UTC on <code>{html.escape(db)}</code>. Each report
opens with its findings, ranked by what they are worth per month; the top three are here.</p>
{summary}
{cards}
</body></html>
"""
