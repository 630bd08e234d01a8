"""CodeBuild's phase order, defined once (ciwb.codebuild.phases), and what follows a failing phase."""

from __future__ import annotations

import pytest

from ciwb.codebuild.phases import (
    COMMAND_PHASES,
    FAILURE_TRANSITIONS,
    PHASE_ORDER,
    TIMED_PHASES,
    next_in_order,
)


def test_a_failing_phase_never_leads_back_and_every_path_reaches_finalizing():
    for failing, after in FAILURE_TRANSITIONS.items():
        assert PHASE_ORDER.index(after) > PHASE_ORDER.index(failing)
        phase = after
        while phase != "FINALIZING":
            phase = next_in_order(phase)
    assert FAILURE_TRANSITIONS["BUILD"] == "POST_BUILD"
    assert next_in_order(FAILURE_TRANSITIONS["BUILD"]) == "UPLOAD_ARTIFACTS"


def test_order_and_subsets():
    assert PHASE_ORDER[0] == "SUBMITTED" and PHASE_ORDER[-1] == "COMPLETED"
    assert "COMPLETED" not in TIMED_PHASES and len(TIMED_PHASES) == len(PHASE_ORDER) - 1
    positions = [PHASE_ORDER.index(p) for p in COMMAND_PHASES]
    assert positions == list(range(positions[0], positions[0] + 4))
    with pytest.raises(ValueError):
        next_in_order("COMPLETED")
