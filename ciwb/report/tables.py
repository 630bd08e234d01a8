"""Tables for people: great-tables for short ones, itables (sortable, searchable) for long ones.

Every column the analytics and cost frames return has a label in words with its unit and a
kind that says how to write its values (`ciwb.report.format`). A missing value says why
(`unpriced`, `no evidence`) where the caller knows, else it is a dash; no cell reads `None`,
`null` or `NaN`, and no string is quoted. Tables are as wide as the page and wrap, never wider.

Long tables (more than `LONG` rows) are interactive with itables, its JavaScript inlined once
per page by `setup()` (connected=False), so the HTML still opens offline.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from ciwb.report import format as fmt

__all__ = ["COLUMNS", "ENVIRONMENTS", "LONG", "Column", "compute_name", "render", "setup", "show"]

Kind = Literal[
    "text",
    "usd",
    "duration",
    "share",
    "pct",
    "int",
    "number",
    "factor",
    "date",
    "bool",
    "compute",
    "env",
    "cache",
]
NUMERIC: frozenset[str] = frozenset({"usd", "duration", "share", "pct", "int", "number", "factor"})
LONG = 25  # more rows than this: interactive


@dataclass(frozen=True)
class Column:
    label: str  # words, with the unit in brackets where the values have one
    kind: Kind = "text"
    missing: str = fmt.DASH  # what an empty cell means


def _c(label: str, kind: Kind = "text", missing: str = fmt.DASH) -> Column:
    return Column(label, kind, missing)


# Known columns of the analytics and cost frames. A column not listed here gets its name in
# words and a kind from its dtype.
COLUMNS: dict[str, Column] = {
    "project_name": _c("Project"),
    "region": _c("Region"),
    "phase_type": _c("Phase"),
    "environment_type": _c("Environment", "env"),
    "compute_type": _c("Compute size", "compute"),
    "recommended_compute_type": _c("Recommended size", "compute"),
    "lambda_compute_type": _c("Lambda size", "compute", "not eligible"),
    "arch": _c("Architecture"),
    "size": _c("Size", "compute"),
    "cache_type": _c("Cache", "cache"),
    "month": _c("Month", "date"),
    "builds": _c("Builds", "int"),
    "priced_builds": _c("Priced builds", "int"),
    "unpriced_builds": _c("Unpriced builds", "int"),
    "in_progress_builds": _c("Builds in progress", "int"),
    "builds_with_metrics": _c("Builds with metrics", "int"),
    "builds_costed": _c("Builds costed", "int"),
    "eligible_builds": _c("Eligible builds", "int"),
    "success_rate": _c("Success rate", "share"),
    "p50_s": _c("Median (p50)", "duration"),
    "p90_s": _c("p90", "duration"),
    "p95_s": _c("p95", "duration"),
    "p99_s": _c("p99", "duration"),
    "mean_s": _c("Mean", "duration"),
    "total_s": _c("Total time", "duration"),
    "seconds": _c("Time", "duration"),
    "build_phase_p50_s": _c("BUILD phase median", "duration"),
    "build_hours": _c("Build hours", "number"),
    "share_of_wall": _c("Share of wall time", "share"),
    "waiting": _c("Waiting for CodeBuild", "bool"),
    "first_build": _c("First build", "date"),
    "last_build": _c("Last build", "date"),
    "cost_lower": _c("Cost, lower bound", "usd", "unpriced"),
    "cost_upper": _c("Cost, upper bound", "usd", "unpriced"),
    "share_lower": _c("Share of cost (lower)", "share", "unpriced"),
    "share_upper": _c("Share of cost (upper)", "share", "unpriced"),
    "billed_minutes_lower": _c("Billed minutes (lower)", "number"),
    "billed_minutes_upper": _c("Billed minutes (upper)", "number"),
    # right-sizing
    "cpu_typical_pct": _c("CPU, typical build (p95 of its samples)", "pct", "no metrics"),
    "cpu_pct": _c("CPU, p95 over builds", "pct", "no metrics"),
    "memory_pct": _c("Memory, p95 over builds", "pct", "no metrics"),
    "finding": _c("Finding"),
    "performance_risk": _c("Risk if resized"),
    "saving_month_lower": _c("Saving per month (lower)", "usd", "unpriced"),
    "saving_month_upper": _c("Saving per month (upper)", "usd", "unpriced"),
    # arm64
    "evidence": _c("Evidence"),
    "speed_factor": _c("arm64 time ÷ x86 time", "factor", "no evidence"),
    "factor_low": _c("Factor, 95 % low", "factor", "no evidence"),
    "factor_high": _c("Factor, 95 % high", "factor", "no evidence"),
    "break_even_factor": _c("Break-even factor", "factor", "no arm price"),
    "saving_month_low": _c("Saving per month (low)", "usd", "no evidence"),
    "saving_month_high": _c("Saving per month (high)", "usd", "no evidence"),
    "p50_vs_x86": _c("Median vs x86 (×)", "factor", "no x86 builds"),
    # cache
    "hit_rate": _c("Hit rate", "share", "no evidence"),
    "warm_s": _c("Install, warm", "duration", "no evidence"),
    "cold_s": _c("Install, cold", "duration", "no evidence"),
    "delta_s": _c("Time a hit saves", "duration", "no evidence"),
    "saving_month": _c("Saving per month", "usd", "no evidence"),
    "expiry_min": _c("Idle expiry (minutes)", "number"),
    "hit_rate_before": _c("Hit rate before expiry", "share"),
    "hit_rate_after": _c("Hit rate after expiry", "share"),
    "cliff": _c("Cliff (hit-rate drop)", "share"),
    # lambda
    "too_long": _c("Too long for Lambda", "int"),
    "privileged": _c("Privileged (Docker)", "int"),
    "memory_unknown": _c("Memory unknown", "int"),
    "cost_now_month_lower": _c("Cost now per month (lower)", "usd", "unpriced"),
    "cost_lambda_month_lower": _c("Cost on Lambda per month (lower)", "usd", "unpriced"),
    # reserved
    "fleet_size": _c("Fleet size (instances)", "int"),
    "utilisation": _c("Fleet utilisation", "share"),
    "carried_minutes": _c("Minutes the fleet carries", "number"),
    "overflow_minutes": _c("Minutes overflowing to on-demand", "number"),
    "break_even_rate": _c("Break-even fleet rate (USD per instance-minute)", "number"),
    "recommended": _c("Recommended", "bool"),
    # regressions
    "change_date": _c("First day of the new level", "date"),
    "before_s": _c("Median before", "duration"),
    "after_s": _c("Median after", "duration"),
    "change_s": _c("Change", "duration"),
    "change_pct": _c("Change", "pct"),
    "direction": _c("Direction"),
    "confidence": _c("Confidence", "share"),
    # failures
    "failed_phase": _c("Failed phase"),
    "context_code": _c("Reason (CodeBuild code)"),
    "failures": _c("Failures", "int"),
    "failure_rate": _c("Failure rate", "share"),
    "command": _c("Command"),
    "cause": _c("Cause"),
    # flaky tests
    "suite": _c("Suite"),
    "test_name": _c("Test"),
    "runs": _c("Runs", "int"),
    "builds_failed": _c("Builds failed", "int"),
    "pass_on_retry_versions": _c("Versions passing on retry", "int"),
    "flip_rate": _c("Flip rate", "share"),
    # critical path
    "identifier": _c("Child build"),
    "critical_share": _c("On the critical path", "share"),
    "exclusive_s": _c("Exclusive time", "duration"),
}


ENVIRONMENTS = {
    "LINUX_CONTAINER": "Linux x86_64",
    "ARM_CONTAINER": "Linux arm64",
    "LINUX_GPU_CONTAINER": "Linux GPU",
    "LINUX_LAMBDA_CONTAINER": "Lambda x86_64",
    "ARM_LAMBDA_CONTAINER": "Lambda arm64",
    "WINDOWS_SERVER_2019_CONTAINER": "Windows 2019",
    "WINDOWS_SERVER_2022_CONTAINER": "Windows 2022",
    "WINDOWS_CONTAINER": "Windows",
}


def _words(name: str) -> str:
    text = name.replace("_s", " (s)") if name.endswith("_s") else name
    return text.replace("_", " ").strip().capitalize()


def _column(name: str, dtype: pl.DataType) -> Column:
    if name in COLUMNS:
        return COLUMNS[name]
    if dtype.is_integer():
        return Column(_words(name), "int")
    if dtype.is_numeric():
        return Column(_words(name), "number")
    if dtype == pl.Boolean:
        return Column(_words(name), "bool")
    if dtype.is_temporal():
        return Column(_words(name), "date")
    return Column(_words(name))


def compute_name(value: str, environment: str | None = None) -> str:
    """`BUILD_GENERAL1_XLARGE` → `xlarge` (or `arm1.xlarge` / `general1.xlarge` when the
    environment is known), `BUILD_LAMBDA_2GB` → `lambda 2 GB`."""
    text = str(value)
    if text.startswith("BUILD_GENERAL1_"):
        size = text.removeprefix("BUILD_GENERAL1_").lower()
        if environment is None:
            return size
        family = {"ARM_CONTAINER": "arm1", "LINUX_GPU_CONTAINER": "gpu1"}.get(environment)
        return f"{family or 'general1'}.{size}"
    if text.startswith("BUILD_LAMBDA_"):
        return "lambda " + text.removeprefix("BUILD_LAMBDA_").replace("GB", " GB")
    return text.lower() if text.isupper() else text


def _cell(value: Any, col: Column) -> str:
    if fmt.is_missing(value):
        return col.missing
    match col.kind:
        case "usd":
            return fmt.usd(value)
        case "duration":
            return fmt.duration(value)
        case "share":
            return fmt.share(value)
        case "pct":
            return fmt.share(value, of=100.0)
        case "int":
            return fmt.count(value)
        case "number":
            return fmt.number(value, digits=2 if abs(value) < 1000 else 0)
        case "factor":
            return f"{value:.2f} ×"
        case "date":
            return fmt.when(value)
        case "bool":
            return "yes" if value else "no"
        case "compute":
            return compute_name(value)
        case "env":
            return ENVIRONMENTS.get(str(value), str(value))
        case "cache":
            return {"NO_CACHE": "none", "LOCAL": "local", "S3": "S3"}.get(str(value), str(value))
    return str(value)


def render(
    frame: pl.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    missing: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """The frame as strings a reader can read, with labels for headers; and which labels are
    numeric (right-aligned)."""
    text, numeric = _render(frame, columns=columns, labels=labels, missing=missing)
    return text, list(numeric)


def _render(
    frame: pl.DataFrame,
    *,
    columns: Sequence[str] | None,
    labels: Mapping[str, str] | None,
    missing: Mapping[str, str] | None,
) -> tuple[pl.DataFrame, dict[str, str]]:
    """`render`, with each numeric label mapped to the frame column its cells were written
    from (an interactive table sorts by those numbers, not by the text)."""
    names = [c for c in (columns or frame.columns) if c in frame.columns]
    data: dict[str, list[str]] = {}
    numeric: dict[str, str] = {}
    for name in names:
        col = _column(name, frame.schema[name])
        if missing and name in missing:
            col = Column(col.label, col.kind, missing[name])
        label = (labels or {}).get(name, col.label)
        while label in data:  # two columns may share a label ("Change"): keep both
            label += " "
        data[label] = [_cell(v, col) for v in frame[name].to_list()]
        if col.kind in NUMERIC:
            numeric[label] = name
    return pl.DataFrame(data, schema={k: pl.String for k in data}), numeric


_READY = False


def setup() -> None:
    """Forget that itables' JavaScript was inlined: the next long table inlines it again.

    Called by the notebook's setup cell, so a re-run in JupyterLab still finds it. itables is
    imported only by a report that shows a long table (the import takes over a second).
    """
    global _READY
    _READY = False


@contextmanager
def _pandas_unloaded() -> Iterator[None]:
    """While itables is imported and its bundle inlined, pandas, if no one has loaded it,
    reads as not installed. itables imports pandas for its pandas sample data (at import) and
    to reset pandas' table reprs (`init_notebook_mode`): over a second per report kernel,
    though every table here is polars, and with pandas not loaded there is nothing to reset.
    Whoever imports pandas later gets it, untouched."""
    if "pandas" in sys.modules:
        yield
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        yield
    finally:
        if sys.modules.get("pandas", False) is None:
            del sys.modules["pandas"]


def _itables_bundle() -> str:
    """itables' JavaScript, inlined once per page (connected=False: no network)."""
    global _READY
    if _READY:
        return ""
    with _pandas_unloaded():
        from itables import init_notebook_mode

        _READY = True
        init_notebook_mode(all_interactive=False, connected=False)  # displays the bundle
    return ""


class _Html:
    """An HTML block that JupyterLab and nbconvert both show as is."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html


def show(
    frame: pl.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    missing: Mapping[str, str] | None = None,
    title: str | None = None,
    note: str | None = None,
    sort: tuple[str, bool] | None = None,
) -> Any:
    """A table for a reader: great-tables up to `LONG` rows, an interactive itables beyond.

    `sort` is (column, descending) applied before formatting, so ranks follow the numbers.
    """
    if sort and sort[0] in frame.columns:
        frame = frame.sort(sort[0], descending=sort[1], nulls_last=True)
    if frame.is_empty():
        return _Html(
            f"<p class='ciwb-empty'><em>{title + ': ' if title else ''}no rows in this "
            "selection.</em></p>"
        )
    text, numeric = _render(frame, columns=columns, labels=labels, missing=missing)
    if text.height > LONG:
        keys = frame.select(
            pl.col(name).cast(pl.Float64, strict=False).alias(label)
            for label, name in numeric.items()
        )
        return _interactive(text, keys, title=title, note=note)
    return _great_table(text, list(numeric), title=title, note=note)


def _great_table(text: pl.DataFrame, numeric: list[str], *, title: str | None, note: str | None):
    from great_tables import GT, loc, style

    gt = GT(text).cols_align("right", columns=numeric) if numeric else GT(text)
    if title:
        gt = gt.tab_header(title=title)
    if note:
        gt = gt.tab_source_note(note)
    gt = gt.tab_style(style=style.text(weight="bold"), locations=loc.column_labels())
    return gt.tab_options(
        table_width="100%",
        container_width="100%",
        table_font_size="13px",
        column_labels_font_size="13px",
        data_row_padding="4px",
        table_font_names=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
    )


def _interactive(text: pl.DataFrame, keys: pl.DataFrame, *, title: str | None, note: str | None):
    """An itables table of `text`; a numeric column sorts by its number in `keys` (same labels),
    carried as a hidden column, since `4 min 05 s` or `$1.2k` sort wrongly as text."""
    with _pandas_unloaded():
        from itables import to_html_datatable

    shown = text.width
    right = [text.columns.index(label) for label in keys.columns]
    hidden = list(range(shown, shown + keys.width))
    sort_by = [
        {"targets": column, "orderData": [key]} for column, key in zip(right, hidden, strict=True)
    ]
    data = pl.concat(
        [text, keys.rename({label: f"{label} (sort key)" for label in keys.columns})],
        how="horizontal",
    )
    column_defs = [
        *([{"className": "dt-right", "targets": right}] if right else []),
        *([{"visible": False, "searchable": False, "targets": hidden}] if hidden else []),
        *sort_by,
    ]
    table = to_html_datatable(
        data,
        connected=False,
        caption=title,
        pageLength=15,
        lengthMenu=[15, 50, 200],
        columnDefs=column_defs,
        classes="display compact",
        style="width:100%;table-layout:auto",
        showIndex=False,
    )
    bundle = _itables_bundle()
    tail = f"<p class='ciwb-note'>{note}</p>" if note else ""
    head = f"<p class='ciwb-note'>{text.height:,} rows: sort, search and page through them.</p>"
    return _Html(f"{bundle}<div class='ciwb-long-table'>{head}{table}{tail}</div>")
