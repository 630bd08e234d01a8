"""`ciwb import` of `aws codebuild batch-get-fleets` output, then `ciwb cost fleets`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from ciwb.codebuild.normalise import NormalisedBatch
from ciwb.store import connect
from ciwb.store.writes import write_batch
from support.fleet_records import T0, build, fleet


def ciwb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ciwb", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_import_fleets_then_cost_fleets(tmp_path):
    db = tmp_path / "ciwb.duckdb"
    batch = NormalisedBatch()
    for i in range(6):
        batch.add_build(
            build("svc", i + 1, T0 + timedelta(hours=i), run_s=3601, fleet="shared"), origin="aws"
        )
    # a build on another project, ten hours on, sets the store's horizon
    batch.add_build(build("other", 1, T0 + timedelta(hours=10), run_s=1), origin="aws")
    with connect(db) as con:
        write_batch(con, batch)
    cli_output = tmp_path / "batch-get-fleets.json"
    cli_output.write_text(
        json.dumps({"fleets": [fleet(capacity=2, overflow="QUEUE")]}, default=str)
    )
    imported = ciwb("import", str(cli_output), "--db", str(db))
    assert imported.returncode == 0, imported.stderr
    result = ciwb("cost", "fleets", "--db", str(db), "--fleet-rate", "0.01", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["fleets"]
    assert row["fleet"] == "shared" and row["base_capacity"] == 2
    assert row["busy_instance_h"] == 6.0
    # the window ends at the store's newest build end: 10 h and 12 s after the fleet's creation
    assert row["provisioned_instance_h"] == pytest.approx(20.0, abs=0.01)
    assert row["utilisation"] == pytest.approx(0.30, abs=0.001)
