"""The README's analog promise: the demo call through our V.253 driver to each voice-modem simulator, with the
caller's keys travelling as DTMF tones in the audio and decoded by our own receiver."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from firmware import password as pw

RESETLINE = Path(sys.executable).with_name("resetline")


def demo(*args: str) -> tuple[list[dict], dict]:
    result = subprocess.run([str(RESETLINE), "demo", "--json", "--line", "v253-sim", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return lines[:-1], lines[-1]


@pytest.mark.parametrize("profile", ["generic", "usr5637", "cx93010"])
def test_demo_reset_over_a_copper_line(profile: str) -> None:
    _, summary = demo("--profile", profile, "--keys", "8 0123456789", "--speed", "20")
    assert summary["outcome"] == "reset", summary
    assert summary["keys"] == "80123456789"
    first, second = summary["password_heard"]
    assert first == second and pw.is_valid(first)


def test_demo_withheld_number_on_a_copper_line() -> None:
    events, summary = demo("--caller", "anonymous", "--keys", "8", "--speed", "20")
    assert summary["outcome"] == "no_caller_id"
    assert [e["say"] for e in events if "say" in e] == ["no_caller_id"]


def test_a_gsm_profile_on_the_analog_simulator_is_refused() -> None:
    result = subprocess.run([str(RESETLINE), "demo", "--line", "v253-sim", "--profile", "ec25", "--keys", "8"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "knows generic, usr5637, cx93010" in result.stderr
