"""Pure functions over the store that answer "where does build time go, and why".

Each takes a DB path (opened read-only for the call) or an open DuckDB connection and an
optional `ciwb.store.Selection` (which builds: since, until, projects, region), computes in
DuckDB SQL, and returns a polars DataFrame (`.to_pandas()` for pandas).
"""

from ciwb.analytics.cache import (
    cache_builds,
    cache_hit_rate_by_gap,
    cache_idle_expiry,
    cache_warm_vs_cold,
)
from ciwb.analytics.critical_path import (
    batch_critical_paths,
    critical_path_summary,
    summarise_critical_paths,
)
from ciwb.analytics.failures import (
    classify_failures,
    failing_commands,
    failure_causes,
    failure_rates,
)
from ciwb.analytics.flaky import flaky_tests
from ciwb.analytics.hotspots import command_hotspots
from ciwb.analytics.overview import arch_comparison, projects_overview
from ciwb.analytics.phase_time import phase_breakdown
from ciwb.analytics.trends import duration_regressions, duration_trends

__all__ = [
    "arch_comparison",
    "batch_critical_paths",
    "cache_builds",
    "cache_hit_rate_by_gap",
    "cache_idle_expiry",
    "cache_warm_vs_cold",
    "classify_failures",
    "command_hotspots",
    "critical_path_summary",
    "duration_regressions",
    "duration_trends",
    "failing_commands",
    "failure_causes",
    "failure_rates",
    "flaky_tests",
    "phase_breakdown",
    "projects_overview",
    "summarise_critical_paths",
]
