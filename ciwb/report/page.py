"""The style every ciwb page shares, the reports' and the index's.

Apart from `ciwb.report.html` (which imports nbconvert and plotly): the index is written by
the process running `ciwb report`, which needs neither.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TEMPLATES", "page_css"]

# nbconvert templates (the `ciwb` one extends JupyterLab's) and the page style.
TEMPLATES = Path(__file__).parent / "templates"


def page_css() -> str:
    """The style every ciwb page shares (reports and the index)."""
    return (TEMPLATES / "ciwb" / "page.css").read_text(encoding="utf-8")
