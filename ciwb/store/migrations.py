"""Numbered schema migrations, recorded in `schema_migrations`.

A DB made by an older ciwb is upgraded in place, never dropped
(docs/design.md, "The store").
Tables are plural nouns; AWS enums keep AWS's own values; every normalised row keeps
its raw API record as JSON in `raw` so a later migration can re-derive columns.
All timestamps are UTC, stored as naive TIMESTAMP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from ciwb.errors import StoreUpgradeRefusedError


@dataclass(frozen=True)
class Migration:
    """One schema step: SQL, or a function for a step that must read the catalog first."""

    version: int
    name: str
    sql: str = ""
    apply: Callable[[duckdb.DuckDBPyConnection], None] | None = None

    def run(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.apply is not None:
            self.apply(con)
        else:
            con.execute(self.sql)


_CORE_TABLES = """
CREATE TABLE projects (
    project_arn        VARCHAR PRIMARY KEY,
    account_id         VARCHAR NOT NULL,
    region             VARCHAR NOT NULL,
    name               VARCHAR NOT NULL,
    description        VARCHAR,
    source_type        VARCHAR,
    environment_type   VARCHAR,
    compute_type       VARCHAR,
    image              VARCHAR,
    arch               VARCHAR,
    privileged_mode    BOOLEAN,
    cache_type         VARCHAR,
    cache_modes        VARCHAR[],
    fleet_arn          VARCHAR,
    timeout_minutes    INTEGER,
    created            TIMESTAMP,
    last_modified      TIMESTAMP,
    origin             VARCHAR NOT NULL,
    raw                JSON,
    ingested_at        TIMESTAMP NOT NULL
);

CREATE TABLE builds (
    build_arn               VARCHAR PRIMARY KEY,
    build_id                VARCHAR NOT NULL,
    account_id              VARCHAR NOT NULL,
    region                  VARCHAR NOT NULL,
    project_name            VARCHAR NOT NULL,
    build_number            BIGINT,
    origin                  VARCHAR NOT NULL,
    status                  VARCHAR NOT NULL,
    current_phase           VARCHAR,
    build_complete          BOOLEAN NOT NULL,
    start_time              TIMESTAMP,
    end_time                TIMESTAMP,
    total_s                 DOUBLE,
    source_version          VARCHAR,
    resolved_source_version VARCHAR,
    initiator               VARCHAR,
    environment_type        VARCHAR,
    compute_type            VARCHAR,
    image                   VARCHAR,
    arch                    VARCHAR NOT NULL,
    fleet_arn               VARCHAR,
    privileged_mode         BOOLEAN,
    cache_type              VARCHAR,
    timeout_minutes         INTEGER,
    queued_timeout_minutes  INTEGER,
    log_group               VARCHAR,
    log_stream              VARCHAR,
    build_batch_arn         VARCHAR,
    report_arns             VARCHAR[],
    exported_variables      JSON,
    raw                     JSON,
    ingested_at             TIMESTAMP NOT NULL
);

CREATE TABLE build_phases (
    build_arn           VARCHAR NOT NULL,
    seq                 INTEGER NOT NULL,
    phase_type          VARCHAR NOT NULL,
    status              VARCHAR,
    start_time          TIMESTAMP,
    end_time            TIMESTAMP,
    duration_s          DOUBLE,
    reported_duration_s BIGINT,
    context_code        VARCHAR,
    context_message     VARCHAR,
    PRIMARY KEY (build_arn, seq)
);

CREATE TABLE build_commands (
    build_arn    VARCHAR NOT NULL,
    seq          INTEGER NOT NULL,
    phase_type   VARCHAR,
    command      VARCHAR NOT NULL,
    start_time   TIMESTAMP,
    end_time     TIMESTAMP,
    duration_s   DOUBLE,
    exit_status  INTEGER,
    source       VARCHAR NOT NULL,
    PRIMARY KEY (build_arn, seq)
);

CREATE TABLE build_metrics (
    build_arn     VARCHAR NOT NULL,
    metric_name   VARCHAR NOT NULL,
    period_s      INTEGER,
    points        INTEGER NOT NULL,
    min_value     DOUBLE,
    mean_value    DOUBLE,
    max_value     DOUBLE,
    p95_value     DOUBLE,
    series_ts     TIMESTAMP[],
    series_values DOUBLE[],
    PRIMARY KEY (build_arn, metric_name)
);

CREATE TABLE build_batches (
    batch_arn        VARCHAR PRIMARY KEY,
    batch_id         VARCHAR NOT NULL,
    account_id       VARCHAR NOT NULL,
    region           VARCHAR NOT NULL,
    project_name     VARCHAR NOT NULL,
    batch_number     BIGINT,
    origin           VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,
    current_phase    VARCHAR,
    complete         BOOLEAN NOT NULL,
    start_time       TIMESTAMP,
    end_time         TIMESTAMP,
    total_s          DOUBLE,
    source_version   VARCHAR,
    environment_type VARCHAR,
    compute_type     VARCHAR,
    arch             VARCHAR,
    raw              JSON,
    ingested_at      TIMESTAMP NOT NULL
);

CREATE TABLE build_batch_groups (
    batch_arn      VARCHAR NOT NULL,
    identifier     VARCHAR NOT NULL,
    depends_on     VARCHAR[],
    ignore_failure BOOLEAN,
    build_arn      VARCHAR,
    build_status   VARCHAR,
    PRIMARY KEY (batch_arn, identifier)
);

CREATE TABLE reports (
    report_arn          VARCHAR PRIMARY KEY,
    report_group_arn    VARCHAR,
    report_type         VARCHAR,
    name                VARCHAR,
    status              VARCHAR,
    build_arn           VARCHAR,
    created             TIMESTAMP,
    account_id          VARCHAR,
    region              VARCHAR,
    origin              VARCHAR NOT NULL,
    tests_total         INTEGER,
    tests_succeeded     INTEGER,
    tests_failed        INTEGER,
    tests_other         INTEGER,
    test_duration_s     DOUBLE,
    line_coverage_pct   DOUBLE,
    branch_coverage_pct DOUBLE,
    raw                 JSON,
    ingested_at         TIMESTAMP NOT NULL
);

CREATE TABLE test_cases (
    report_arn         VARCHAR NOT NULL,
    test_case_key      VARCHAR NOT NULL,
    build_arn          VARCHAR,
    test_suite_name    VARCHAR,
    prefix             VARCHAR,
    name               VARCHAR NOT NULL,
    status             VARCHAR,
    duration_s         DOUBLE,
    message            VARCHAR,
    test_raw_data_path VARCHAR,
    expired            TIMESTAMP,
    raw                JSON,
    PRIMARY KEY (report_arn, test_case_key)
);

CREATE TABLE prices (
    region           VARCHAR NOT NULL,
    environment_type VARCHAR NOT NULL,
    compute_type     VARCHAR NOT NULL,
    unit             VARCHAR NOT NULL,
    price            DOUBLE NOT NULL,
    currency         VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    as_of            DATE NOT NULL,
    confidence       VARCHAR NOT NULL,
    PRIMARY KEY (region, environment_type, compute_type, as_of)
);

CREATE TABLE experiments (
    experiment_id VARCHAR PRIMARY KEY,
    created_at    TIMESTAMP NOT NULL,
    source_dir    VARCHAR,
    buildspec     VARCHAR,
    executor      VARCHAR,
    matrix        JSON,
    repeat        INTEGER,
    host_arch     VARCHAR,
    host_cpu      VARCHAR,
    notes         VARCHAR
);

CREATE TABLE experiment_runs (
    run_id        VARCHAR PRIMARY KEY,
    experiment_id VARCHAR NOT NULL,
    cell          VARCHAR NOT NULL,
    arch          VARCHAR,
    compute       VARCHAR,
    cache         VARCHAR,
    repetition    INTEGER,
    temperature   VARCHAR,
    emulated      BOOLEAN,
    host_arch     VARCHAR,
    host_cpu      VARCHAR,
    image_digest  VARCHAR,
    build_arn     VARCHAR,
    status        VARCHAR,
    total_s       DOUBLE,
    started_at    TIMESTAMP,
    details       JSON
);

CREATE TABLE collect_runs (
    run_id       VARCHAR PRIMARY KEY,
    started_at   TIMESTAMP NOT NULL,
    ended_at     TIMESTAMP,
    status       VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    accounts     VARCHAR[],
    regions      VARCHAR[],
    api_calls    JSON,
    rows_written JSON,
    errors       JSON,
    skipped      JSON,
    args         JSON
);

CREATE TABLE collect_cursors (
    account_id        VARCHAR NOT NULL,
    region            VARCHAR NOT NULL,
    project_name      VARCHAR NOT NULL,
    newest_build_id   VARCHAR,
    newest_start_time TIMESTAMP,
    in_progress_ids   VARCHAR[],
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, region, project_name)
);
"""

# One row per build with per-phase seconds pivoted into columns. Phase seconds are the
# float durations computed from timestamps, never AWS's truncated durationInSeconds.
_BUILD_FACTS_VIEW = """
CREATE OR REPLACE VIEW build_facts AS
WITH phase_seconds AS (
    SELECT
        build_arn,
        sum(duration_s) FILTER (WHERE phase_type = 'SUBMITTED')        AS submitted_s,
        sum(duration_s) FILTER (WHERE phase_type = 'QUEUED')           AS queued_s,
        sum(duration_s) FILTER (WHERE phase_type = 'PROVISIONING')     AS provisioning_s,
        sum(duration_s) FILTER (WHERE phase_type = 'DOWNLOAD_SOURCE')  AS download_source_s,
        sum(duration_s) FILTER (WHERE phase_type = 'INSTALL')          AS install_s,
        sum(duration_s) FILTER (WHERE phase_type = 'PRE_BUILD')        AS pre_build_s,
        sum(duration_s) FILTER (WHERE phase_type = 'BUILD')            AS build_s,
        sum(duration_s) FILTER (WHERE phase_type = 'POST_BUILD')       AS post_build_s,
        sum(duration_s) FILTER (WHERE phase_type = 'UPLOAD_ARTIFACTS') AS upload_artifacts_s,
        sum(duration_s) FILTER (WHERE phase_type = 'FINALIZING')       AS finalizing_s,
        arg_min(phase_type, seq)
            FILTER (WHERE status IN ('FAILED', 'FAULT', 'TIMED_OUT', 'STOPPED'))
            AS failed_phase,
        arg_min(context_code, seq)
            FILTER (WHERE status IN ('FAILED', 'FAULT', 'TIMED_OUT', 'STOPPED'))
            AS failed_context_code
    FROM build_phases
    GROUP BY build_arn
)
SELECT
    b.build_arn, b.build_id, b.project_name, b.account_id, b.region,
    b.arch, b.compute_type, b.environment_type, b.status, b.origin,
    b.build_complete, b.build_number, b.source_version, b.resolved_source_version,
    b.build_batch_arn, b.initiator,
    b.start_time, b.end_time, b.total_s,
    p.queued_s, p.provisioning_s,
    p.submitted_s, p.download_source_s, p.install_s, p.pre_build_s, p.build_s,
    p.post_build_s, p.upload_artifacts_s, p.finalizing_s,
    p.failed_phase, p.failed_context_code
FROM builds b
LEFT JOIN phase_seconds p USING (build_arn);
"""

# Per-build cost bounds as last computed by `ciwb cost save` (ciwb.cost): a snapshot, replaced
# wholesale, that notebooks, exports and Athena can read without ciwb's price logic.
_BUILD_COSTS = """
CREATE TABLE build_costs (
    build_arn        VARCHAR PRIMARY KEY,
    project_name     VARCHAR NOT NULL,
    account_id       VARCHAR,
    region           VARCHAR,
    month            DATE,
    arch             VARCHAR,
    environment_type VARCHAR,
    compute_type     VARCHAR,
    lower_s          DOUBLE,
    upper_s          DOUBLE,
    billed_lower_s   DOUBLE,
    billed_upper_s   DOUBLE,
    free_lower_s     DOUBLE,
    free_upper_s     DOUBLE,
    unit             VARCHAR,
    price            DOUBLE,
    currency         VARCHAR,
    price_as_of      DATE,
    price_confidence VARCHAR,
    rule             VARCHAR,
    cost_lower       DOUBLE,
    cost_upper       DOUBLE,
    unpriced_reason  VARCHAR,
    computed_at      TIMESTAMP NOT NULL,
    assumptions      JSON
);
"""

# Collector bookkeeping (issue 3): per-file coverage from DescribeCodeCoverages, and which
# builds' logs were read (a log with no agent lines must not be re-read every run).
_COLLECT_DETAIL_TABLES = """
CREATE TABLE code_coverages (
    report_arn          VARCHAR NOT NULL,
    file_path           VARCHAR NOT NULL,
    line_coverage_pct   DOUBLE,
    lines_covered       INTEGER,
    lines_missed        INTEGER,
    branch_coverage_pct DOUBLE,
    branches_covered    INTEGER,
    branches_missed     INTEGER,
    expired             TIMESTAMP,
    raw                 JSON,
    PRIMARY KEY (report_arn, file_path)
);

CREATE TABLE build_log_reads (
    build_arn  VARCHAR PRIMARY KEY,
    log_group  VARCHAR,
    log_stream VARCHAR,
    events     BIGINT NOT NULL,
    bytes      BIGINT NOT NULL,
    truncated  BOOLEAN NOT NULL,
    commands   INTEGER NOT NULL,
    read_at    TIMESTAMP NOT NULL
);

ALTER TABLE collect_cursors ADD COLUMN covered_since TIMESTAMP;
"""

# Issue 14: CodeBuild as it is in 2026. Field names are botocore's (Fleet, AutoRetryConfig,
# ComputeConfiguration, DockerServer, ProjectCache.cacheNamespace, ProjectEnvironment.hostKernel).
# Self-contained: it parses the kept `raw` JSON itself rather than calling ciwb.codebuild, so
# what it derives stays what it derived when it was written.
_FLEETS_STRUCT = (
    '{"environment": {"computeConfiguration": {"vCpu": "BIGINT", "memory": "BIGINT",'
    ' "disk": "BIGINT", "machineType": "VARCHAR", "instanceType": "VARCHAR"},'
    ' "dockerServer": {"computeType": "VARCHAR", "status": {"status": "VARCHAR"}},'
    ' "hostKernel": "VARCHAR",'
    ' "environmentVariables": [{"name": "VARCHAR", "value": "VARCHAR"}]},'
    ' "exportedEnvironmentVariables": [{"name": "VARCHAR", "value": "VARCHAR"}],'
    ' "source": {"type": "VARCHAR"},'
    ' "cache": {"cacheNamespace": "VARCHAR"},'
    ' "autoRetryConfig": {"autoRetryLimit": "INTEGER", "autoRetryNumber": "INTEGER",'
    ' "nextAutoRetry": "VARCHAR", "previousAutoRetry": "VARCHAR"}}'
)


def _replace_exactly(text: str, old: str, new: str, old2: str, new2: str) -> str:
    """Both replacements, each of text present exactly once (no silent no-op if the view moved)."""
    for before in (old, old2):
        if text.count(before) != 1:
            raise AssertionError(f"build_facts view changed; cannot extend it at {before!r}")
    return text.replace(old, new).replace(old2, new2)


def _var(name: str) -> str:
    """A build's variable `name`: from its environment, else from what it exported."""
    return (
        f"coalesce(list_filter(j.environment.environmentVariables,"
        f" lambda v: v.name = '{name}')[1].value,"
        f" list_filter(j.exportedEnvironmentVariables, lambda v: v.name = '{name}')[1].value)"
    )


# Runner kind of a build: CodeBuild sets CODEBUILD_WEBHOOK_LABEL / _RUN_ID / _JOB_ID in a
# runner build (AWS user guide, "Environment variables in build environments"); the Build
# record carries them only when the build's environment or exported variables do.
_RUNNER_KIND = f"""CASE
    WHEN {_var("BUILDKITE_JOB_ID")} IS NOT NULL THEN 'BUILDKITE'
    WHEN coalesce({_var("CODEBUILD_WEBHOOK_LABEL")}, {_var("CODEBUILD_WEBHOOK_JOB_ID")}) IS NULL
        THEN NULL
    WHEN j.source.type = 'GITHUB' THEN 'GITHUB_ACTIONS'
    WHEN j.source.type = 'GITHUB_ENTERPRISE' THEN 'GITHUB_ENTERPRISE'
    WHEN j.source.type IN ('GITLAB', 'GITLAB_SELF_MANAGED') THEN 'GITLAB'
    ELSE 'RUNNER' END"""

_FLEETS_AND_NEW_BUILD_FIELDS = f"""
CREATE TABLE fleets (
    fleet_arn             VARCHAR PRIMARY KEY,
    fleet_id              VARCHAR,
    name                  VARCHAR NOT NULL,
    account_id            VARCHAR NOT NULL,
    region                VARCHAR NOT NULL,
    status                VARCHAR,
    status_context        VARCHAR,
    base_capacity         INTEGER,
    environment_type      VARCHAR,
    compute_type          VARCHAR,
    arch                  VARCHAR,
    compute_vcpu          BIGINT,
    compute_memory_gb     BIGINT,
    compute_disk_gb       BIGINT,
    compute_machine_type  VARCHAR,
    compute_instance_type VARCHAR,
    scaling_type          VARCHAR,
    max_capacity          INTEGER,
    desired_capacity      INTEGER,
    target_utilisation    DOUBLE,
    overflow_behavior     VARCHAR,
    image_id              VARCHAR,
    created               TIMESTAMP,
    last_modified         TIMESTAMP,
    origin                VARCHAR NOT NULL,
    raw                   JSON USING COMPRESSION ZSTD,
    ingested_at           TIMESTAMP NOT NULL
);

ALTER TABLE builds ADD COLUMN auto_retry_number INTEGER;
ALTER TABLE builds ADD COLUMN auto_retry_limit INTEGER;
ALTER TABLE builds ADD COLUMN previous_auto_retry VARCHAR;
ALTER TABLE builds ADD COLUMN next_auto_retry VARCHAR;
ALTER TABLE builds ADD COLUMN source_type VARCHAR;
ALTER TABLE builds ADD COLUMN runner_kind VARCHAR;
ALTER TABLE builds ADD COLUMN runner_label VARCHAR;
ALTER TABLE builds ADD COLUMN runner_run_id VARCHAR;
ALTER TABLE builds ADD COLUMN runner_job_id VARCHAR;
ALTER TABLE builds ADD COLUMN runner_workflow VARCHAR;
ALTER TABLE builds ADD COLUMN compute_vcpu BIGINT;
ALTER TABLE builds ADD COLUMN compute_memory_gb BIGINT;
ALTER TABLE builds ADD COLUMN compute_disk_gb BIGINT;
ALTER TABLE builds ADD COLUMN compute_machine_type VARCHAR;
ALTER TABLE builds ADD COLUMN compute_instance_type VARCHAR;
ALTER TABLE builds ADD COLUMN docker_server_compute_type VARCHAR;
ALTER TABLE builds ADD COLUMN docker_server_status VARCHAR;
ALTER TABLE builds ADD COLUMN cache_namespace VARCHAR;
ALTER TABLE builds ADD COLUMN host_kernel VARCHAR;

ALTER TABLE projects ADD COLUMN runner_kind VARCHAR;
ALTER TABLE projects ADD COLUMN auto_retry_limit INTEGER;
ALTER TABLE projects ADD COLUMN cache_namespace VARCHAR;

-- Re-derive the new columns of every kept build from its raw record.
UPDATE builds SET
    auto_retry_number = s.j.autoRetryConfig.autoRetryNumber,
    auto_retry_limit = s.j.autoRetryConfig.autoRetryLimit,
    previous_auto_retry = s.j.autoRetryConfig.previousAutoRetry,
    next_auto_retry = s.j.autoRetryConfig.nextAutoRetry,
    source_type = s.j.source.type,
    runner_kind = s.runner_kind,
    runner_label = s.runner_label,
    runner_run_id = s.runner_run_id,
    runner_job_id = s.runner_job_id,
    runner_workflow = s.runner_workflow,
    compute_vcpu = s.j.environment.computeConfiguration.vCpu,
    compute_memory_gb = s.j.environment.computeConfiguration.memory,
    compute_disk_gb = s.j.environment.computeConfiguration.disk,
    compute_machine_type = s.j.environment.computeConfiguration.machineType,
    compute_instance_type = s.j.environment.computeConfiguration.instanceType,
    docker_server_compute_type = s.j.environment.dockerServer.computeType,
    docker_server_status = s.j.environment.dockerServer.status.status,
    cache_namespace = s.j.cache.cacheNamespace,
    host_kernel = s.j.environment.hostKernel
FROM (
    SELECT build_arn, j,
           {_RUNNER_KIND} AS runner_kind,
           {_var("CODEBUILD_WEBHOOK_LABEL")} AS runner_label,
           coalesce({_var("CODEBUILD_WEBHOOK_RUN_ID")}, {_var("BUILDKITE_BUILD_ID")})
               AS runner_run_id,
           coalesce({_var("CODEBUILD_WEBHOOK_JOB_ID")}, {_var("BUILDKITE_JOB_ID")})
               AS runner_job_id,
           {_var("CODEBUILD_WEBHOOK_WORKFLOW_NAME")} AS runner_workflow
    FROM (SELECT build_arn, from_json(raw, '{_FLEETS_STRUCT}') AS j FROM builds WHERE raw IS NOT NULL)
) s
WHERE builds.build_arn = s.build_arn;

UPDATE projects SET
    auto_retry_limit = TRY_CAST(json_extract_string(raw, '$.autoRetryLimit') AS INTEGER),
    cache_namespace = json_extract_string(raw, '$.cache.cacheNamespace'),
    runner_kind = CASE
        WHEN json_extract_string(raw, '$.webhook.buildType') = 'RUNNER_BUILDKITE_BUILD'
            THEN 'BUILDKITE'
        WHEN NOT coalesce(contains(CAST(json_extract(raw, '$.webhook.filterGroups') AS VARCHAR),
                                   'WORKFLOW_JOB_QUEUED'), false) THEN NULL
        WHEN source_type = 'GITHUB' THEN 'GITHUB_ACTIONS'
        WHEN source_type = 'GITHUB_ENTERPRISE' THEN 'GITHUB_ENTERPRISE'
        WHEN source_type IN ('GITLAB', 'GITLAB_SELF_MANAGED') THEN 'GITLAB'
        ELSE 'RUNNER' END
WHERE raw IS NOT NULL;
""" + _replace_exactly(
    _BUILD_FACTS_VIEW,
    "    b.start_time, b.end_time, b.total_s,\n",
    "    b.start_time, b.end_time, b.total_s,\n"
    "    b.fleet_arn, b.auto_retry_number, b.auto_retry_limit, b.previous_auto_retry,\n"
    "    b.next_auto_retry, b.source_type,\n"
    "    coalesce(b.runner_kind, pr.runner_kind) AS runner_kind,\n"
    "    b.runner_label, b.runner_run_id, b.runner_job_id, b.runner_workflow,\n"
    "    b.compute_vcpu, b.compute_memory_gb, b.compute_disk_gb, b.compute_machine_type,\n"
    "    b.compute_instance_type, b.docker_server_compute_type, b.docker_server_status,\n"
    "    b.cache_namespace, b.host_kernel,\n",
    "LEFT JOIN phase_seconds p USING (build_arn);",
    "LEFT JOIN phase_seconds p USING (build_arn)\n"
    "LEFT JOIN projects pr\n"
    "  ON pr.account_id = b.account_id AND pr.region = b.region AND pr.name = b.project_name;",
)

# Billing data (issue 13, ciwb.bill): CodeBuild line items from CUR 2.0 / Data Exports, the
# legacy CUR or Cost Explorer. The named columns use CUR 2.0 names; `raw` keeps every source
# column of the line item as JSON under its source name. environment_type … usage_kind are
# the usage-type mapping applied at import (NULL: a usage type the mapping does not know).
# A re-import replaces whole billing periods (see bill_imports); bill_rates is recomputed from
# the line items after every import (effective rate = cost ÷ chargeable units, per period).
_BILL_TABLES = """
CREATE TABLE bill_line_items (
    source               VARCHAR NOT NULL,
    billing_period       DATE NOT NULL,
    line_item_id         VARCHAR,
    payer_account_id     VARCHAR,
    usage_account_id     VARCHAR,
    line_item_type       VARCHAR,
    product_code         VARCHAR,
    usage_type           VARCHAR,
    operation            VARCHAR,
    resource_id          VARCHAR,
    region               VARCHAR,
    usage_start          TIMESTAMP,
    usage_end            TIMESTAMP,
    usage_amount         DOUBLE,
    pricing_unit         VARCHAR,
    unblended_rate       DOUBLE,
    unblended_cost       DOUBLE,
    net_unblended_cost   DOUBLE,
    public_on_demand_cost DOUBLE,
    currency             VARCHAR,
    description          VARCHAR,
    invoice_id           VARCHAR,
    resource_tags        JSON,
    environment_type     VARCHAR,
    compute_type         VARCHAR,
    unit                 VARCHAR,
    usage_kind           VARCHAR,
    mapping_inferred     BOOLEAN,
    raw                  JSON NOT NULL,
    imported_at          TIMESTAMP NOT NULL
);

CREATE TABLE bill_imports (
    billing_period DATE NOT NULL,
    source         VARCHAR NOT NULL,
    location       VARCHAR NOT NULL,
    files          INTEGER NOT NULL,
    line_items     BIGINT NOT NULL,
    period_open    BOOLEAN NOT NULL,
    imported_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (billing_period, source)
);

CREATE TABLE bill_rates (
    region           VARCHAR NOT NULL,
    environment_type VARCHAR NOT NULL,
    compute_type     VARCHAR NOT NULL,
    billing_period   DATE NOT NULL,
    usage_types      VARCHAR NOT NULL,
    unit             VARCHAR NOT NULL,
    units            DOUBLE NOT NULL,
    cost             DOUBLE NOT NULL,
    rate             DOUBLE NOT NULL,
    currency         VARCHAR NOT NULL,
    period_open      BOOLEAN NOT NULL,
    source           VARCHAR NOT NULL,
    PRIMARY KEY (region, environment_type, compute_type, billing_period)
);
"""

# `raw JSON` in a table's DDL as DuckDB prints it (duckdb_tables().sql), before NOT NULL,
# the next column or the closing parenthesis.
_RAW_JSON = re.compile(r"\braw JSON(?= NOT NULL|,|\))")


def compress_raw_json(con: duckdb.DuckDBPyConnection) -> None:
    """Store every table's `raw` JSON ZSTD-compressed, in place, keeping every row.

    The raw records are most of the file (≈4 KB of JSON per build, which DuckDB's default
    string compression only halves) and are read rarely (re-deriving columns in a migration),
    so they are stored with ZSTD, which keeps the column's type: every reader of `raw`
    works unchanged. DuckDB cannot change a column's compression in place, so each table is
    rebuilt from its own current DDL (whatever columns earlier migrations added, with its
    keys) plus `USING COMPRESSION ZSTD` on `raw`, its rows copied, the old one dropped. Views
    bind by name and see the new table. Tables created by later migrations are not touched.
    """
    tables = con.execute(
        """
        SELECT t.table_name, t.sql
        FROM duckdb_tables() t
        JOIN duckdb_columns() c USING (database_name, schema_name, table_name)
        WHERE t.database_name = current_database() AND t.schema_name = 'main'
          AND NOT t.temporary AND c.column_name = 'raw' AND c.data_type = 'JSON'
        ORDER BY t.table_name
        """
    ).fetchall()
    for table, ddl in tables:
        if "USING COMPRESSION" in ddl:
            continue
        rebuilt = f"{table}__zstd"
        head = f"CREATE TABLE {table}("
        if not ddl.startswith(head):
            raise RuntimeError(f"unexpected DDL for {table}: {ddl[:80]}")
        con.execute(
            _RAW_JSON.sub(
                "raw JSON USING COMPRESSION ZSTD", ddl.replace(head, f"CREATE TABLE {rebuilt}(", 1)
            )
        )
        con.execute(f"INSERT INTO {rebuilt} SELECT * FROM {table}")
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")


# Issue 16: every report reads build_facts, and the view re-aggregated all of build_phases per
# query. The per-build phase facts it computed are now columns of `builds`, written with each
# build from the same record as its phases (ciwb.codebuild.build_sql), so the view is a
# projection of builds with the same columns and meaning. Existing rows are filled by the
# view's own aggregate over their kept phases. Self-contained (it reads the catalog and its own
# SQL, nothing above): ALTER keeps each column's compression, so migration 7's ZSTD on `raw`
# holds whichever order the two run in.
_PHASE_FACT_COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    (f"{phase.lower()}_s", "DOUBLE", f"sum(duration_s) FILTER (WHERE phase_type = '{phase}')")
    for phase in (
        "SUBMITTED",
        "QUEUED",
        "PROVISIONING",
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "PRE_BUILD",
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
        "FINALIZING",
    )
) + (
    (
        "failed_phase",
        "VARCHAR",
        "arg_min(phase_type, seq)"
        " FILTER (WHERE status IN ('FAILED', 'FAULT', 'TIMED_OUT', 'STOPPED'))",
    ),
    (
        "failed_context_code",
        "VARCHAR",
        "arg_min(context_code, seq)"
        " FILTER (WHERE status IN ('FAILED', 'FAULT', 'TIMED_OUT', 'STOPPED'))",
    ),
)

_BUILD_FACTS_FROM_BUILDS = """
CREATE OR REPLACE VIEW build_facts AS
SELECT
    b.build_arn, b.build_id, b.project_name, b.account_id, b.region,
    b.arch, b.compute_type, b.environment_type, b.status, b.origin,
    b.build_complete, b.build_number, b.source_version, b.resolved_source_version,
    b.build_batch_arn, b.initiator,
    b.start_time, b.end_time, b.total_s,
    b.fleet_arn, b.auto_retry_number, b.auto_retry_limit, b.previous_auto_retry,
    b.next_auto_retry, b.source_type,
    coalesce(b.runner_kind, pr.runner_kind) AS runner_kind,
    b.runner_label, b.runner_run_id, b.runner_job_id, b.runner_workflow,
    b.compute_vcpu, b.compute_memory_gb, b.compute_disk_gb, b.compute_machine_type,
    b.compute_instance_type, b.docker_server_compute_type, b.docker_server_status,
    b.cache_namespace, b.host_kernel,
    b.queued_s, b.provisioning_s,
    b.submitted_s, b.download_source_s, b.install_s, b.pre_build_s, b.build_s,
    b.post_build_s, b.upload_artifacts_s, b.finalizing_s,
    b.failed_phase, b.failed_context_code
FROM builds b
LEFT JOIN projects pr
  ON pr.account_id = b.account_id AND pr.region = b.region AND pr.name = b.project_name;
"""


def materialise_phase_facts(con: duckdb.DuckDBPyConnection) -> None:
    """Add the per-build phase facts to `builds`, fill them from `build_phases`, re-point
    `build_facts` at them. Columns already there are kept (the step can be re-run)."""
    present = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
            " AND schema_name = 'main' AND table_name = 'builds'"
        ).fetchall()
    }
    for column, sql_type, _ in _PHASE_FACT_COLUMNS:
        if column not in present:
            con.execute(f"ALTER TABLE builds ADD COLUMN {column} {sql_type}")
    assignments = ", ".join(f"{c} = f.{c}" for c, _, _ in _PHASE_FACT_COLUMNS)
    aggregates = ",\n".join(f"{agg} AS {c}" for c, _, agg in _PHASE_FACT_COLUMNS)
    con.execute(
        f"UPDATE builds SET {assignments} FROM ("
        f"SELECT build_arn, {aggregates} FROM build_phases GROUP BY build_arn"
        ") f WHERE builds.build_arn = f.build_arn"
    )
    con.execute(_BUILD_FACTS_FROM_BUILDS)


# The child tables keyed by their parent's ARN, and their keys, as when migration 9 was
# written (it must not follow later changes of ciwb.store.writes).
_WRITER_KEYED_TABLES = (
    "build_batch_groups",
    "build_commands",
    "build_metrics",
    "build_phases",
    "code_coverages",
    "test_cases",
)
_PRIMARY_KEY = re.compile(r", PRIMARY KEY\(([^)]*)\)(?=\);$)")


def drop_child_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the ARN-keyed child tables without their PRIMARY KEY, in place, keeping every row.

    Their ART indexes (keys of a ~90-byte ARN plus a name, one per phase, metric, test
    case…) were a third of the file and most of the cost of each write, growing with
    the store; the writer (ciwb.store.writes) keeps those keys unique instead. The key's
    columns stay NOT NULL, as declared in migration 1. DuckDB cannot drop a primary key in
    place, so each table is rebuilt from its own current DDL (columns added since, `raw`'s
    compression) without the key, as `compress_raw_json` does; views bind by name. Like it,
    this reads the catalog and can be renumbered freely. A file keeps the freed blocks for
    reuse: `ciwb db compact` gives them back.
    """
    tables = dict(
        con.execute(
            """
            SELECT table_name, sql FROM duckdb_tables()
            WHERE database_name = current_database() AND schema_name = 'main'
              AND NOT temporary AND list_contains(?, table_name)
            """,
            [list(_WRITER_KEYED_TABLES)],
        ).fetchall()
    )
    for table in _WRITER_KEYED_TABLES:
        ddl = tables.get(table)
        if ddl is None:
            continue
        key = _PRIMARY_KEY.search(ddl)
        if key is None:
            continue
        head = f"CREATE TABLE {table}("
        if not ddl.startswith(head):
            raise RuntimeError(f"unexpected DDL for {table}: {ddl[:80]}")
        rebuilt = f"{table}__nokey"
        new = ddl[: key.start()] + ddl[key.end() :]
        for column in (c.strip() for c in key.group(1).split(",")):
            # `column TYPE` in the column list: the key made it NOT NULL; keep it so
            new, found = re.subn(rf"(\(|, ){column} ([A-Z]+)(?=,)", rf"\1{column} \2 NOT NULL", new)
            if found != 1:
                raise RuntimeError(f"key column {column} of {table} not found in its DDL")
        con.execute(new.replace(head, f"CREATE TABLE {rebuilt}(", 1))
        con.execute(f"INSERT INTO {rebuilt} SELECT * FROM {table}")
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")


# Issue 16: columns that are a function of other columns of the same row are computed when
# read (DuckDB VIRTUAL generated columns) instead of stored. Readers see the same columns with
# the same values; only the file shrinks. A metric's timestamps are stored as their first one
# when they step by exactly its period (as GetMetricData returns them), else as the list.
# As when migration 10 was written (it must not follow later changes of ciwb.store.derived).
_P95_POS = "(0.95::DOUBLE * (len(series_values) - 1))"
_SORTED = "list_sort(series_values)"
_MEAN_10 = "list_sum(series_values) / len(series_values)"
_P95_10 = (
    f"{_SORTED}[CAST(floor({_P95_POS}) AS BIGINT) + 1]"
    f" + ({_SORTED}[least(CAST(floor({_P95_POS}) AS BIGINT) + 2, len(series_values))]"
    f" - {_SORTED}[CAST(floor({_P95_POS}) AS BIGINT) + 1])"
    f" * ({_P95_POS} - floor({_P95_POS}))"
)
_ARN_UUID_10 = "split_part(build_arn, ':', 7)"  # …:build/<project>:<uuid>
_ARN_ID_10 = "substr(build_arn, strpos(build_arn, ':build/') + 7)"
_DERIVED_10: dict[str, dict[str, str]] = {
    "builds": {
        "build_id": f"coalesce(build_id_given, {_ARN_ID_10})",
        "log_stream": f"CASE WHEN log_stream_is_arn_uuid THEN {_ARN_UUID_10}"
        " ELSE log_stream_given END",
    },
    "build_phases": {"duration_s": "date_diff('microsecond', start_time, end_time) / 1e6"},
    "build_metrics": {
        "points": "len(series_values)",
        "min_value": "list_min(series_values)",
        "mean_value": f"coalesce(mean_value_given, {_MEAN_10})",
        "max_value": "list_max(series_values)",
        # numpy's default percentile (linear between closest ranks), as normalise_metric
        "p95_value": f"coalesce(p95_value_given, {_P95_10})",
        "series_ts": "CASE WHEN series_ts_start IS NULL THEN series_ts_irregular"
        " ELSE generate_series(series_ts_start,"
        " series_ts_start + to_seconds(CAST(period_s AS BIGINT) * (len(series_values) - 1)),"
        " to_seconds(CAST(period_s AS BIGINT))) END",
    },
}
_REGULAR_10 = (
    "(period_s > 0 AND len(series_ts) > 0 AND len(series_ts) = len(series_values)"
    " AND series_ts = generate_series(series_ts[1],"
    " series_ts[1] + to_seconds(CAST(period_s AS BIGINT) * (len(series_ts) - 1)),"
    " to_seconds(CAST(period_s AS BIGINT))))"
)
# Stored columns added, and how each is filled from the table's rows as they were.
_SAME_STREAM_10 = f"coalesce(log_stream = {_ARN_UUID_10}, false)"
_ADDED_10: dict[str, tuple[tuple[str, str, str], ...]] = {
    "builds": (
        (
            "build_id_given",
            "VARCHAR",
            f"CASE WHEN build_id IS DISTINCT FROM {_ARN_ID_10} THEN build_id END",
        ),
        ("log_stream_is_arn_uuid", "BOOLEAN", _SAME_STREAM_10),
        ("log_stream_given", "VARCHAR", f"CASE WHEN NOT {_SAME_STREAM_10} THEN log_stream END"),
    ),
    "build_metrics": (
        ("series_ts_start", "TIMESTAMP", f"CASE WHEN {_REGULAR_10} THEN series_ts[1] END"),
        (
            "series_ts_irregular",
            "TIMESTAMP[]",
            f"CASE WHEN NOT coalesce({_REGULAR_10}, false) THEN series_ts END",
        ),
        # a statistic an older ciwb computed differently to the last bit (Python 3.12's float
        # sum is compensated, DuckDB's list_sum is not) is kept as stored: the upgrade never
        # changes a value, and never refuses a store over a rounding difference
        (
            "mean_value_given",
            "DOUBLE",
            f"CASE WHEN mean_value IS DISTINCT FROM {_MEAN_10} THEN mean_value END",
        ),
        (
            "p95_value_given",
            "DOUBLE",
            f"CASE WHEN p95_value IS DISTINCT FROM {_P95_10} THEN p95_value END",
        ),
    ),
}


_IDENTITY_10 = {
    "builds": ("build_arn",),
    "build_phases": ("build_arn", "seq"),
    "build_metrics": ("build_arn", "metric_name"),
}


def derive_instead_of_store(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild `builds`, `build_phases` and `build_metrics` with their derivable columns
    generated on read.

    Each table is rebuilt from its own current DDL (as migrations 7 and 9 do) with those
    columns declared `GENERATED ALWAYS AS (…) VIRTUAL` in place, so column order and every
    reader stay as they were, and the stored columns they need appended. Before the old table
    goes, every row's derived columns are checked to be exactly what it stored (compared as
    values, NULLs alike): a row they would change aborts the migration and leaves the store as
    it was. Reads the catalog, as 7 and 9: it can be renumbered freely.
    """
    tables = dict(
        con.execute(
            """
            SELECT table_name, sql FROM duckdb_tables()
            WHERE database_name = current_database() AND schema_name = 'main'
              AND NOT temporary AND list_contains(?, table_name)
            """,
            [list(_DERIVED_10)],
        ).fetchall()
    )
    for table, derived in _DERIVED_10.items():
        ddl = tables.get(table)
        if ddl is None or "GENERATED ALWAYS" in ddl:
            continue
        head = f"CREATE TABLE {table}("
        if not ddl.startswith(head) or not ddl.endswith(");"):
            raise RuntimeError(f"unexpected DDL for {table}: {ddl[:80]}")
        columns = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
                " AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
        ]
        rebuilt = f"{table}__derived"
        new = ddl.replace(head, f"CREATE TABLE {rebuilt}(", 1)
        for column, expr in derived.items():
            new, found = re.subn(
                rf"(?:(?<=\()|(?<=, )){column} ([A-Z]+(?:\[\])?)(?: NOT NULL)?(?=, |\);$)",
                lambda m, c=column, e=expr: f"{c} {m.group(1)} GENERATED ALWAYS AS ({e}) VIRTUAL",
                new,
            )
            if found != 1:
                raise RuntimeError(f"column {column} of {table} not found in its DDL")
        added = _ADDED_10.get(table, ())
        key = _PRIMARY_KEY.search(new)
        end = key.start() if key else len(new) - 2
        new = new[:end] + "".join(f", {c} {t}" for c, t, _ in added) + new[end:]
        con.execute(new)
        stored = [c for c in columns if c not in derived]
        con.execute(
            f"INSERT INTO {rebuilt} ({', '.join(stored + [c for c, _, _ in added])})"
            f" SELECT {', '.join(stored + [fill for _, _, fill in added])} FROM {table}"
        )
        # the rows' identity and every derived column (the others are copied as they are)
        cols = ", ".join(_IDENTITY_10[table] + tuple(derived))
        changed = con.execute(
            f"SELECT count(*) FROM (SELECT {cols} FROM {table} EXCEPT ALL SELECT {cols} FROM {rebuilt})"
        ).fetchall()[0][0]
        if changed:
            raise StoreUpgradeRefusedError(
                f"{table}: {changed} row(s) whose stored values differ from the ones derived"
                " from their other columns; the store is unchanged",
                hint="keep using the ciwb that wrote it, and report this with `ciwb db info`",
            )
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "core tables", _CORE_TABLES),
    Migration(2, "build_facts view", _BUILD_FACTS_VIEW),
    Migration(3, "build_costs snapshot", _BUILD_COSTS),
    Migration(4, "collector detail: code_coverages, build_log_reads", _COLLECT_DETAIL_TABLES),
    Migration(5, "billing: bill_line_items, bill_imports, bill_rates", _BILL_TABLES),
    Migration(
        6,
        "fleets; auto-retry, runner, compute shape, docker server, cache namespace, host kernel",
        _FLEETS_AND_NEW_BUILD_FIELDS,
    ),
    # Self-contained (reads the catalog, not the DDL above): it can be renumbered freely,
    # and compresses the `raw` of every table that exists when it runs.
    Migration(7, "raw JSON stored ZSTD-compressed", apply=compress_raw_json),
    Migration(8, "per-build phase facts materialised in builds", apply=materialise_phase_facts),
    # Self-contained as 7 and 8: each reads the catalog, so they can be renumbered freely.
    Migration(9, "child tables keyed by the writer: no ART primary keys", apply=drop_child_keys),
    Migration(10, "derivable columns generated on read, not stored", apply=derive_instead_of_store),
)

LATEST_VERSION = MIGRATIONS[-1].version
