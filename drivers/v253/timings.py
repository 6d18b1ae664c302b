"""How long the V.253 driver waits for what, and the line's tone and silence figures: data, so a bench, a test
or a simulator run can change them. Durations measured on the received audio are in line seconds (samples),
so they do not change with a simulator's speed; wall-clock windows that face the caller do."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class V253Timings:
    """Defaults suit a real stick on a real line; `at_speed` scales them for a simulator N times faster."""

    command_s: float = 3.0  # default reply timeout of a command (callattendant allows 5 s)
    probe_s: float = 1.0  # `ATZ`/`AT` probe at bring-up and recovery (retried)
    answer_s: float = 5.0  # AT+VLS=1: the relay and the DAA settle
    connect_s: float = 3.0  # AT+VTX/VRX/VTR to CONNECT, and a data state's end to OK
    answer_settle_s: float = 0.5  # off-hook to the first audio (callattendant waits 1 s before AT+VTX)
    cid_window_s: float = 8.0  # from the first RING: how long the caller ID may take (past ring 2 of 1+4 s)
    cid_settle_s: float = 0.3  # after NMBR: the rest of the record (NAME, MESG) may follow
    ring_gone_s: float = 9.0  # no RING for this long before the answer: the caller gave up
    lead_s: float = 0.25  # audio written ahead of the line (line seconds): barge-in clears it with <DLE><CAN>
    min_lead_wall_s: float = 0.06  # ... and never less than this much wall time (several read polls)
    frame_s: float = 0.02  # prompts start on a frame of this many line seconds (160 samples at 8 kHz)
    dedup_s: float = 0.15  # a modem report of the same key this soon after the last is the same press
    cross_s: float = 0.6  # the modem and our detector reporting one key this close together: one press
    busy_hz: float = 425.0  # busy / congestion tone (E.180's common figure; Vietnam's unmeasured)
    busy_on_s: float = 0.5  # cadence: tone on ...
    busy_off_s: float = 0.5  # ... tone off (line seconds)
    busy_tolerance: float = 0.3  # each on/off period within this fraction of its nominal length
    busy_cycles: int = 2  # complete on/off cycles heard before the call counts as ended
    busy_min_dbm0: float = -40.0  # quieter than this is not a tone
    silence_s: float = 12.0  # the caller silent this long while the box is quiet: gone (line s); longer than
    # the call flow's longest wait (entry_timeout_s 10 s), so a quiet caller is asked again first
    silence_dbm0: float = -35.0  # quieter than this is silence (8-bit linear's ±1 LSB measures about -36)
    stream_idle_s: float = 2.0  # no byte from the modem in a receive session: the modem or the line is gone
    vit_s: int = 10  # AT+VIT: the modem hangs up by itself when the host says nothing this long (0: off)
    nul_every_s: float = 2.0  # <DLE><NUL> refreshes AT+VIT while we only listen (AT+VRX)
    keepalive_s: float = 15.0  # idle: check the caller-ID setting (a silent reset is noticed)
    poll_s: float = 0.005  # reader's read timeout in a call: the audio pacing's granularity
    idle_poll_s: float = 0.05  # ... when no call is up (requests still wake it at once)
    port_return_s: float = 3.0  # recovery's first rung: re-open the port (it may be re-enumerating) this long
    reboot_s: float = 15.0  # after ATZ, a USB rebind or a power cycle: wait this long for the port and `AT`
    stable_s: float = 120.0  # up this long: the next trouble starts the recovery ladder at its first rung again
    down_retry_s: float = 10.0  # bring-up failed, or every rung failed: try again after this pause
    speed: float = 1.0  # the line runs this many times faster than real time (a simulator)

    def at_speed(self, speed: float) -> V253Timings:
        """The caller-facing wall-clock windows divided by `speed`, for a V253Simulator at the same speed."""
        return dataclasses.replace(
            self,
            answer_settle_s=self.answer_settle_s / speed,
            cid_window_s=self.cid_window_s / speed,
            cid_settle_s=self.cid_settle_s / speed,
            ring_gone_s=self.ring_gone_s / speed,
            dedup_s=self.dedup_s / speed,
            cross_s=self.cross_s / speed,
            nul_every_s=self.nul_every_s / speed,
            speed=self.speed * speed,
        )
