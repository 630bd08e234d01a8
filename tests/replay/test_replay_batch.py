"""Batch builds: the planner alone, then real child builds with the batch runner."""

from __future__ import annotations

import pytest

from ciwb.buildspec import parse_buildspec
from ciwb.errors import BatchCycleError
from ciwb.replay import OutputOptions, ReplayOptions, SourceOptions, plan_batch, run_batch
from ciwb.store import connect


def _plan(text: str):
    spec, diags = parse_buildspec(text)
    assert not [d for d in diags if d.severity == "error"], diags
    return plan_batch(spec.batch)


def test_build_graph_is_layered_by_depend_on():
    plan = _plan("""\
version: 0.2
batch:
  build-graph:
    - identifier: lint
    - identifier: unit
    - identifier: package
      depend-on: [lint, unit]
    - identifier: deploy
      depend-on: package
""")
    assert [[b.identifier for b in layer] for layer in plan.layers] == [
        ["lint", "unit"],
        ["package"],
        ["deploy"],
    ]


def test_a_cycle_is_refused_with_the_cycle_named():
    spec, _ = parse_buildspec("""\
version: 0.2
batch:
  build-graph:
    - identifier: a
      depend-on: [c]
    - identifier: b
      depend-on: [a]
    - identifier: c
      depend-on: [b]
""")
    with pytest.raises(BatchCycleError) as err:
        plan_batch(spec.batch)
    message = str(err.value)
    assert "cycle" in message and all(name in message for name in "abc")
    assert message.count("→") == 3


def test_build_matrix_is_the_cartesian_product():
    plan = _plan("""\
version: 0.2
batch:
  build-matrix:
    static:
      ignore-failure: true
      env:
        variables: {STAGE: test}
    dynamic:
      buildspec: [a.yml, b.yml]
      env:
        variables:
          PY: ["3.10", "3.12"]
          OS: [linux]
""")
    builds = plan.builds
    assert len(builds) == 4 and all(b.ignore_failure for b in builds)
    combos = {(b.buildspec, b.env_variables["PY"], b.env_variables["STAGE"]) for b in builds}
    assert combos == {(s, v, "test") for s in ("a.yml", "b.yml") for v in ("3.10", "3.12")}


def test_build_fanout_makes_shards():
    plan = _plan("version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 3\n")
    assert [b.identifier for b in plan.builds] == ["shard_1", "shard_2", "shard_3"]


BATCH = """\
version: 0.2
batch:
  fast-fail: {fast_fail}
  build-graph:
    - identifier: ok
    - identifier: flaky
      ignore-failure: {ignore}
      env:
        variables: {{FAIL: "1"}}
    - identifier: after
      depend-on: [ok]
phases:
  build:
    commands:
      - echo "I am $CODEBUILD_BATCH_BUILD_IDENTIFIER"
      - test -z "$FAIL"
"""


def _run(make_source, tmp_path, **fmt):
    src = make_source(BATCH.format(**fmt), name=f"b{len(list(tmp_path.iterdir()))}")
    spec, _ = parse_buildspec((src / "buildspec.yml").read_text())
    request = ReplayOptions(
        SourceOptions(src), output=OutputOptions(db=tmp_path / "ciwb.duckdb", out=tmp_path / "out")
    )
    return run_batch(request, plan_batch(spec.batch), max_parallel=2)


def test_children_get_their_identifier_and_ignore_failure_keeps_the_batch_green(
    make_source, tmp_path
):
    result = _run(make_source, tmp_path, fast_fail="false", ignore="true")
    assert result.status == "SUCCEEDED"
    statuses = {k: v.status for k, v in result.children.items()}
    assert statuses == {"ok": "SUCCEEDED", "flaky": "FAILED", "after": "SUCCEEDED"}
    for ident, child in result.children.items():
        assert f"\nI am {ident}" in child.log_path.read_text()
        assert child.record["buildBatchArn"] == result.batch_arn
    with connect(tmp_path / "ciwb.duckdb", read_only=True) as con:
        batches = con.execute("SELECT status, origin FROM build_batches").fetchall()
        groups = con.execute(
            "SELECT identifier, build_status, ignore_failure, depends_on "
            "FROM build_batch_groups ORDER BY identifier"
        ).fetchall()
        children = con.execute(
            "SELECT count(*) FROM builds WHERE build_batch_arn = ?", [result.batch_arn]
        ).fetchone()[0]
    assert batches == [("SUCCEEDED", "replay")]
    assert groups == [
        ("after", "SUCCEEDED", False, ["ok"]),
        ("flaky", "FAILED", True, []),
        ("ok", "SUCCEEDED", False, []),
    ]
    assert children == 3


def test_a_failure_fails_the_batch_and_fast_fail_runs_nothing_more(make_source, tmp_path):
    result = _run(make_source, tmp_path, fast_fail="true", ignore="false")
    assert result.status == "FAILED"
    assert result.children["flaky"].status == "FAILED"
    assert result.skipped == ["after"]  # the next layer never starts


def test_fast_fail_stops_a_running_sibling(make_source, tmp_path):
    # `fails` fails only once `slow` is running (an event, not two starts within a second;
    # a minute at most, so a batch that never starts `slow` fails the test, not hangs it)
    started = tmp_path / "slow-started"
    src = make_source(f"""\
        version: 0.2
        batch:
          fast-fail: true
          build-list:
            - identifier: slow
            - identifier: fails
        phases:
          build:
            commands:
              - |
                if [ "$CODEBUILD_BATCH_BUILD_IDENTIFIER" = slow ]; then touch {started}; sleep 60
                else n=0; while [ ! -e {started} ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done
                  false; fi
        """)
    spec, _ = parse_buildspec((src / "buildspec.yml").read_text())
    request = ReplayOptions(
        SourceOptions(src), output=OutputOptions(db=tmp_path / "ciwb.duckdb", out=tmp_path / "out")
    )
    result = run_batch(request, plan_batch(spec.batch), max_parallel=2)
    assert result.children["fails"].status == "FAILED"
    assert result.children["slow"].status == "STOPPED"
    assert result.status == "FAILED"
