"""A SIP caller in its own process (pjsua2 allows one Endpoint per process): dials a box, presses keys, listens.

`python -m drivers.sip.dialer sip:bhxh@127.0.0.1:5070 --caller 0912345678 --keys "8 0123456789" --json`
prints one JSON object: whether the box answered and who hung up, how long the call lasted, and how much of what
the box sent was sound (the received audio is recorded and measured). The field's tester and the tests use it.
Keys go as RFC 4733 telephone-events (`--dtmf rfc4733`, the default), SIP INFO (`--dtmf info`), DTMF tones in the
call's audio (`--dtmf inband`: each key's two tones for 100 ms at -10 dBFS each, then 100 ms of silence, played
from a generated WAV) or both for every press (`--dtmf rfc4733+inband`, as some gateways do): the tones, then the
RFC 4733 event as they end (pjmedia sends no audio while it sends an event, so the two cannot overlap).
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
from pathlib import Path
from typing import Any

import pjsua2 as pj

from .dtmf import INBAND_RATE, tone_pcm

TURN_MS = 10
FRAME_MS = 20
SOUND_RMS = 300  # 16-bit RMS above which a 20 ms frame counts as sound (the prompts speak well above it)
METHODS = ("rfc4733", "info", "inband", "rfc4733+inband")
TONE_S = 0.1  # an in-band key: 100 ms of tones (then 100 ms of silence)


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


def measure(path: Path) -> dict[str, float]:
    """Seconds of sound and of silence in a recorded 16-bit mono WAV."""
    with wave.open(str(path), "rb") as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    samples = array.array("h", frames[: len(frames) // 2 * 2])
    step = rate * FRAME_MS // 1000
    loud = 0
    for start in range(0, len(samples) - step + 1, step):
        chunk = samples[start:start + step]
        if math.sqrt(sum(s * s for s in chunk) / step) > SOUND_RMS:
            loud += 1
    total = len(samples) / rate if rate else 0.0
    return {"heard_s": round(loud * FRAME_MS / 1000, 2), "recorded_s": round(total, 2)}


class Dialer:
    """Owns its Endpoint in the calling thread, from `libCreate` to `libDestroy`."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir  # the tone WAVs of --dtmf inband
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
        if args.codec:  # offer that codec only, as a gateway configured for it would
            for codec in self.ep.codecEnum2():
                self.ep.codecSetPriority(codec.codecId, 255 if str(codec.codecId).startswith(args.codec) else 0)
        transport = pj.TransportConfig()
        transport.boundAddress = args.bind
        kind = pj.PJSIP_TRANSPORT_TCP if args.transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
        self.transport_id = self.ep.transportCreate(kind, transport)
        self.ep.libStart()
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{args.caller or 'anonymous'}@{args.bind}"
        acfg.sipConfig.transportId = self.transport_id
        acfg.mediaConfig.transportConfig.boundAddress = args.bind
        acfg.mediaConfig.transportConfig.port = args.rtp_port
        self.account = pj.Account()
        self.account.create(acfg)

    def run(self, record: Path) -> dict[str, Any]:
        call = _Call(self.account)
        call.makeCall(self.args.uri + (";transport=tcp" if self.args.transport == "tcp" else ""), pj.CallOpParam(True))
        self.keys = [k for k in self.args.keys if not k.isspace()]
        self.next_key_at: float | None = None
        self.recorder: Any = None
        self.hung_up_here = False
        deadline = time.monotonic() + self.args.timeout
        while call.state != pj.PJSIP_INV_STATE_DISCONNECTED and time.monotonic() < deadline:
            self.ep.libHandleEvents(TURN_MS)
            self._turn(call, record, time.monotonic())
        if call.state != pj.PJSIP_INV_STATE_DISCONNECTED:
            call.hangup(pj.CallOpParam(True))
            self.hung_up_here = True
            self._settle(call)
        self._stop_tone(call)
        if self.recorder is not None and call.media is not None:
            try:
                call.media.stopTransmit(self.recorder)
            except pj.Error:
                pass
        self.recorder = None  # the last reference: closes the WAV file before it is measured
        now = time.monotonic()
        result = {
            "answered": call.confirmed_at is not None,
            "status": call.status,
            "box_hung_up": not self.hung_up_here,
            "duration_s": round((call.disconnected_at or now) - (call.confirmed_at or now), 2),
            "keys_left": "".join(self.keys),
        }
        call.media = None
        del call
        return result

    def _turn(self, call: _Call, record: Path, now: float) -> None:
        """Start recording once media flows, press the next key when due, hang up when asked to."""
        args = self.args
        if call.media is not None and self.recorder is None:
            self.recorder = pj.AudioMediaRecorder()
            self.recorder.createRecorder(str(record))
            call.media.startTransmit(self.recorder)
            self.next_key_at = now + args.first_key_after
        if self.keys and self.next_key_at is not None and now >= self.next_key_at:
            self._press(call, self.keys.pop(0))
            self.next_key_at = now + (args.code_gap if not self.keys or self.keys[0] != "8" else args.first_key_after)
        if self.late_events and now >= self.late_events[0][0]:
            call.dialDtmf(self.late_events.pop(0)[1])
        if args.hangup_after is not None and call.confirmed_at is not None and not self.hung_up_here \
                and now - call.confirmed_at >= args.hangup_after:
            call.hangup(pj.CallOpParam(True))
            self.hung_up_here = True

    def _press(self, call: _Call, key: str) -> None:
        method = self.args.dtmf
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
    with tempfile.TemporaryDirectory() as tmp:
        record = args.record or Path(tmp) / "heard.wav"
        dialer = Dialer(args, Path(tmp))
        try:
            result = dialer.run(record)
        finally:
            dialer.close()
        result.update(measure(record) if record.exists() else {"heard_s": 0.0, "recorded_s": 0.0})
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0 if result["answered"] else 1


if __name__ == "__main__":
    sys.exit(main())
