"""`ciwb report`: execute report notebooks with papermill and publish HTML + an index.

First one analysis pass computes what every report of the run reads (`ciwb.report.analysis`,
one process per family of results); then each notebook runs with `CIWB_DB` set, its
`parameters` cell overridden and the pass's results loaded, as many side by side as there are
cores, each worker in one kernel it resets between its reports (`ciwb.report.kernel`); the
executed notebook and its HTML are written to the output (a directory or
`s3://bucket/prefix`) under names that carry the report, a digest of the parameters and
a timestamp. A notebook that raises keeps its executed copy (error cell included), gets
no HTML, and makes the run fail after the others have run.
"""

from __future__ import annotations

import ast
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from multiprocessing.util import Finalize
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ciwb.errors import CiwbError, ReportFailedError
from ciwb.report.catalog import notebooks_dir, report_names, report_notebook, report_parameters
from ciwb.report.index import render_index
from ciwb.report.naming import output_stem
from ciwb.report.outputs import output_for
from ciwb.report.result import ReportResult, ReportRun
from ciwb.report.startup import skip_unused_imports
from ciwb.store import resolve_db_path

if TYPE_CHECKING:
    from ciwb.report.kernel import WarmKernel

__all__ = ["ReportFailedError", "parse_parameters", "raise_for_failures", "run_reports"]


def parse_parameters(pairs: Sequence[str]) -> dict[str, Any]:
    """`k=v` strings → values: JSON when it parses (numbers, lists, null), else the text."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CiwbError(f"--param {pair!r}: expected NAME=VALUE")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value
    return parsed


def _default_value(source: str) -> Any:
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the kernels started inside, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _error_line(exc: BaseException) -> str:
    import papermill

    if isinstance(exc, papermill.PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}".strip()
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


def _choose_parameters(
    names: Sequence[str], given: Mapping[str, Any], db: Path
) -> dict[str, dict[str, Any]]:
    """Per report: its declared defaults overridden by the given values it declares."""
    chosen: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for name in names:
        declared = {k: _default_value(v) for k, v in report_parameters(name).items()}
        values = dict(declared)
        if "db" in declared:
            values["db"] = str(db)
        for key, value in given.items():
            if key in declared:
                if isinstance(declared[key], list) and isinstance(value, str):
                    value = [part.strip() for part in value.split(",") if part.strip()]
                values[key] = value
                used.add(key)
        chosen[name] = values
    unknown = sorted(set(given) - used)
    if unknown:
        raise CiwbError(
            f"parameter(s) {', '.join(unknown)} not declared by "
            f"{'any of ' if len(names) > 1 else ''}{', '.join(names)}",
            hint="see each notebook's `parameters` cell",
        )
    return chosen


def _headline_of(executed: Any) -> dict[str, Any] | None:
    """The headline a notebook attached to its findings output, if it got that far."""
    from ciwb.report.headline import MIMETYPE

    for cell in executed.cells:
        for out in cell.get("outputs", ()):
            data = (out.get("data") or {}).get(MIMETYPE)
            if data:
                return dict(data)
    return None


def _context() -> BaseContext:
    """Spawned, never forked workers: a fork copies a process whose polars (or DuckDB) thread
    pool is gone in the child, and the child's first frame then waits forever. (So, as for any
    multiprocessing, a script calling `run_reports` needs an `if __name__ == "__main__":`.)"""
    return get_context("spawn")


@dataclass(frozen=True)
class _Rendered:
    """What one report's execution left in the scratch directory."""

    executed: Path  # the executed notebook (exists unless papermill failed before writing)
    html: Path | None  # None when the notebook failed
    error: str | None
    seconds: float
    headline: dict[str, Any] | None


def _render(
    name: str,
    values: dict[str, Any],
    executed: Path,
    results: Sequence[str],
    kernel_name: str,
    kernel: WarmKernel | None = None,
) -> _Rendered:
    """Execute one report (reading `results`, the analysis pass's files) in `kernel`, by
    default this worker's, then export its HTML. Runs in a worker process of `run_reports`'
    pool. (nbformat, nbconvert and jupyter_client are imported here, in the workers: the
    process running `run_reports` needs none of them, and they took a second of its start.)"""
    import nbformat
    import papermill

    from ciwb.report.html import notebook_to_html
    from ciwb.report.kernel import QuietKernelManager
    from ciwb.report.notebook import RESULTS_ENV

    t0 = time.monotonic()
    error = None
    nb = None
    environ = {RESULTS_ENV: os.pathsep.join(results)}
    kernel = kernel or _worker_kernel(kernel_name)
    try:
        km = kernel.ready(environ, notebooks_dir())
    except Exception:  # e.g. a kernel that cannot import ciwb: papermill starts its own
        km = None
    with _environment(**environ):
        try:
            nb = papermill.execute_notebook(
                str(report_notebook(name)),
                str(executed),
                parameters=values,
                kernel_name=kernel_name,
                cwd=str(notebooks_dir()),
                progress_bar=False,
                log_output=False,
                report_mode=False,
                kernel_manager_class=QuietKernelManager,
                km=km,
                # Written once when done (or failed), not re-validated and re-written after
                # every cell: at a million builds that was seconds per report.
                request_save_on_cell_execute=False,
            )
        except Exception as exc:  # the executed copy records the failing cell
            error = _error_line(exc)
            kernel.discard()  # what the report left behind is not reset: a new kernel next
    if nb is None and executed.exists():
        nb = nbformat.read(executed, as_version=4)
    found = _headline_of(nb) if nb is not None else None
    html = None
    if error is None and nb is not None:
        html = executed.with_suffix(".html")
        html.write_text(notebook_to_html(nb, title=f"{name} · ciwb"), encoding="utf-8")
    return _Rendered(executed, html, error, time.monotonic() - t0, found)


_KERNEL: WarmKernel | None = None


def _worker_kernel(kernel_name: str) -> WarmKernel:
    """This worker's kernel, ended when the worker exits (at the end of the run)."""
    from ciwb.report.kernel import WarmKernel

    global _KERNEL
    if _KERNEL is None or _KERNEL.kernel_name != kernel_name:
        if _KERNEL is not None:
            _KERNEL.close()
        _KERNEL = WarmKernel(kernel_name)
        Finalize(None, _KERNEL.close, exitpriority=10)
    return _KERNEL


def _start_worker(kernel_name: str) -> None:
    """A worker's first steps: skip the imports no report needs, and start its kernel, which
    makes every report's imports while the worker computes its part of the analysis pass
    (the cores are shared with the pass, but no report waits for a kernel to start)."""
    skip_unused_imports()
    kernel = _worker_kernel(kernel_name)
    try:
        kernel.start(notebooks_dir())
    except Exception:  # the first report tries again, and says why if it cannot
        kernel.discard()


def _analyse(db: Path, reports: dict[str, dict[str, Any]], family: str, out: Path) -> float:
    """The pass for one family, in a worker process whose output goes nowhere: DuckDB draws
    progress bars for long queries (the kernels, where the queries ran before, hid them);
    an error still reaches `run_reports` through the future."""
    from ciwb.report.analysis import analyse

    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        return analyse(db, reports, family, out)
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def run_reports(
    names: Sequence[str],
    *,
    db: str | os.PathLike[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    out: str = "reports",
    kernel_name: str = "python3",
    now: datetime | None = None,
    workers: int | None = None,
) -> ReportRun:
    """Run the named reports (or `all`) and write notebooks, HTML and `index.html` to `out`.

    One analysis pass computes what every report reads (`ciwb.report.analysis`), spread over
    `workers` processes (default: one per core); each report then runs in its worker's kernel
    (reset between reports) reading those results, as many at once as there are workers, and
    exports its HTML there.
    """
    from ciwb.report.analysis import families_of, plan, worker_count

    wanted = report_names() if "all" in names else list(dict.fromkeys(names))
    if not wanted:
        raise CiwbError("no reports to run", hint="name one, or 'all'")
    for name in wanted:
        report_notebook(name)  # unknown names fail before anything runs
    db_path = resolve_db_path(db).resolve()
    if not db_path.is_file():
        raise CiwbError(f"{db_path}: no such DuckDB file", hint="run `ciwb demo` or `ciwb collect`")
    chosen = _choose_parameters(wanted, parameters or {}, db_path)
    output = output_for(out)  # an unusable output fails here, before any notebook runs
    started = now or datetime.now(UTC)
    # No more workers than the run has use for: each starts a kernel.
    pool_size = max(1, min(workers or worker_count(), max(len(wanted), len(plan(wanted)))))
    rendered: dict[str, _Rendered] = {}
    stems = {name: output_stem(name, chosen[name], started) for name in wanted}
    with (
        tempfile.TemporaryDirectory(prefix="ciwb-report-") as scratch,
        _environment(CIWB_DB=str(db_path)),
        ProcessPoolExecutor(
            pool_size, mp_context=_context(), initializer=_start_worker, initargs=(kernel_name,)
        ) as pool,
    ):
        # Families heaviest first, then each report as soon as the families it reads are
        # done; never more at once than the pool has processes, so a ready report is not
        # queued behind a family it does not read.
        families = plan(wanted)
        done: set[str] = set()
        files: dict[str, str] = {}
        analysis_seconds: dict[str, float] = {}
        waiting = list(wanted)
        running: dict[Future, tuple[str, str]] = {}  # future → ("family" | "report", name)

        def start_next() -> bool:
            if families:
                family = families.pop(0)
                readers = {n: chosen[n] for n in wanted if family in families_of(n)}
                out_file = Path(scratch) / f"analysis-{family}.pickle"
                future = pool.submit(_analyse, db_path, readers, family, out_file)
                running[future] = ("family", family)
                return True
            for name in waiting:
                if families_of(name) <= done:
                    waiting.remove(name)
                    executed = Path(scratch) / f"{stems[name]}.ipynb"
                    # Only the files of the families it reads: the others are of no use
                    # to its kernel (which reads each file it is given whole).
                    reads = [files[f] for f in sorted(families_of(name)) if f in files]
                    future = pool.submit(_render, name, chosen[name], executed, reads, kernel_name)
                    running[future] = ("report", name)
                    return True
            return False

        while len(running) < pool_size and start_next():
            pass
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                kind, name = running.pop(future)
                if kind == "report":
                    rendered[name] = future.result()
                    continue
                done.add(name)
                # Failed (an old schema, a broken store): the kernels compute for themselves
                # and record the error in their notebooks, as they always did.
                if future.exception() is None:
                    files[name] = str(Path(scratch) / f"analysis-{name}.pickle")
                    analysis_seconds[name] = future.result()
            while len(running) < pool_size and start_next():
                pass
        results = [
            _publish(name, chosen[name], stems[name], rendered[name], output) for name in wanted
        ]
    index = render_index(results, started=started, db=str(db_path))
    index_location = output.write("index.html", index.encode(), "text/html; charset=utf-8")
    return ReportRun(
        out=out, index_location=index_location, results=results, analysis_seconds=analysis_seconds
    )


def _publish(
    name: str, values: dict[str, Any], stem: str, done: _Rendered, output: Any
) -> ReportResult:
    """Write one report's findings, HTML and executed notebook to the output."""
    findings_name = html_location = html_name = None
    if done.headline is not None:
        findings_name = f"{stem}.findings.json"
        output.write(
            findings_name,
            json.dumps(done.headline, indent=2, sort_keys=True).encode(),
            "application/json",
        )
    if done.html is not None:
        html_name = f"{stem}.html"
        html_location = output.write(html_name, done.html.read_bytes(), "text/html; charset=utf-8")
    notebook_location = (
        output.write(f"{stem}.ipynb", done.executed.read_bytes(), "application/x-ipynb+json")
        if done.executed.exists()
        else output.location(f"{stem}.ipynb")
    )
    return ReportResult(
        name=name,
        parameters=values,
        notebook_name=f"{stem}.ipynb",
        html_name=html_name,
        notebook_location=notebook_location,
        html_location=html_location,
        seconds=done.seconds,
        error=done.error,
        findings_name=findings_name,
        headline=done.headline,
    )


def raise_for_failures(run: ReportRun) -> None:
    """Raise `ReportFailedError` naming each failed report, its error and executed copy."""
    if not run.failed:
        return
    parts = [f"{r.name} ({r.error}; executed copy {r.notebook_location})" for r in run.failed]
    raise ReportFailedError(
        f"{len(run.failed)} of {len(run.results)} report(s) failed: " + "; ".join(parts)
    )
