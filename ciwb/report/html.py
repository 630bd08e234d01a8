"""Executed notebook → one self-contained HTML file, code hidden, readable offline.

Charts reach the notebook as plotly's JSON mimetype (see `ciwb.report.charts.setup`).
Here each becomes a `<div>` plus a call to `Plotly.newPlot`, and the plotly.js bundle
is inlined once in the page head (the `ciwb` template), rather than once per chart or
from a CDN.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import nbformat
import plotly.io as pio
from nbconvert import HTMLExporter
from plotly.offline import get_plotlyjs

from ciwb.report.page import TEMPLATES, page_css

__all__ = ["PLOTLY_MIMETYPE", "notebook_to_html", "page_css"]

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"


def _chart_html(figure: Any) -> str:
    """A plotly JSON output as a `<div>` drawn by the page's plotly.js."""
    return pio.to_html(
        figure,
        include_plotlyjs=False,
        full_html=False,
        config={"displaylogo": False, "responsive": True},
        # The kernel's plotly built and checked this figure already; checking it again
        # rebuilt and deep-copied every figure (a third of this export at a million builds)
        # for the same JSON, only its template's keys reordered.
        validate=False,
    )


def _charts_as_html(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `notebook` with each plotly output as HTML instead (the notebook itself is
    left as it is). Done before nbconvert, not as one of its preprocessors: it deep-copies
    the notebook three times (twice itself, once to validate it), and the figures' JSON,
    every point of every chart, was most of what it copied (0.3 s of a bottleneck report's
    0.8 s export at a million builds); their HTML is one string."""
    cells = []
    for cell in notebook.cells:
        outputs = cell.get("outputs") or ()
        if any(PLOTLY_MIMETYPE in (out.get("data") or {}) for out in outputs):
            cell = nbformat.NotebookNode({**cell, "outputs": [_chart_output(o) for o in outputs]})
        cells.append(cell)
    return nbformat.NotebookNode({**notebook, "cells": cells})


def _chart_output(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    data = output.get("data") or {}
    if PLOTLY_MIMETYPE not in data:
        return output
    shown = {k: v for k, v in data.items() if k not in (PLOTLY_MIMETYPE, "text/plain")}
    shown["text/html"] = _chart_html(data[PLOTLY_MIMETYPE])
    return nbformat.NotebookNode({**output, "data": nbformat.NotebookNode(shown)})


def notebook_to_html(notebook: nbformat.NotebookNode | Path, *, title: str | None = None) -> str:
    """HTML for an executed notebook: inputs and prompts excluded, plotly.js inlined once."""
    if isinstance(notebook, Path):
        notebook = nbformat.read(notebook, as_version=4)
    # plotly.js goes in after nbconvert's last pass, which parses the whole page again
    # (BeautifulSoup) and would walk through its 4.6 MB for nothing.
    resources: dict[str, Any] = {"plotly_js": _PLOTLY_JS, "ciwb_css": page_css()}
    if title:
        resources["metadata"] = {"name": title}
    body, _ = _exporter().from_notebook_node(_charts_as_html(notebook), resources=resources)
    return body.replace(_PLOTLY_JS, get_plotlyjs(), 1)


# Where the page's plotly.js goes (no notebook output writes this).
_PLOTLY_JS = "/* ciwb: plotly.js */"


@cache
def _exporter() -> HTMLExporter:
    """One per process, for every report it exports: making one compiles its templates,
    which took as long as exporting a small report."""
    exporter = HTMLExporter(
        template_name="ciwb",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        # Validated once, after its preprocessors, not after each of its thirteen.
        optimistic_validation=True,
    )
    return exporter
