"""What `ciwb report`'s processes (the command's own, its workers, the report kernels) skip
at import.

plotly imports nbformat in every kernel (its notebook renderers check nbformat's version),
papermill and nbconvert import it in every worker, and nbformat imports jsonschema, which
imports `rfc3987_syntax` if it is installed: a grammar compiled at import, over a second of
CPU per process, for the `iri` string format that no notebook schema uses. jsonschema already
does without it when it is absent; these processes tell it so before anything imports it.
"""

from __future__ import annotations

import sys

__all__ = ["KERNEL_STARTUP", "skip_unused_imports"]

# Optional modules nothing in a report process needs (see the module docstring).
_UNUSED = ("rfc3987_syntax",)

# The same, as the code a report kernel runs at startup, before the notebook's first cell.
KERNEL_STARTUP = "import sys; " + "; ".join(f"sys.modules.setdefault({m!r}, None)" for m in _UNUSED)


def skip_unused_imports() -> None:
    """Make importing each unused module fail fast (ImportError), as if it were not installed.
    For processes `ciwb report` starts only: a module already imported is left alone."""
    for name in _UNUSED:
        sys.modules.setdefault(name, None)
