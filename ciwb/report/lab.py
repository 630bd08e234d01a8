"""`ciwb lab`: JupyterLab on the report notebooks, pointed at one store via CIWB_DB."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from ciwb.errors import CiwbError
from ciwb.report.catalog import notebooks_dir
from ciwb.store import resolve_db_path

__all__ = ["run_lab"]


def run_lab(db: str | os.PathLike[str] | None = None, extra_args: Sequence[str] = ()) -> int:
    """Start JupyterLab in notebooks/ with CIWB_DB set; returns its exit code."""
    db_path = resolve_db_path(db).resolve()
    if not db_path.is_file():
        raise CiwbError(f"{db_path}: no such DuckDB file", hint="run `make demo` first")
    folder = notebooks_dir()
    env = {**os.environ, "CIWB_DB": str(db_path)}
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={folder}", *extra_args]
    # JupyterLab refuses to start as root without this flag; containers and CI boxes run
    # as root, and saying so again on every start helps nobody.
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra_args:
        command.append("--allow-root")
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
