"""`index.html`: one page linking every report of a run, with its parameters and status."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime

from ciwb.report.result import ReportResult

__all__ = ["render_index"]


def render_index(results: Sequence[ReportResult], *, started: datetime, db: str) -> str:
    rows = []
    for r in results:
        link = (
            f'<a href="{html.escape(r.html_name)}">{html.escape(r.name)}</a>'
            if r.html_name
            else html.escape(r.name)
        )
        status = "ok" if r.ok else f"failed: {html.escape(r.error or '')}"
        params = html.escape(json.dumps(r.parameters, sort_keys=True, default=str))
        rows.append(
            f"<tr class='{'ok' if r.ok else 'failed'}'><td>{link}</td>"
            f'<td><a href="{html.escape(r.notebook_name)}">notebook</a></td>'
            f"<td>{status}</td><td>{r.seconds:.1f}s</td><td><code>{params}</code></td></tr>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ciwb reports {started:%Y-%m-%d %H:%M} UTC</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: left; }}
tr.failed td {{ color: #b00; }}
code {{ font-size: .8rem; }}
</style></head>
<body>
<h1>ciwb reports</h1>
<p>Run started {started:%Y-%m-%d %H:%M:%S} UTC on <code>{html.escape(db)}</code>.</p>
<table>
<tr><th>report</th><th>executed notebook</th><th>status</th><th>time</th><th>parameters</th></tr>
{chr(10).join(rows)}
</table>
</body></html>
"""
