"""The buildspec language on its own: YAML nodes → a typed model, with located diagnostics.

Everything `ciwb replay validate` needs; it imports nothing from the phase engine.
"""

from ciwb.buildspec.diagnostics import Diagnostic
from ciwb.buildspec.model import (
    PHASE_NAMES,
    ArtifactSpec,
    BatchSpec,
    BatchTask,
    Buildspec,
    CacheSpec,
    Command,
    EnvSpec,
    OnFailure,
    PhaseSpec,
    ReportGroupSpec,
)
from ciwb.buildspec.parse import (
    load_buildspec,
    locate_buildspec,
    parse_buildspec,
    parse_on_failure,
    validate_files,
)
from ciwb.errors import BuildspecError

__all__ = [
    "PHASE_NAMES",
    "ArtifactSpec",
    "BatchSpec",
    "BatchTask",
    "Buildspec",
    "BuildspecError",
    "CacheSpec",
    "Command",
    "Diagnostic",
    "EnvSpec",
    "OnFailure",
    "PhaseSpec",
    "ReportGroupSpec",
    "load_buildspec",
    "locate_buildspec",
    "parse_buildspec",
    "parse_on_failure",
    "validate_files",
]
