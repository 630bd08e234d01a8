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
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ciwb import __version__
from ciwb.errors import CiwbError

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
        "--db", help="DuckDB file (default: $CIWB_DB, else data/ciwb.duckdb).", show_default=False
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

        summary = load_demo(db, builds=builds, seed=seed, progress=on_progress)

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
        title=f"{info.path} · schema v{info.schema_version} · {info.size_bytes / 1e6:.1f} MB"
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


def main() -> None:
    """Entry point: run the app, turning user errors into one line and an exit code."""
    try:
        app(standalone_mode=False)
    except CiwbError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
