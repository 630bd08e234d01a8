"""What CodeBuild is: phases, compute shapes, ids and ARNs, time, records, normalisation.

The domain package every other package uses; it imports none of them (only `ciwb.errors`).
Modules: `phases` (order and transitions), `shapes` (the compute-shape table), `arns`,
`clock` (naive-UTC time), `records` (one row type per store table), `normalise` and
`build_sql` (AWS records → rows, in Python and in DuckDB SQL), `agent_log` (the agent's
`[Container]` log lines).
"""

from ciwb.codebuild.agent_log import command_rows, format_agent_line, parse_agent_log
from ciwb.codebuild.clock import parse_when, to_utc, utcnow
from ciwb.codebuild.normalise import NormalisedBatch, arch_of
from ciwb.codebuild.phases import (
    COMMAND_PHASES,
    FAILURE_TRANSITIONS,
    PHASE_ORDER,
    TIMED_PHASES,
    next_in_order,
)
from ciwb.codebuild.shapes import SHAPES, Shape, arm_counterpart, shape_of

__all__ = [
    "COMMAND_PHASES",
    "FAILURE_TRANSITIONS",
    "PHASE_ORDER",
    "SHAPES",
    "TIMED_PHASES",
    "NormalisedBatch",
    "Shape",
    "arch_of",
    "arm_counterpart",
    "command_rows",
    "format_agent_line",
    "next_in_order",
    "parse_agent_log",
    "parse_when",
    "shape_of",
    "to_utc",
    "utcnow",
]
