"""The planted facts are present in the stored data, as the reports will need to find them."""

from __future__ import annotations

from datetime import datetime

import pytest

from support.queries import q


def test_size_projects_and_every_arch_and_compute_size(store):
    con, planted = store
    ((builds,),) = q(con, "SELECT count(*) FROM builds")
    assert builds >= 12_000 and builds == planted.builds
    assert len(planted.projects) >= 12
    ((days,),) = q(con, "SELECT date_diff('day', min(start_time), max(start_time)) FROM builds")
    assert days >= 88
    sizes = {
        (arch, compute)
        for arch, compute in q(
            con,
            "SELECT DISTINCT arch, compute_type FROM builds WHERE compute_type LIKE 'BUILD_GENERAL1_%'",
        )
    }
    for arch in ("x86_64", "arm64"):
        for size in ("SMALL", "MEDIUM", "LARGE", "XLARGE", "2XLARGE"):
            assert (arch, f"BUILD_GENERAL1_{size}") in sizes


def test_two_projects_switch_from_x86_to_arm_at_the_planted_date(store):
    con, planted = store
    assert len(planted.switches) == 2
    for switch in planted.switches:
        rows = q(
            con,
            "SELECT arch, min(start_time), max(start_time), median(build_s) FROM build_facts "
            "WHERE project_name = ? AND status = 'SUCCEEDED' GROUP BY arch ORDER BY arch",
            switch.project,
        )
        by_arch = {arch: (first, last, med) for arch, first, last, med in rows}
        assert set(by_arch) == {"arm64", "x86_64"}
        switch_date = datetime.fromisoformat(switch.date)
        assert by_arch["x86_64"][1] < switch_date <= by_arch["arm64"][0]
        ratio = by_arch["arm64"][2] / by_arch["x86_64"][2]
        assert ratio == pytest.approx(switch.arm_speed_factor, rel=0.08)


def test_duration_regression_from_the_planted_date(store):
    con, planted = store
    reg = planted.regression
    ((before, after),) = q(
        con,
        "SELECT median(build_s) FILTER (WHERE start_time < CAST(? AS DATE)),"
        " median(build_s) FILTER (WHERE start_time >= CAST(? AS DATE))"
        " FROM build_facts WHERE project_name = ? AND status = 'SUCCEEDED'",
        reg.date,
        reg.date,
        reg.project,
    )
    assert after / before == pytest.approx(reg.factor, rel=0.08)


def test_cache_install_is_bimodal_and_misses_after_idle_gaps(store):
    con, planted = store
    assert planted.caches
    for cache in planted.caches:
        threshold = (cache.install_hit_median_s * cache.install_miss_median_s) ** 0.5
        rows = q(
            con,
            "WITH f AS (SELECT start_time, end_time, install_s,"
            "  date_diff('second', lag(end_time) OVER (ORDER BY start_time), start_time) / 60.0"
            "  AS gap_min FROM build_facts WHERE project_name = ? AND install_s IS NOT NULL)"
            " SELECT gap_min > ?, avg(CASE WHEN install_s > ? THEN 1 ELSE 0 END), count(*)"
            " FROM f WHERE gap_min IS NOT NULL GROUP BY 1 ORDER BY 1",
            cache.project,
            cache.idle_threshold_min,
            threshold,
        )
        miss = {idle: rate for idle, rate, _ in rows}
        assert miss[False] < 0.2 < 0.6 < miss[True]
        # Bimodal: almost nothing lies between the two modes.
        ((middle,),) = q(
            con,
            "SELECT avg(CASE WHEN install_s BETWEEN ? AND ? THEN 1 ELSE 0 END) FROM build_facts"
            " WHERE project_name = ? AND install_s IS NOT NULL",
            cache.install_hit_median_s * 2,
            cache.install_miss_median_s / 2,
            cache.project,
        )
        assert middle < 0.05


def test_failures_concentrate_in_the_planted_phase_with_codebuild_context_codes(store):
    con, planted = store
    rows = q(
        con,
        "SELECT project_name, failed_phase, count(*) FROM build_facts WHERE status = 'FAILED'"
        " GROUP BY ALL",
    )
    per_project: dict[str, dict[str, int]] = {}
    for project, phase, count in rows:
        per_project.setdefault(project, {})[phase] = count
    checked = 0
    for project, phase in planted.failure_hotspots.items():
        counts = per_project.get(project, {})
        if sum(counts.values()) >= 30:
            assert max(counts, key=counts.get) == phase, project
            checked += 1
    assert checked >= 8
    codes = {c for (c,) in q(con, "SELECT DISTINCT failed_context_code FROM build_facts")}
    assert {
        "COMMAND_EXECUTION_ERROR",
        "CLIENT_ERROR",
        "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE",
    } <= codes
    # After a BUILD failure CodeBuild still runs POST_BUILD and UPLOAD_ARTIFACTS; after an
    # INSTALL failure it goes straight to FINALIZING.
    ((post_after_build,),) = q(
        con,
        "SELECT avg(CASE WHEN post_build_s IS NOT NULL AND upload_artifacts_s IS NOT NULL"
        " THEN 1 ELSE 0 END) FROM build_facts WHERE failed_phase = 'BUILD'",
    )
    ((build_after_install,),) = q(
        con, "SELECT count(build_s) FROM build_facts WHERE failed_phase = 'INSTALL'"
    )
    assert post_after_build == 1 and build_after_install == 0


def test_weekday_and_hour_load_with_queue_spikes(store):
    con, planted = store
    ((weekday, weekend),) = q(
        con,
        "SELECT count(*) FILTER (WHERE isodow(start_time) <= 5) / 5.0,"
        " count(*) FILTER (WHERE isodow(start_time) > 5) / 2.0 FROM builds",
    )
    assert weekday > 3 * weekend
    spikes = " OR ".join(
        f"(start_time >= TIMESTAMP '{a[:19]}' AND start_time < TIMESTAMP '{b[:19]}')"
        for a, b in planted.queue_spikes
    )
    ((inside, outside),) = q(
        con,
        f"SELECT median(queued_s) FILTER (WHERE {spikes}), median(queued_s) FILTER (WHERE NOT ({spikes}))"
        " FROM build_facts WHERE region = 'us-east-1' AND environment_type NOT LIKE '%LAMBDA%'",
    )
    assert inside > 60 > 10 > outside


def test_monorepo_batches_form_the_planted_build_graph(store):
    con, planted = store
    graph = planted.batch_graph
    rows = q(
        con,
        "SELECT DISTINCT g.identifier, g.depends_on FROM build_batch_groups g"
        " JOIN build_batches b USING (batch_arn) WHERE b.project_name = ?",
        graph.project,
    )
    assert {ident: sorted(deps) for ident, deps in rows} == {
        k: sorted(v) for k, v in graph.depends_on.items()
    }
    ((children, batches),) = q(
        con,
        "SELECT count(*), count(DISTINCT build_batch_arn) FROM builds WHERE build_batch_arn IS NOT NULL",
    )
    assert batches == graph.batches and children >= 5 * batches


def test_flaky_tests_fail_intermittently_and_pass_on_retry(store):
    con, planted = store
    for flaky in planted.flaky_tests:
        ((runs, failed),) = q(
            con,
            "SELECT count(*), count(*) FILTER (WHERE status = 'FAILED') FROM test_cases"
            " WHERE prefix = ? AND name = ?",
            flaky.suite,
            flaky.name,
        )
        assert runs > 50 and 0 < failed < runs * 0.25
    ((retried,),) = q(
        con,
        "SELECT count(*) FROM (SELECT project_name, resolved_source_version FROM builds"
        " WHERE build_batch_arn IS NULL GROUP BY ALL"
        " HAVING bool_or(status = 'FAILED') AND bool_or(status = 'SUCCEEDED'))",
    )
    assert retried >= 10
    ((stable_failures,),) = q(
        con,
        "SELECT count(*) FROM test_cases WHERE status = 'FAILED' AND name LIKE 'test_%'"
        " AND build_arn IN (SELECT build_arn FROM builds)",
    )
    assert stable_failures > 0


def test_utilisation_shows_over_and_under_provisioned_projects(store):
    con, planted = store
    rows = dict(
        q(
            con,
            "SELECT b.project_name, median(m.p95_value) FROM build_metrics m JOIN builds b"
            " USING (build_arn) WHERE m.metric_name = 'CPUUtilizedPercent' GROUP BY 1",
        )
    )
    assert len(planted.over_provisioned) >= 2
    for project in planted.over_provisioned:
        assert rows[project] < 25
    for project in planted.under_provisioned:
        assert rows[project] > 85
    others = [v for p, v in rows.items() if p not in planted.over_provisioned]
    assert min(others) > 30


def test_reports_only_within_retention_and_coverage_present(store):
    con, planted = store
    ((first_report, coverage),) = q(
        con,
        "SELECT min(created), count(*) FILTER (WHERE report_type = 'CODE_COVERAGE') FROM reports",
    )
    assert first_report >= datetime.fromisoformat(planted.reports_since).replace(tzinfo=None)
    assert coverage > 0
