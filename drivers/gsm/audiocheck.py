"""The two-way audio check of `resetline line test N --audio` (usb-pcm only): one-way or no audio is the first
field failure of cellular lines (wdoekes #149, #137; bg111 #276; RoEdAl #7).

A technician calls the line; the box answers, plays a 1 kHz test tone (`TONE_S` at −10 dBm0) and listens to what
comes back: the tone itself (a far end that loops the audio back: an echo test number, the simulator with
`echo=True`) and any key the caller presses, heard by our DTMF receiver on the received audio (pressing a key when
the tone is heard proves both directions with an ordinary phone). Then it hangs up. On `modem-files` the modem plays
files itself and the box never sees the call audio: the check is not available there, and the report says so.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.dtmf_spectrum import dbm0_to_power, power_to_dbm0

RATE = 8000
TONE_HZ = 1000.0
TONE_S = 1.0
TONE_DBM0 = -10.0
BLOCK = 160  # 20 ms
#: a block counts as "the tone came back" when it is at least this loud and the tone holds most of its power
BACK_MIN_DBM0 = -45.0
BACK_SHARE = 0.5
NOT_AVAILABLE = ("not available on the modem-files path: the modem plays the prompts from its own store and the box "
                 "never sees the call audio; call the line and listen to the menu instead")


def check_tone(seconds: float = TONE_S) -> bytes:
    """The tone the box plays (8 kHz s16le), starting and ending at zero."""
    t = np.arange(int(seconds * RATE)) / RATE
    amplitude = np.sqrt(2.0 * dbm0_to_power(TONE_DBM0))
    return bytes(np.round(amplitude * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2").tobytes())


def tone_back(pcm: bytes) -> tuple[int, float]:
    """How many 20 ms blocks of `pcm` carry the test tone, and the loudest tone level (dBm0)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % (2 * BLOCK)], dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return 0, float("-inf")
    blocks = samples.reshape(-1, BLOCK)
    t = np.arange(BLOCK) / RATE
    probe = np.exp(-2j * np.pi * TONE_HZ * t)
    tone_power = 2.0 * np.abs(blocks @ probe) ** 2 / BLOCK**2  # mean power of the 1 kHz component
    total = np.mean(blocks**2, axis=1)
    levels = [power_to_dbm0(p) for p in tone_power]
    back = int(np.sum((np.array(levels) >= BACK_MIN_DBM0) & (tone_power >= BACK_SHARE * np.maximum(total, 1e-9))))
    return back, max(levels)


@dataclass
class AudioCheck:
    """One check waiting for its call; `done` is set with `result` (from the line's thread)."""

    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] = field(default_factory=dict)
    received: bytearray = field(default_factory=bytearray)
    keys: list[str] = field(default_factory=list)
    sent: bool = False

    def hear(self, pcm: bytes) -> None:
        """Received audio (PCM thread); at most 10 s kept."""
        if len(self.received) < 10 * RATE * 2:
            self.received += pcm

    def finish(self, why: str | None = None) -> None:
        blocks, level = tone_back(bytes(self.received))
        self.result = {
            "available": True,
            "tone_sent": self.sent,
            "tone_back_blocks": blocks,
            "tone_back_dbm0": round(level, 1) if np.isfinite(level) else None,
            "keys_heard_in_band": "".join(self.keys),
            "audio_back": blocks >= 5 or bool(self.keys),  # 100 ms of the tone, or a key heard in the audio
        }
        if why is not None:
            self.result["error"] = why
        self.done.set()
