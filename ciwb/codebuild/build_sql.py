"""Build records → `builds` and `build_phases` rows, as one DuckDB SQL transformation.

Builds are the bulk of every history (a year of a large account is millions of records),
so their normalisation runs vectorised inside DuckDB over the raw JSON that the store keeps
anyway: each record is serialised once (orjson) and parsed once (`from_json`). This is the
only implementation of the build rules; `normalise.normalise_build` runs the same SQL for a
single record.

Rules (docs/design.md, "The store"; docs/reference/codebuild-facts.md, "Phases"):
- phase seconds from timestamps as floats; AWS's truncated durationInSeconds kept aside;
- arch derived once from environment.type (arm fleets, ARM_EC2, are arm64);
- auto-retry links, runner identifiers, the attribute-based / custom compute shape, the
  docker server, cache namespace and host kernel are columns (issue 14, botocore's names);
- a phase's context is its first non-empty one (successful phases carry an empty context);
- timestamps may be ISO strings with any offset (boto3 datetimes serialised by orjson, the
  AWS CLI's iso8601 output) or epoch seconds (archives, the CLI's wire format): all become
  naive UTC.
"""

from __future__ import annotations

import json

from ciwb.codebuild.phases import FAILURE_STATUSES, TIMED_PHASES

__all__ = [
    "ARM_ENVIRONMENTS",
    "FACT_PHASES",
    "fact_column",
    "build_rows_sql",
    "parse_sql",
    "phase_rows_sql",
]

# ARM_CONTAINER, ARM_LAMBDA_CONTAINER and arm fleets (ARM_EC2) are arm64
# (docs/design.md, "The store").
# MAC_ARM is Apple silicon, arm64 as well.
ARM_ENVIRONMENTS = ("ARM_CONTAINER", "ARM_LAMBDA_CONTAINER", "ARM_EC2", "MAC_ARM")

_TS = "VARCHAR"  # parsed by _ts() below, whatever form the timestamp arrived in
_STRUCTURE = {
    "arn": "VARCHAR",
    "id": "VARCHAR",
    "buildNumber": "BIGINT",
    "startTime": _TS,
    "endTime": _TS,
    "currentPhase": "VARCHAR",
    "buildStatus": "VARCHAR",
    "sourceVersion": "VARCHAR",
    "resolvedSourceVersion": "VARCHAR",
    "projectName": "VARCHAR",
    "initiator": "VARCHAR",
    "buildComplete": "BOOLEAN",
    "timeoutInMinutes": "INTEGER",
    "queuedTimeoutInMinutes": "INTEGER",
    "buildBatchArn": "VARCHAR",
    "reportArns": ["VARCHAR"],
    "environment": {
        "type": "VARCHAR",
        "image": "VARCHAR",
        "computeType": "VARCHAR",
        "privilegedMode": "BOOLEAN",
        "fleet": {"fleetArn": "VARCHAR"},
        "computeConfiguration": {
            "vCpu": "BIGINT",
            "memory": "BIGINT",
            "disk": "BIGINT",
            "machineType": "VARCHAR",
            "instanceType": "VARCHAR",
        },
        "dockerServer": {"computeType": "VARCHAR", "status": {"status": "VARCHAR"}},
        "hostKernel": "VARCHAR",
        "environmentVariables": [{"name": "VARCHAR", "value": "VARCHAR"}],
    },
    "exportedEnvironmentVariables": "JSON",
    "source": {"type": "VARCHAR"},
    "cache": {"type": "VARCHAR", "cacheNamespace": "VARCHAR"},
    "autoRetryConfig": {
        "autoRetryLimit": "INTEGER",
        "autoRetryNumber": "INTEGER",
        "nextAutoRetry": "VARCHAR",
        "previousAutoRetry": "VARCHAR",
    },
    "logs": {"groupName": "VARCHAR", "streamName": "VARCHAR"},
    "phases": [
        {
            "phaseType": "VARCHAR",
            "phaseStatus": "VARCHAR",
            "startTime": _TS,
            "endTime": _TS,
            "durationInSeconds": "BIGINT",
            "contexts": [{"statusCode": "VARCHAR", "message": "VARCHAR"}],
        }
    ],
}


def _ts(expr: str) -> str:
    """SQL turning a timestamp in any accepted form into naive UTC."""
    return (
        f"(CASE WHEN {expr} IS NULL OR {expr} = '' THEN NULL"
        f" WHEN regexp_full_match({expr}, '-?[0-9]+(\\.[0-9]*)?')"
        f" THEN make_timestamp(CAST(round(CAST({expr} AS DOUBLE) * 1000000) AS BIGINT))"
        f" ELSE CAST(CAST({expr} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) END)"
    )


def _var(name: str) -> str:
    """SQL for a build's variable `name`: its environment's, else one it exported."""
    exported = (
        'from_json(j.exportedEnvironmentVariables, \'[{"name": "VARCHAR", "value": "VARCHAR"}]\')'
    )
    return (
        f"coalesce(list_filter(j.environment.environmentVariables,"
        f" lambda v: v.name = '{name}')[1].value,"
        f" list_filter({exported}, lambda v: v.name = '{name}')[1].value)"
    )


# Runner builds (issue 14). A runner build has the variables CodeBuild sets for it
# (CODEBUILD_WEBHOOK_LABEL, _RUN_ID, _JOB_ID, _WORKFLOW_NAME; AWS user guide, "Environment
# variables in build environments") but the Build record has no runner field: AWS is silent
# on where a record shows them. CHOICE: ciwb reads them from the record's environment
# variables, else from its exported variables (a runner buildspec can export them); the
# project's webhook (WORKFLOW_JOB_QUEUED, RUNNER_BUILDKITE_BUILD) marks runner projects
# whose builds carry neither (build_facts falls back to the project's runner_kind).
_RUNNER_KIND = f"""CASE
    WHEN {_var("BUILDKITE_JOB_ID")} IS NOT NULL THEN 'BUILDKITE'
    WHEN coalesce({_var("CODEBUILD_WEBHOOK_LABEL")}, {_var("CODEBUILD_WEBHOOK_JOB_ID")}) IS NULL
        THEN NULL
    WHEN j.source.type = 'GITHUB' THEN 'GITHUB_ACTIONS'
    WHEN j.source.type = 'GITHUB_ENTERPRISE' THEN 'GITHUB_ENTERPRISE'
    WHEN j.source.type IN ('GITLAB', 'GITLAB_SELF_MANAGED') THEN 'GITLAB'
    ELSE 'RUNNER' END"""


def _seconds(start: str, end: str) -> str:
    return f"(date_diff('microsecond', {start}, {end}) / 1e6)"


def _context(contexts: str) -> str:
    """SQL for a phase's first non-empty context (successful phases carry an empty one)."""
    return (
        f"list_filter({contexts}, lambda c: coalesce(c.statusCode, '') <> ''"
        f" OR coalesce(c.message, '') <> '')[1]"
    )


# The phases whose seconds each build carries as a column `<phase>_s` (all with a duration),
# from the same record as its `build_phases` rows, so `build_facts` reads one table.
FACT_PHASES: tuple[str, ...] = TIMED_PHASES


def fact_column(phase: str) -> str:
    """The `builds` column holding a build's seconds in `phase` (`INSTALL` → `install_s`)."""
    return f"{phase.lower()}_s"


_FAILING = "(" + ", ".join(f"'{s}'" for s in FAILURE_STATUSES) + ")"

# Each fact is what the old build_facts view aggregated from the build's phase rows: the
# summed seconds per phase type (NULL with no timed phase of that type), the first failing
# phase in `seq` order, and the first context code among failing phases (its arg_min skipped
# NULL codes). Read from `phases`, the parsed phase list the phase rows are unnested from.
_FACT_COLUMNS = ",\n".join(
    [
        f"    list_sum(list_transform(list_filter(phases, lambda x: x.phase_type = '{phase}'),"
        f" lambda x: {_seconds('x.start_time', 'x.end_time')})) AS {fact_column(phase)}"
        for phase in FACT_PHASES
    ]
    + [
        f"    list_filter(phases, lambda x: x.status IN {_FAILING})[1].phase_type AS failed_phase",
        f"    list_filter(phases, lambda x: x.status IN {_FAILING}"
        " AND nullif(x.c.statusCode, '') IS NOT NULL)[1].c.statusCode AS failed_context_code",
    ]
)


# Input relation `{source}`: raw VARCHAR (the record as JSON), origin VARCHAR,
# ingested_at TIMESTAMP. Output: the same plus the parsed struct `j` and `phases`, the
# record's phases with their timestamps parsed and their first non-empty context: parsed
# once, here, for both the phase rows and the build's phase facts (the timestamp parse is
# most of the cost of either).
_PHASES = (
    "list_transform(j.phases, lambda p: {"
    "'phase_type': p.phaseType, 'status': p.phaseStatus, "
    f"'start_time': {_ts('p.startTime')}, 'end_time': {_ts('p.endTime')}, "
    "'reported_duration_s': p.durationInSeconds, "
    f"'c': {_context('p.contexts')}}})"
)
_PARSE_SQL = (
    f"SELECT raw, origin, ingested_at, j, {_PHASES} AS phases"
    " FROM (SELECT raw, origin, ingested_at, from_json(raw, '"
    + json.dumps(_STRUCTURE).replace("'", "''")
    + "') AS j FROM {source})"
)

_ARM_LIST = ", ".join(f"'{env}'" for env in ARM_ENVIRONMENTS)

# Input relation `{parsed}` (PARSE_SQL's output); columns in `builds` order.
_BUILD_ROWS_SQL = f"""
SELECT
    j.arn AS build_arn,
    j.id AS build_id,
    split_part(j.arn, ':', 5) AS account_id,
    split_part(j.arn, ':', 4) AS region,
    coalesce(j.projectName, split_part(j.id, ':', 1)) AS project_name,
    j.buildNumber AS build_number,
    origin,
    coalesce(j.buildStatus, 'IN_PROGRESS') AS status,
    j.currentPhase AS current_phase,
    coalesce(j.buildComplete, false) AS build_complete,
    {_ts("j.startTime")} AS start_time,
    {_ts("j.endTime")} AS end_time,
    {_seconds(_ts("j.startTime"), _ts("j.endTime"))} AS total_s,
    j.sourceVersion AS source_version,
    j.resolvedSourceVersion AS resolved_source_version,
    j.initiator AS initiator,
    j.environment.type AS environment_type,
    j.environment.computeType AS compute_type,
    j.environment.image AS image,
    CASE WHEN j.environment.type IN ({_ARM_LIST}) THEN 'arm64' ELSE 'x86_64' END AS arch,
    j.environment.fleet.fleetArn AS fleet_arn,
    j.environment.privilegedMode AS privileged_mode,
    j.cache.type AS cache_type,
    j.timeoutInMinutes AS timeout_minutes,
    j.queuedTimeoutInMinutes AS queued_timeout_minutes,
    j.logs.groupName AS log_group,
    j.logs.streamName AS log_stream,
    j.buildBatchArn AS build_batch_arn,
    CASE WHEN len(j.reportArns) > 0 THEN j.reportArns END AS report_arns,
    CASE WHEN json_array_length(j.exportedEnvironmentVariables) > 0
         THEN j.exportedEnvironmentVariables END AS exported_variables,
    raw,
    ingested_at,
    j.autoRetryConfig.autoRetryNumber AS auto_retry_number,
    j.autoRetryConfig.autoRetryLimit AS auto_retry_limit,
    j.autoRetryConfig.previousAutoRetry AS previous_auto_retry,
    j.autoRetryConfig.nextAutoRetry AS next_auto_retry,
    j.source.type AS source_type,
    {_RUNNER_KIND} AS runner_kind,
    {_var("CODEBUILD_WEBHOOK_LABEL")} AS runner_label,
    coalesce({_var("CODEBUILD_WEBHOOK_RUN_ID")}, {_var("BUILDKITE_BUILD_ID")}) AS runner_run_id,
    coalesce({_var("CODEBUILD_WEBHOOK_JOB_ID")}, {_var("BUILDKITE_JOB_ID")}) AS runner_job_id,
    {_var("CODEBUILD_WEBHOOK_WORKFLOW_NAME")} AS runner_workflow,
    j.environment.computeConfiguration.vCpu AS compute_vcpu,
    j.environment.computeConfiguration.memory AS compute_memory_gb,
    j.environment.computeConfiguration.disk AS compute_disk_gb,
    j.environment.computeConfiguration.machineType AS compute_machine_type,
    j.environment.computeConfiguration.instanceType AS compute_instance_type,
    j.environment.dockerServer.computeType AS docker_server_compute_type,
    j.environment.dockerServer.status.status AS docker_server_status,
    j.cache.cacheNamespace AS cache_namespace,
    j.environment.hostKernel AS host_kernel,
{_FACT_COLUMNS}
FROM {{parsed}}
"""

_PHASE_ROWS_SQL = f"""
WITH flat AS (
    SELECT j.arn AS build_arn,
           unnest(range(len(phases))) AS seq,
           unnest(phases) AS p
    FROM {{parsed}}
    WHERE len(phases) > 0
)
SELECT
    build_arn,
    CAST(seq AS INTEGER) AS seq,
    p.phase_type,
    p.status,
    p.start_time,
    p.end_time,
    {_seconds("p.start_time", "p.end_time")} AS duration_s,
    p.reported_duration_s,
    nullif(p.c.statusCode, '') AS context_code,
    nullif(p.c.message, '') AS context_message
FROM flat
"""


def parse_sql(source: str) -> str:
    """SELECT parsing relation `source` (raw, origin, ingested_at) into a struct `j` and
    the list `phases`."""
    return _PARSE_SQL.replace("{source}", source)


def build_rows_sql(parsed: str) -> str:
    """SELECT of `builds` rows (in column order) from `parsed` (parse_sql's output)."""
    return _BUILD_ROWS_SQL.replace("{parsed}", parsed)


def phase_rows_sql(parsed: str) -> str:
    """SELECT of `build_phases` rows from `parsed` (parse_sql's output)."""
    return _PHASE_ROWS_SQL.replace("{parsed}", parsed)
