"""A tiny release-notes tool: the sample project ciwb replays (data/sample-project)."""

from sample.changes import Change, parse_changes
from sample.render import render_table

__all__ = ["Change", "parse_changes", "render_table"]
