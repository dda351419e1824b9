"""Exit rules (design §8), read with the entry direction (see exits.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbitrage.strategy.exits import CONVERGED, STOP, TIMEOUT, exit_reason, signed_spread
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT

OPENED = 1_700_000_000_000
EXIT, STOP_BPS, HOLD = Decimal("2"), Decimal("12"), 30.0


def reason(spread, direction, age_s=1.0):
    return exit_reason(spread, direction, OPENED, OPENED + int(age_s * 1000), EXIT, STOP_BPS, HOLD)


@pytest.mark.parametrize("spread, expected", [
    (8.0, None),          # where it was entered (+8 > ENTER 6): hold
    (2.1, None),          # not yet within EXIT_BPS
    (2.0, CONVERGED),     # |spread| <= 2: boundary included
    (0.0, CONVERGED),
    (-5.0, CONVERGED),    # overshot to the other side: in profit, exit (|−5| alone would hold)
    (-15.0, CONVERGED),   # overshot far: still a convergence, not a "stop"
    (11.9, None),
    (12.0, STOP),         # |spread| >= 12 on the entry side: boundary included
    (20.0, STOP),
])
def test_buy_spot_entered_on_a_positive_spread(spread, expected):
    assert reason(spread, BUY_SPOT) == expected


@pytest.mark.parametrize("spread, expected", [
    (-8.0, None), (-2.1, None), (-2.0, CONVERGED), (5.0, CONVERGED), (15.0, CONVERGED),
    (-12.0, STOP), (-20.0, STOP),
])
def test_sell_spot_mirrors(spread, expected):
    assert reason(spread, SELL_SPOT) == expected


def test_timeout_and_the_order_of_the_rules():
    assert reason(8.0, BUY_SPOT, age_s=29.999) is None
    assert reason(8.0, BUY_SPOT, age_s=30.0) == TIMEOUT           # age >= MAX_HOLD_SEC
    assert reason(1.0, BUY_SPOT, age_s=40.0) == CONVERGED         # converged is checked first
    assert reason(13.0, BUY_SPOT, age_s=40.0) == STOP             # then stop, then timeout
    assert reason(None, BUY_SPOT, age_s=10.0) is None             # no spread: only the timeout
    assert reason(None, SELL_SPOT, age_s=31.0) == TIMEOUT


def test_signed_spread_and_bad_direction():
    assert signed_spread(-7.0, SELL_SPOT) == 7.0 and signed_spread(-7.0, BUY_SPOT) == -7.0
    with pytest.raises(ValueError):
        exit_reason(1.0, "sideways", OPENED, OPENED, EXIT, STOP_BPS, HOLD)
