"""The call side of a V.253 line, on the line's thread: RING, caller ID, keys and hang-up signs to line events;
the box's requests to commands (answer, play lists through the voice path, hang up).

Keys: dtmf = "modem" takes the modem's `<DLE>` reports; dtmf = "detector" runs our DtmfDetector on the received
audio (converted to int16) and takes the modem's reports only while no audio comes in (`AT+VTX` on a half-duplex
stick); `KeyGate` keeps one key per press across the two.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

from drivers.dtmf import DtmfDetector
from drivers.serialmodem.privacy import redact
from drivers.line import EventSink, IncomingCall, LineEvent, PlaybackFinished, Post, PromptSource
from drivers.serialmodem.lineshell import deliver

from .bringup import Setup, after_call_commands, answer_commands
from .calls import IDLE, CallTracker
from .callerid import is_hex_packet, parse_line
from .codec import Audio, Shielded, StreamEnd, V253Codec
from .engine import Command, Reply
from .hangup import HangupWatch
from .keys import DETECTOR, MODEM, KeyGate, ModemKeys, is_key_code
from .profiles import Profile
from .samples import SampleDecoder
from .status import LineStatus
from .timings import V253Timings
from .voicepath import VoicePath

log = logging.getLogger(__name__)

Submit = Callable[[Command, Callable[[Reply], None] | None], None]


class CallDesk:
    def __init__(self, name: str, profile: Profile, timings: V253Timings, *, dtmf: str, post: Post,
                 status: LineStatus, clock: Callable[[], float], prompts: PromptSource,
                 trouble: Callable[[str], None]) -> None:
        self._name = name
        self._p = profile
        self._t = timings
        self._dtmf = dtmf
        self._post = post
        self._status = status
        self._clock = clock
        self._prompts = prompts
        self._trouble = trouble
        self.sink: EventSink | None = None
        self.tracker = CallTracker(name, clock, timings)
        self._modem_keys = ModemKeys(timings.dedup_s)
        self._gate = KeyGate(timings.cross_s)
        self._watch = HangupWatch(timings, profile)
        self._setup: Setup | None = None
        self._submit: Submit = lambda command, done: None
        self._write: Callable[[bytes], None] = lambda data: None
        self._codec = V253Codec()
        self.path: VoicePath | None = None
        self._decoder: SampleDecoder | None = None
        self._detector: DtmfDetector | None = None

    def connect(self, setup: Setup, submit: Submit, write: Callable[[bytes], None], codec: V253Codec) -> None:
        """The stick is up (again): its findings and the session's means of talking to it."""
        self._setup, self._submit, self._write, self._codec = setup, submit, write, codec

    @property
    def in_call(self) -> bool:
        return self.tracker.phase != IDLE

    # -- what the modem said ---------------------------------------------------------------------------------------
    def line(self, text: str) -> None:
        upper = text.upper()
        if self._setup is None:
            log.debug("%s: %s before the stick is up: ignored", self._name, redact(text)[:40])
        elif upper == "RING" or upper.startswith("RING "):
            self._emit(self.tracker.ring())
        elif parse_line(text) is not None or (is_hex_packet(text) and not self.tracker.connected):
            self.tracker.caller_id(text)
        elif upper in ("NO CARRIER", "BUSY") and self.tracker.connected:
            self._remote_gone(upper.lower())
        elif not upper.startswith(("DRON", "DROF")):
            log.info("%s: unsolicited line ignored: %s", self._name, redact(text)[:80])

    def stream(self, event: Shielded | Audio | StreamEnd) -> None:
        path = self.path
        if path is None:
            if isinstance(event, Shielded) and event.code not in ("R",):
                log.debug("%s: <DLE>%r with no call", self._name, event.code)
            return
        if isinstance(event, Audio):
            path.heard()
            self._audio(path, event.data)
        elif isinstance(event, Shielded):
            path.heard()
            self._shielded(path, event.code)
        else:
            path.stream_ended()

    def poll(self) -> None:
        self._emit(self.tracker.poll())
        if self.path is not None:
            self.path.poll()

    def lost(self, reason: str) -> None:
        """The stick is being reset or is gone: the call is over (the journal hears RemoteHangup)."""
        self.path = None
        self._setup = None  # until the stick is up again: a RING now could not be answered
        self._emit(self.tracker.drop(reason))

    # -- the box's requests ----------------------------------------------------------------------------------------
    def answer(self, call_id: str) -> None:
        setup = self._setup
        if setup is None or not self.tracker.answering(call_id):
            log.info("%s: answer for %s ignored: that call is not ringing", self._name, call_id)
            return
        self.path = VoicePath(self._name, self._p, setup.fmt, setup.duplex, self._t, submit=self._submit,
                              write=self._write, codec=self._codec, clock=self._clock,
                              finished=functools.partial(self._finished, call_id), trouble=self._trouble,
                              session_started=self._session_started)
        self._modem_keys.reset()
        self._gate.reset()
        self._watch.reset()
        self._decoder = SampleDecoder(setup.fmt)
        self._detector = DtmfDetector(8000) if self._dtmf == DETECTOR else None
        self._sequence(answer_commands(self._p, setup, self._t), functools.partial(self._answered, call_id))

    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None:
        if self._current(call_id) and self.path is not None and self._setup is not None:
            fmt = self._setup.fmt
            self._watch.box_spoke()
            self.path.play([self._prompts.audio(pid, fmt) for pid in prompt_ids], token)

    def stop(self, call_id: str) -> None:
        if self._current(call_id) and self.path is not None:
            self.path.stop()

    def hang_up(self, call_id: str) -> None:
        if self._current(call_id):
            self.end(send=True)

    def end(self, send: bool) -> None:
        """The box ends the call (hang-up, or the line closing): no event follows."""
        self.tracker.end_by_box()
        self._teardown(send)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _current(self, call_id: str) -> bool:
        if self.tracker.is_current(call_id):
            return True
        log.debug("%s: request for %s ignored: not the current call", self._name, call_id)
        return False

    def _sequence(self, commands: list[tuple[Command, bool]], done: Callable[[Reply | None], None]) -> None:
        """Run commands one after another; `done(None)` when all required ones passed, else the failing reply."""
        if not commands:
            done(None)
            return
        (command, required), rest = commands[0], commands[1:]

        def step(reply: Reply) -> None:
            if not reply.ok and required:
                done(reply)
            else:
                if not reply.ok:
                    log.info("%s: %s (optional) failed: %s", self._name, command.text, reply.text or reply.status)
                self._sequence(rest, done)

        self._submit(command, step)

    def _answered(self, call_id: str, failed: Reply | None) -> None:
        if not self.tracker.is_current(call_id) or self.path is None:
            return
        if failed is None:
            self.tracker.answered()
            self.path.off_hook()
            return
        log.error("%s: answering failed (%s)", self._name, failed.describe())
        self._status.set(last_error=f"answering failed: {failed.describe()} (thess #11: off-hook refused?)")
        self._remote_gone("answer failed")
        if failed.status != "error":
            self._trouble(f"answering: {failed.describe()}")

    def _remote_gone(self, reason: str) -> None:
        self._status.bump("hangups", reason.split(" (")[0])
        events = self.tracker.drop(reason)
        self._teardown(send=True)
        self._emit(events)

    def _teardown(self, send: bool) -> None:
        path, self.path = self.path, None
        self._detector = None
        if not send:
            return
        if path is None:
            self._after_call_commands()
        else:
            path.close(then=self._after_call_commands)

    def _after_call_commands(self) -> None:
        for command in after_call_commands(self._p, self._t):
            self._submit(command, self._after_call)

    def _after_call(self, reply: Reply) -> None:
        if reply.status == "timeout" or (reply.status == "error" and reply.command.text in self._p.hang_up):
            self._trouble(f"after the call: {reply.describe()}")  # a line left off-hook is worse than a reset

    def _session_started(self, state: str) -> None:
        self._flush_detector()
        if self._decoder is not None:
            self._decoder.reset()
        self._watch.reset()

    def _flush_detector(self) -> None:
        detector = self._detector
        if detector is not None:
            for event in detector.flush():
                self._key(event.key, DETECTOR)

    def _audio(self, path: VoicePath, data: bytes) -> None:
        if self._decoder is None:
            return
        samples = self._decoder.feed(data)
        if self._detector is not None:
            for event in self._detector.feed(samples):
                self._key(event.key, DETECTOR)
        reason = self._watch.audio(samples, box_quiet=not path.playing)
        if reason is not None and self.tracker.connected:
            self._remote_gone(reason)

    def _shielded(self, path: VoicePath, code: str) -> None:
        if is_key_code(code):
            if self._dtmf == MODEM or not path.receiving:
                key = self._modem_keys.report(code, self._clock())
                if key is not None:
                    self._key(key, MODEM)
            return
        if code in ("u", "o"):
            self._status.bump("underruns" if code == "u" else "overruns")
            return
        if code in self._p.extension:
            log.warning("%s: an extension on this line went off-hook (<DLE>%s)", self._name, code)
            return
        reason = self._watch.shielded(code, box_quiet=not path.playing)
        if reason is not None and self.tracker.connected:
            self._remote_gone(reason)

    def _key(self, key: str, source: str) -> None:
        if self._gate.accept(key, source, self._clock()):
            self._emit(self.tracker.key(key))
        else:
            log.debug("%s: one press reported by both the modem and the detector", self._name)

    def _finished(self, call_id: str, token: int) -> None:
        if self.tracker.is_current(call_id):
            self._emit([PlaybackFinished(call_id, token)])

    def _emit(self, events: list[LineEvent]) -> None:
        deliver(self._name, self.sink, self._post, events, log)
        if any(isinstance(event, IncomingCall) for event in events):
            self._status.set(calls=self.tracker.calls)
