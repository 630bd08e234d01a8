"""The layers hold: the domain package imports no other ciwb package, the store no collector.

Checked in a fresh interpreter, since this test process has long since imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

OTHERS = ("analytics", "collect", "cost", "demo", "images", "replay", "report", "store")


def _ciwb_modules_after(module: str) -> list[str]:
    code = (
        f"import json, sys, {module}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('ciwb'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _packages(modules: list[str]) -> set[str]:
    return {m.split(".")[1] for m in modules if m.count(".") >= 1}


@pytest.mark.parametrize(
    "module", ["ciwb.codebuild", "ciwb.codebuild.normalise", "ciwb.codebuild.shapes"]
)
def test_codebuild_imports_no_other_ciwb_package(module):
    loaded = _packages(_ciwb_modules_after(module))
    assert loaded <= {"codebuild", "errors"}, sorted(loaded & set(OTHERS))


def test_store_does_not_import_the_collector():
    loaded = _packages(_ciwb_modules_after("ciwb.store"))
    assert "collect" not in loaded
    assert loaded <= {"store", "codebuild", "errors"}
