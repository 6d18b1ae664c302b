"""The call side of a GSM line, on the line's thread: call signals to line events, the box's requests to AT
commands (ATA, play lists, AT+CHUP), the usb-pcm path switched as the call connects and ends.

On usb-pcm the received audio also goes to our DTMF receiver (`drivers.dtmf.DtmfDetector`) on the PCM thread;
its presses hop to the line's thread, where `PressMerger` counts each key once across the modem's reports and
the detector (carriers whose DTMF reports go missing: field-failures.md)."""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence

from drivers.line import (EventSink, IncomingCall, KeyPressed, LineEvent, PlaybackFinished, Post, PromptSource,
                          RemoteHangup)
from drivers.serialmodem.keymerge import INBAND, MODEM, InbandKeys, PressMerger, TimedPress
from drivers.serialmodem.lineshell import deliver

from .audiocheck import AudioCheck, check_tone
from .calls import IDLE, CallTracker
from .engine import Command, Reply
from .pcm import PcmStream
from .players import FilePlayer, PcmPlayer, Player
from .profiles import Profile
from .signals import Signal
from .status import LineStatus
from .timings import GsmTimings
from .transport import PortLost

log = logging.getLogger(__name__)

CHECK_TOKEN = -1  # the audio check's playback (the call flow's tokens count up from 0)
CHECK_TAIL_FRAMES = 25  # after the tone, listen 0.5 s more for what comes back
Submit = Callable[[Command, Callable[[Reply], None] | None], None]


class CallDesk:
    def __init__(
        self,
        name: str,
        profile: Profile,
        timings: GsmTimings,
        *,
        submit: Submit,
        post: Post,
        status: LineStatus,
        clock: Callable[[], float],
        prompts: PromptSource,
        stored: Callable[[str], bool],
        audio_port: str | None,
        defer: Callable[[Callable[[], None]], None],
    ) -> None:
        self._name = name
        self._profile = profile
        self._t = timings
        self._submit = submit
        self._post = post
        self._status = status
        self.sink: EventSink | None = None
        self.tracker = CallTracker(name, clock, timings.clip_wait_s, timings.dedup_s)
        self._stream: PcmStream | None = None
        self.player: Player
        self._defer = defer
        self._keys = PressMerger(timings.key_window_s)
        self._inband: InbandKeys | None = None
        self._check: AudioCheck | None = None
        self._check_until: float | None = None
        if audio_port is not None:
            finished = functools.partial(_hop, defer, self._playback_finished)
            self._stream = PcmStream(name, audio_port, finished, frame_s=timings.pcm_frame_s)
            self.player = PcmPlayer(self._stream, lambda pid: prompts.audio(pid, "s16le"))
        else:
            self.player = FilePlayer(profile, submit, self._playback_finished, clock, settle_s=timings.settle_s,
                                     command_s=timings.command_s, stored=stored)

    @property
    def pcm_stream(self) -> PcmStream | None:
        """The usb-pcm stream; its `on_audio` feeds our in-band DTMF receiver during a call."""
        return self._stream

    @property
    def in_call(self) -> bool:
        return self.tracker.phase != IDLE

    def signal(self, sig: Signal) -> None:
        events = [e for e in self.tracker.signal(sig)
                  if not isinstance(e, KeyPressed) or self._keys.accept(e.key, MODEM, time.monotonic())]
        if any(isinstance(event, RemoteHangup) for event in events):
            self._call_over()
        self._emit(events)

    def poll(self) -> None:
        self._emit(self.tracker.poll())
        self.player.poll()
        if self._check is not None and self._check_until is not None and time.monotonic() >= self._check_until:
            check, self._check, self._check_until = self._check, None, None
            check.finish()
            if self.in_call:
                self.end(send=True)

    # -- the two-way audio check (line test, usb-pcm) --------------------------------------------------------------
    def arm(self, check: AudioCheck) -> None:
        """Answer the next call, play the test tone, listen for it and for keys, hang up (audiocheck.py)."""
        self._check, self._check_until = check, None

    def disarm(self) -> None:
        self._check, self._check_until = None, None

    def lost(self, reason: str) -> None:
        """The modem restarted or is being recovered: the call is gone (the journal hears RemoteHangup)."""
        self.player.reset()
        if self._stream is not None:
            self._stream.close()
        self._emit(self.tracker.drop(reason))

    # -- the box's requests ----------------------------------------------------------------------------------------
    def answer(self, call_id: str) -> None:
        if not self.tracker.answering(call_id):
            log.info("%s: answer for %s ignored: that call is not ringing", self._name, call_id)
            return
        ends = tuple(dict.fromkeys(("NO CARRIER", *self._profile.hangup_urcs)))
        self._submit(Command(self._profile.answer, self._t.answer_s, ends_on=ends),
                     functools.partial(self._answered, call_id))

    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None:
        if self._current(call_id):
            self.player.play(call_id, prompt_ids, token)

    def stop(self, call_id: str) -> None:
        if self._current(call_id):
            self.player.stop()

    def hang_up(self, call_id: str) -> None:
        if self._current(call_id):
            self.end(send=True)

    def end(self, send: bool) -> None:
        """The box ends the call (hang-up, or the line closing): no event follows."""
        self._call_over()
        self.tracker.end_by_box()
        if send:
            self._submit(Command(self._profile.hang_up, self._t.command_s), None)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _current(self, call_id: str) -> bool:
        if self.tracker.is_current(call_id):
            return True
        log.debug("%s: request for %s ignored: not the current call", self._name, call_id)
        return False

    def _answered(self, call_id: str, reply: Reply) -> None:
        if not self.tracker.is_current(call_id):
            return
        if reply.ok:
            self.tracker.answered()
            if self._stream is not None:
                for text in self._profile.pcm_on:
                    self._submit(Command(text, self._t.command_s), functools.partial(self._pcm_switched, text))
        elif reply.status == "error":
            self.player.reset()
            self._emit(self.tracker.drop(f"answer failed ({reply.describe()})"))

    def _pcm_switched(self, text: str, reply: Reply) -> None:
        if not reply.ok:
            log.error("%s: %s failed (%s): the caller hears nothing", self._name, text, reply.describe())
        elif self._stream is not None and self.tracker.connected and text == self._profile.pcm_on[-1]:
            self._listen(self._stream)
            try:
                self._stream.open()
            except PortLost as exc:
                log.error("%s: audio port: %s: the caller hears nothing", self._name, exc)
                return
            if self._check is not None and self.tracker.call_id is not None:
                self._stream.play(self.tracker.call_id, [("check_tone", check_tone())], CHECK_TOKEN)
                self._check.sent = True

    def _listen(self, stream: PcmStream) -> None:
        """Our DTMF receiver on this call's received audio (a new one per call: it keeps one stream's state)."""
        from drivers.dtmf import DtmfDetector  # numpy only where usb-pcm is in use

        call_id = self.tracker.call_id
        if call_id is None:
            return
        inband = self._inband = InbandKeys(DtmfDetector(rate=8000), speed=0.02 / self._t.pcm_frame_s)
        check = self._check

        def heard(pcm: bytes) -> None:  # the PCM thread
            if check is not None:
                check.hear(pcm)
            for press in inband.feed(pcm, time.monotonic()):
                self._defer(functools.partial(self._inband_press, call_id, press))

        stream.on_audio = heard

    def _inband_press(self, call_id: str, press: TimedPress) -> None:
        if not (self.tracker.is_current(call_id) and self.tracker.connected):
            return
        if self._check is not None:
            self._check.keys.append(press.key)
        if self._keys.accept(press.key, INBAND, press.start, press.end):
            self._emit([KeyPressed(call_id, press.key)])

    def _call_over(self) -> None:
        if self._check is not None and self._check.sent:
            check, self._check, self._check_until = self._check, None, None
            check.finish("the call ended before the check was over")
        if self._keys.reports:
            log.info("%s: %s", self._name, self._keys.summary())
        self._keys = PressMerger(self._t.key_window_s)
        self._inband = None
        if self._stream is not None:
            self._stream.on_audio = None
        self.player.reset()
        if self._stream is not None and self._stream.is_open:
            self._stream.close()
            for text in self._profile.pcm_off:
                self._submit(Command(text, self._t.command_s), None)

    def _playback_finished(self, call_id: str, token: int) -> None:
        if token == CHECK_TOKEN and self._check is not None:
            self._check_until = time.monotonic() + CHECK_TAIL_FRAMES * self._t.pcm_frame_s  # the echo's way back
            return
        if self.tracker.is_current(call_id):
            self._emit([PlaybackFinished(call_id, token)])

    def _emit(self, events: list[LineEvent]) -> None:
        deliver(self._name, self.sink, self._post, events, log)
        if self._check is not None:
            for event in events:
                if isinstance(event, IncomingCall):
                    self.answer(event.call_id)
        if any(isinstance(event, IncomingCall) for event in events):
            self._status.set(calls=self.tracker.calls)

def _hop(defer: Callable[[Callable[[], None]], None], action: Callable[[str, int], None], call_id: str,
         token: int) -> None:
    """From the PCM thread onto the line's thread."""
    defer(lambda: action(call_id, token))
