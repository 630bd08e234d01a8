"""The report notebooks: where they live and which parameters each declares."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ciwb.errors import CiwbError

__all__ = ["notebooks_dir", "report_names", "report_notebook", "report_parameters"]

# The repository's notebooks/ (the package is installed editable from the repo);
# CIWB_NOTEBOOKS points elsewhere (a copied set, tests).
_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def notebooks_dir() -> Path:
    env = os.environ.get("CIWB_NOTEBOOKS")
    return Path(env) if env else _DEFAULT_DIR


def report_names() -> list[str]:
    """Every report, by notebook name, in a stable order."""
    folder = notebooks_dir()
    if not folder.is_dir():
        raise CiwbError(f"{folder}: no notebooks directory", hint="set CIWB_NOTEBOOKS")
    return sorted(p.stem for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def report_notebook(name: str) -> Path:
    path = notebooks_dir() / f"{name}.ipynb"
    if not path.is_file():
        known = ", ".join(report_names()) or "none"
        raise CiwbError(f"no report named {name!r}", hint=f"known reports: {known}, or 'all'")
    return path


def report_parameters(name: str) -> dict[str, Any]:
    """Parameter name → default value, read from the notebook's `parameters` cell."""
    import papermill

    found = papermill.inspect_notebook(str(report_notebook(name)))
    defaults: dict[str, Any] = {}
    for key, spec in found.items():
        defaults[key] = spec["default"]
    return defaults
