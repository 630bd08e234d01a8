"""CodeBuild's phases and phase statuses, defined once for the whole package.

From docs/reference/codebuild-facts.md ("Phases"): a build goes through SUBMITTED, QUEUED,
PROVISIONING, DOWNLOAD_SOURCE, INSTALL, PRE_BUILD, BUILD, POST_BUILD, UPLOAD_ARTIFACTS,
FINALIZING, COMPLETED, and COMPLETED carries only its type and start time. A build batch has
its own phases. What runs after a failing phase is from docs/reference/buildspec-semantics.md
("Phase transitions"; no on-failure given).
"""

from __future__ import annotations

__all__ = [
    "BATCH_PHASE_ORDER",
    "COMMAND_PHASES",
    "FAILURE_STATUSES",
    "FAILURE_TRANSITIONS",
    "PHASE_ORDER",
    "PHASE_STATUSES",
    "TIMED_PHASES",
    "next_in_order",
]

PHASE_ORDER: tuple[str, ...] = (
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
)
# The phases with a start and an end (a duration): all but COMPLETED.
TIMED_PHASES: tuple[str, ...] = PHASE_ORDER[:-1]
# The buildspec's phases: the ones that run the project's commands (`phases.<name>` in YAML,
# lower-cased), the compute-bound part of a build.
COMMAND_PHASES: tuple[str, ...] = ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD")

# A build batch's phases; it ends in the one named after its final status.
BATCH_PHASE_ORDER: tuple[str, ...] = (
    "SUBMITTED",
    "DOWNLOAD_BATCHSPEC",
    "IN_PROGRESS",
    "COMBINE_ARTIFACTS",
    "SUCCEEDED",
    "FAILED",
    "STOPPED",
)

PHASE_STATUSES: tuple[str, ...] = (
    "SUCCEEDED",
    "FAILED",
    "FAULT",
    "TIMED_OUT",
    "IN_PROGRESS",
    "STOPPED",
)
# The statuses that mean a phase (and so its build) did not succeed. Migration 2's
# build_facts view spells the same set in SQL (migrations are never edited).
FAILURE_STATUSES: tuple[str, ...] = ("FAILED", "FAULT", "TIMED_OUT", "STOPPED")

# failing phase → what runs next. Phases not listed go on in order.
FAILURE_TRANSITIONS: dict[str, str] = {
    "DOWNLOAD_SOURCE": "FINALIZING",
    "INSTALL": "FINALIZING",
    "PRE_BUILD": "FINALIZING",
    "BUILD": "POST_BUILD",  # then UPLOAD_ARTIFACTS: "always attempted, even if BUILD fails"
    "POST_BUILD": "UPLOAD_ARTIFACTS",  # widely reported, unverified
    "UPLOAD_ARTIFACTS": "FINALIZING",
}


def next_in_order(phase: str) -> str:
    """The phase after `phase` when nothing failed (ValueError for COMPLETED or unknown)."""
    index = PHASE_ORDER.index(phase)
    if index + 1 == len(PHASE_ORDER):
        raise ValueError(f"{phase} is the last phase")
    return PHASE_ORDER[index + 1]
