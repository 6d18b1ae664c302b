"""In-band DTMF on a SIP line (`inband_dtmf = true`) against real peers on 127.0.0.1.

A second pjsua2 endpoint (`drivers.sip.dialer --dtmf inband`) presses the keys as tones in its audio; another sends
each press both as tones and as an RFC 4733 event and must still give one KeyPressed per press; then sipp plays a
generated G.711 recording of the tones into 20 calls at once. About 55 s: each reset call lasts ~20 s of prompts.

Session 1 marked these opt-in after full-suite failures on a loaded machine. Reproduced with two busy loops
beside them and the tapped audio recorded; the causes and fixes (docs/sip.md, "The in-band tap"): the dialer
made a key's tones by importing numpy at its first press, long enough under load for the next key to cut the
first one off (`tone_pcm` is pure Python now); bursts of packets after a stall met pjmedia's small jitter buffer
(an in-band line now has 60-100 ms of prefetch and 2 s of room); taps were destroyed while the bridge's clock
could still call them (they are pooled per worker now). The dialer test runs in CI again; the 20-call test
stays opt-in (see its comment).
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.line import IncomingCall, KeyPressed, PlaybackFinished

from sipp.keys_pcap import SCENARIO, write_keys_pcap
from test_sip_calls import CALLER, CODE, REPO, Box, finished, make_state, new_calls, sipp

pytest.importorskip("pjsua2")
KEYS = "8" + CODE
SUMMARY = re.compile(r"call (\S+): (\d+) key\(s\) from (.*); (\d+) copies dropped")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    b = Box(make_state(tmp_path_factory.mktemp("inband")), inband_dtmf=True)
    b.wait_ready()
    yield b
    b.stop()
    assert b.line.exit_codes and all(code == 0 for code in b.line.exit_codes), b.line.exit_codes


def start_dial(port: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "drivers.sip.dialer", f"sip:bhxh@127.0.0.1:{port}", "--json", "--timeout", "50",
         "--caller", CALLER, "--keys", "8 " + CODE, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


def dial_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert out.strip(), err
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def summaries(caplog: pytest.LogCaptureFixture, count: int) -> dict[str, tuple[int, str, int]]:
    """The workers' end-of-call key summaries: call id → (keys, reports by method, copies dropped)."""
    found: dict[str, tuple[int, str, int]] = {}
    deadline = time.monotonic() + 5
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        for record in list(caplog.records):
            match = SUMMARY.search(record.getMessage())
            if match:
                found[match.group(1)] = (int(match.group(2)), match.group(3), int(match.group(4)))
    return found


def test_in_band_tones_reset_and_both_methods_give_one_key_per_press(
        box: Box, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="drivers.sip.line")
    before, seen = len(box.calls()), len(box.of(IncomingCall))
    tones = start_dial(box.port, "--dtmf", "inband", "--codec", "PCMU", "--rtp-port", "47100")
    both = start_dial(box.port, "--dtmf", "rfc4733+inband", "--codec", "PCMU", "--rtp-port", "47200",
                      "--code-gap", "0.5")  # the RFC 4733 event follows the tones: room for both before the next key
    results = [dial_result(tones), dial_result(both)]
    for result in results:
        assert result["answered"] and result["box_hung_up"] and not result["keys_left"], result
        assert result["heard_s"] > 8.0, result  # the box spoke both readings of the password
    rows = new_calls(box, before, 2)
    assert [row["outcome"] for row in rows] == ["reset", "reset"]
    calls = box.of(IncomingCall)[seen:]
    assert len(calls) == 2
    for call in calls:
        assert "".join(event.key for event in box.of(KeyPressed, call.call_id)) == KEYS  # one per press
    found = summaries(caplog, 2)
    [tones_only] = [found[c.call_id] for c in calls if "rfc4733" not in found[c.call_id][1]]
    [doubled] = [found[c.call_id] for c in calls if "rfc4733" in found[c.call_id][1]]
    assert tones_only == (11, "in-band 11", 0), found  # every tone heard, nothing else
    keys, methods, copies = doubled
    inband = re.fullmatch(r"in-band (\d+), rfc4733 11", methods)
    assert inband and int(inband.group(1)) >= 9, found  # the presses really came both ways (as a rule all 11)
    assert keys == 11 and copies == int(inband.group(1)), found  # and every in-band copy was dropped


# -- 20 calls at once, each with its tones (sipp plays a generated G.711 recording) ---------------------------------
# Opt-in (`pytest -m unstable tests/integration/test_sip_inband.py`) while the machine may be starved of CPU: with
# two busy loops beside it on this 2-core machine it passed 3 runs in a row, then failed 3 in a row (session 2).
# The tapped audio of such runs showed tones cut by a fading copy and then silence (the jitter buffer running dry)
# while the bridge's clock thread and the senders were starved for 100-400 ms: a key heard twice (e.g.
# '880123456789') or lost. A prefetch long enough to hide that would hold back the talkspurts of senders with
# silence suppression (docs/sip.md, "Jitter buffer"). Without extra load it passes (`bench/sip_concurrency.py
# --inband`: 20 of 20 calls reset).
@pytest.mark.unstable
@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) is not installed")
def test_twenty_in_band_calls_at_once_all_reset(box: Box, tmp_path: Path) -> None:
    before, seen = len(box.calls()), len(box.of(IncomingCall))
    write_keys_pcap(tmp_path, KEYS)
    proc = sipp(box.port, str(SCENARIO), keys={"caller": CALLER}, calls=20, timeout=50, cwd=tmp_path)
    assert finished(proc, 60) == 0, proc.stderr.read() if proc.stderr else ""
    calls = box.of(IncomingCall)[seen:]
    assert len(calls) == 20
    heard = {call.call_id: "".join(e.key for e in box.of(KeyPressed, call.call_id)) for call in calls}
    assert {call: keys for call, keys in heard.items() if keys != KEYS} == {}
    assert all(box.of(PlaybackFinished, call.call_id) for call in calls)
    rows = new_calls(box, before, 20)
    assert [row["outcome"] for row in rows] == ["reset"] * 20
    assert box.line.stats()["active"] == 0
