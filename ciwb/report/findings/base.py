"""The finding record and the registry of producers, by report name."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ciwb.report.findings._memo import memo

__all__ = [
    "Finding",
    "Producer",
    "Strength",
    "findings_for",
    "produced",
    "producers",
    "register",
    "registered_reports",
]

# How strong the evidence is: "strong" = measured on many builds or paired samples,
# "moderate" = measured but thin or indirect, "weak" = an estimate resting on an assumption.
Strength = Literal["strong", "moderate", "weak"]


@dataclass(frozen=True)
class Finding:
    """One ranked answer: what was found, what it is worth, why we believe it, what to do."""

    report: str  # the report it belongs to (the notebook's name)
    title: str  # what was found, one sentence a reader can act on
    evidence: str  # the figures behind it, in words
    strength: Strength
    action: str  # what to do next; a command where one fits
    usd_per_month_low: float | None = None  # None when no money is involved
    usd_per_month_high: float | None = None
    kind: str = ""  # a stable key for the kind of finding, e.g. "rightsize", "regression"
    subject: str = ""  # what it is about: a project, a phase, a fleet, a usage type
    command: str | None = None  # a ciwb command that follows the finding up, if any
    # The measured figures behind the title, by name (e.g. speed_factor, expiry_min,
    # change_date as ISO text), for JSON readers and tests; the words above stay the finding.
    figures: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def worth(self) -> float:
        """The figure findings are ranked by: the upper bound of the monthly saving."""
        return self.usd_per_month_high or self.usd_per_month_low or 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Producer = Callable[..., Iterable[Finding]]
_PRODUCERS: dict[str, list[Producer]] = {}


def register(report: str) -> Callable[[Producer], Producer]:
    """Add a producer of findings to `report`; producers take the same keyword arguments
    (`db`, `selection`) and return findings in any order."""

    def add(fn: Producer) -> Producer:
        _PRODUCERS.setdefault(report, []).append(fn)
        return fn

    return add


def registered_reports() -> list[str]:
    return sorted(_PRODUCERS)


def producers(report: str) -> list[Producer]:
    """The producers registered for `report`, in registration order."""
    return list(_PRODUCERS.get(report, []))


def produced(produce: Producer, **kwargs: Any) -> list[Finding]:
    """`produce`'s findings, computed once per report run (`ciwb report` computes every
    producer in its analysis pass, the report's kernel then reads them back)."""
    return memo(_listed, produce, **kwargs)


def _listed(produce: Producer, **kwargs: Any) -> list[Finding]:
    return list(produce(**kwargs))


def findings_for(report: str, **kwargs: Any) -> list[Finding]:
    """Every finding of `report`, ranked: money first (by the upper bound of the monthly
    saving), then strength of evidence, then the producers' own order."""
    found: list[Finding] = []
    for produce in producers(report):
        found.extend(produced(produce, **kwargs))
    order = {"strong": 0, "moderate": 1, "weak": 2}
    return sorted(found, key=lambda f: (-f.worth, order[f.strength]))
