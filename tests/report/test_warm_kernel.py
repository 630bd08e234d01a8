"""Reports run one after the other in one reused kernel show exactly what each shows in a
kernel of its own; a report that fails, or a kernel that dies, leaves nothing to the next."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ciwb.report import analysis
from ciwb.report.findings import _memo
from ciwb.report.kernel import WarmKernel
from ciwb.report.run import _choose_parameters, _render
from support.reporting import REPO

# Two reports that between them draw charts, short tables and a long (itables) table, and
# set plotly's, polars' and itables' state, on two stores with different parameters.
FIRST = ("graviton_vs_x86", "a", {})
SECOND = ("explore", "b", {"since": "2026-10-01", "projects": "api-service,web-frontend,monorepo"})


@pytest.fixture(scope="module")
def stores(report_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from ciwb.demo import load_demo

    other = tmp_path_factory.mktemp("warm-db") / "other.duckdb"
    load_demo(other, builds=1500, seed=5)
    return {"a": report_db, "b": other}


def _job(report: tuple[str, str, dict], stores: dict[str, Path], folder: Path) -> dict[str, Any]:
    """What `run_reports` hands a worker for this report: its parameters and the results of
    the analysis pass over its store."""
    name, store, given = report
    values = _choose_parameters([name], given, stores[store])[name]
    results = []
    for family in sorted(analysis.families_of(name)):
        results.append(str(folder / f"{name}-{store}-{family}.pickle"))
        analysis.analyse(stores[store], {name: values}, family, Path(results[-1]))
    _memo.clear()
    return {"name": name, "values": values, "results": results}


def _run(job: dict[str, Any], kernel: WarmKernel, out: Path) -> Any:
    return _render(job["name"], job["values"], out, job["results"], "python3", kernel=kernel)


def _shown(executed: Path) -> str:
    """Every cell's execution count and outputs, with what differs between any two runs (the
    ids tables draw at random, objects' addresses in their plain-text reprs) made the same."""
    nb = nbformat.read(executed, as_version=4)
    text = json.dumps(
        [[c.get("execution_count"), c.get("outputs", [])] for c in nb.cells], sort_keys=True
    )
    text = re.sub(r" at 0x[0-9a-f]+>", " at 0x…>", text)
    text = re.sub(r"itables_[0-9a-f]{8}(?:_[0-9a-f]{4}){3}_[0-9a-f]{12}", "itables_ID", text)
    for n, found in enumerate(dict.fromkeys(re.findall(r'id=\\"([a-z]{10})\\"', text))):
        text = re.sub(rf"\b{found}\b", f"gt_table_{n}", text)
    return text


@pytest.fixture(scope="module")
def jobs(stores: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Computed once: the pass's results are the same input to every kernel below (DuckDB's
    `mode()` breaks ties differently from one run to the next)."""
    folder = tmp_path_factory.mktemp("pass")
    return {report[0]: _job(report, stores, folder) for report in (FIRST, SECOND)}


@pytest.fixture(scope="module")
def fresh(jobs: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each report in a kernel of its own."""
    folder = tmp_path_factory.mktemp("fresh")
    shown = {}
    for name, job in jobs.items():
        kernel = WarmKernel()
        try:
            done = _run(job, kernel, folder / f"{name}.ipynb")
        finally:
            kernel.close()
        assert done.error is None
        shown[name] = _shown(done.executed)
    return shown


def test_reports_in_one_kernel_show_what_each_shows_in_its_own(jobs, fresh, tmp_path):
    kernel = WarmKernel()
    try:
        for name, job in jobs.items():
            done = _run(job, kernel, tmp_path / f"{name}.ipynb")
            assert done.error is None
            assert _shown(done.executed) == fresh[name], name
        assert kernel.started == 1
    finally:
        kernel.close()


# A report that changes what it should not (and succeeds), one that prints that state, one
# that fails, one whose kernel dies.
_NOTEBOOKS = {
    "litters": """
import os, sys, warnings, plotly.io as pio, polars as pl
from ciwb.report.findings import _memo
left = 1
os.environ['CIWB_LEFT'] = '1'
os.environ.pop('HOME', None)
os.chdir('/')
sys.path.insert(0, '/nowhere')
pio.templates.default = 'ggplot2'
pio.renderers.default = 'json'
pl.Config.set_tbl_rows(3)
warnings.simplefilter('ignore')
_memo.memo(len, 'abc')
""",
    "state": """
import json, os, sys, warnings, plotly.io as pio, polars as pl
from ciwb.report.findings import _memo
print(json.dumps({
    "names": sorted(k for k in globals() if not k.startswith('_')),
    "environ": {k: v for k, v in os.environ.items() if not k.startswith('JPY_')},
    "cwd": os.getcwd(), "path": sys.path, "filters": repr(warnings.filters),
    "plotly": [pio.templates.default, pio.renderers.default], "polars": pl.Config.save(),
    "memo": len(_memo._CACHE) + len(_memo._LOADED),
}, indent=1))
""",
    "broken": "left = 1\nraise ValueError('broken')",
    "dies": "import os\nos._exit(1)",
}


def _notebooks(folder: Path) -> Path:
    shutil.copytree(REPO / "notebooks", folder, ignore=shutil.ignore_patterns("*.py"))
    parameters = new_code_cell("db = None")
    parameters.metadata["tags"] = ["parameters"]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for name, code in _NOTEBOOKS.items():
        cells = [parameters, new_code_cell(code.strip())]
        nbformat.write(
            new_notebook(cells=cells, metadata={"kernelspec": kernelspec}),
            folder / f"{name}.ipynb",
        )
    return folder


def test_a_report_that_changes_state_or_fails_or_dies_leaves_nothing_to_the_next(
    jobs, fresh, tmp_path, monkeypatch
):
    monkeypatch.setenv("CIWB_NOTEBOOKS", str(_notebooks(tmp_path / "notebooks")))
    graviton = jobs[FIRST[0]]
    kernel = WarmKernel()

    def run(name: str) -> Any:
        job = (
            graviton if name == FIRST[0] else {"name": name, "values": {"db": None}, "results": []}
        )
        return _run(job, kernel, tmp_path / f"{name}-{kernel.started}.ipynb")

    try:
        before = run("state")
        assert run("litters").error is None
        after = run("state")
        assert after.error is None and _shown(after.executed) == _shown(before.executed)
        assert kernel.started == 1  # the same kernel, reset

        assert "ValueError: broken" in run("broken").error
        assert run("dies").error is not None
        done = run(FIRST[0])
        assert done.error is None
        assert _shown(done.executed) == fresh[FIRST[0]]
        assert kernel.started == 3  # a new kernel after each failure
    finally:
        kernel.close()


def test_a_kernel_started_ahead_of_its_reports_shows_what_one_started_for_them_shows(
    jobs, fresh, tmp_path, monkeypatch
):
    """A worker of `ciwb report` starts its kernel as it starts (the kernel makes its imports
    while the worker computes its part of the analysis pass); its reports show the same."""
    from ciwb.report.catalog import notebooks_dir

    monkeypatch.setenv("CIWB_NOTEBOOKS", str(_notebooks(tmp_path / "notebooks")))
    state = {"name": "state", "values": {"db": None}, "results": []}
    shown = {}
    for ahead in (False, True):
        kernel = WarmKernel()
        try:
            if ahead:
                kernel.start(notebooks_dir())
            first = _run(state, kernel, tmp_path / f"state-{ahead}.ipynb")
            assert first.error is None
            shown[ahead] = _shown(first.executed)
            done = _run(jobs[FIRST[0]], kernel, tmp_path / f"graviton-{ahead}.ipynb")
            assert done.error is None and _shown(done.executed) == fresh[FIRST[0]]
            assert kernel.started == 1
        finally:
            kernel.close()
    assert shown[True] == shown[False]
