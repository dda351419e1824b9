"""`python -m app.chaos` refuses a bad fault plan before anything starts: one line naming
--faults and what is wrong, exit 2, no traceback."""
import subprocess
import sys

import pytest


@pytest.mark.parametrize("plan, says", [
    ("reduce=15,bogus=1", "unknown fault 'bogus'"),
    ("reduce=15,seed=3,seed=4", "fault 'seed' given twice"),
    ("drop=2", "a rate is a probability within [0, 1]"),
])
def test_a_bad_fault_plan_is_one_line_and_exit_2(plan, says):
    done = subprocess.run([sys.executable, "-m", "app.chaos", "--minutes", "0.1", "--faults", plan],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --faults: ") and says in lines[0], lines
    assert "Traceback" not in done.stderr
