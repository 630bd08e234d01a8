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

# One template for every chart of every report: the same font, palette, margins and hover.
# The same phase has the same colour everywhere (`PHASE_COLOURS`), and no chart draws more
# than `MAX_SERIES` series: the rest are grouped as "other".
MAX_SERIES = 12
PALETTE = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#79706e",
    "#1f77b4",
    "#2ca02c",
]
OTHER_COLOUR = "#bab0ac"
PHASE_COLOURS = {
    "SUBMITTED": "#d3d3d3",
    "QUEUED": "#e45756",
    "PROVISIONING": "#ff9da6",
    "DOWNLOAD_SOURCE": "#72b7b2",
    "INSTALL": "#f58518",
    "PRE_BUILD": "#eeca3b",
    "BUILD": "#4c78a8",
    "POST_BUILD": "#54a24b",
    "UPLOAD_ARTIFACTS": "#b279a2",
    "FINALIZING": "#9d755d",
    "COMPLETED": "#79706e",
}
CAUSE_COLOURS = {
    "code": "#4c78a8",
    "platform": "#e45756",
    "timeout": "#f58518",
    "stopped": "#bab0ac",
    "unknown": "#79706e",
}
ARCH_COLOURS = {"x86_64": "#4c78a8", "arm64": "#f58518"}

pio.templates["ciwb"] = go.layout.Template(
    layout={
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
        "title": {"font": {"size": 16}, "x": 0, "xanchor": "left"},
        "colorway": PALETTE,
        "hoverlabel": {"font": {"size": 12}},
        "legend": {"title": {"text": ""}},
        "separators": ".,",
    }
)
_LAYOUT = {
    "template": "plotly_white+ciwb",
    "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
    "autosize": True,
}


def setup(max_rows: int = 25) -> None:
    """Notebook defaults: plotly as JSON mimetype, compact polars tables."""
    pio.renderers.default = "plotly_mimetype"
    pio.templates.default = "plotly_white+ciwb"
    pl.Config.set_tbl_rows(max_rows)
    pl.Config.set_fmt_str_lengths(80)
    pl.Config.set_tbl_width_chars(160)


def _empty(title: str, message: str = "no data in this selection") -> go.Figure:
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False, title="no data")
    fig.update_yaxes(visible=False, title="no data")
    return fig


def phase_colour(phase: str) -> str:
    return PHASE_COLOURS.get(phase, OTHER_COLOUR)


def phase_share_bar(breakdown: pl.DataFrame) -> go.Figure:
    """Stacked share of wall time per project, one colour per phase (the same in every report)."""
    title = "Share of wall time by phase (% of each project's build time)"
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
            marker={"color": phase_colour(phase)},
            hovertemplate=f"%{{y}} · {phase}: %{{x:.1%}} of wall time<extra></extra>",
        )
    fig.update_xaxes(tickformat=".0%", title="share of wall time")
    fig.update_yaxes(title="project")
    return fig


def phase_percentiles_bar(breakdown: pl.DataFrame, project: str | None = None) -> go.Figure:
    """p50, p90, p95 and p99 seconds per phase (of one project, or the busiest)."""
    if breakdown.is_empty():
        return _empty("Phase duration percentiles (seconds)")
    if project is None:
        busiest = breakdown.group_by("project_name").agg(pl.col("builds").max())
        project = busiest.sort(["builds", "project_name"], descending=[True, False])[
            "project_name"
        ][0]
    part = breakdown.filter(pl.col("project_name") == project)
    fig = go.Figure(layout={**_LAYOUT, "title": f"Phase duration percentiles, seconds — {project}"})
    for column, colour in zip(
        ("p50_s", "p90_s", "p95_s", "p99_s"),
        ("#4c78a8", "#72b7b2", "#f58518", "#e45756"),
        strict=True,
    ):
        label = column.removesuffix("_s")
        fig.add_bar(
            name=label,
            x=part["phase_type"].to_list(),
            y=part[column].to_list(),
            marker={"color": colour},
            hovertemplate=f"%{{x}} {label}: %{{y:,.1f}} s<extra></extra>",
        )
    fig.update_yaxes(title="seconds")
    fig.update_xaxes(title="phase")
    return fig


def trend_lines(
    trends: pl.DataFrame, regressions: pl.DataFrame | None = None, top: int = MAX_SERIES
) -> go.Figure:
    """p50 (solid) and p95 (dotted) per project over time; detected changes as markers.

    At most `top` projects are drawn (those with a detected change first, then the
    busiest): more lines than that is unreadable. The title says when some are left out.
    """
    title = "Build duration over time (median seconds)"
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
    colours = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(sorted(shown))}
    for (project,), part in trends.group_by("project_name", maintain_order=True):
        x = part["period_start"].to_list()
        fig.add_scatter(
            x=x,
            y=part["p50_s"].to_list(),
            name=f"{project} p50",
            mode="lines",
            legendgroup=project,
            line={"color": colours[project]},
            hovertemplate=f"{project} p50 %{{x|%Y-%m-%d}}: %{{y:,.0f}} s<extra></extra>",
        )
        fig.add_scatter(
            x=x,
            y=part["p95_s"].to_list(),
            name=f"{project} p95",
            mode="lines",
            line={"dash": "dot", "color": colours[project]},
            legendgroup=project,
            visible="legendonly",
            hovertemplate=f"{project} p95 %{{x|%Y-%m-%d}}: %{{y:,.0f}} s<extra></extra>",
        )
    if regressions is not None and not regressions.is_empty():
        fig.add_scatter(
            x=regressions["change_date"].to_list(),
            y=regressions["after_s"].to_list(),
            mode="markers",
            marker={"symbol": "x", "size": 12, "color": "black"},
            name="detected change",
            text=[
                f"{r['project_name']}: {r['change_pct']:+.0f} % from {r['change_date']} "
                f"({r['confidence']:.1%} confidence)"
                for r in regressions.iter_rows(named=True)
            ],
            hovertemplate="%{text}<extra></extra>",
        )
    fig.update_yaxes(title="seconds")
    fig.update_xaxes(title="date")
    return fig


def failure_causes_bar(causes: pl.DataFrame) -> go.Figure:
    """Failed builds per project, split into code / platform / timeout / stopped / unknown."""
    title = "Why builds failed (failed builds per project)"
    if causes.is_empty():
        return _empty(title, "no failed builds in this selection")
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "stack"})
    for (cause,), part in causes.group_by("cause", maintain_order=True):
        fig.add_bar(
            name=cause,
            x=part["project_name"].to_list(),
            y=part["failures"].to_list(),
            marker={"color": CAUSE_COLOURS.get(cause, OTHER_COLOUR)},
            hovertemplate=f"%{{x}} · {cause}: %{{y:,}} failed builds<extra></extra>",
        )
    fig.update_yaxes(title="failed builds")
    fig.update_xaxes(title="project")
    return fig


def flaky_tests_bar(flaky: pl.DataFrame, top: int = 15) -> go.Figure:
    """The flakiest tests by builds they failed."""
    title = "Flaky tests by builds they failed (builds)"
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
        marker={"color": PALETTE[3]},
        hovertemplate="%{y}: %{x:,} builds failed (%{text})<extra></extra>",
    )
    fig.update_xaxes(title="builds failed")
    fig.update_yaxes(title="test", automargin=True)
    return fig


def hit_rate_by_gap_lines(by_gap: pl.DataFrame) -> go.Figure:
    """Cache hit rate against minutes since the project's previous build."""
    title = "Cache hit rate by idle time before the build (% of builds)"
    if by_gap.is_empty():
        return _empty(title, "no cache-enabled projects with a bimodal restore time")
    projects = by_gap["project_name"].unique(maintain_order=True).to_list()
    if len(projects) > MAX_SERIES:  # more lines than that is unreadable: say so
        by_gap = by_gap.filter(pl.col("project_name").is_in(projects[:MAX_SERIES]))
        title += f" — {MAX_SERIES} of {len(projects)} projects"
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    for (project,), part in by_gap.group_by("project_name", maintain_order=True):
        fig.add_scatter(
            x=part["gap"].to_list(),
            y=part["hit_rate"].to_list(),
            mode="lines+markers",
            name=project,
            hovertemplate=f"{project}, %{{x}} min idle: %{{y:.1%}} hits<extra></extra>",
        )
    fig.update_yaxes(tickformat=".0%", title="hit rate", range=[0, 1.05])
    fig.update_xaxes(title="minutes since the previous build ended", type="category")
    return fig


def batch_timeline(paths: pl.DataFrame, batch_arn: str | None = None) -> go.Figure:
    """Gantt of one batch's child builds; critical path in red.

    By default the latest of the batches that ran their whole graph (the most children).
    """
    title = "Batch build timeline (seconds since the batch started)"
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
        marker={"color": ["#e45756" if c else "#8c8c8c" for c in part["on_critical_path"]]},
        text=[f"exclusive {s:.0f} s" for s in part["exclusive_s"]],
        name="child build",
        hovertemplate="%{y}: %{x:,.0f} s (%{text})<extra></extra>",
    )
    fig.update_xaxes(title="seconds since the batch started")
    fig.update_yaxes(title="child build")
    return fig


def hotspots_bar(hotspots: pl.DataFrame, top: int = 15) -> go.Figure:
    """Commands by total seconds across all builds."""
    title = "Slowest commands by total time (hours)"
    if hotspots.is_empty():
        return _empty(title, "no per-command timings (collect with --logs, or replay)")
    part = hotspots.head(top).reverse()
    labels = [f"{r['project_name']}: {r['command'][:60]}" for r in part.iter_rows(named=True)]
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_bar(
        y=labels,
        x=[s / 3600 for s in part["total_s"]],
        orientation="h",
        name="hours",
        marker={"color": PALETTE[0]},
        hovertemplate="%{y}: %{x:,.1f} h<extra></extra>",
    )
    fig.update_xaxes(title="total hours")
    fig.update_yaxes(title="command", automargin=True)
    return fig


def waiting_bar(breakdown: pl.DataFrame) -> go.Figure:
    """Median and p95 seconds spent queued and provisioning, per project."""
    title = "Waiting for CodeBuild: queue and provisioning (seconds)"
    waiting = breakdown.filter(pl.col("waiting") & (pl.col("phase_type") != "SUBMITTED"))
    if waiting.is_empty():
        return _empty(title)
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group"})
    for (phase,), part in waiting.group_by("phase_type", maintain_order=True):
        for column, opacity in (("p50_s", 1.0), ("p95_s", 0.5)):
            label = f"{phase} {column.removesuffix('_s')}"
            fig.add_bar(
                name=label,
                x=part["project_name"].to_list(),
                y=part[column].to_list(),
                marker={"color": phase_colour(phase), "opacity": opacity},
                hovertemplate=f"%{{x}} · {label}: %{{y:,.1f}} s<extra></extra>",
            )
    fig.update_yaxes(title="seconds")
    fig.update_xaxes(title="project")
    return fig


def arch_bar(comparison: pl.DataFrame) -> go.Figure:
    """Median successful build seconds per project, arm64 beside x86_64."""
    title = "Median build time by architecture (seconds)"
    if comparison.is_empty():
        return _empty(title)
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group"})
    for (arch,), part in comparison.group_by("arch", maintain_order=True):
        labels = [f"{r['project_name']} ({r['size'].lower()})" for r in part.iter_rows(named=True)]
        fig.add_bar(
            name=arch,
            x=labels,
            y=part["p50_s"].to_list(),
            marker={"color": ARCH_COLOURS.get(arch, OTHER_COLOUR)},
            hovertemplate=f"%{{x}} on {arch}: %{{y:,.0f}} s median<extra></extra>",
        )
    fig.update_yaxes(title="median seconds (p50)")
    fig.update_xaxes(title="project (compute size)")
    return fig


def cost_bar(table: pl.DataFrame, key: str = "project_name", top: int = 20) -> go.Figure:
    """Cost per group as a bar to the lower bound, with the upper bound as an error bar."""
    what = key.removesuffix("_name").replace("_", " ")
    title = f"Cost by {what} (USD, bar to the lower bound, whisker to the upper)"
    if table.is_empty():
        return _empty(title)
    part = table.sort("cost_upper", descending=True, nulls_last=True).head(top).reverse()
    lower = part["cost_lower"].fill_null(0)
    fig = go.Figure(layout={**_LAYOUT, "title": title})
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
        customdata=part["cost_upper"].fill_null(0).to_list(),
        name="cost",
        marker={"color": PALETTE[0]},
        hovertemplate="%{y}: $%{x:,.2f} – $%{customdata:,.2f}<extra></extra>",
    )
    fig.update_xaxes(title="USD", tickprefix="$", separatethousands=True)
    fig.update_yaxes(title=what, automargin=True)
    return fig


def cost_over_time(table: pl.DataFrame, days: pl.DataFrame | None = None) -> go.Figure:
    """Cost per day, averaged per month (`cost_summary(by="month")`).

    A month the window covers only in part would look like a drop or a rise that is only the
    calendar, so each month's cost is divided by the days the window covers in it (`days`:
    month → days covered, from `ciwb.report.period.days_per_month`), and a partial month is
    drawn hollow and labelled with its days.
    """
    title = "Cost per day, by month (USD per day; partial months hollow)"
    if table.is_empty():
        return _empty(title)
    part = table.sort("month")
    covered = {}
    if days is not None:
        covered = {r["month"]: (r["days"], r["days_in_month"]) for r in days.to_dicts()}
    labels, per_day_low, per_day_high, symbols, notes = [], [], [], [], []
    for row in part.to_dicts():
        got, full = covered.get(row["month"], (None, None))
        n = got or 30.4375
        labels.append(f"{row['month']:%b %Y}")
        per_day_low.append((row["cost_lower"] or 0.0) / n)
        per_day_high.append((row["cost_upper"] or 0.0) / n)
        partial = got is not None and got < full
        symbols.append("circle-open" if partial else "circle")
        notes.append(f"partial: {got} of {full} days" if partial else "whole month")
    fig = go.Figure(layout={**_LAYOUT, "title": title})
    fig.add_scatter(
        x=labels,
        y=per_day_high,
        name="upper bound (queue billed)",
        mode="lines+markers",
        marker={"symbol": symbols, "size": 10, "color": PALETTE[1]},
        line={"color": PALETTE[1]},
        text=notes,
        hovertemplate="%{x}: $%{y:,.2f} per day (%{text})<extra>upper bound</extra>",
    )
    fig.add_scatter(
        x=labels,
        y=per_day_low,
        name="lower bound",
        mode="lines+markers",
        fill="tonexty",
        marker={"symbol": symbols, "size": 10, "color": PALETTE[0]},
        line={"color": PALETTE[0]},
        text=notes,
        hovertemplate="%{x}: $%{y:,.2f} per day (%{text})<extra>lower bound</extra>",
    )
    fig.update_yaxes(title="USD per day", tickprefix="$", rangemode="tozero")
    fig.update_xaxes(title="month")
    return fig


def bill_vs_estimate_bar(periods: pl.DataFrame) -> go.Figure:
    """Per billing period: what the bill charged beside what the stored builds imply
    (ciwb.bill.Reconciliation.periods)."""
    title = "Billed vs estimated from builds, per month (USD)"
    if periods.is_empty():
        return _empty(title, "no billing data: run `ciwb bill import` or `ciwb bill fetch`")
    months = [f"{p:%Y-%m}" for p in periods["billing_period"]]
    fig = go.Figure(layout={**_LAYOUT, "title": title, "barmode": "group"})
    hover = "%{x}: $%{y:,.2f}<extra>%{fullData.name}</extra>"
    fig.add_bar(name="bill", x=months, y=periods["bill_cost"].to_list(), hovertemplate=hover)
    fig.add_bar(
        name="estimate (builds × bill rate)",
        x=months,
        y=periods["estimate"].to_list(),
        hovertemplate=hover,
    )
    if "estimate_list" in periods.columns:
        fig.add_bar(
            name="estimate at list prices (builds with a list price only)",
            x=months,
            y=periods["estimate_list"].to_list(),
            hovertemplate=hover,
        )
    fig.update_yaxes(title="USD", tickprefix="$", separatethousands=True)
    fig.update_xaxes(title="billing month")
    return fig
