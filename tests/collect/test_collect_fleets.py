"""A live collect reads the region's fleets in the same run and ledger as projects and builds.

moto 5.2.5 implements no fleet operation; the seeded server answers ListFleets and
BatchGetFleets from records in boto3's shape (support/seeded_codebuild.py).
"""

from __future__ import annotations

import json

from ciwb.collect import CollectOptions, collect
from support.aws import REGION
from support.collect_history import history
from support.fleet_records import fleet
from support.queries import query as _q


def test_collect_stores_fleets_and_counts_them_in_the_ledger(codebuild_server, db_path):
    projects, builds = history(200)
    codebuild_server.seed(projects, builds)
    account = projects[0]["arn"].split(":")[4]
    record = fleet("ci-shared", capacity=3)
    record["arn"] = record["arn"].replace("111122223333", account)
    codebuild_server.add_fleet(record)

    options = CollectOptions(
        regions=[REGION], db=db_path, batches=False, reports=False, metrics=False
    )
    first = collect(options)
    assert first.exit_code == 0
    assert _q(db_path, "SELECT name, account_id, base_capacity, overflow_behavior FROM fleets") == [
        ("ci-shared", account, 3, "ON_DEMAND")
    ]
    ((rows_written, api_calls),) = _q(
        db_path,
        "SELECT rows_written, api_calls FROM collect_runs WHERE run_id = ?",
        first.run_id,
    )
    assert json.loads(rows_written)["fleets"] == 1
    assert json.loads(api_calls)["codebuild.ListFleets"] == 1
    # The next run re-reads the fleet's current state in place.
    codebuild_server.fleets[record["arn"]] = {**record, "baseCapacity": 5}
    assert collect(options).exit_code == 0
    assert _q(db_path, "SELECT base_capacity FROM fleets") == [(5,)]
