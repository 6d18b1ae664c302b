"""A SIP caller with pjsua2: dials a box, presses keys, captures what the box plays (one Endpoint per process).

`Dialer` is the reusable part (`resetline dial` places its calls with it): one Endpoint, any number of calls one
after the other. A call sends the caller's number in `From` and `P-Asserted-Identity` (none of them for
`anonymous`, which also asks for `Privacy: id`), captures the received audio frame by frame with its arrival time
(an `AudioTap` on the conference bridge, 8 kHz mono 16-bit), and asks a `KeyPlan` which key to press when.

`python -m drivers.sip.dialer sip:bhxh@127.0.0.1:5070 --caller 0912345678 --keys "8 0123456789" --json` (the
tests' quick caller, a fixed schedule: the first key 1 s after answer, then one every 0.3 s) prints one JSON
object: whether the box answered and who hung up, how long the call lasted, and how much of what the box sent
was sound. Keys go as RFC 4733 telephone-events (`--dtmf rfc4733`, the default), SIP INFO (`--dtmf info`), DTMF
tones in the call's audio (`--dtmf inband`: each key's two tones for 100 ms at -10 dBFS each, then 100 ms of
silence, played from a generated WAV) or both for every press (`--dtmf rfc4733+inband`, as some gateways do): the
tones, then the RFC 4733 event as they end (pjmedia sends no audio while it sends an event, so the two cannot
overlap).
"""
from __future__ import annotations

import argparse
import array
import json
import math
import os
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pjsua2 as pj

from .dtmf import INBAND_RATE, tone_pcm
from .tap import RATE, AudioTap

TURN_MS = 10
FRAME_MS = 20
SOUND_RMS = 300  # 16-bit RMS above which a 20 ms frame counts as sound (the prompts speak well above it)
METHODS = ("rfc4733", "info", "inband", "rfc4733+inband")
TONE_S = 0.1  # an in-band key: 100 ms of tones (then 100 ms of silence)
ANONYMOUS = ("", "anonymous")


class KeyPlan(Protocol):
    """When to press which key, told what happens on the call (times: `time.monotonic()`)."""

    def answered(self, now: float) -> None: ...

    def frame(self, now: float, loud: bool) -> None: ...

    def due(self, now: float) -> list[str]: ...

    def hang_up_due(self, now: float) -> bool: ...


@dataclass
class FixedSchedule:
    """The tests' quick caller: the first key `first_key_after` s after answer, the next ones `gap` s apart (again
    `first_key_after` before an 8), and a hang-up `hangup_after` s after answer if given."""

    keys: str
    first_key_after: float = 1.0
    gap: float = 0.3
    hangup_after: float | None = None
    _next: float | None = None
    _answered: float | None = None

    def answered(self, now: float) -> None:
        self.keys = "".join(k for k in self.keys if not k.isspace())
        self._answered, self._next = now, now + self.first_key_after

    def frame(self, now: float, loud: bool) -> None:
        pass

    def due(self, now: float) -> list[str]:
        if not self.keys or self._next is None or now < self._next:
            return []
        key, self.keys = self.keys[0], self.keys[1:]
        self._next = now + (self.first_key_after if self.keys[:1] == "8" else self.gap)
        return [key]

    def hang_up_due(self, now: float) -> bool:
        return self.hangup_after is not None and self._answered is not None and now - self._answered >= self.hangup_after


@dataclass(frozen=True)
class DialOptions:
    uri: str
    caller: str | None
    dtmf: str = "rfc4733"
    limit_s: float = 60.0  # hang up ourselves after this long (from the INVITE) if the box has not
    transport: str = "udp"
    bind: str = "127.0.0.1"


@dataclass
class CallRecord:
    """One call as the caller lived it; times are `time.monotonic()` values."""

    invited_at: float
    answered_at: float | None = None
    ended_at: float | None = None
    status: int = 0
    box_hung_up: bool = False
    keys: list[tuple[float, str]] = field(default_factory=list)
    frames: list[tuple[float, bytes]] = field(default_factory=list)  # (arrival, 20 ms of s16le) as received
    tap_failures: int = 0

    def pcm(self) -> bytes:
        return b"".join(data for _, data in self.frames)

    def write_wav(self, path: Path) -> None:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(self.pcm())


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, account: Any) -> None:
        super().__init__(account)
        self.state = 0
        self.status = 0
        self.media: Any = None
        self.confirmed_at: float | None = None
        self.disconnected_at: float | None = None

    def onCallState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        self.state, self.status = info.state, info.lastStatusCode
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected_at = time.monotonic()

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.media = self.getAudioMedia(index)


def loud(frame: bytes) -> bool:
    samples = array.array("h", frame[: len(frame) // 2 * 2])
    return bool(samples) and math.sqrt(sum(s * s for s in samples) / len(samples)) > SOUND_RMS


def measure(path: Path) -> dict[str, float]:
    """Seconds of sound and of silence in a recorded 16-bit mono WAV."""
    with wave.open(str(path), "rb") as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    step = rate * FRAME_MS // 1000 * 2
    heard = sum(loud(frames[start:start + step]) for start in range(0, len(frames) - step + 1, step))
    total = len(frames) / 2 / rate if rate else 0.0
    return {"heard_s": round(heard * FRAME_MS / 1000, 2), "recorded_s": round(total, 2)}


class Dialer:
    """Owns its Endpoint in the calling thread, from `libCreate` to `close()`; places calls one after another."""

    def __init__(self, workdir: Path, *, bind: str = "127.0.0.1", transport: str = "udp", rtp_port: int = 47000,
                 codec: str | None = None, caller: str | None = None) -> None:
        self.workdir = workdir  # the tone WAVs of --dtmf inband
        self.transport = transport
        self.tone: Any = None  # the player of the key being pressed in-band
        self.late_events: list[tuple[float, str]] = []  # --dtmf rfc4733+inband: (when, key) of RFC 4733 events due
        self.ep = pj.Endpoint()
        saved = os.dup(1)
        os.dup2(2, 1)  # pjlib greets on stdout before any log setting applies; stdout is for the result
        try:
            self.ep.libCreate()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.logConfig.level = 0
        cfg.logConfig.consoleLevel = 0
        cfg.medConfig.hasIoqueue = False
        cfg.medConfig.threadCnt = 0
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        self.ep.libInit(cfg)
        self.ep.audDevManager().setNullDev()
        if codec:  # offer that codec only, as a gateway configured for it would
            for info in self.ep.codecEnum2():
                self.ep.codecSetPriority(info.codecId, 255 if str(info.codecId).startswith(codec) else 0)
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = bind
        kind = pj.PJSIP_TRANSPORT_TCP if transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
        self.transport_id = self.ep.transportCreate(kind, tcfg)
        self.ep.libStart()
        self.bind = bind
        self.caller = None if (caller or "").strip().lower() in ANONYMOUS else caller
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{self.caller or 'anonymous'}@{bind}"
        acfg.sipConfig.transportId = self.transport_id
        acfg.mediaConfig.transportConfig.boundAddress = bind
        acfg.mediaConfig.transportConfig.port = rtp_port
        self.account = pj.Account()
        self.account.create(acfg)

    def call(self, uri: str, plan: KeyPlan, *, dtmf: str = "rfc4733", limit_s: float = 60.0) -> CallRecord:
        """One call: dial, follow `plan`, capture the box's audio; ends when the box hangs up or after `limit_s`."""
        call = _Call(self.account)
        prm = pj.CallOpParam(True)
        if self.caller:
            header = pj.SipHeader()
            header.hName, header.hValue = "P-Asserted-Identity", f"<sip:{self.caller}@{self.bind}>"
            prm.txOption.headers.append(header)
        else:
            header = pj.SipHeader()
            header.hName, header.hValue = "Privacy", "id"
            prm.txOption.headers.append(header)
        record = CallRecord(invited_at=time.monotonic())
        call.makeCall(uri + (";transport=tcp" if self.transport == "tcp" else ""), prm)
        tap: AudioTap | None = None
        hung_up_here = False
        deadline = record.invited_at + limit_s
        while call.state != pj.PJSIP_INV_STATE_DISCONNECTED and time.monotonic() < deadline:
            self.ep.libHandleEvents(TURN_MS)
            now = time.monotonic()
            if call.media is not None and tap is None:
                tap = AudioTap()
                tap.open("dialer-tap")
                tap.active = True  # a tap queues frames only while active (drivers/sip/tap.py)
                call.media.startTransmit(tap)
                plan.answered(now)
            if tap is not None:
                for arrival, data in tap.drain():
                    record.frames.append((arrival, data))
                    plan.frame(arrival, loud(data))
                for key in plan.due(now):
                    self._press(call, key, dtmf)
                    record.keys.append((now, key))
                if self.late_events and now >= self.late_events[0][0]:
                    call.dialDtmf(self.late_events.pop(0)[1])
                if not hung_up_here and plan.hang_up_due(now):
                    call.hangup(pj.CallOpParam(True))
                    hung_up_here = True
        if call.state != pj.PJSIP_INV_STATE_DISCONNECTED and not hung_up_here:
            call.hangup(pj.CallOpParam(True))
            hung_up_here = True
        self._settle(call)
        self._stop_tone(call)
        if tap is not None:
            if call.media is not None:
                try:
                    call.media.stopTransmit(tap)
                except pj.Error:
                    pass
            record.frames.extend(tap.drain())
            record.tap_failures = tap.failures
            tap.active = False
            tap = None  # the last reference: pjsua2 removes the port from the bridge
        record.answered_at, record.status = call.confirmed_at, call.status
        record.ended_at = call.disconnected_at or time.monotonic()
        record.box_hung_up = not hung_up_here
        self.late_events.clear()
        call.media = None
        del call
        return record

    def _press(self, call: _Call, key: str, method: str) -> None:
        if method in ("inband", "rfc4733+inband"):
            self._play_tone(call, key)
        if method == "rfc4733+inband":
            self.late_events.append((time.monotonic() + TONE_S, key))
        elif method == "info":
            prm = pj.CallSendDtmfParam()
            prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
            prm.digits = key
            prm.duration = 160
            call.sendDtmf(prm)
        elif method == "rfc4733":
            call.dialDtmf(key)

    def _play_tone(self, call: _Call, key: str) -> None:
        path = self.workdir / f"dtmf-{'star' if key == '*' else 'hash' if key == '#' else key}.wav"
        if not path.exists():
            with wave.open(str(path), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(INBAND_RATE)
                wav.writeframes(tone_pcm(key, tone_s=TONE_S))
        self._stop_tone(call)
        self.tone = pj.AudioMediaPlayer()
        self.tone.createPlayer(str(path), pj.PJMEDIA_FILE_NO_LOOP)
        self.tone.startTransmit(call.media)

    def _stop_tone(self, call: _Call) -> None:
        """Stop transmitting, then destroy (never a player destroyed while it plays into the bridge)."""
        if self.tone is not None and call.media is not None:
            try:
                self.tone.stopTransmit(call.media)
            except pj.Error:
                pass
        self.tone = None

    def _settle(self, call: _Call) -> None:
        deadline = time.monotonic() + 2.0
        while call.state != pj.PJSIP_INV_STATE_DISCONNECTED and time.monotonic() < deadline:
            self.ep.libHandleEvents(TURN_MS)

    def close(self) -> None:
        self.account.shutdown()
        del self.account
        self.ep.libDestroy()
        del self.ep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drivers.sip.dialer", description=__doc__.split("\n")[0])
    parser.add_argument("uri", help="whom to call, e.g. sip:bhxh@127.0.0.1:5070")
    parser.add_argument("--caller", help="the number in From (omit for anonymous)")
    parser.add_argument("--keys", default="", help='keys to press after answer, e.g. "8 0123456789"')
    parser.add_argument("--dtmf", "--method", dest="dtmf", choices=METHODS, default="rfc4733",
                        help="how keys are sent (default rfc4733)")
    parser.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    parser.add_argument("--codec", help="offer only codecs whose id starts with this, e.g. PCMU, GSM, speex/8000")
    parser.add_argument("--bind", default="127.0.0.1", help="local address (default 127.0.0.1)")
    parser.add_argument("--rtp-port", type=int, default=47000)
    parser.add_argument("--first-key-after", type=float, default=1.0, help="seconds from answer to the first key")
    parser.add_argument("--code-gap", type=float, default=0.3, help="seconds between keys")
    parser.add_argument("--hangup-after", type=float, help="hang up this many seconds after answer")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    parser.add_argument("--record", type=Path, help="keep the received audio here (WAV)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    plan = FixedSchedule(args.keys, args.first_key_after, args.code_gap, args.hangup_after)
    with tempfile.TemporaryDirectory() as tmp:
        dialer = Dialer(Path(tmp), bind=args.bind, transport=args.transport, rtp_port=args.rtp_port,
                        codec=args.codec, caller=args.caller)
        try:
            record = dialer.call(args.uri, plan, dtmf=args.dtmf, limit_s=args.timeout)
        finally:
            dialer.close()
        wav = args.record or Path(tmp) / "heard.wav"
        record.write_wav(wav)
        now = record.ended_at or time.monotonic()
        result: dict[str, Any] = {
            "answered": record.answered_at is not None,
            "status": record.status,
            "box_hung_up": record.box_hung_up,
            "duration_s": round(now - (record.answered_at or now), 2),
            "keys_left": plan.keys,
            **measure(wav),
        }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0 if result["answered"] else 1


if __name__ == "__main__":
    sys.exit(main())
