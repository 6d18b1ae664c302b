"""A pjsua2 worker process: `python -m drivers.sip.worker EVENTS_FD`, settings as the first line on stdin.

Its main thread owns every pjsua2 object: it creates the Endpoint, inits the library (no worker threads,
`mainThreadOnly`, the null audio device, the conference bridge at 8 kHz like the prompts), makes the loopback
transport and the account, answers and plays, and between two `libHandleEvents` reads the line's commands from
stdin and, on an in-band line, feeds each call's tapped audio to its DTMF detector. Teardown is explicit and in
order (`Worker.tear_down`), so nothing is left for the garbage collector.
"""
from __future__ import annotations

import ctypes
import logging
import os
import select
import sys
import time
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

from . import wire
from .callerid import caller_id
from .calls import BoxCall, CallSlot, guarded
from .dtmf import INBAND, InbandKeys, new_inband_detector
from .tap import TapPool
from .message import SipParseError, Via, parse, uri_host_port

log = logging.getLogger(__name__)

TURN_MS = 10
DISCONNECT_WAIT_S = 2.0
#: an in-band line's receive jitter buffer (ms): initial and minimum prefetch, maximum prefetch, maximum size.
#: Nobody listens to the caller's audio but the detector, so delay is cheap and lost audio is not: packets that
#: arrive in a burst after a pause (the far end's clock or this worker's loop starved of CPU, seen with 20 calls
#: on a loaded 2-core machine) meet a near-empty buffer that has already filled the pause with a fading copy and
#: silence, or a full one that drops them: tones cut in two (a key heard twice) or lost (docs/sip.md, "Jitter
#: buffer"). 60 ms of prefetch rides out short pauses and 2 s of room keeps a long burst. The prefetch stays at
#: most 100 ms because a sender with silence suppression sends each key as a talkspurt of its own, which must
#: start playing before the next one arrives; the key times are taken back by the buffer's depth
#: (`CallSlot.buffered_s`) for the in-band vs RFC 4733 window.
INBAND_JITTER_MS = (60, 60, 100, 2000)


class LogForwarder(pj.LogWriter):  # type: ignore[misc]
    def __init__(self, emit: Any) -> None:
        super().__init__()
        self._emit = emit

    def write(self, entry: Any) -> None:
        self._emit({"ev": "log", "level": int(entry.level), "msg": wire.mask_numbers(str(entry.msg).strip())})


class EmitHandler(logging.Handler):
    """The worker's own log records travel to the line like pjsua's, numbers masked."""

    def __init__(self, emit: Any) -> None:
        super().__init__(logging.INFO)
        self._emit = emit

    def emit(self, record: logging.LogRecord) -> None:
        level = 1 if record.levelno >= logging.ERROR else 2 if record.levelno >= logging.WARNING else 3
        self._emit({"ev": "log", "level": level, "msg": wire.mask_numbers(self.format(record))})


class BoxAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, worker: "Worker") -> None:
        super().__init__()
        self._worker = worker

    @guarded
    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        self._worker.incoming(self, prm)


class Worker:
    """The one thread's state: endpoint, transport, account and the calls by pjsua call id."""

    def __init__(self, settings: dict[str, Any], emit: Any, inbox: wire.LineDecoder) -> None:
        self.s = settings
        self.emit = emit
        self.closing = False
        self.slots: dict[int, CallSlot] = {}
        self.by_name: dict[str, CallSlot] = {}
        self.graveyard: list[CallSlot] = []
        self.queued: list[dict[str, Any]] = []
        self._seq = 0
        self._inbox = inbox
        self.inband = bool(settings.get("inband_dtmf"))
        self.taps = TapPool()  # in-band taps, reused from call to call (see drivers/sip/tap.py)

    # -- bring-up ----------------------------------------------------------------------------------------------------
    def bring_up(self) -> None:
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.maxCalls = int(self.s["max_calls"])
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "resetline"
        self.writer = LogForwarder(self.emit)
        cfg.logConfig.writer = self.writer
        cfg.logConfig.level = int(self.s.get("log_level", 2))
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.msgLogging = False  # SIP messages carry numbers
        cfg.medConfig.hasIoqueue = False  # RTP on the SIP ioqueue: polled by this thread's libHandleEvents
        cfg.medConfig.threadCnt = 0
        cfg.medConfig.clockRate = 8000  # the prompts' rate: no resampling in the bridge
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.channelCount = 1
        if self.inband:
            jitter = cfg.medConfig
            jitter.jbInit, jitter.jbMinPre, jitter.jbMaxPre, jitter.jbMax = INBAND_JITTER_MS
        self.ep.libInit(cfg)
        self.ep.audDevManager().setNullDev()
        if self.inband:
            new_inband_detector()  # imports numpy and the detector now (~0.4 s), not while the first call rings
        transport = pj.TransportConfig()
        transport.boundAddress = "127.0.0.1"
        transport.port = 0
        self.transport_id = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        self.ep.libStart()
        self.account = BoxAccount(self)
        self.account.create(self._account_config())
        host, _, port = str(self.ep.transportGetInfo(self.transport_id).localName).rpartition(":")
        self.emit({"ev": "ready", "capacity": compiled_max_calls(int(self.s["max_calls"])),
                   "sip": [host, int(port)], "pid": os.getpid()})

    def _account_config(self) -> Any:
        acfg = pj.AccountConfig()
        front = "%s:%d" % tuple(self.s["front"])
        registrar = self.s.get("registrar")
        found = uri_host_port(registrar) if registrar else None
        domain = found[0] if found else front  # a registered line's AOR lives at the registrar's domain
        acfg.idUri = f"sip:{self.s.get('user') or 'resetline'}@{domain}"
        acfg.sipConfig.transportId = self.transport_id
        acfg.sipConfig.proxies.append(f"sip:{front};lr")
        acfg.natConfig.sipOutboundUse = 0
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE  # no session-timer refreshes to route
        media = acfg.mediaConfig.transportConfig
        media.port = int(self.s["rtp_port"])
        media.portRange = int(self.s["rtp_range"])
        if self.s["media_host"] not in ("0.0.0.0", "::"):
            media.boundAddress = self.s["media_host"]
        acfg.regConfig.registerOnAdd = bool(registrar)
        if registrar:
            acfg.regConfig.registrarUri = registrar
            acfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", self.s.get("user") or "", 0, self.s.get("password") or ""))
        return acfg

    # -- pjsua2's callbacks (this thread) ----------------------------------------------------------------------------
    def incoming(self, account: Any, prm: Any) -> None:
        self._seq += 1
        name = f"{self.s['name']}-{self.s['index']}-{self._seq}"
        slot = CallSlot(self, name, "", InbandKeys(new_inband_detector()) if self.inband else None)
        call = BoxCall(account, prm.callId, slot)
        slot.call = call
        slot.sip_call_id = str(call.getInfo().callIdString)
        caller = self._caller(str(prm.rdata.wholeMsg), str(prm.rdata.srcAddress))
        self.slots[prm.callId] = slot
        self.by_name[name] = slot
        op = pj.CallOpParam()
        op.statusCode = 180
        call.answer(op)
        self.emit({"ev": "incoming", "call": name, "caller": caller, "sip": slot.sip_call_id})

    def _caller(self, whole: str, src: str) -> str | None:
        """The caller ID to believe: the front stamped the true source on the far end's Via (the second one)."""
        front = "%s:%d" % tuple(self.s["front"])
        if src != front:
            return None  # not through our front: no source we can vouch for
        try:
            msg = parse(whole.encode("utf-8"))
            vias = msg.get_all("Via")
            source = Via.parse(vias[1]).param("received") if len(vias) > 1 else None
        except SipParseError:
            return None
        return caller_id(msg.headers, source, self.s.get("trusted_peers", []))

    def call_state(self, slot: CallSlot, info: Any) -> None:
        if info.state != pj.PJSIP_INV_STATE_DISCONNECTED:
            return
        slot.stop()  # players and the in-band tap stopped and destroyed before the call goes
        slot.close_tap()
        if slot.keys.reports:
            log.info("call %s: %s", slot.name, slot.keys.summary())
        if slot.jitter_seen:
            log.info("call %s: %s", slot.name, slot.jitter_seen)
        if not slot.hung_up_here:
            self.emit({"ev": "hangup", "call": slot.name})
        self.emit({"ev": "ended", "call": slot.name, "sip": slot.sip_call_id})
        self.slots.pop(info.id, None)
        self.by_name.pop(slot.name, None)
        self.graveyard.append(slot)  # the Call object dies after this callback has returned

    def media_ready(self, slot: CallSlot) -> None:
        slot.media_ready()
        slot.open_tap()

    def key(self, slot: CallSlot, digit: str, method: int, start: float, end: float) -> None:
        if slot.accept_key(digit, method, start, end):
            self.emit({"ev": "key", "call": slot.name, "key": digit})

    # -- the loop ----------------------------------------------------------------------------------------------------
    def run(self) -> None:
        os.set_blocking(0, False)
        for command in self.queued:
            self._command(command)
        while not self.closing:
            self.ep.libHandleEvents(TURN_MS)
            self._read_commands()
            for slot in list(self.slots.values()):
                slot.tick(self._played_by(slot))
                for press in slot.heard():
                    self.key(slot, press.key, INBAND, press.start, press.end)
            self._bury()

    def _played_by(self, slot: CallSlot) -> Callable[[int], None]:
        return lambda token: self.emit({"ev": "played", "call": slot.name, "token": token})

    def _read_commands(self) -> None:
        if not select.select([0], [], [], 0)[0]:
            return
        try:
            data = os.read(0, 65536)
        except BlockingIOError:
            return
        if not data:
            self.closing = True  # the line is gone: tear down
            return
        for command in self._inbox.feed(data):
            self._command(command)

    def _command(self, command: dict[str, Any]) -> None:
        op = command.get("op")
        if op == "close":
            self.closing = True
            return
        slot = self.by_name.get(str(command.get("call")))
        if slot is None:
            return  # the call ended meanwhile: its "ended" event is on its way
        try:
            if op == "answer":
                slot.answer()
            elif op == "play":
                slot.play([str(f) for f in command.get("files", [])], int(command["token"]))
            elif op == "stop":
                slot.stop()
            elif op == "hangup":
                slot.hang_up()
        except pj.Error as exc:
            self.emit({"ev": "log", "level": 2, "msg": f"call {slot.name}: {op} failed: {exc.reason}"})

    def _bury(self) -> None:
        for slot in self.graveyard:
            slot.call = None
            slot.audio = None
        self.graveyard.clear()

    # -- teardown ----------------------------------------------------------------------------------------------------
    def tear_down(self) -> None:
        """Players, then calls (BYE, bounded wait for DISCONNECTED), account, transport, library."""
        for slot in list(self.slots.values()):
            slot.stop()
            slot.close_tap()
        for slot in list(self.slots.values()):
            try:
                slot.hang_up()
            except pj.Error:
                pass
        deadline = time.monotonic() + DISCONNECT_WAIT_S
        while self.slots and time.monotonic() < deadline:
            self.ep.libHandleEvents(TURN_MS)
        self._bury()
        for slot in self.slots.values():  # did not disconnect in time: drop them before the library goes
            slot.call = None
            slot.audio = None
        self.slots.clear()
        self.by_name.clear()
        if self.taps.size:  # stop the bridge's clock first: then no frame can reach a tap being destroyed
            self.ep.audDevManager().setNoDev()
            self.taps.close()
        self.account.shutdown()
        del self.account
        self.ep.transportClose(self.transport_id)
        self.ep.libDestroy()
        del self.ep


def compiled_max_calls(asked: int) -> int:
    """The calls pjsua really accepts: it clamps maxCalls to its compile-time PJSUA_MAX_CALLS without a word."""
    module = sys.modules.get("pjsua2._pjsua2") or sys.modules.get("_pjsua2")
    path = getattr(module, "__file__", None)
    if path is None:
        return asked
    try:
        return int(ctypes.CDLL(path).pjsua_call_get_max_count())
    except (OSError, AttributeError):
        return asked


def main(argv: list[str]) -> int:
    events = int(argv[1])

    def emit(message: dict[str, Any]) -> None:
        os.write(events, wire.encode(message))

    root = logging.getLogger()
    root.addHandler(EmitHandler(emit))
    root.setLevel(logging.INFO)
    inbox = wire.LineDecoder()
    first: list[dict[str, Any]] = []
    while not first:  # the settings line; read from fd 0 itself so no command is left in a buffered reader
        data = os.read(0, 65536)
        if not data:
            return 2
        first = inbox.feed(data)
    worker = Worker(first[0], emit, inbox)
    for command in first[1:]:
        worker.queued.append(command)
    try:
        worker.bring_up()
    except pj.Error as exc:
        emit({"ev": "log", "level": 1, "msg": f"pjsua2 bring-up failed: {exc.info()}"})
        return 3
    try:
        worker.run()
    finally:
        worker.tear_down()
        emit({"ev": "closed"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
