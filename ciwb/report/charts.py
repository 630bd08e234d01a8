"""Plotly figures for the report notebooks, built from `ciwb.analytics` frames.

Notebooks hold no logic (docs/design.md, "Reports"): they call an analytics function, then
one of these, and display the result. `setup()` makes every figure travel as plotly's
JSON mimetype, which JupyterLab draws and `ciwb.report.html` turns into offline HTML.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from ciwb.codebuild.arns import last_id_part

__all__ = [
    "batch_timeline",
    "bill_vs_estimate_bar",
    "failure_causes_bar",
    "flaky_tests_bar",
    "hit_rate_by_gap_lines",
    "hotspots_bar",
    "phase_percentiles_bar",
    "phase_share_bar",
    "setup",
    "trend_lines",
    "arch_bar",
    "cost_bar",
    "cost_over_time",
    "waiting_bar",
]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def setup(max_rows: int = 25) -> None:
    """Notebook defaults: plotly as JSON mimetype, compact polars tables."""
    pio.renderers.default = "plotly_mimetype"
    pl.Config.set_tbl_rows(max_rows)
    pl.Config.set_fmt_str_lengths(80)
    pl.Config.set_tbl_width_chars(160)


def _empty(title: str, message: str = "no data in this selection") -> go.Figure:
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def phase_share_bar(breakdown: pl.DataFrame) -> go.Figure:
    """Stacked share of wall time per project, one colour per phase."""
    title = "Share of wall time by phase"
    if breakdown.is_empty():
        return _empty(title)
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "stack"})
    phases = breakdown["phase_type"].unique(maintain_order=True).to_list()
    for phase in phases:
        part = breakdown.filter(pl.col("phase_type") == phase)
        fig.add_bar(
            name=phase,
            y=part["project_name"].to_list(),
            x=part["share_of_wall"].to_list(),
            orientation="h",
        )
    fig.update_xaxes(tickformat=".0%", title="share of wall time")
    return fig


def phase_percentiles_bar(breakdown: pl.DataFrame, project: str | None = None) -> go.Figure:
    """p50, p90, p95 and p99 seconds per phase (of one project, or the first)."""
    if breakdown.is_empty():
        return _empty("Phase percentiles")
    project = project or breakdown["project_name"][0]
    part = breakdown.filter(pl.col("project_name") == project)
    fig = go.Figure(layout={**_LAYOUT, "title": f"Phase duration percentiles — {project}"})
    for column in ("p50_s", "p90_s", "p95_s", "p99_s"):
        fig.add_bar(
            name=column.removesuffix("_s"), x=part["phase_type"].to_list(), y=part[column].to_list()
        )
    fig.update_yaxes(title="seconds")
    return fig


def trend_lines(
    trends: pl.DataFrame, regressions: pl.DataFrame | None = None, top: int = 12
) -> go.Figure:
    """p50 (solid) and p95 (dotted) per project over time; detected changes as markers.

    At most `top` projects are drawn (those with a detected change first, then the
    busiest): more lines than that is unreadable. The title says when some are left out.
    """
    title = "Build duration over time"
    if trends.is_empty():
        return _empty(title)
    changed = [] if regressions is None else regressions["project_name"].unique().to_list()
    busiest = (
        trends.group_by("project_name")
        .agg(pl.col("builds").sum())
        .sort(["builds", "project_name"], descending=[True, False])["project_name"]
        .to_list()
    )
    shown = list(dict.fromkeys([*sorted(changed), *busiest]))[:top]
    if len(busiest) > len(shown):
        title += f" — {len(shown)} of {len(busiest)} projects (changed, then busiest)"
    trends = trends.filter(pl.col("project_name").is_in(shown))
    if regressions is not None:
        regressions = regressions.filter(pl.col("project_name").is_in(shown))
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    for (project,), part in trends.group_by("project_name", maintain_order=True):
        x = part["period_start"].to_list()
        fig.add_scatter(
            x=x, y=part["p50_s"].to_list(), name=f"{project} p50", mode="lines", legendgroup=project
        )
        fig.add_scatter(
            x=x,
            y=part["p95_s"].to_list(),
            name=f"{project} p95",
            mode="lines",
            line={"dash": "dot"},
            legendgroup=project,
            visible="legendonly",
        )
    if regressions is not None and not regressions.is_empty():
        fig.add_scatter(
            x=regressions["change_date"].to_list(),
            y=regressions["after_s"].to_list(),
            mode="markers",
            marker={"symbol": "x", "size": 12, "color": "black"},
            name="detected change",
            text=[
                f"{r['project_name']}: {r['change_pct']:+.0f}% ({r['confidence']:.1%} confidence)"
                for r in regressions.iter_rows(named=True)
            ],
        )
    fig.update_yaxes(title="seconds")
    return fig


def failure_causes_bar(causes: pl.DataFrame) -> go.Figure:
    """Failed builds per project, split into code / platform / timeout / stopped / unknown."""
    title = "Why builds failed"
    if causes.is_empty():
        return _empty(title, "no failed builds in this selection")
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "stack"})
    for (cause,), part in causes.group_by("cause", maintain_order=True):
        fig.add_bar(name=cause, x=part["project_name"].to_list(), y=part["failures"].to_list())
    fig.update_yaxes(title="failed builds")
    return fig


def flaky_tests_bar(flaky: pl.DataFrame, top: int = 15) -> go.Figure:
    """The flakiest tests by builds they failed."""
    title = "Flaky tests by builds failed"
    if flaky.is_empty():
        return _empty(title, "no flaky tests found")
    part = flaky.head(top).reverse()
    labels = [f"{r['project_name']}: {r['test_name']}" for r in part.iter_rows(named=True)]
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_bar(
        y=labels,
        x=part["builds_failed"].to_list(),
        orientation="h",
        text=[f"flip {v:.0%}" for v in part["flip_rate"]],
        name="builds failed",
    )
    fig.update_xaxes(title="builds failed")
    return fig


def hit_rate_by_gap_lines(by_gap: pl.DataFrame) -> go.Figure:
    """Cache hit rate against minutes since the project's previous build."""
    title = "Cache hit rate by idle time before the build"
    if by_gap.is_empty():
        return _empty(title, "no cache-enabled projects with a bimodal restore time")
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    for (project,), part in by_gap.group_by("project_name", maintain_order=True):
        fig.add_scatter(
            x=part["gap"].to_list(),
            y=part["hit_rate"].to_list(),
            mode="lines+markers",
            name=project,
        )
    fig.update_yaxes(tickformat=".0%", title="hit rate", range=[0, 1.05])
    fig.update_xaxes(title="minutes since the previous build ended", type="category")
    return fig


def batch_timeline(paths: pl.DataFrame, batch_arn: str | None = None) -> go.Figure:
    """Gantt of one batch's child builds; critical path in red.

    By default the latest of the batches that ran their whole graph (the most children).
    """
    title = "Batch build timeline"
    if paths.is_empty():
        return _empty(title, "no completed batch builds")
    if batch_arn is None:
        sizes = paths.group_by("batch_arn").agg(pl.len().alias("n"), pl.col("start_time").min())
        batch_arn = sizes.filter(pl.col("n") == pl.col("n").max()).sort("start_time")["batch_arn"][
            -1
        ]
    part = paths.filter(pl.col("batch_arn") == batch_arn).sort("start_time", descending=True)
    t0 = part["start_time"].min()
    fig = go.Figure(layout={**_LAYOUT, "title": f"{title} — {last_id_part(batch_arn)}"})
    fig.add_bar(
        y=part["identifier"].to_list(),
        x=part["duration_s"].to_list(),
        base=[(t - t0).total_seconds() for t in part["start_time"]],
        orientation="h",
        marker={"color": ["#d62728" if c else "#8c8c8c" for c in part["on_critical_path"]]},
        text=[f"exclusive {s:.0f}s" for s in part["exclusive_s"]],
        name="child build",
    )
    fig.update_xaxes(title="seconds since the batch started")
    return fig


def hotspots_bar(hotspots: pl.DataFrame, top: int = 15) -> go.Figure:
    """Commands by total seconds across all builds."""
    title = "Slowest commands by total time"
    if hotspots.is_empty():
        return _empty(title, "no per-command timings (collect with --logs, or replay)")
    part = hotspots.head(top).reverse()
    labels = [f"{r['project_name']}: {r['command'][:60]}" for r in part.iter_rows(named=True)]
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_bar(y=labels, x=[s / 3600 for s in part["total_s"]], orientation="h", name="hours")
    fig.update_xaxes(title="total hours")
    return fig


def waiting_bar(breakdown: pl.DataFrame) -> go.Figure:
    """Median and p95 seconds spent queued and provisioning, per project."""
    title = "Waiting for CodeBuild: queue and provisioning"
    waiting = breakdown.filter(pl.col("waiting") & (pl.col("phase_type") != "SUBMITTED"))
    if waiting.is_empty():
        return _empty(title)
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group"})
    for (phase,), part in waiting.group_by("phase_type", maintain_order=True):
        fig.add_bar(
            name=f"{phase} p50", x=part["project_name"].to_list(), y=part["p50_s"].to_list()
        )
        fig.add_bar(
            name=f"{phase} p95", x=part["project_name"].to_list(), y=part["p95_s"].to_list()
        )
    fig.update_yaxes(title="seconds")
    return fig


def arch_bar(comparison: pl.DataFrame) -> go.Figure:
    """Median successful build seconds per project, arm64 beside x86_64."""
    title = "Median build time by architecture"
    if comparison.is_empty():
        return _empty(title)
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group"})
    for (arch,), part in comparison.group_by("arch", maintain_order=True):
        labels = [f"{r['project_name']} ({r['size'].lower()})" for r in part.iter_rows(named=True)]
        fig.add_bar(name=arch, x=labels, y=part["p50_s"].to_list())
    fig.update_yaxes(title="p50 seconds")
    return fig


def cost_bar(table: pl.DataFrame, key: str = "project_name", top: int = 20) -> go.Figure:
    """Cost per group as a bar to the lower bound, with the upper bound as an error bar."""
    title = "Cost by " + key.removesuffix("_name").replace("_", " ")
    if table.is_empty():
        return _empty(title)
    part = table.sort("cost_upper", descending=True, nulls_last=True).head(top).reverse()
    lower = part["cost_lower"].fill_null(0)
    fig = go.Figure(layout={**_LAYOUT, "title": title + " (lower bound, bar to upper)"})
    fig.add_bar(
        y=[str(v) for v in part[key]],
        x=lower.to_list(),
        orientation="h",
        error_x={
            "type": "data",
            "symmetric": False,
            "array": (part["cost_upper"].fill_null(0) - lower).to_list(),
            "arrayminus": [0] * part.height,
        },
        name="cost",
    )
    fig.update_xaxes(title="USD")
    return fig


def cost_over_time(table: pl.DataFrame) -> go.Figure:
    """Monthly cost bounds (`cost_summary(by="month")`)."""
    title = "Cost per month"
    if table.is_empty():
        return _empty(title)
    part = table.sort("month")
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_scatter(
        x=[str(m) for m in part["month"]],
        y=part["cost_upper"].to_list(),
        name="upper bound (queue billed)",
        mode="lines+markers",
    )
    fig.add_scatter(
        x=[str(m) for m in part["month"]],
        y=part["cost_lower"].to_list(),
        name="lower bound",
        mode="lines+markers",
        fill="tonexty",
    )
    fig.update_yaxes(title="USD")
    return fig


def bill_vs_estimate_bar(periods: pl.DataFrame) -> go.Figure:
    """Per billing period: what the bill charged beside what the stored builds imply
    (ciwb.bill.Reconciliation.periods)."""
    title = "Billed vs estimated from builds, per month (USD)"
    if periods.is_empty():
        return _empty(title, "no billing data: run `ciwb bill import` or `ciwb bill fetch`")
    months = [f"{p:%Y-%m}" for p in periods["billing_period"]]
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group"})
    fig.add_bar(name="bill", x=months, y=periods["bill_cost"].to_list())
    fig.add_bar(name="estimate (builds × bill rate)", x=months, y=periods["estimate"].to_list())
    if "estimate_list" in periods.columns:
        fig.add_bar(
            name="estimate at list prices (builds with a list price only)",
            x=months,
            y=periods["estimate_list"].to_list(),
        )
    fig.update_yaxes(title="USD")
    return fig
