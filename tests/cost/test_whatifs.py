"""What-ifs on small hand-built stores: each figure checked against a hand computation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from ciwb.cli import app
from ciwb.cost.whatif import run_whatif
from ciwb.errors import CiwbError
from ciwb.store import connect
from support.builds import T0, build_record
from support.stores import write_store


def row(table, project):
    rows = table.filter(table["project_name"] == project)
    assert rows.height == 1, project
    return rows.row(0, named=True)


def hourly(project, n, first=0, **kwargs):
    return [
        build_record(project, i, start=T0 + timedelta(hours=i), **kwargs)
        for i in range(first, first + n)
    ]


def add_experiment(db, project, runs):
    """Rows as `ciwb replay experiment` records them: (arch, cache, temperature, emulated, s)."""
    with connect(db) as con:
        con.execute(
            "INSERT INTO experiments (experiment_id, created_at, source_dir, matrix, repeat)"
            " VALUES (?, ?, ?, ?, ?)",
            [f"e-{project}", datetime(2025, 3, 1), f"/src/{project}", json.dumps({}), 3],
        )
        for i, (arch, cache, temperature, emulated, seconds) in enumerate(runs):
            con.execute(
                "INSERT INTO experiment_runs (run_id, experiment_id, cell, arch, compute, cache,"
                " repetition, temperature, emulated, status, total_s)"
                " VALUES (?, ?, ?, ?, 'medium', ?, ?, ?, ?, 'SUCCEEDED', ?)",
                [
                    f"{project}-{i}",
                    f"e-{project}",
                    f"{arch}/{cache}/{temperature}",
                    arch,
                    cache,
                    i,
                    temperature,
                    emulated,
                    seconds,
                ],
            )


@pytest.fixture
def arm_store(db_path):
    rng = np.random.default_rng(1)
    medium = {"compute_type": "BUILD_GENERAL1_MEDIUM"}
    builds = [
        build_record(
            "switched",
            i,
            start=T0 + timedelta(hours=i),
            **medium,
            phases={"PROVISIONING": 20, "BUILD": 300 * rng.lognormal(0, 0.1)},
        )
        for i in range(40)
    ] + [
        build_record(
            "switched",
            i,
            start=T0 + timedelta(hours=i),
            **medium,
            environment_type="ARM_CONTAINER",
            phases={"PROVISIONING": 20, "BUILD": 0.7 * 300 * rng.lognormal(0, 0.1)},
        )
        for i in range(40, 80)
    ]
    builds += hourly("plain", 30, phases={"BUILD": 200})
    builds += hourly("measured", 30, phases={"BUILD": 200}, **medium)
    write_store(db_path, builds)
    add_experiment(
        db_path,
        "measured",
        [("amd64", "none", "cold", False, 100.0 + i) for i in range(3)]
        + [("arm64", "none", "cold", False, 80.0 + i) for i in range(3)]
        # emulated arm is far slower and must not move the factor
        + [("arm64", "none", "cold", True, 900.0 + i) for i in range(3)],
    )
    return db_path


def test_arm64_factor_from_history_switch_holds_the_true_factor(arm_store):
    result = run_whatif("arm64", arm_store)
    sw = row(result.table, "switched")
    assert sw["evidence"].startswith("history (BUILD_GENERAL1_MEDIUM; switch on")
    assert sw["factor_low"] < 0.7 < sw["factor_high"]
    assert sw["factor_high"] - sw["factor_low"] < 0.15
    # shapes shown: medium is 4 vCPU / 7 GB on x86, 4 vCPU / 8 GB on arm
    assert (sw["x86_vcpu"], sw["x86_memory_gb"], sw["arm_vcpu"], sw["arm_memory_gb"]) == (
        4,
        7,
        4,
        8,
    )
    assert sw["saving_month_low"] > 0


def test_arm64_without_evidence_is_unknown_not_a_guess(arm_store):
    plain = row(run_whatif("arm64", arm_store).table, "plain")
    assert plain["evidence"].startswith("unknown")
    assert plain["speed_factor"] is None and plain["cost_arm_month_lower"] is None
    # but the break-even factor is a fact: $0.005 / $0.0034 per minute
    assert plain["break_even_factor"] == pytest.approx(0.005 / 0.0034)


def test_arm64_native_experiments_ignore_emulated_runs(arm_store):
    measured = row(run_whatif("arm64", arm_store).table, "measured")
    assert measured["evidence"].startswith("native experiments (1 matched cells, 6 runs; 3 emul")
    assert measured["speed_factor"] == pytest.approx(81 / 101, rel=1e-3)


def test_arm64_user_factor_is_costed_at_arm_prices(arm_store):
    plain = row(run_whatif("arm64", arm_store, factors={"plain": 0.5}).table, "plain")
    assert plain["evidence"].startswith("user-given")
    # x86: 200 s → 4 min × $0.005 = $0.02; arm: 100 s → 2 min × $0.0034 = $0.0068
    ratio = plain["cost_arm_month_lower"] / plain["cost_now_month_lower"]
    assert ratio == pytest.approx(0.0068 / 0.02)


@pytest.fixture
def metrics_store(db_path):
    builds, metrics = [], []
    for name, size, cpu, mem in [
        ("big", "LARGE", 15, 10),
        ("tight", "SMALL", 95, 50),
        ("busy", "SMALL", 84, 50),
        ("ok", "MEDIUM", 60, 40),
        ("few", "LARGE", 5, 5),
    ]:
        for record in hourly(
            name,
            3 if name == "few" else 10,
            phases={"BUILD": 600},
            compute_type=f"BUILD_GENERAL1_{size}",
        ):
            builds.append(record)
            metrics.append((record["arn"], "CPUUtilizedPercent", [cpu] * 4))
            metrics.append((record["arn"], "MemoryUtilizedPercent", [mem] * 4))
    return write_store(db_path, builds, metrics)


def test_rightsize_flags_over_and_under_provisioned(metrics_store):
    result = run_whatif("rightsize", metrics_store)
    big = row(result.table, "big")
    # 15% of 8 vCPU × 1.2 = 1.44 vCPU, 10% of 15 GB × 1.2 = 1.8 GB → small (2 vCPU, 3 GB)
    assert big["finding"] == "OVER_PROVISIONED"
    assert big["recommended_compute_type"] == "BUILD_GENERAL1_SMALL"
    assert big["required_vcpu"] == pytest.approx(1.44)
    # 10 min builds bill the same minutes at $0.005 instead of $0.02
    assert big["saving_month_lower"] == pytest.approx(big["cost_month_lower"] * 0.75)
    # the typical build runs small at 95% ≥ 85%: 95% of 2 vCPU × 1.2 = 2.28 vCPU → medium
    tight = row(result.table, "tight")
    assert tight["finding"] == "UNDER_PROVISIONED"
    assert tight["recommended_compute_type"] == "BUILD_GENERAL1_MEDIUM"
    assert tight["saving_month_lower"] == pytest.approx(-tight["cost_month_lower"])  # 2× price
    # 84% is busy, not saturated: kept, with a high performance risk
    busy = row(result.table, "busy")
    assert busy["finding"] == "OPTIMIZED" and busy["performance_risk"] == "HIGH"
    assert row(result.table, "ok")["finding"] == "OPTIMIZED"
    assert row(result.table, "ok")["saving_month_lower"] == 0
    assert row(result.table, "few")["finding"] == "INSUFFICIENT_DATA"


def test_rightsize_more_headroom_keeps_a_bigger_shape(metrics_store):
    table = run_whatif("rightsize", metrics_store, headroom=1.5).table
    # 15% of 8 × 2.5 = 3 vCPU → medium
    assert row(table, "big")["recommended_compute_type"] == "BUILD_GENERAL1_MEDIUM"


def test_cache_saving_from_bimodal_install_history(db_path):
    rng = np.random.default_rng(2)
    warm = rng.random(200) < 0.7
    builds = [
        build_record(
            "cached",
            i,
            start=T0 + timedelta(hours=i),
            cache_type="S3",
            phases={"INSTALL": (20 if warm[i] else 120) * rng.lognormal(0, 0.1), "BUILD": 200},
        )
        for i in range(200)
    ] + hourly("uncached", 200, phases={"INSTALL": 100, "BUILD": 200})
    write_store(db_path, builds)
    result = run_whatif("cache", db_path)
    cached = row(result.table, "cached")
    assert cached["hit_rate"] == pytest.approx(warm.mean())
    assert cached["delta_low_s"] < 100 < cached["delta_high_s"]
    assert cached["saving_month_low"] > 0
    # saving = hits/month × delta × effective price per billed second
    per_month = cached["builds_per_month"]
    assert cached["saving_month"] == pytest.approx(
        cached["hit_rate"] * per_month * cached["delta_s"] * (0.005 / 60), rel=0.15
    )
    assert row(result.table, "uncached")["evidence"].startswith("unknown")


def test_cache_saving_from_experiments(db_path):
    write_store(db_path, hourly("exp", 10, phases={"BUILD": 600}))
    add_experiment(
        db_path,
        "exp",
        [("amd64", "none", "cold", False, 300.0)] * 3
        + [("amd64", "local", "warm", False, 200.0)] * 3,
    )
    exp = row(run_whatif("cache", db_path).table, "exp")
    assert exp["delta_s"] == 100
    assert exp["evidence"] == "native experiments: 3 cold vs 3 warm runs"


def test_reserved_fleet_break_even_and_saving(db_path):
    # one 30-minute small build an hour for 24 hours (plus 30 s queued, not instance time)
    write_store(db_path, hourly("p", 24, phases={"QUEUED": 30, "BUILD": 1800}))
    result = run_whatif("reserved", db_path, fleet_rate=0.002)
    one = result.table.row(0, named=True)
    assert result.table.height == 1  # never more than one build at a time
    # carried 24 × 30 = 720 min over 23 h 30 min = 1410 min
    assert one["carried_minutes"] == pytest.approx(720)
    assert one["utilisation"] == pytest.approx(720 / 1410)
    assert one["break_even_rate"] == pytest.approx(720 * 0.005 / 1410)
    # on-demand $3.60 vs fleet 1410 × $0.002 = $2.82
    assert one["saving"] == pytest.approx(3.60 - 2.82)
    assert one["recommended"] is True


def test_reserved_overflow_when_builds_overlap(db_path):
    builds = hourly("a", 4, phases={"BUILD": 600}) + hourly("b", 4, phases={"BUILD": 600})
    write_store(db_path, builds)
    table = run_whatif("reserved", db_path).table
    one = table.filter(table["fleet_size"] == 1).row(0, named=True)
    two = table.filter(table["fleet_size"] == 2).row(0, named=True)
    assert one["carried_minutes"] == pytest.approx(40) and one["overflow_minutes"] == 40
    assert two["carried_minutes"] == pytest.approx(80) and two["overflow_minutes"] == 0


def test_lambda_eligibility_and_per_second_cost(db_path):
    builds, metrics = [], []
    for record in hourly("fits", 10, phases={"PROVISIONING": 1, "BUILD": 60}):
        builds.append(record)
        metrics.append((record["arn"], "MemoryUtilized", [300, 700]))  # MB
    for i, record in enumerate(hourly("long", 10, phases={"BUILD": 100})):
        record = build_record(
            "long", i, start=record["startTime"], phases={"BUILD": 1000 if i < 5 else 100}
        )
        builds.append(record)
        metrics.append((record["arn"], "MemoryUtilizedPercent", [10, 20]))
    builds += hourly("priv", 10, phases={"BUILD": 100}, privileged=True)
    builds += hourly("nomem", 10, phases={"BUILD": 100})
    write_store(db_path, builds, metrics)
    table = run_whatif("lambda", db_path).table
    fits = row(table, "fits")
    assert fits["eligible_builds"] == 10
    assert fits["lambda_compute_type"] == "BUILD_LAMBDA_1GB"
    # 61 s: 2 min × $0.005 = $0.01 now, 61 s × $0.00002 = $0.00122 on Lambda 1 GB
    assert fits["cost_lambda_month_lower"] / fits["cost_now_month_lower"] == pytest.approx(0.122)
    assert row(table, "long")["too_long"] == 5 and row(table, "long")["eligible_builds"] == 5
    assert row(table, "priv")["privileged"] == 10
    assert row(table, "nomem")["memory_unknown"] == 10


def test_lambda_sizes_without_a_price_are_unpriced(db_path):
    builds, metrics = [], []
    for record in hourly("hungry", 5, phases={"BUILD": 60}, compute_type="BUILD_GENERAL1_LARGE"):
        builds.append(record)
        metrics.append((record["arn"], "MemoryUtilized", [3000.0]))  # 2.9 GB × 1.2 → 4 GB
    write_store(db_path, builds, metrics)
    result = run_whatif("lambda", db_path)
    hungry = row(result.table, "hungry")
    assert hungry["lambda_compute_type"] == "BUILD_LAMBDA_4GB"
    assert hungry["lambda_unpriced_builds"] == 5 and result.unpriced_builds == 5
    assert hungry["cost_lambda_month_lower"] is None


def test_whatif_cli_json_and_misapplied_option(metrics_store):
    runner = CliRunner()
    out = runner.invoke(app, ["cost", "whatif", "rightsize", "--db", str(metrics_store), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert sorted(data) == [
        "assumption",
        "evidence",
        "kind",
        "notes",
        "table",
        "uncertainty",
        "unpriced_builds",
    ]
    assert data["kind"] == "rightsize"
    with pytest.raises(CiwbError, match="--fleet-rate does not apply to the rightsize"):
        run_whatif("rightsize", metrics_store, fleet_rate=0.1)
