"""The reports benchmark's 1M-build store is built by replicating a demo history in SQL; a
schema change (derived columns since migration 10) once broke it without any test noticing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ciwb.store import connect

_SCRIPT = Path(__file__).parents[1] / "benchmarks" / "reports.py"


def _reports_benchmark():
    # benchmarks/ is not a package: its scripts import each other by name
    sys.path.insert(0, str(_SCRIPT.parent))
    try:
        spec = importlib.util.spec_from_file_location("bench_reports", _SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(_SCRIPT.parent))


def test_replicated_store_holds_every_copy_with_ids_following_arns(tmp_path: Path) -> None:
    db = tmp_path / "big.duckdb"
    n = _reports_benchmark().build_store(db, base=300, copies=3)
    with connect(db, read_only=True) as con:
        base_builds = con.execute(
            "SELECT count(*) FROM builds WHERE build_arn NOT LIKE '%#%'"
        ).fetchone()[0]
        assert n == 3 * base_builds
        # every copy's build id and log stream follow its own ARN (derived, not copied)
        wrong = con.execute(
            "SELECT count(*) FROM builds WHERE build_arn LIKE '%#%' "
            "AND NOT ends_with(build_arn, build_id)"
        ).fetchone()[0]
        assert wrong == 0
        phases = con.execute(
            "SELECT count(*) FILTER (WHERE build_arn LIKE '%#%'), count(*) FROM build_phases"
        ).fetchone()
        assert phases[1] == 3 * (phases[1] - phases[0]) > 0
        projects = con.execute("SELECT count(DISTINCT project_name) FROM builds").fetchone()[0]
        base_projects = con.execute(
            "SELECT count(DISTINCT project_name) FROM builds WHERE build_arn NOT LIKE '%#%'"
        ).fetchone()[0]
        assert projects == 3 * base_projects
