"""Build records → `builds` and `build_phases` rows, as one DuckDB SQL transformation.

Builds are the bulk of every history (a year of a large account is millions of records),
so their normalisation runs vectorised inside DuckDB over the raw JSON that the store keeps
anyway: each record is serialised once (orjson) and parsed once (`from_json`). This is the
only implementation of the build rules; `normalise.normalise_build` runs the same SQL for a
single record.

Rules (docs/design.md, "The store"; docs/reference/codebuild-facts.md, "Phases"):
- phase seconds from timestamps as floats; AWS's truncated durationInSeconds kept aside;
- arch derived once from environment.type;
- a phase's context is its first non-empty one (successful phases carry an empty context);
- timestamps may be ISO strings with any offset (boto3 datetimes serialised by orjson, the
  AWS CLI's iso8601 output) or epoch seconds (archives, the CLI's wire format): all become
  naive UTC.
"""

from __future__ import annotations

import json

__all__ = ["ARM_ENVIRONMENTS", "build_rows_sql", "parse_sql", "phase_rows_sql"]

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
    "exportedEnvironmentVariables": "JSON",
    "environment": {
        "type": "VARCHAR",
        "image": "VARCHAR",
        "computeType": "VARCHAR",
        "privilegedMode": "BOOLEAN",
        "fleet": {"fleetArn": "VARCHAR"},
    },
    "cache": {"type": "VARCHAR"},
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


def _seconds(start: str, end: str) -> str:
    return f"(date_diff('microsecond', {start}, {end}) / 1e6)"


# Input relation `{source}`: raw VARCHAR (the record as JSON), origin VARCHAR,
# ingested_at TIMESTAMP. Output: the same plus the parsed struct `j`.
_PARSE_SQL = (
    "SELECT raw, origin, ingested_at, from_json(raw, '"
    + json.dumps(_STRUCTURE).replace("'", "''")
    + "') AS j FROM {source}"
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
    ingested_at
FROM {{parsed}}
"""

_PHASE_ROWS_SQL = f"""
WITH flat AS (
    SELECT j.arn AS build_arn,
           unnest(range(len(j.phases))) AS seq,
           unnest(j.phases) AS p
    FROM {{parsed}}
    WHERE len(j.phases) > 0
), ctx AS (
    SELECT *,
           list_filter(p.contexts, lambda c: coalesce(c.statusCode, '') <> ''
                                          OR coalesce(c.message, '') <> '')[1] AS c
    FROM flat
)
SELECT
    build_arn,
    CAST(seq AS INTEGER) AS seq,
    p.phaseType AS phase_type,
    p.phaseStatus AS status,
    {_ts("p.startTime")} AS start_time,
    {_ts("p.endTime")} AS end_time,
    {_seconds(_ts("p.startTime"), _ts("p.endTime"))} AS duration_s,
    p.durationInSeconds AS reported_duration_s,
    nullif(c.statusCode, '') AS context_code,
    nullif(c.message, '') AS context_message
FROM ctx
"""


def parse_sql(source: str) -> str:
    """SELECT parsing relation `source` (raw, origin, ingested_at) into a struct `j`."""
    return _PARSE_SQL.replace("{source}", source)


def build_rows_sql(parsed: str) -> str:
    """SELECT of `builds` rows (in column order) from `parsed` (parse_sql's output)."""
    return _BUILD_ROWS_SQL.replace("{parsed}", parsed)


def phase_rows_sql(parsed: str) -> str:
    """SELECT of `build_phases` rows from `parsed` (parse_sql's output)."""
    return _PHASE_ROWS_SQL.replace("{parsed}", parsed)
