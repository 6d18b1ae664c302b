"""How long the GSM driver waits for what: data, so a bench, a test or a simulator run can tighten it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class GsmTimings:
    """Defaults suit real EC25/SIM7600/SIM800 modems. `at_speed` scales what faces the caller (for a simulator
    running N times faster); modem timeouts stay real time."""

    command_s: float = 3.0  # default reply timeout of a command
    probe_s: float = 1.0  # `AT` probe during recovery (two tries)
    answer_s: float = 15.0  # ATA: VoLTE call set-up can take seconds
    upload_base_s: float = 10.0  # upload timeout: this plus the bytes at `upload_bytes_per_s`
    upload_bytes_per_s: float = 8000.0  # conservative: a 115200-baud UART moves ~11 kB/s
    settle_s: float = 0.5  # after stopping a playback, wait this long for a stray end-of-playback URC
    keepalive_s: float = 15.0  # idle: probe the modem (a volatile setting, so a silent reset is noticed)
    in_call_keepalive_s: float = 5.0  # the same during a call (a silent modem is found within seconds)
    status_s: float = 60.0  # refresh signal, registration and IMS state for the report
    clip_wait_s: float = 2.0  # after RING, wait this long for +CLIP before the caller counts as withheld
    dedup_s: float = 0.15  # a second report of the same key within this window is the same press
    key_window_s: float = 0.6  # usb-pcm: a modem report and an in-band press of one key this close are one press
    reboot_s: float = 45.0  # after AT+CFUN=1,1, a USB rebind or a power cycle: wait for the port and `AT`
    port_return_s: float = 5.0  # a vanished port: wait this long before escalating
    down_retry_s: float = 30.0  # every rung failed: start the ladder again after this pause
    stable_s: float = 120.0  # up this long: the next trouble starts the recovery ladder at its first rung
    poll_s: float = 0.02  # reader thread's read timeout: how soon a request from the loop is acted on
    pcm_frame_s: float = 0.02  # one PCM frame (8 kHz s16le: 320 bytes)
    sms_s: float = 60.0  # the whole SMS exchange (network round trip)

    def at_speed(self, speed: float) -> GsmTimings:
        """The caller-facing windows divided by `speed` (a ModemSimulator at the same speed)."""
        return dataclasses.replace(
            self,
            clip_wait_s=self.clip_wait_s / speed,
            dedup_s=self.dedup_s / speed,
            key_window_s=self.key_window_s / speed,
            pcm_frame_s=self.pcm_frame_s / speed,
        )
