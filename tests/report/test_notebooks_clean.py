"""The committed notebooks are clean, parameterised and in sync with their generator."""

from __future__ import annotations

import runpy
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = {
    "explore",
    "cost_report",
    "bottleneck_report",
    "graviton_vs_x86",
    "cache_tuning",
    "reconciliation",
}


def test_every_named_report_exists():
    assert {p.stem for p in NOTEBOOKS.glob("*.ipynb")} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_has_no_outputs_and_one_parameters_cell(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for parameter in ("db", "since", "until", "projects", "region"):
        assert f"\n{parameter} = " in "\n" + tagged[0].source
    assert any(c.cell_type == "markdown" and "What to do" in c.source for c in nb.cells)


def test_generator_reproduces_the_committed_notebooks(tmp_path, monkeypatch):
    module = runpy.run_path(str(NOTEBOOKS / "generate.py"))
    monkeypatch.setitem(module["main"].__globals__, "HERE", tmp_path)
    module["main"]()
    for name in EXPECTED:
        assert (tmp_path / f"{name}.ipynb").read_text() == (
            NOTEBOOKS / f"{name}.ipynb"
        ).read_text(), f"{name}.ipynb differs from notebooks/generate.py: regenerate it"
