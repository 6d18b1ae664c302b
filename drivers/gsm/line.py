"""`GsmLine`: a cellular modem as a `Line`. One thread owns the port: it brings the modem up, serves calls and
climbs the recovery ladder; the loop thread only queues requests, and events leave through `post`.

Threading: `answer`/`play`/`stop_playback`/`hang_up` queue a request and return at once; the line's thread acts
on it within `poll_s`. `send_sms` blocks (up to the SMS timeout): call it from a worker, never the loop.
"""
from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from drivers.line import EventSink, PromptSource, Post
from drivers.serialmodem.lineshell import LineShell
from drivers.serialmodem.usb import SYS_TTY, SYS_USB_DRIVER

from . import GsmError
from .audiocheck import NOT_AVAILABLE, AudioCheck
from .bringup import (BringUpError, ModemUnresponsive, apply_settings, check_sms, collect_value, identify, ims_of,
                      query_command, query_value, read_status, registration_of, signal_of, unlock_sim)
from .calldesk import CallDesk
from .codec import Urc
from .engine import Command, Reply
from .filestore import StoreSync, UploadIndex
from .modem import ModemSession, Stopping
from .pcm import PcmStream
from drivers.serialmodem.privacy import redact
from .profiles import profile as find_profile
from .recovery import RUNGS, gsm_ladder
from .signals import Other, PlaybackEnded, Rebooted, interpret
from .sms import SmsError, SmsJob, sms_commands
from .status import LineStatus
from .timings import GsmTimings
from .transport import PortLost

log = logging.getLogger(__name__)

AUDIO_PATHS = ("modem-files", "usb-pcm")
JOIN_S = 5.0


class GsmLine(LineShell):
    log = log

    def __init__(
        self,
        name: str,
        port: str,
        *,
        profile: str,
        prompts: PromptSource,
        post: Post,
        baudrate: int = 115200,
        pin: str | None = None,
        audio: str = "modem-files",
        audio_port: str | None = None,
        power_cycle: Callable[[], None] | None = None,
        sms_notice: bool = False,
        prompt_ids: Sequence[str] | None = None,
        timings: GsmTimings = GsmTimings(),
        upload_index: Path | None = None,
        sys_tty: Path = SYS_TTY,
        usb_driver: Path = SYS_USB_DRIVER,
    ) -> None:
        """`upload_index`: where to record what was uploaded to the modem's file store (a changed recording of the
        same size is then uploaded again); `sys_tty`/`usb_driver`: where sysfs is for the USB rebind rung (changed
        only on a bench or in tests)."""
        self._upload_index = upload_index
        self.name = name
        self._url = port
        self._profile = find_profile(profile)
        self._prompts = prompts
        self._baudrate = baudrate
        self._pin = pin
        _check_audio(self._profile.name, audio, audio_port, bool(self._profile.pcm_on))
        self._t = timings
        self._sms_notice = sms_notice
        self._prompt_ids = _prompt_ids(prompts, prompt_ids) if audio == "modem-files" else ()
        self._status = LineStatus(line=name, profile=self._profile.name, port=port, audio=audio,
                                  audio_port=audio_port, needs_volte=self._profile.needs_volte,
                                  sms_notice=sms_notice, unverified=self._profile.unverified)
        self._requests: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session: ModemSession | None = None
        self._up = False
        self._stored: set[str] = set()
        self._desk: CallDesk = CallDesk(name, self._profile, timings, submit=self._submit, post=post, status=self._status,
                              clock=time.monotonic, prompts=prompts, stored=self._stored.__contains__,
                              audio_port=audio_port if audio == "usb-pcm" else None, defer=self._request)
        self._ladder = gsm_ladder(name, port, self._profile.reset, timings, self._open_session,
                                      self._stop.wait, power_cycle, sys_tty=sys_tty, usb_driver=usb_driver)
        self._trouble: GsmError | None = None
        self._reinit: str | None = None
        self._last_reply = 0.0
        self._next_status = 0.0
        self._recovered_at = float("-inf")

    # -- the Line protocol (loop thread) ---------------------------------------------------------------------------
    def attach(self, sink: EventSink) -> None:
        self._desk.sink = sink

    def start(self) -> None:
        if self._thread is None:
            for item in self._profile.unverified:
                log.debug("%s: %s, not yet checked on hardware: %s", self.name, self._profile.name, item)
            self._stop.clear()
            self._thread = threading.Thread(target=self._main, name=f"gsm-{self.name}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Hang up a call in progress, stop the thread (bounded join), release the port."""
        self._stop.set()
        self._join_thread(JOIN_S + self._t.command_s)
        self._status.set(state="stopped")

    # -- beyond the protocol ---------------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Bring-up report: profile, model/firmware, IMEI (masked), SIM, registration, IMS/VoLTE, signal, audio
        path, files, last error, faults, state (starting/up/recovering/down/stopped)."""
        return self._status.snapshot()

    @property
    def sms_notice(self) -> bool:
        """Whether this line sends the post-reset SMS notice (`sms_notice` in its configuration)."""
        return self._sms_notice

    @property
    def in_call(self) -> bool:
        """A call is ringing, up or ending on this modem (an SMS waits until it is over)."""
        return self._desk.in_call

    @property
    def pcm_stream(self) -> PcmStream | None:
        """usb-pcm only: the PCM stream of a call; its `on_audio` feeds our in-band DTMF receiver."""
        return self._desk.pcm_stream

    def wait_state(self, states: Sequence[str], timeout: float) -> str:
        """Block until the line's state is one of `states` (or `timeout`); for `line test` and tests."""
        return self._status.wait_state(tuple(states), timeout)

    def wait_report(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        """Block until `predicate(report)` holds (False after `timeout`); for `line test` and tests."""
        return self._status.wait_until(predicate, timeout)

    def audio_check(self, timeout: float) -> dict[str, Any]:
        """Two-way audio check (`line test --audio`): answer the next call within `timeout`, play a test tone,
        report whether it or a key came back in the received audio, hang up. Blocks; usb-pcm only."""
        if self._desk.pcm_stream is None:
            return {"available": False, "why": NOT_AVAILABLE}
        check = AudioCheck()
        self._request(lambda: self._desk.arm(check))
        if not check.done.wait(timeout):
            self._request(self._desk.disarm)
            return {"available": True, "audio_back": False, "error": f"no call answered within {timeout:.0f} s"}
        return check.result

    def send_sms(self, number: str, text: str) -> None:
        """One SMS (UCS2 text mode, ≤ 70 characters); raises SmsError when it was not sent. Blocks: call it from
        a worker thread. Refused while a call is up (an SMS never delays a caller; the outbox retries)."""
        commands = sms_commands(number, text, command_s=self._t.command_s, send_s=self._t.sms_s)
        if threading.current_thread() is self._thread:
            raise SmsError("send_sms called from the line's own thread")
        state = self._status.get("state")
        if state != "up":
            raise SmsError(f"the line is {state}")
        job = SmsJob()
        self._request(lambda: self._send_sms(commands, job))
        deadline = time.monotonic() + self._t.sms_s + len(commands) * self._t.command_s + 5.0
        while not job.done.wait(0.1):
            if self._stop.is_set():
                raise SmsError("the line is closing")
            if time.monotonic() >= deadline:
                raise SmsError("the line did not finish sending the SMS in time")
        if job.error is not None:
            raise SmsError(job.error)

    # -- the line's thread -----------------------------------------------------------------------------------------
    def _main(self) -> None:
        while not self._stop.is_set():
            try:
                self._lifecycle()
            except Stopping:
                return
            except Exception:  # the thread's top: log, report, and start over (a line must come back alone)
                log.exception("%s: line thread failed; starting over", self.name)
                self._desk.lost("line thread failed")
                self._status.set(state="down", last_error="line thread failed (see log)")
                self._stop.wait(self._t.down_retry_s)

    def _lifecycle(self) -> None:
        session: ModemSession | None = None
        rung = 0
        try:
            while not self._stop.is_set():
                try:
                    if session is None:
                        session = self._open_session()
                    self._bring_up(session)
                    self._serve(session)
                except BringUpError as exc:
                    log.error("%s: %s", self.name, exc)
                    self._down(session, str(exc))
                    session = None
                except (ModemUnresponsive, PortLost) as exc:
                    if time.monotonic() - self._recovered_at >= self._t.stable_s:
                        rung = 0  # served long enough since the last recovery: start the ladder again
                    session, rung = self._recover(session, exc, rung)
        finally:
            if session is not None:
                session.close()

    def _open_session(self) -> ModemSession:
        return ModemSession(self.name, self._url, self._baudrate, self._profile, self._on_urc,
                            poll_s=self._t.poll_s, stop=self._stop)

    def _bring_up(self, session: ModemSession) -> None:
        started = time.monotonic()
        self._up, self._reinit = False, None
        self._status.set(state="starting")
        run = session.run
        run(Command("AT", self._t.probe_s, retries=3))
        apply_settings(run, self._profile)
        imei = identify(run, self._status)
        unlock_sim(run, self._pin, self._status, lambda seconds: self._pause(session, seconds))
        read_status(run, self._profile, self._status, self._t.command_s)
        if self._sms_notice:
            check_sms(run, self._status)
        if self._prompt_ids:
            sync = StoreSync(run, self._profile.store, command_s=self._t.command_s,
                             upload_base_s=self._t.upload_base_s, upload_bytes_per_s=self._t.upload_bytes_per_s,
                             check_stop=lambda: self._check_stop())
            index = UploadIndex(self._upload_index, imei or "") if self._upload_index is not None else None
            report = sync.sync(self._prompts, self._prompt_ids, index)
            self._stored.clear()
            self._stored.update(set(self._prompt_ids) - set(report.missing))
            self._status.set(files=report.as_dict())
        for text in self._profile.pcm_off if self._desk.pcm_stream is not None else ():
            run(Command(text, self._t.command_s))
        now = time.monotonic()
        self._up, self._last_reply, self._next_status = True, now, now + self._t.status_s
        self._status.set(state="up", bring_up_s=round(now - started, 3))
        log.info("%s: up in %.2f s (%s)", self.name, now - started, self._profile.vendor)

    def _serve(self, session: ModemSession) -> None:
        self._session = session
        try:
            while not self._stop.is_set():
                session.pump()
                self._drain()
                self._desk.poll()
                if self._trouble is not None:
                    trouble, self._trouble = self._trouble, None
                    raise trouble
                if self._reinit is not None:
                    self._resettle(session)
                self._keepalive()
            self._shutdown(session)
        finally:
            self._session = None
            self._up = False

    def _recover(self, session: ModemSession | None, exc: GsmError, rung: int) -> tuple[ModemSession | None, int]:
        log.error("%s: modem trouble: %s", self.name, exc)
        self._desk.lost(f"modem trouble: {exc}")
        self._status.set(state="recovering", last_error=str(exc))
        self._status.bump("recoveries")
        if isinstance(exc, PortLost) and session is not None:
            session.close()
        session, used = self._ladder.climb(session, rung)
        self._status.set(last_recovery=RUNGS[used] if session is not None else "failed")
        self._recovered_at = time.monotonic()
        if session is None:
            self._down(None, f"recovery failed after every rung ({', '.join(RUNGS[rung:])}): {exc}")
            return None, 0
        return session, min(used + 1, len(RUNGS) - 1)

    def _down(self, session: ModemSession | None, why: str) -> None:
        if session is not None:
            session.close()
        self._status.set(state="down", last_error=why)
        self._stop.wait(self._t.down_retry_s)

    def _resettle(self, session: ModemSession) -> None:
        """The modem restarted (boot URC) or forgot its settings (the keepalive's canary): bring it up again,
        which sends every volatile setting and waits for the SIM if it is still starting."""
        why, self._reinit = self._reinit, None
        log.warning("%s: the modem restarted or forgot its settings (%s): bringing it up again", self.name, why)
        self._bring_up(session)
        self._status.bump("settings_restored")

    def _shutdown(self, session: ModemSession) -> None:
        if not self._desk.in_call:
            return
        self._desk.end(send=False)
        try:
            session.run(Command(self._profile.hang_up, self._t.command_s), interruptible=False)
        except (ModemUnresponsive, PortLost) as exc:
            log.warning("%s: hang-up at close failed: %s", self.name, exc)

    def _pause(self, session: ModemSession, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._check_stop()
            session.pump()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise Stopping("the line is closing")

    def _keepalive(self) -> None:
        session = self._session
        if session is None or not session.engine.idle:
            return
        now = time.monotonic()
        interval = self._t.in_call_keepalive_s if self._desk.in_call else self._t.keepalive_s
        if now - self._last_reply >= interval:
            self._last_reply = now
            canary = self._profile.canary
            self._submit(query_command(canary, self._t.command_s), self._canary_answered)
        elif not self._desk.in_call and now >= self._next_status:
            self._next_status = now + self._t.status_s
            self._refresh_status()

    def _canary_answered(self, reply: Reply) -> None:
        if query_value(self._profile.canary, reply) == "0":
            self._reinit = f"{self._profile.canary.command} reads 0"

    def _refresh_status(self) -> None:
        registration: list[str | None] = []
        ims: list[str | None] = []
        for q in self._profile.registration:
            self._submit(query_command(q, self._t.command_s), functools.partial(collect_value, registration, q))
        for q in self._profile.ims:
            self._submit(query_command(q, self._t.command_s), functools.partial(collect_value, ims, q))

        def signal(reply: Reply) -> None:
            values: dict[str, Any] = {"registration": registration_of(registration), "signal": signal_of(reply)}
            if self._profile.needs_volte:
                values["ims"] = ims_of(ims)
            self._status.set(**values)

        self._submit(Command("AT+CSQ", self._t.command_s, retries=1), signal)

    # -- commands and events ---------------------------------------------------------------------------------------
    def _submit(self, command: Command, done: Callable[[Reply], None] | None = None) -> None:
        session = self._session
        if session is None or session.closed:
            if done is not None:
                done(Reply(command, "aborted"))
            return

        def settled(reply: Reply) -> None:
            if reply.status in ("ok", "error"):
                self._last_reply = time.monotonic()
            elif reply.status == "timeout" and self._trouble is None:
                self._trouble = ModemUnresponsive(f"no reply to {reply.describe()}")
            if done is not None:
                done(reply)

        session.submit(command, settled)

    def _drain(self) -> None:
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            request()

    def _on_urc(self, urc: Urc) -> None:
        sig = interpret(self._profile, urc)
        if isinstance(sig, Other):
            kind = "malformed" if sig.malformed else "unknown" if not urc.prefix else "unrelated"
            shown = redact(urc.text, (self._profile.dtmf_prefix,))
            log.info("%s: %s unsolicited line ignored: %s", self.name, kind, shown)
        elif isinstance(sig, Rebooted):
            self._reinit = sig.text
            self._desk.lost(f"the modem restarted ({sig.text})")
        elif isinstance(sig, PlaybackEnded):
            self._desk.player.ended()
        elif self._up:
            self._desk.signal(sig)

    def _send_sms(self, commands: list[Command], job: SmsJob) -> None:
        if not self._up:
            job.fail("the line is not up")
        elif self._desk.in_call:
            job.fail("a call is in progress; send the SMS after it")
        else:
            for index, command in enumerate(commands):
                self._submit(command, functools.partial(job.step, last=index == len(commands) - 1))


def _check_audio(profile: str, audio: str, audio_port: str | None, has_pcm: bool) -> None:
    if audio not in AUDIO_PATHS:
        raise GsmError(f"audio must be one of {', '.join(AUDIO_PATHS)}, got {audio!r}")
    if audio == "usb-pcm" and not has_pcm:
        raise GsmError(f"profile {profile} has no USB PCM audio; use audio = \"modem-files\"")
    if audio == "usb-pcm" and not audio_port:
        raise GsmError("audio = \"usb-pcm\" needs audio_port (the modem's PCM tty)")


def _prompt_ids(prompts: PromptSource, prompt_ids: Sequence[str] | None) -> tuple[str, ...]:
    if prompt_ids is not None:
        return tuple(prompt_ids)
    ids = getattr(prompts, "ids", None)  # the voice_prompts catalog lists its ids; a bare PromptSource need not
    if callable(ids):
        return tuple(ids())
    raise GsmError("modem-files audio needs prompt_ids (the prompts to keep in the modem's file store)")
