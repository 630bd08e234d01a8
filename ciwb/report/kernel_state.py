"""Inside a report kernel that `ciwb report` reuses: what a kernel fresh from its start has,
and putting it back between reports (`ciwb.report.kernel.WarmKernel` runs both).

A kernel keeps its imports from one report to the next (the point of reusing it: a second
over a second of CPU per report), so everything else a report can change is taken back to
where a new kernel starts: the user namespace and execution count, ciwb's memo of results,
plotly's renderer and template, polars' settings, itables' connected flag, warning filters
(and the registries that show a warning once), `sys.path`, the environment and the working
directory. What `baseline` recorded is the state a new kernel has before its first report.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["baseline", "reset"]


@dataclass(frozen=True)
class _Baseline:
    environ: dict[str, str]
    path: list[str]
    filters: list[Any]
    polars: str  # pl.Config.save(): every polars setting, as JSON
    renderer: str
    template: str


_BASELINE: _Baseline | None = None


def baseline() -> None:
    """Import what every report imports, and record the state a new kernel has (once)."""
    global _BASELINE
    if _BASELINE is not None:
        return
    import plotly.io as pio
    import polars as pl

    # The imports of every report's setup cell: paid once per kernel, not once per report.
    import ciwb.report.notebook  # noqa: F401

    _BASELINE = _Baseline(
        environ=dict(os.environ),
        path=list(sys.path),
        filters=list(warnings.filters),
        polars=pl.Config.save(),
        renderer=pio.renderers.default,
        template=pio.templates.default,
    )


def reset(environ: Mapping[str, str], cwd: str) -> None:
    """Back to `baseline`'s state, then the next report's environment variables and working
    directory (what a new kernel for that report would have been started with)."""
    if _BASELINE is None:
        raise RuntimeError("kernel_state.reset before kernel_state.baseline")
    import plotly.io as pio
    import polars as pl
    from IPython import get_ipython

    from ciwb.report import tables
    from ciwb.report.findings import _memo

    shell = get_ipython()
    if shell is not None:
        # `%reset -f`, and a new session: execution counts start at 1 again. (No gc.collect():
        # a full collection of a kernel's heap took a quarter of a second, and what the last
        # report left in reference cycles goes with the next automatic one.)
        shell.reset(new_session=True)
    _memo.clear()
    tables.setup()
    itables = sys.modules.get("itables.javascript")
    if itables is not None:
        itables._CONNECTED = True  # its value at import; `init_notebook_mode` sets it

    os.environ.clear()
    os.environ.update(_BASELINE.environ)
    pl.Config.restore_defaults()
    pl.Config.load(_BASELINE.polars)
    # Set only when changed: setting the template validates and copies it (60 ms).
    if pio.renderers.default != _BASELINE.renderer:
        pio.renderers.default = _BASELINE.renderer
    if pio.templates.default != _BASELINE.template:
        pio.templates.default = _BASELINE.template
    sys.path[:] = _BASELINE.path
    warnings.filters[:] = _BASELINE.filters
    warnings._filters_mutated()  # forget which warnings were already shown once
    warnings.onceregistry.clear()

    os.environ.update(environ)
    os.chdir(cwd)
