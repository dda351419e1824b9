import pytest

from arbitrage.strategy.engine import (
    ENTERING, ENTRY_FLAT, ENTRY_HEDGED, ENTRY_SENT, EXIT_FLAT, EXIT_SENT, EXITING, FLAT, HALT, HALTED,
    HEDGED, TRANSITIONS, IllegalTransition, transition,
)


def test_round_trip_and_rescue_paths():
    s = transition(FLAT, ENTRY_SENT)
    assert s == ENTERING
    assert transition(s, ENTRY_FLAT) == FLAT            # rescued or unfilled
    s = transition(transition(s, ENTRY_HEDGED), EXIT_SENT)
    assert s == EXITING
    assert transition(s, EXIT_FLAT) == FLAT


@pytest.mark.parametrize("state", [FLAT, ENTERING, HEDGED, EXITING, HALTED])
def test_every_state_can_halt(state):
    assert transition(state, HALT) == HALTED


@pytest.mark.parametrize("state,event", [(FLAT, EXIT_SENT), (ENTERING, EXIT_SENT), (EXITING, ENTRY_SENT),
                                         (HALTED, ENTRY_SENT), (HEDGED, ENTRY_SENT), (HALTED, EXIT_SENT)])
def test_anything_else_is_refused(state, event):
    assert (state, event) not in TRANSITIONS
    with pytest.raises(IllegalTransition):
        transition(state, event)
