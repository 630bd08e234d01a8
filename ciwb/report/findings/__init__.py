"""Findings: what a report found, what it is worth, on what evidence, what to do next.

Every report opens with its findings. They are computed here, from the analytics, cost and
bill functions (never in a notebook), as `Finding` records with one stable shape, so the
notebook, the index page and the JSON beside the HTML all show the same thing.

A report's findings come from the producers registered for its name; a new analysis plugs in
with `@register("cost_report")` in a module of this package (imported below) and needs no
change elsewhere.
"""

# Producers register themselves on import: one module per report.
from ciwb.report.findings import bill as _bill  # noqa: E402, F401, I001
from ciwb.report.findings import bottlenecks as _bottlenecks  # noqa: E402, F401
from ciwb.report.findings import cache as _cache  # noqa: E402, F401
from ciwb.report.findings import cost as _cost  # noqa: E402, F401
from ciwb.report.findings import explore as _explore  # noqa: E402, F401
from ciwb.report.findings import graviton as _graviton  # noqa: E402, F401
from ciwb.report.findings.base import (
    Finding,
    Strength,
    findings_for,
    register,
    registered_reports,
)

__all__ = ["Finding", "Strength", "findings_for", "register", "registered_reports"]
