"""Write the report notebooks (run: `python notebooks/generate.py`).

The notebooks are generated so they stay clean: no outputs, no execution counts, one cell
tagged `parameters`, and nothing but calls into `ciwb` in their code cells. Edit here,
regenerate, commit both.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMETERS = '''\
db = None  # DuckDB store; None: $CIWB_DB, else data/demo.duckdb
since = None  # first day included, e.g. "2026-01-01"; None: all history
until = None  # first day excluded; None: up to the newest build
projects = None  # list of project names; None: every project
region = None  # e.g. "us-east-1"; None: every region'''

SETUP = '''\
from ciwb import analytics, cost
from ciwb.report import charts, notebook

db, sel = notebook.setup(db, since=since, until=until, projects=projects, region=region)'''


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip())


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip())


FINDINGS = """
## Findings
What this report found, ranked: money first (per month, as a lower–upper range), then how
strong the evidence is. Each says what to do next; the sections below hold the evidence.
"""


def notebook(
    name: str, title: str, intro: str, cells: list, extra_parameters: str = ""
) -> nbformat.NotebookNode:
    parameters = new_code_cell(PARAMETERS + ("\n" + extra_parameters if extra_parameters else ""))
    parameters.metadata["tags"] = ["parameters"]
    findings = [md(FINDINGS), code(f"notebook.show_findings({name!r}, db, sel)")]
    nb = new_notebook(
        cells=[md(f"# {title}\n\n{intro.strip()}"), parameters, code(SETUP), *findings, *cells],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    return nb


EXPLORE = notebook(
    "explore",
    "Explore the build history",
    """
A first look at a CodeBuild history: which projects build most, how long they take,
where the time goes and why builds fail. Start here, then open the focused reports.
Set the parameters below (or pass `--param` to `ciwb report explore`).
""",
    [
        md("""
## Projects
One row per project: builds, success rate, median (p50) and p95 duration of successful
builds, total build hours, and the compute type, architecture and cache it mostly runs on.
**What to do:** the projects with the most build hours are where any saving counts most.
"""),
        code("notebook.table(notebook.cached(analytics.projects_overview, db, sel), sort=('build_hours', True))"),
        md("""
## Where the time goes
Each bar is one project's wall time, split by phase. QUEUED and PROVISIONING are time spent
waiting for CodeBuild; DOWNLOAD_SOURCE and INSTALL are what caching can shorten; BUILD is
your own work. **What to do:** a wide INSTALL or DOWNLOAD_SOURCE slice is a caching
candidate (see *cache_tuning*); a wide QUEUED slice means too little capacity.
"""),
        code("charts.phase_share_bar(notebook.cached(analytics.phase_breakdown, db, sel))"),
        md("""
## Weekly trend
Median build time per week for each project (p95 is in the legend, hidden by default).
**What to do:** a rising line is a regression worth bisecting; the *bottleneck_report*
dates each change for you.
"""),
        code("charts.trend_lines(notebook.cached(analytics.duration_trends, db, sel, period='week'))"),
        md("""
## Why builds fail
Failed builds split into *code* (a command or buildspec failed), *platform* (CodeBuild,
source provider or infrastructure: provisioning faults, disk full, throttling), *timeout*
and *stopped*. **What to do:** platform failures are retried-away money; raise them with
the platform team, not the developers.
"""),
        code("charts.failure_causes_bar(notebook.cached(analytics.failure_causes, db, sel))"),
    ],
)

BOTTLENECK = notebook(
    "bottleneck_report",
    "Bottlenecks: where build time goes and what slowed down",
    """
Percentiles per phase (CloudWatch only offers averages), queueing, regressions with the
date they started, failures by cause, the slowest commands and the critical path of batch
builds.
""",
    [
        md("""
## Phase percentiles
p50/p90/p95/p99 seconds of every phase per project, for successful builds, and each phase's
share of wall time. **What to do:** a phase whose p95 is far above its p50 has a long tail;
look at what the slow builds have in common before optimising the median.
"""),
        code("""
breakdown = notebook.cached(analytics.phase_breakdown, db, sel)
charts.phase_share_bar(breakdown)
"""),
        code("charts.phase_percentiles_bar(breakdown)"),
        code("notebook.table(breakdown, sort=('total_s', True))"),
        md("""
## Waiting for CodeBuild
Seconds in QUEUED and PROVISIONING, which no buildspec change can shorten.
**What to do:** long queues point at the account's concurrent-build limit or a too-small
reserved fleet; long provisioning at large custom images (use a curated image or a fleet).
"""),
        code("charts.waiting_bar(breakdown)"),
        md("""
## Regressions
Daily median duration per project; each × marks a change point that is unlikely to be
noise (permutation test on daily medians) and at least 10% in size. The table gives the
first day of the new level, the size and the confidence.
**What to do:** look at what merged on the change date in that project.
"""),
        code("""
regressions = notebook.cached(analytics.duration_regressions, db, sel)
charts.trend_lines(notebook.cached(analytics.duration_trends, db, sel, period='day'), regressions)
"""),
        code("notebook.table(regressions, columns=['project_name', 'change_date', 'direction', 'before_s', 'after_s', 'change_pct', 'confidence'])"),
        md("""
## Failures
Failure rate by failing phase and context code, then the commands that fail most.
**What to do:** a command that fails often in many projects is a shared script or tool to fix
once.
"""),
        code("charts.failure_causes_bar(notebook.cached(analytics.failure_causes, db, sel))"),
        code("notebook.table(notebook.cached(analytics.failure_rates, db, sel), sort=('failures', True))"),
        code("notebook.table(notebook.cached(analytics.failing_commands, db, sel))"),
        md("""
## Flaky tests
Tests that both passed and failed on the same source version (pass-on-retry) on at least
two versions, with at least 10 runs in the last 30 days of test reports, ranked by the
builds they failed. *Flip rate* is how often the outcome changed between consecutive runs.
**What to do:** quarantine or fix the top ones: each failed build they caused was a retry
someone waited for.
"""),
        code("""
flaky = notebook.cached(analytics.flaky_tests, db, sel)
charts.flaky_tests_bar(flaky)
"""),
        code("notebook.table(flaky, columns=['project_name', 'suite', 'test_name', 'runs', 'failures', 'builds_failed', 'pass_on_retry_versions', 'failure_rate', 'flip_rate'])"),
        md("""
## Command hotspots
The commands that take the most time in total across all builds (from build logs or
replays). **What to do:** the top few usually dominate; cache their inputs or split them.
"""),
        code("""
hotspots = notebook.cached(analytics.command_hotspots, db, sel)
charts.hotspots_bar(hotspots)
"""),
        md("""
## Critical path of batch builds
The chart shows the latest batch that ran its whole graph: each bar is a child build, red ones form the critical
path (the chain the batch actually waited for). The table ranks children by how often they
were on the critical path and their *exclusive* time (seconds when nothing else ran).
**What to do:** speed up the children with high critical share and exclusive time first;
speeding up the others does not shorten the batch.
"""),
        code("""
paths = notebook.cached(analytics.batch_critical_paths, db, sel)
charts.batch_timeline(paths)
"""),
        code("notebook.table(analytics.summarise_critical_paths(paths))"),
    ],
)

CACHE = notebook(
    "cache_tuning",
    "Cache tuning",
    """
CodeBuild does not record cache hits. This report infers them: in a cache-enabled project,
DOWNLOAD_SOURCE + INSTALL time is bimodal — short when the cache was restored, long when
not — and each build is put on one side of the gap.
""",
    [
        md("""
## Hit rate by idle time
Hit rate against the minutes since the project's previous build ended. CodeBuild's LOCAL
cache lives on the build host and is dropped after a short idle period, so the rate falls
off a cliff past it. **What to do:** if most builds arrive after the cliff, the LOCAL cache
rarely helps: switch to an S3 cache, or keep the host warm with a scheduled build.
"""),
        code("charts.hit_rate_by_gap_lines(notebook.cached(analytics.cache_hit_rate_by_gap, db, sel))"),
        md("""
## Estimated idle expiry per project
The idle gap that best separates hits from misses, with the hit rate either side.
A *cliff* near 100 % means an expiry, near 0 means idle time does not matter for this cache.
"""),
        code("notebook.table(notebook.cached(analytics.cache_idle_expiry, db, sel))"),
        md("""
## Measured warm vs cold
From replay experiments (`ciwb replay experiment --cache none,local`): median seconds of
cold and warm runs per matrix cell. Emulated runs are flagged and are not native timings.
Empty until an experiment has been run.
"""),
        code("notebook.table(analytics.cache_warm_vs_cold(db))"),
        md("""
## What the cache is worth
Warm and cold INSTALL seconds, the hit rate and the monthly value of the cache per project,
with a bootstrap interval. **What to do:** a cache worth little at a low hit rate is worth
more if the hit rate rises (S3 cache, fewer idle gaps); a cache worth nothing can go.
"""),
        code("notebook.show_whatif(notebook.whatif('cache', db, sel))"),
        md("""
## Restore phases in cache-enabled projects
Percentiles of DOWNLOAD_SOURCE and INSTALL: the p50 close to the hit time and a far higher
p95 is the signature of a cache that often misses.
"""),
        code("notebook.table(notebook.cached(analytics.phase_breakdown, db, sel), sort=('total_s', True))"),
    ],
)

GRAVITON = notebook(
    "graviton_vs_x86",
    "Graviton (arm64) vs x86_64",
    """
Would arm64 be faster or cheaper for *these* builds? This report compares observed build
times per project, architecture and compute size. Observed history is weaker evidence than
paired replays (`ciwb replay experiment --arch amd64,arm64`): the two architectures may have
built different commits.
""",
    [
        md("""
## Observed build time by architecture
Median successful build seconds per project and compute size, arm64 beside x86_64.
*Median vs x86* below 1 means arm64 builds faster on the same size.
**What to do:** projects already fast on arm64 are safe candidates to switch; arm prices
per minute are lower for the same size.
"""),
        code("""
comparison = notebook.cached(analytics.arch_comparison, db, sel)
charts.arch_bar(comparison)
"""),
        code("notebook.table(comparison)"),
        md("""
## What switching would save
Per project: the arm64 speed factor with its 95% interval (from paired replays when they
exist, else from the project's own history around a switch), the factor at which arm64
breaks even on price, and the monthly saving range. *Unknown* means there is no paired
evidence for that project: run `ciwb replay experiment --arch amd64,arm64` on it.
**What to do:** switch projects whose whole interval is below the break-even factor.
"""),
        code("notebook.show_whatif(notebook.whatif('arm64', db, sel))"),
    ],
)

COST = notebook(
    "cost_report",
    "Cost report",
    """
What the builds cost, per project, month and phase, and what would change it. Prices come
from ciwb's dated, sourced price table (`ciwb pricing refresh` updates it); where AWS does
not say how something is billed (is queue time billed?) every figure is a lower and an
upper bound, and a build without a known price is *unpriced*, never free. Like every
report, it covers the builds the parameters select (`region` included).
""",
    [
        md("""
## Cost by project
Bars reach the lower bound; the whisker reaches the upper bound. The text lists what could
not be priced and the billing assumptions behind the numbers.
**What to do:** the top projects are where right-sizing, arm64 and caching pay most.
"""),
        code("""
costs = notebook.cached(cost.cost_summary, db, sel, by='project')
notebook.show_cost_summary(costs)
charts.cost_bar(costs.table)
"""),
        code("notebook.table(costs.table, sort=('cost_upper', True), missing={'cost_lower': 'unpriced', 'cost_upper': 'unpriced'})"),
        md("""
## Cost per month
Cost per day, averaged over each month, so a month the window covers only in part (drawn
hollow; hover for its days) is not a drop or a rise that is only the calendar.
**What to do:** a month that jumps without more builds points at a compute-type change or a
regression (see *bottleneck_report*).
"""),
        code("notebook.cost_over_time(db, sel)"),
        md("""
## Cost by phase
Each build's cost shared out over its phases in proportion to their time. The lower bound
counts nothing before PROVISIONING. **What to do:** money in INSTALL and DOWNLOAD_SOURCE is
what a cache can save; money in QUEUED only exists if queue time is billed.
"""),
        code("notebook.table(notebook.cached(cost.phase_cost_shares, db, sel), sort=('cost_upper', True))"),
        md("""
## Right-sizing
Per project: p95 CPU and memory use, the smallest compute type that holds it with headroom,
the finding and the monthly saving. **What to do:** move OVER_PROVISIONED projects to the
recommended type; UNDER_PROVISIONED ones are slow for want of memory or CPU.
"""),
        code("notebook.show_whatif(notebook.whatif('rightsize', db, sel))"),
        md("""
## Lambda compute
Builds short enough, unprivileged and small enough in memory to run on Lambda compute
(billed per second, no provisioning wait). **What to do:** try the eligible projects with
the suggested Lambda size; durations may change because Lambda CPUs differ.
"""),
        code("notebook.show_whatif(notebook.whatif('lambda', db, sel))"),
        md("""
## Reserved capacity
For each compute type, what a reserved fleet of N instances would carry and the hourly
rate at which it breaks even against on-demand. **What to do:** compare the *break-even fleet rate*
with the fleet price for your region; below it, a fleet is cheaper.
"""),
        code("notebook.show_whatif(notebook.whatif('reserved', db, sel))"),
        md("""
## Time that is not building
Queue and provisioning seconds per project. Whether queued time is billed is not documented
(hence the lower and upper bounds above); provisioning is billed.
"""),
        code("charts.waiting_bar(notebook.cached(analytics.phase_breakdown, db, sel))"),
    ],
)

RECONCILIATION = notebook(
    "reconciliation",
    "Reconciliation: the estimate against the bill",
    """
Every other cost in ciwb is builds × prices. This report lines the imported bill (CUR 2.0 /
Data Exports, legacy CUR or Cost Explorer: `ciwb bill import` / `ciwb bill fetch`) up with
the stored builds per account, region, usage type and month: how much of the bill the builds
explain, why the rest is not explained, and the rates you really pay. Findings first.
The reconciliation covers every imported billing period and every stored build in them; the
selection parameters apply to the cost summary at the end.
""",
    [
        md("""
## Estimated vs billed, per month
`bill_cost` is what the bill charged (after discounts and credits); `estimate` is what the
stored builds imply at the bill's own rate; `coverage` is the share of the bill's usage cost
the builds explain. An open period is still being billed.
"""),
        code("rec = bill.reconcile(db, by='month', missing_ok=True)\nnotebook.table(rec.summary_table())"),
        code("charts.bill_vs_estimate_bar(rec.periods)"),
        md("""
## The residual, explained
The difference between bill and estimate, split into what explains it: the free tier,
discount and credit line items, other charges, reserved fleets' standing charges, usage in
accounts, regions or usage types the store does not have, per-build rounding, and what
nothing explains. The rows sum to `bill_cost − estimate`.
**What to do:** a large *not_in_store* means collecting more; a large *fleet_standing*
means idle fleets; a large *unexplained* needs the day view (`ciwb bill reconcile --by day`).
"""),
        code("notebook.table(rec.residual_table())"),
        code("notebook.table(rec.not_in_store)"),
        md("""
## Per project
Where the export carries resource ids (the project ARN) or a project tag, billed and implied
units per project and month. A project billed with no stored builds was never collected.
"""),
        code("notebook.table(rec.projects)"),
        md("""
## Effective vs list rates
The rate per usage type and month learned from the bill (cost ÷ charged units, discounts
included) beside the list price. These rates are the price source *bill*: with
`--prices bill` (the default) every cost output uses them, and builds in regions with no list
price get one.
"""),
        code("notebook.table(rec.rates)"),
        code("notebook.show_cost_summary(notebook.cached(cost.cost_summary, db, sel, by='month'))"),
    ],
)
SETUP_BILL = "from ciwb import bill"
RECONCILIATION.cells.insert(3, code(SETUP_BILL))

NOTEBOOKS = {
    "explore": EXPLORE,
    "bottleneck_report": BOTTLENECK,
    "cache_tuning": CACHE,
    "graviton_vs_x86": GRAVITON,
    "cost_report": COST,
    "reconciliation": RECONCILIATION,
}


def main() -> None:
    for name, nb in NOTEBOOKS.items():
        for i, cell in enumerate(nb.cells):
            cell.id = f"{name[:40]}-{i}"  # stable ids: regenerating gives no diff
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print(f"wrote notebooks/{name}.ipynb")


if __name__ == "__main__":
    main()
