"""The analysis pass of `ciwb report`: what it computes is what the notebooks read, and the
kernels reading its results compute nothing again and show the same findings."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import nbformat
import pytest

from ciwb.report import analysis
from ciwb.report.findings import _memo

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
REPORTS = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


def _calls(name: str) -> set[str]:
    """The memoised calls a notebook's cells make, as `Need` labels."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "notebook"):
                continue
            if node.func.attr == "cached":
                kwargs = ", ".join(f"{k.arg}={ast.literal_eval(k.value)!r}" for k in node.keywords)
                found.add(f"{node.args[0].attr}({kwargs})")
            elif node.func.attr == "whatif":
                found.add(f"whatif({ast.literal_eval(node.args[0])!r})")
            elif node.func.attr == "cost_over_time":
                found |= {"cost_summary(by='month')", "window"}
            elif node.func.attr == "show_findings":
                found.add("window")
    return found


@pytest.mark.parametrize("name", REPORTS)
def test_the_pass_computes_every_cached_call_of_the_notebook(name):
    labels = {need.label for need in analysis.needs_of(name)}
    assert _calls(name) - labels == set()
    assert any(label.startswith("findings ") for label in labels)


def test_the_run_starts_the_heaviest_family_first_and_only_those_its_reports_read():
    assert analysis.plan(REPORTS) == ["costs", "phases"]
    assert analysis.plan(["explore"]) == ["phases"]
    assert analysis.families_of("cost_report") == {"costs", "phases"}
    assert analysis.families_of("no_such_notebook") == set()  # runs as it always did


def _close(a, b) -> bool:
    # Sums over DuckDB's parallel aggregation may differ in the last bits between runs.
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_kernels_reading_the_pass_results_never_open_the_store(report_db, tmp_path, monkeypatch):
    from ciwb.report.headline import headline
    from ciwb.report.notebook import scope_for

    values = {n: {"db": str(report_db)} for n in REPORTS}
    _memo.clear()
    expected = {}
    for name in REPORTS:  # each report on its own, as a kernel without the pass computes it
        _memo.clear()
        scope = scope_for(str(report_db))
        expected[name] = headline(name, scope.db, scope.selection).as_dict()
    files = []
    for family in analysis.plan(REPORTS):
        files.append(tmp_path / f"{family}.pickle")
        analysis.analyse(report_db, values, family, files[-1])

    def no_store(*args, **kwargs):
        raise AssertionError("a kernel opened the store the pass had read")

    _memo.clear()
    _memo.load(files)
    monkeypatch.setattr("ciwb.store.query.connect", no_store)
    for name in REPORTS:
        scope = scope_for(str(report_db))
        for need in analysis.needs_of(name):
            need.compute(scope.db, scope.selection)
        assert _close(headline(name, scope.db, scope.selection).as_dict(), expected[name])
    _memo.clear()
