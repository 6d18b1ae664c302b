"""The call-time promise: every successful reset, even with the slowest password, lasts at most 40 s.

Computed by `bench/call_time.py` from the real prompt files, the real call flow and the demo's timing rule, in
simulated time (deterministic: no clock is read).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "call_time.py"
BUDGET_S = 40.0


def test_every_reset_call_fits_the_budget_and_one_reading_fits_6_5_s() -> None:
    out = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, check=True).stdout
    resets = {name: float(s) for name, s in re.findall(r"^(reset, [^\n]*?)\s+(\d+\.\d+)$", out, re.M)}
    assert len(resets) == 4, out
    assert all(seconds <= BUDGET_S for seconds in resets.values()), resets
    slowest = float(re.search(r"slowest (\d+\.\d+) s", out).group(1))  # type: ignore[union-attr]
    assert slowest <= 6.5
