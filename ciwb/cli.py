"""The `ciwb` command line: one thin command per library function.

Each command parses options, calls one function of the library and renders its result.
No logic lives here. Library modules are imported inside commands so `ciwb --help` stays
fast. A `CiwbError` (a user mistake or an unusable file) is printed as one line and exits
with its code, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ciwb import __version__
from ciwb.errors import CiwbError

if TYPE_CHECKING:
    from ciwb.replay import BatchResult, ReplayResult

app = typer.Typer(
    name="ciwb",
    help="CI analytics and cost optimisation workbench for AWS CodeBuild.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Inspect, migrate and export the DuckDB store.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="DuckDB file (default: $CIWB_DB, else ciwb.duckdb in $CIWB_HOME or the user data "
        "directory).",
        show_default=False,
    ),
]


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"ciwb {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """CI analytics and cost optimisation workbench for AWS CodeBuild."""


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file to write.")] = Path(
        "data/demo.duckdb"
    ),
    builds: Annotated[
        int, typer.Option("--builds", min=100, help="How many builds to generate.")
    ] = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same history).")] = 7,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    bill: Annotated[
        bool,
        typer.Option(
            "--bill/--no-bill", help="Also write and import a CUR 2.0 export (data/demo.bill/)."
        ),
    ] = True,
) -> None:
    """Generate a realistic synthetic CodeBuild history and load it through normalisation."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from ciwb.demo import load_demo

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
    ) as progress:
        task = progress.add_task("demo", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            progress.update(task, description=stage, completed=done, total=total)

        summary = load_demo(db, builds=builds, seed=seed, progress=on_progress, bill=bill)

    table = Table(title=f"demo history in {summary.db}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.rows.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(
        f"{summary.builds:,} builds across {summary.projects} projects, "
        f"{summary.first:%Y-%m-%d} → {summary.last:%Y-%m-%d}; "
        f"planted facts in {summary.planted_path}"
    )


# --------------------------------------------------------------------------- db


@db_app.command("info")
def db_info(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Tables, row counts, date range and schema version of the store."""
    from ciwb.store import db_info as _db_info

    info = _db_info(db)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "path": str(info.path),
                    "size_bytes": info.size_bytes,
                    "schema_version": info.schema_version,
                    "tables": {t.name: t.rows for t in info.tables},
                    "first_build": info.first_build.isoformat() if info.first_build else None,
                    "last_build": info.last_build.isoformat() if info.last_build else None,
                    "builds_by_origin": info.builds_by_origin,
                }
            )
        )
        return
    table = Table(
        title=str(info.path),
        caption=f"schema v{info.schema_version} · {info.size_bytes / 1e6:.1f} MB",
    )
    table.add_column("table")
    table.add_column("rows", justify="right")
    for t in info.tables:
        table.add_row(t.name, f"{t.rows:,}")
    console.print(table)
    if info.first_build:
        console.print(
            f"builds from {info.first_build:%Y-%m-%d %H:%M} to {info.last_build:%Y-%m-%d %H:%M} UTC"
        )
    for origin, count in info.builds_by_origin.items():
        console.print(f"  origin={origin}: {count:,} builds")


@db_app.command("migrate")
def db_migrate(db: DbOption = None) -> None:
    """Upgrade the store's schema in place to this ciwb's version."""
    from ciwb.store import upgrade

    applied = upgrade(db)
    console.print(f"applied migrations: {applied}" if applied else "already up to date")


@db_app.command("compact")
def db_compact(db: DbOption = None) -> None:
    """Rewrite the store into a file of only its live data (a DuckDB file never shrinks).

    Gives back the space an upgrade or many re-reads freed. Run it while nothing else
    writes to the store.
    """
    from ciwb.store import compact

    result = compact(db)
    console.print(
        f"{result.path}: {result.bytes_before / 1e6:,.1f} MB -> {result.bytes_after / 1e6:,.1f} MB"
    )


@db_app.command("export")
def db_export(
    target: Annotated[str, typer.Argument(help="Directory or s3://bucket/prefix.")],
    db: DbOption = None,
) -> None:
    """Write every table as Parquet, partitioned by month."""
    from ciwb.store import export_parquet

    result = export_parquet(target, db)
    for name, count in result.tables.items():
        console.print(f"{name:<20} {count:>12,} rows")
    console.print(f"exported to {result.target}")


# --------------------------------------------------------------------------- collect


@app.command()
def collect(
    profile: Annotated[
        list[str] | None,
        typer.Option("--profile", help="AWS profile (repeatable: several accounts in one run)."),
    ] = None,
    role_arn: Annotated[
        str | None, typer.Option("--role-arn", help="Assume this role from each profile.")
    ] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="Region (repeatable).")
    ] = None,
    all_regions: Annotated[
        bool, typer.Option("--all-regions", help="Every region CodeBuild runs in.")
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="How far back: 90d, 12h, 2w or a date.")
    ] = None,
    project: Annotated[
        list[str] | None, typer.Option("--project", help="Project name or glob (repeatable).")
    ] = None,
    logs: Annotated[
        bool, typer.Option("--logs", help="Read build logs into build_commands.")
    ] = False,
    no_metrics: Annotated[
        bool, typer.Option("--no-metrics", help="Skip CloudWatch utilisation metrics.")
    ] = False,
    no_batches: Annotated[bool, typer.Option("--no-batches", help="Skip build batches.")] = False,
    no_reports: Annotated[
        bool, typer.Option("--no-reports", help="Skip test and coverage reports.")
    ] = False,
    log_cap_mb: Annotated[
        float, typer.Option("--log-cap-mb", min=0.001, help="Most log text read per build.")
    ] = 50.0,
    save_raw: Annotated[
        Path | None, typer.Option("--save-raw", help="Also archive every API page as NDJSON here.")
    ] = None,
    org: Annotated[
        bool,
        typer.Option(
            "--org",
            help="Every active account of the AWS organisation (run from the management"
            " account or a delegated administrator).",
        ),
    ] = False,
    org_role: Annotated[
        str,
        typer.Option("--org-role", help="With --org: the role assumed in each member account."),
    ] = "ciwb-reader",
    accounts: Annotated[
        list[str] | None,
        typer.Option("--accounts", help="With --org: account id, name or glob (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="With --org: leave out these accounts (id, name, glob)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            help="Account × region walks at once (default: 8 per CPU, at most 32).",
            show_default=False,
        ),
    ] = None,
    print_policy: Annotated[
        bool,
        typer.Option("--print-policy", help="Print the IAM policy collect needs, and exit."),
    ] = False,
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary.")
    ] = False,
) -> None:
    """Collect CodeBuild history (projects, builds, batches, reports, metrics, logs)."""
    from contextlib import nullcontext

    from ciwb.codebuild.clock import parse_when
    from ciwb.collect import CollectOptions, RichProgress
    from ciwb.collect import collect as _collect

    if print_policy:
        from ciwb.collect.policy import policy_json

        print(policy_json())
        raise typer.Exit(0)
    options = CollectOptions(
        profiles=list(profile) if profile else [None],
        role_arn=role_arn,
        regions=list(region or ()),
        all_regions=all_regions,
        since=parse_when(since, option="--since"),
        projects=list(project or ()),
        logs=logs,
        metrics=not no_metrics,
        batches=not no_batches,
        reports=not no_reports,
        save_raw=save_raw,
        db=db,
        log_cap_bytes=int(log_cap_mb * 1024 * 1024),
        org=org,
        org_role=org_role,
        accounts=list(accounts or ()),
        exclude=list(exclude or ()),
        concurrency=concurrency,
    )
    progress = None if quiet or as_json else RichProgress(err_console)
    with progress or nullcontext():
        summary = _collect(options, progress)
    if as_json:
        print(json.dumps(summary.as_dict()))
    elif not quiet or summary.exit_code:
        _print_collect_summary(summary)
    raise typer.Exit(summary.exit_code)


def _print_collect_summary(summary: object) -> None:
    s = summary  # CollectSummary
    console.print(
        f"run {s.run_id}: {s.status} · {s.projects} projects · {s.builds_fetched:,} builds read"
        f" · {sum(s.api_calls.values()):,} API calls"
        f" · accounts {', '.join(s.accounts)} · regions {', '.join(s.regions)}"
    )
    written = ", ".join(f"{t} {n:,}" for t, n in s.rows_written.items() if n)
    console.print(f"rows written: {written or 'none'}")
    console.print(f"store: {s.store}", highlight=False, soft_wrap=True)
    if s.raw_archive:
        console.print(f"raw archive: {s.raw_archive}")
    if s.inactive_accounts:
        console.print(f"not active (suspended or closing): {', '.join(s.inactive_accounts)}")
    for skip in s.skipped:
        err_console.print(
            f"skipped {skip['account_id']}/{skip['region']} {skip['target']}:"
            f" {skip['operation']} {skip['code']}: {skip['message']}",
            highlight=False,
        )
    for error in s.errors:
        err_console.print(
            f"error {error['account_id']}/{error['region']}: {error['error']}", highlight=False
        )


@app.command("import")
def import_(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Raw archives (--save-raw), `aws codebuild` JSON, `aws logs get-log-events` / "
            "`filter-log-events` JSON, or a plain-text build log."
        ),
    ],
    build: Annotated[
        str | None,
        typer.Option(
            "--build",
            metavar="ARN|ID",
            help="The stored build a log belongs to (needed for plain-text logs and "
            "get-log-events output; filter-log-events is matched by its log stream).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Load raw archives, AWS CLI batch-get-* JSON, and build logs into the store.

    Logs (CloudWatch JSON from `aws logs`, the console's download, lines copied from the
    console with line numbers or from the local agent) become the build's commands.
    """
    from ciwb.collect import import_paths

    _print_import_summary(import_paths(paths, db, build=build), as_json)


@app.command("import-events")
def import_events(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files, .gz files, directories or s3://BUCKET/PREFIX of EventBridge events: "
            "NDJSON, pretty-printed, JSON arrays or concatenated objects (Firehose).",
            show_default=False,
        ),
    ],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Load EventBridge CodeBuild "Build State Change" and "Build Phase Change" events.

    State changes give builds and phases; phase changes update the phases of their build
    (in the same events or already in the store).
    """
    from ciwb.collect import import_events as _import_events

    _print_import_summary(_import_events(sources, db), as_json)


def _print_import_summary(summary: object, as_json: bool) -> None:
    s = summary  # ImportSummary
    if as_json:
        print(json.dumps(s.as_dict()))
        return
    records = ", ".join(f"{k} {v:,}" for k, v in s.records.items()) or "none"
    console.print(f"run {s.run_id}: {s.pages:,} pages/lines from {s.files} file(s); {records}")
    console.print(f"store: {s.store}", highlight=False, soft_wrap=True)
    if s.ignored:
        console.print("ignored: " + ", ".join(f"{k} {v:,}" for k, v in s.ignored.items()))


# --------------------------------------------------------------------------- images

images_app = typer.Typer(
    help="Local base images built from Debian packages (no image registry needed).",
    no_args_is_help=True,
)
app.add_typer(images_app, name="images")


@images_app.command("build")
def images_build(
    arch: Annotated[str, typer.Option("--arch", help="amd64 or arm64.")] = "amd64",
    suite: Annotated[str, typer.Option("--suite", help="Debian suite.")] = "bookworm",
    packages: Annotated[
        str | None,
        typer.Option("--packages", help="Comma-separated Debian packages (default: a small set)."),
    ] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Image tag (default ciwb/base:SUITE-ARCH).")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir", help="Kept .debs and root tarballs (default /var/cache/ciwb-images)."
        ),
    ] = None,
    mirror: Annotated[
        str | None, typer.Option("--mirror", help="Debian mirror (default: the one apt uses).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False,
) -> None:
    """Build a base image for one architecture with debootstrap and `docker import`."""
    from ciwb.images import DEFAULT_CACHE_DIR, build_image, parse_packages

    result = build_image(
        arch,
        suite=suite,
        packages=parse_packages(packages),
        tag=tag,
        cache_dir=cache_dir or DEFAULT_CACHE_DIR,
        mirror=mirror,
        force=force,
        log=lambda line: err_console.print(line, highlight=False, markup=False),
    )
    what = {"image": "up to date", "tarball": "imported from kept tarball", "": "built"}
    console.print(
        f"{result.tag} ({result.arch}, {result.image_id[:19]}): {what[result.reused]} in "
        f"{result.total_s:.1f}s (debootstrap+pack {result.debootstrap_s:.1f}s, "
        f"import {result.import_s:.1f}s; tarball {result.tarball_bytes / 1e6:.1f} MB)",
        highlight=False,
    )


# --------------------------------------------------------------------------- report


@app.command()
def report(
    names: Annotated[
        list[str], typer.Argument(help="Report notebook name(s), or 'all'.", show_default=False)
    ],
    db: DbOption = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE for the notebooks' parameters cell."),
    ] = None,
    out: Annotated[
        str, typer.Option("--out", help="Output directory or s3://bucket/prefix.")
    ] = "reports",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print where each report went and its findings.")
    ] = False,
) -> None:
    """Execute report notebooks with papermill; write HTML, executed notebooks, findings.json
    beside each and index.html."""
    from ciwb.report.startup import skip_unused_imports

    skip_unused_imports()  # this process is `ciwb report`'s own, as its workers are
    from ciwb.report import parse_parameters, raise_for_failures, run_reports

    run = run_reports(names, db=db, parameters=parse_parameters(param or []), out=out)
    if as_json:
        _print_json(run.to_dict())
        raise_for_failures(run)
        return
    table = Table(title=f"reports in {run.out}")
    table.add_column("report")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("output")
    for r in run.results:
        status = "[green]ok[/green]" if r.ok else "[red]failed[/red]"
        table.add_row(r.name, status, f"{r.seconds:.1f}", r.html_location or r.notebook_location)
    console.print(table)
    console.print(run.index_location, highlight=False, soft_wrap=True)
    raise_for_failures(run)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def lab(ctx: typer.Context, db: DbOption = None) -> None:
    """Start JupyterLab on notebooks/ with CIWB_DB pointing at the store.

    Extra arguments go to JupyterLab (e.g. --no-browser --port 8899).
    """
    from ciwb.report import run_lab

    raise typer.Exit(run_lab(db, ctx.args))


# --------------------------------------------------------------------------- replay

replay_app = typer.Typer(
    help="Replay a buildspec on this machine, faithfully, and store it as a build.",
    no_args_is_help=True,
)
app.add_typer(replay_app, name="replay")

# options shared by `replay run` and `replay experiment` (same flag, same help)
CodeBuildProjectOption = Annotated[
    str | None,
    typer.Option("--project", help="codebuild: the existing CodeBuild project to build in."),
]
SourceVersionOption = Annotated[
    str | None, typer.Option("--source-version", help="codebuild: commit, branch or tag.")
]
BuildspecOption = Annotated[
    str | None, typer.Option("--buildspec", help="Buildspec path, relative to SRC.")
]
CacheLocationOption = Annotated[
    str | None, typer.Option("--cache-location", help="s3: s3://bucket/prefix.")
]
CacheDirOption = Annotated[
    Path | None, typer.Option("--cache-dir", help="local: cache root directory.")
]
ReplayOutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Where logs and artifacts go (default: replays/ beside the store)."),
]


@replay_app.command("validate")
def replay_validate(
    files: Annotated[list[Path], typer.Argument(help="Buildspec files to check.")],
) -> None:
    """Check buildspecs: `file:line:col: message` per problem; exit 1 on any error."""
    from ciwb.buildspec import validate_files

    diagnostics = validate_files(list(files))
    for diag in diagnostics:
        (err_console if diag.severity == "error" else console).print(
            str(diag), highlight=False, soft_wrap=True
        )
    errors = sum(d.severity == "error" for d in diagnostics)
    if errors:
        raise typer.Exit(1)
    console.print(f"{len(files)} file(s) valid", highlight=False)


@replay_app.command("run")
def replay_run(
    source: Annotated[Path, typer.Argument(help="Source directory (a copy is built).")],
    buildspec: BuildspecOption = None,
    db: DbOption = None,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="NAME=value lines (start-build overrides).")
    ] = None,
    secrets_file: Annotated[
        Path | None,
        typer.Option("--secrets-file", help="parameter-store / secrets-manager values (YAML)."),
    ] = None,
    resolve_secrets: Annotated[
        bool, typer.Option("--resolve-secrets", help="Read secrets from AWS (boto3).")
    ] = False,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile.")] = None,
    region: Annotated[str | None, typer.Option("--region", help="AWS region.")] = None,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Build timeout: 90s, 15m, 1h.")
    ] = None,
    unpacked: Annotated[
        bool, typer.Option("--unpacked", help="Also write artifacts as directories.")
    ] = False,
    out: ReplayOutOption = None,
    executor: Annotated[
        str, typer.Option("--executor", help="Where to run: local, docker or codebuild.")
    ] = "local",
    project: CodeBuildProjectOption = None,
    source_version: SourceVersionOption = None,
    arch: Annotated[
        str | None, typer.Option("--arch", help="docker: amd64 or arm64 (default: the host's).")
    ] = None,
    compute: Annotated[
        str | None,
        typer.Option("--compute", help="docker: small|medium|large|xlarge|2xlarge limits."),
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="docker: image (default ciwb/base:…-ARCH).")
    ] = None,
    privileged: Annotated[
        bool, typer.Option("--privileged", help="docker: privileged container (dind).")
    ] = False,
    cache: Annotated[str, typer.Option("--cache", help="none, local or s3.")] = "none",
    cache_location: CacheLocationOption = None,
    cache_dir: CacheDirOption = None,
    cache_idle_expiry: Annotated[
        str | None,
        typer.Option("--cache-idle-expiry", help="local: wipe after this idle time (AWS ~15m)."),
    ] = None,
    batch: Annotated[
        bool, typer.Option("--batch", help="Run the buildspec's batch section.")
    ] = False,
    honour_gitignore: Annotated[
        bool, typer.Option("--honour-gitignore", help="Copy only files git would commit.")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", help="Stream the build log to stderr as it runs.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable result.")] = False,
) -> None:
    """Run a buildspec's phases like CodeBuild and store the build (origin=replay)."""
    from ciwb.experiments import run_source
    from ciwb.replay import (
        CacheOptions,
        EnvironmentOptions,
        ExecutorOptions,
        OutputOptions,
        ReplayOptions,
        SourceOptions,
    )

    options = ReplayOptions(
        source=SourceOptions(
            source,
            buildspec=buildspec,
            batch=batch,
            honour_gitignore=honour_gitignore,
            project=project,
            source_version=source_version,
        ),
        environment=EnvironmentOptions(
            env_file=env_file,
            secrets_file=secrets_file,
            resolve_secrets=resolve_secrets,
            profile=profile,
            region=region,
        ),
        executor=ExecutorOptions(
            executor,
            arch=arch,
            compute=compute,
            image=image,
            privileged=privileged,
            timeout=timeout,
        ),
        cache=CacheOptions(
            cache, location=cache_location, dir=cache_dir, idle_expiry=cache_idle_expiry
        ),
        output=OutputOptions(db=db, out=out, unpacked=unpacked, echo=follow),
    )
    result = run_source(options)
    _print_replay(result, as_json)


def _print_replay(result: ReplayResult | BatchResult, as_json: bool) -> None:
    """The phase table, log, artifacts and test reports of a build or of each batch child."""
    from ciwb.replay import BatchResult

    children = list(result.children.values()) if isinstance(result, BatchResult) else [result]
    for note in sorted({n for c in children if c is not None for n in c.notes}):
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    if as_json:
        payload = [c.to_json() for c in children if c is not None]
        if isinstance(result, BatchResult):
            sys.stdout.write(
                json.dumps(
                    {
                        "batch_arn": result.batch_arn,
                        "status": result.status,
                        "skipped": result.skipped,
                        "builds": payload,
                    }
                )
                + "\n"
            )
        else:
            sys.stdout.write(json.dumps(payload[0]) + "\n")
    else:
        for child in children:
            if child is None:
                continue
            table = Table(title=f"{child.build_id} · {child.status}")
            for column in ("phase", "status", "seconds", "context"):
                table.add_column(column, justify="right" if column == "seconds" else "left")
            for p in child.phases:
                secs = "" if p.seconds is None else f"{p.seconds:.3f}"
                table.add_row(p.phase_type, p.status, secs, p.context_message or "")
            console.print(table)
            console.print(f"log: {child.log_path}", highlight=False, soft_wrap=True)
            for art in child.artifacts:
                console.print(
                    f"artifact {art.identifier or '(primary)'}: {art.zip_path}"
                    + (f" and {art.dir_path}/" if art.dir_path else ""),
                    highlight=False,
                    soft_wrap=True,
                )
            for rep in child.reports:
                console.print(
                    f"report {rep.name}: {rep.status} {rep.status_counts or ''}"
                    f"{'' if rep.line_coverage is None else f' lines {rep.line_coverage}%'}",
                    highlight=False,
                )
        if isinstance(result, BatchResult):
            console.print(
                f"batch {result.batch_id}: {result.status}"
                + (f" (not run: {', '.join(result.skipped)})" if result.skipped else "")
            )
    if result.status != "SUCCEEDED":
        raise typer.Exit(130 if result.status == "STOPPED" else 1)


@replay_app.command("experiment")
def replay_experiment(
    source: Annotated[Path, typer.Argument(help="Source directory (a copy is built per run).")],
    arch: Annotated[str, typer.Option("--arch", help="Comma-separated: amd64,arm64.")] = "amd64",
    compute: Annotated[
        str, typer.Option("--compute", help="Comma-separated: small,medium,...")
    ] = "small",
    cache: Annotated[str, typer.Option("--cache", help="Comma-separated: none,local,s3.")] = "none",
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Runs per cell.")] = 3,
    executor: Annotated[
        str, typer.Option("--executor", help="docker, local or codebuild.")
    ] = "docker",
    project: CodeBuildProjectOption = None,
    source_version: SourceVersionOption = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="codebuild: AWS profile.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="codebuild: AWS region.")] = None,
    buildspec: BuildspecOption = None,
    image: Annotated[
        str | None, typer.Option("--image", help="Image (default ciwb/base:…-ARCH).")
    ] = None,
    cache_location: CacheLocationOption = None,
    cache_dir: CacheDirOption = None,
    out: ReplayOutOption = None,
    db: DbOption = None,
) -> None:
    """Run SRC per arch × compute × cache, cold then warm; store and summarise the timings."""
    from ciwb.experiments import ExperimentRunRow, run_experiment
    from ciwb.replay import CacheOptions

    def progress(run: ExperimentRunRow) -> None:
        err_console.print(
            f"{run.cell} #{run.repetition} {run.temperature}: {run.status} "
            f"{run.total_s:.1f}s{' (emulated)' if run.emulated else ''}",
            highlight=False,
        )

    result = run_experiment(
        source,
        archs=arch,
        computes=compute,
        caches=cache,
        repeat=repeat,
        executor=executor,
        buildspec=buildspec,
        db=db,
        out=out,
        image=image,
        cache_options=CacheOptions(location=cache_location, dir=cache_dir),
        on_run=progress,
        project=project,
        # used by a remote runner (codebuild) only
        executor_options={"profile": profile, "region": region, "source_version": source_version},
    )
    from rich.markup import escape

    table = Table(title=f"experiment {result.experiment_id}: median seconds (min–max)")
    for column in ("cell", "runs", "phase", "cold", "warm"):
        table.add_column(
            column,
            justify="left" if column in ("cell", "phase") else "right",
            no_wrap=column == "cell",
        )
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for s in result.summary():
        entry = rows.setdefault((s.cell, s.phase), {"emulated": s.emulated, "runs": 0})
        entry[s.temperature] = f"{s.median_s:.2f} ({s.min_s:.2f}–{s.max_s:.2f})"
        entry["runs"] = int(entry["runs"]) + s.runs  # type: ignore[call-overload]
    for (cell, phase), entry in rows.items():
        label = escape(f"{cell} [emulated]") if entry["emulated"] else cell
        table.add_row(
            label,
            str(entry["runs"]),
            phase,
            str(entry.get("cold", "—")),
            str(entry.get("warm", "—")),
        )
    console.print(table)
    if any(r.emulated for r in result.runs):
        console.print(
            escape(
                "[emulated] cells ran under QEMU: their timings are not native "
                "speed (kept, never used as a native speed factor)."
            )
        )
    for note in result.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- cost
# Prices (`ciwb pricing …`) and cost bounds / what-ifs (`ciwb cost …`); logic in ciwb.cost.

pricing_app = typer.Typer(help="The dated, sourced CodeBuild price table.", no_args_is_help=True)
cost_app = typer.Typer(
    help="Cost bounds per build, project, month; what-ifs.", no_args_is_help=True
)
app.add_typer(pricing_app, name="pricing")
app.add_typer(cost_app, name="cost")

SinceOption = Annotated[
    str | None, typer.Option("--since", help="Builds started on/after: 2025-01-31, 90d, 12w.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
PricesOption = Annotated[
    str,
    typer.Option(
        "--prices", help="bill: effective rates from an imported bill where there is one; list."
    ),
]


def _print_json(data: object) -> None:
    console.print_json(json.dumps(data, default=str))


def _render_frame(frame: object, title: str, money: tuple[str, ...] = ()) -> None:
    import polars as pl

    assert isinstance(frame, pl.DataFrame)
    table = Table(title=title)
    for name in frame.columns:
        table.add_column(name, justify="right" if frame[name].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        cells = []
        for name, value in zip(frame.columns, row, strict=True):
            if value is None:
                cells.append("—")
            elif isinstance(value, float):
                cells.append(f"{value:,.4f}" if name in money else f"{value:,.3g}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    console.print(table)


@pricing_app.command("show")
def pricing_show(
    region: Annotated[str | None, typer.Option("--region", help="Only this region.")] = None,
    db: DbOption = None,
    prices: PricesOption = "bill",
    as_json: JsonOption = False,
) -> None:
    """Prices in force (seed CSVs in data/pricing, refreshed rows and bill rates in the store)."""
    from ciwb.cost import show_prices

    frame = show_prices(db, region=region, prices=prices)
    if as_json:
        _print_json(frame.to_dicts())
        return
    _render_frame(frame, "CodeBuild prices in force", money=("price",))
    console.print("A compute type not listed is unpriced: its builds are counted, never costed 0.")


@pricing_app.command("refresh")
def pricing_refresh(
    region: Annotated[
        list[str] | None, typer.Option("--region", help="Region(s) to read (repeatable).")
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile.")] = None,
    db: DbOption = None,
) -> None:
    """Read current CodeBuild prices from the AWS Price List API into the store."""
    from ciwb.cost.pricelist import refresh_prices

    result = refresh_prices(db, regions=region or ["us-east-1"], profile=profile)
    console.print(
        f"{result.written} prices as of {result.as_of} from service {result.service_code}; "
        f"{len(result.skipped)} products skipped"
    )
    for name in result.regions_without_prices:
        console.print(f"[yellow]no CodeBuild prices for {name}: its builds stay unpriced[/]")


@cost_app.command("summary")
def cost_summary_cmd(
    db: DbOption = None,
    since: SinceOption = None,
    until: Annotated[str | None, typer.Option("--until", help="Builds started before.")] = None,
    by: Annotated[str, typer.Option("--by", help="project | month | compute | arch")] = "project",
    free_tier: Annotated[bool, typer.Option("--free-tier", help="Apply the free tier.")] = False,
    prices: PricesOption = "bill",
    as_json: JsonOption = False,
) -> None:
    """Cost bounds (queue time unbilled / billed) grouped by project, month, compute or arch."""
    from ciwb.cost import BillingOptions, cost_summary
    from ciwb.store import Selection

    summary = cost_summary(
        db,
        Selection(since, until),
        by=by,
        options=BillingOptions(free_tier=free_tier, prices=prices),
    )
    if as_json:
        _print_json(summary.to_dict())
        return
    _render_frame(
        summary.table,
        f"CodeBuild cost by {by} ({summary.currency})",
        money=("cost_lower", "cost_upper"),
    )
    console.print(
        f"total ${summary.cost_lower:,.2f} – ${summary.cost_upper:,.2f} over "
        f"{summary.priced_builds:,} priced builds; [bold]{summary.unpriced_builds:,} unpriced[/]"
        f", {summary.in_progress_builds:,} in progress"
    )
    for reason, count in summary.unpriced_reasons.items():
        console.print(f"  unpriced: {count:,} × {reason}")
    for line in summary.assumptions:
        console.print(f"  assumption: {line}", style="dim")


@cost_app.command("phases")
def cost_phases(
    db: DbOption = None,
    since: SinceOption = None,
    until: Annotated[str | None, typer.Option("--until", help="Builds started before.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Each phase's share of every project's cost (pro rata to phase time, per bound)."""
    from ciwb.cost import phase_cost_shares
    from ciwb.store import Selection

    frame = phase_cost_shares(db, Selection(since, until))
    if as_json:
        _print_json(frame.to_dicts())
        return
    _render_frame(frame, "cost per phase", money=("cost_lower", "cost_upper"))
    console.print("Only priced builds are shared out; `ciwb cost summary` counts the unpriced.")


@cost_app.command("fleets")
def cost_fleets(
    db: DbOption = None,
    since: SinceOption = None,
    until: Annotated[str | None, typer.Option("--until", help="Builds started before.")] = None,
    fleet_rate: Annotated[
        float | None,
        typer.Option("--fleet-rate", help="Fleet price per instance-minute (else price table)."),
    ] = None,
    target_p95: Annotated[
        float, typer.Option("--target-p95", help="Sizing: the p95 queue to meet, seconds.")
    ] = 60.0,
    as_json: JsonOption = False,
) -> None:
    """Reserved-capacity fleets: utilisation, idle cost, overflow, and the size that meets a
    p95 queue target (a simulation of the fleet's own builds)."""
    from ciwb.cost import FleetRate
    from ciwb.cost.fleets import fleet_report
    from ciwb.store import Selection

    report = fleet_report(
        db,
        Selection(since, until),
        fleet_rate=FleetRate(fleet_rate) if fleet_rate is not None else None,
        target_p95_s=target_p95,
    )
    if as_json:
        _print_json(report.to_dict())
        return
    shown = (
        "fleet base_capacity overflow_behavior builds overflow_builds utilisation "
        "busy_instance_h idle_instance_h fleet_cost idle_cost overflow_cost"
    ).split()
    _render_frame(
        report.costs.select(shown), "fleets", money=("fleet_cost", "idle_cost", "overflow_cost")
    )
    for row in report.costs.iter_rows(named=True):
        console.print(f"{row['fleet']}: rate {row['rate_source']}")
    for sizing in report.sizings:
        _render_frame(
            sizing.table.select(
                "capacity p95_queue_s meets_target overflow_builds_if_on_demand fleet_cost "
                "on_demand_cost".split()
            ),
            f"{sizing.fleet}: sizing what-if, target p95 queue {sizing.target_p95_s:.0f} s",
            money=("fleet_cost", "on_demand_cost"),
        )
        console.print(f"recommended base capacity: {sizing.recommended_capacity}")
    for line in report.assumptions:
        console.print(f"  {line}", style="dim")


@cost_app.command("save")
def cost_save(
    db: DbOption = None,
    free_tier: Annotated[bool, typer.Option("--free-tier", help="Apply the free tier.")] = False,
    prices: PricesOption = "bill",
) -> None:
    """Write per-build cost bounds into the store's build_costs table (a snapshot)."""
    from ciwb.cost import BillingOptions, save_build_costs

    rows = save_build_costs(db, options=BillingOptions(free_tier=free_tier, prices=prices))
    console.print(f"build_costs: {rows:,} builds costed")


@cost_app.command("whatif")
def cost_whatif(
    kind: Annotated[str, typer.Argument(help="arm64 | rightsize | cache | reserved | lambda")],
    db: DbOption = None,
    since: SinceOption = None,
    until: Annotated[str | None, typer.Option("--until", help="Builds started before.")] = None,
    factor: Annotated[
        float | None, typer.Option("--factor", help="arm64: your arm/x86 speed factor.")
    ] = None,
    fleet_rate: Annotated[
        float | None,
        typer.Option("--fleet-rate", help="reserved: fleet price per instance-minute."),
    ] = None,
    headroom: Annotated[
        float | None, typer.Option("--headroom", help="rightsize/lambda: e.g. 0.2 = 20%.")
    ] = None,
    percentile: Annotated[
        float | None, typer.Option("--percentile", help="rightsize/lambda: e.g. 0.95.")
    ] = None,
    last: Annotated[
        int | None, typer.Option("--last", help="rightsize: last N builds per project.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """What a change would cost: each table states its assumption, evidence, uncertainty."""
    from ciwb.cost import run_whatif
    from ciwb.store import Selection

    given = {
        "factor": factor,
        "fleet_rate": fleet_rate,
        "headroom": headroom,
        "percentile": percentile,
        "last_n": last,
    }
    options = {k: v for k, v in given.items() if v is not None}
    result = run_whatif(kind, db, Selection(since, until), **options)
    if as_json:
        _print_json(result.to_dict())
        return
    money = tuple(c for c in result.table.columns if "cost" in c or "saving" in c)
    _render_frame(result.display(), f"what-if: {kind}", money=money)
    console.print(f"[bold]assumption:[/] {result.assumption}")
    console.print(f"[bold]evidence:[/] {result.evidence}")
    console.print(f"[bold]uncertainty:[/] {result.uncertainty}")
    console.print(f"[bold]unpriced builds:[/] {result.unpriced_builds:,}")
    for note in result.notes:
        console.print(f"  {note}", style="dim")


# --------------------------------------------------------------------------- bill
# The bill (`ciwb bill …`): CUR / Data Exports / Cost Explorer → store; logic in ciwb.bill.

bill_app = typer.Typer(
    help="Import the AWS bill (CUR, Data Exports, Cost Explorer) and reconcile it with builds.",
    no_args_is_help=True,
)
app.add_typer(bill_app, name="bill")


def _print_import(summary: object, as_json: bool) -> None:
    from ciwb.bill import ImportSummary

    assert isinstance(summary, ImportSummary)
    if as_json:
        _print_json(summary.to_dict())
        return
    periods = ", ".join(
        f"{p:%Y-%m}{' (open)' if p in summary.open_periods else ''}" for p in summary.periods
    )
    console.print(
        f"{summary.line_items:,} CodeBuild line items from {summary.files} file(s) "
        f"({summary.format}) for {periods}; {summary.replaced_line_items:,} replaced"
    )
    for usage_type, rows in summary.unknown_usage_types.items():
        console.print(f"[yellow]unknown usage type {usage_type}: {rows} line items kept[/]")
    if summary.inferred_usage_types:
        console.print(
            "inferred usage-type rules: " + ", ".join(summary.inferred_usage_types), style="dim"
        )
    for folder in summary.folders_without_codebuild:
        console.print(f"[yellow]period {folder}: no CodeBuild line items[/]")


@bill_app.command("import")
def bill_import(
    source: Annotated[str, typer.Argument(help="Export folder or file, or s3://bucket/prefix.")],
    fmt: Annotated[str, typer.Option("--format", help="auto | cur2 | cur")] = "auto",
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (s3://).")] = None,
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Import CodeBuild line items from CUR 2.0 / Data Exports or a legacy CUR; replaces periods."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    from ciwb.bill import import_bill

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        console=err_console,
        disable=quiet or as_json,
        transient=True,  # an error stays one line
    ) as progress:
        task = progress.add_task("reading", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            progress.update(task, description=stage, completed=done, total=total or None)

        summary = import_bill(source, db, fmt=fmt, profile=profile, progress=on_progress)
    _print_import(summary, as_json)


@bill_app.command("fetch")
def bill_fetch(
    since: Annotated[
        str | None, typer.Option("--since", help="First day (YYYY-MM-DD; whole months).")
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch daily CodeBuild cost and usage from Cost Explorer (for users without a CUR)."""
    from ciwb.bill import fetch_cost_explorer

    _print_import(fetch_cost_explorer(db, since=since, profile=profile), as_json)


@bill_app.command("reconcile")
def bill_reconcile(
    by: Annotated[str, typer.Option("--by", help="day | month")] = "day",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Billed vs implied units and cost; coverage and the residual, explained."""
    from ciwb.bill import reconcile

    rec = reconcile(db, by=by)
    if as_json:
        _print_json(rec.to_dict())
        return
    _render_frame(
        rec.summary_table(), "CodeBuild bill vs builds per period (USD)", ("bill_cost", "estimate")
    )
    residual = rec.residual_table()
    _render_frame(residual, "the residual, explained (USD)", tuple(residual.columns[1:]))
    if rec.coverage is not None:
        console.print(f"coverage: {rec.coverage:.1%} of the bill's usage cost explained by builds")
    for row in rec.not_in_store.head(10).iter_rows(named=True):
        console.print(
            f"  not in store: {row['billing_period']:%Y-%m} {row['account_id']} "
            f"{row['region']} {row['usage_type']}: ${row['gross_cost']:,.2f} ({row['reason']})"
        )
    for usage_type, usd in rec.unknown_usage_types.items():
        console.print(f"[yellow]  unknown usage type {usage_type}: ${usd:,.2f}[/]")
    _render_frame(rec.latest_rates(), "effective (bill) vs list rates, latest period")
    for line in rec.assumptions:
        console.print(f"  assumption: {line}", style="dim")


def main() -> None:
    """Entry point: click handles usage errors (exit 2); a CiwbError becomes one line."""
    try:
        app()
    except CiwbError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
