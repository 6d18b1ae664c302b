"""`SipLine`: the Line of an FXO gateway or SIP trunk, served by a SIP front and a few pjsua2 worker processes.

Threads: the daemon's loop thread calls the Line methods (they only queue a command for a worker); the front's
selector thread routes SIP; each worker link has a reader thread, whose events reach the loop only through `post`.
The map call id → worker is touched on the loop thread only.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence

from ..line import EventSink, IncomingCall, KeyPressed, LineEvent, PlaybackFinished, Post, PromptSource, RemoteHangup
from . import SipError, wire
from .callerid import is_trusted
from .front import SipFront
from .pool import WorkerLink

log = logging.getLogger(__name__)

TRANSPORTS = ("udp", "tcp")
RTP_PORT = 40000
RTP_RANGE_PER_WORKER = 200
CLOSE_TIMEOUT_S = 6.0
MAX_RESTARTS = 10
_PJ_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}


class SipLine:
    """Answers SIP calls on `bind` ("HOST:PORT"); port 0 picks a free port (see `address` after `start`)."""

    def __init__(
        self,
        name: str,
        bind: str,
        *,
        prompts: PromptSource,
        post: Post,
        transport: str = "udp",
        max_calls: int = 20,
        registrar: str | None = None,
        user: str | None = None,
        password: str | None = None,
        trusted_peers: Sequence[str] = (),
        inband_dtmf: bool = False,
        rtp_port: int = RTP_PORT,
    ) -> None:
        host, port = _validate(name, bind, transport, max_calls, registrar, user, trusted_peers)
        self.name = name
        self._host, self._port = host, port
        self._prompts = prompts
        self._post = post
        self._transport = transport
        self._max_calls = max_calls
        self._register = {"registrar": registrar, "user": user, "password": password}
        self._trusted = tuple(trusted_peers)
        self._inband = inband_dtmf
        self._rtp_port = rtp_port
        self._sink: EventSink | None = None
        self._front: SipFront | None = None
        self._links: dict[int, WorkerLink] = {}
        self._links_lock = threading.Lock()
        self._calls: dict[str, WorkerLink] = {}  # loop thread only
        self._closing = False
        self._restarts = 0
        self.exit_codes: list[int | None] = []  # the workers' exit codes after `close` (0: pjsua2 torn down cleanly)
        self.ready = threading.Event()  # set once the workers can take max_calls calls

    # -- Line: wiring ------------------------------------------------------------------------------------------------
    def attach(self, sink: EventSink) -> None:
        self._sink = sink

    @property
    def address(self) -> tuple[str, int]:
        """Where the line listens (after `start`)."""
        if self._front is None:
            raise SipError(f"line {self.name} is not started")
        return self._front.address

    def stats(self) -> dict[str, int]:
        return self._front.stats() if self._front is not None else {}

    def worker_pids(self) -> list[int]:
        with self._links_lock:
            return [link.pid for link in self._links.values() if link.pid is not None]

    def start(self) -> None:
        """Bind the port (a busy port fails here, by name) and spawn the first worker; bring-up goes on behind."""
        self._front = SipFront(self._host, self._port, self._transport, self._max_calls)
        self._front.start()
        self._spawn(0, self._max_calls)
        log.info("line %s: SIP %s on %s:%d%s", self.name, self._transport.upper(), *self._front.address,
                 ", in-band DTMF on" if self._inband else "")

    def close(self) -> None:
        """Every worker hangs up its calls and tears pjsua2 down in order; bounded waits, then the front stops."""
        self._closing = True
        with self._links_lock:
            links = list(self._links.values())
        for link in links:
            link.close()
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        self.exit_codes = [link.wait(max(0.5, deadline - time.monotonic())) for link in links]
        if self._front is not None:
            self._front.close()
        self._calls.clear()

    # -- Line: requests (loop thread) --------------------------------------------------------------------------------
    def answer(self, call_id: str) -> None:
        self._command(call_id, {"op": "answer"})

    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None:
        files = [str(self._prompts.path(prompt_id)) for prompt_id in prompt_ids]
        self._command(call_id, {"op": "play", "files": files, "token": token})

    def stop_playback(self, call_id: str) -> None:
        self._command(call_id, {"op": "stop"})

    def hang_up(self, call_id: str) -> None:
        self._command(call_id, {"op": "hangup"})

    def _command(self, call_id: str, command: wire.Message) -> None:
        link = self._calls.get(call_id)
        if link is None:
            log.debug("line %s: %s for a call that has ended", self.name, command["op"])
            return  # the far end went first; its RemoteHangup is already queued for the session
        link.send({**command, "call": call_id})

    # -- workers -----------------------------------------------------------------------------------------------------
    def _spawn(self, index: int, calls: int) -> None:
        assert self._front is not None
        settings = {
            "name": self.name, "index": index, "max_calls": calls, "front": list(self._front.inner_address),
            "media_host": self._host, "rtp_port": self._rtp_port + index * RTP_RANGE_PER_WORKER,
            "rtp_range": RTP_RANGE_PER_WORKER, "trusted_peers": list(self._trusted), "inband_dtmf": self._inband,
        }
        if index == 0 and self._register["registrar"]:
            settings.update(self._register)  # one worker registers the line; its Contact is the front
        link = WorkerLink(index, settings, self._on_event, self._on_exit)
        with self._links_lock:
            self._links[index] = link
        link.start()

    def _on_event(self, link: WorkerLink, event: wire.Message) -> None:
        """A worker's reader thread: routing facts go to the front at once, call events to the loop."""
        kind, call = event.get("ev"), str(event.get("call", ""))
        if kind == "ready":
            self._ready(link, int(event["capacity"]), (str(event["sip"][0]), int(event["sip"][1])))
        elif kind == "incoming":
            caller = event.get("caller")
            self._post(lambda: self._incoming(link, call, caller if isinstance(caller, str) else None))
        elif kind == "key":
            self._post(lambda: self._emit_for(call, KeyPressed(call, str(event["key"]))))
        elif kind == "played":
            self._post(lambda: self._emit_for(call, PlaybackFinished(call, int(event["token"]))))
        elif kind == "hangup":
            self._post(lambda: self._emit_for(call, RemoteHangup(call)))
        elif kind == "ended":
            if self._front is not None:
                self._front.release(str(event.get("sip", "")))
            self._post(lambda: self._forget(call))
        elif kind == "log":
            level = _PJ_LEVELS.get(int(event.get("level", 3)), logging.DEBUG)
            log.log(level, "line %s worker %d: %s", self.name, link.index, wire.mask_numbers(str(event.get("msg"))))

    def _ready(self, link: WorkerLink, capacity: int, sip: tuple[str, int]) -> None:
        assert self._front is not None
        link.capacity = max(1, min(capacity, int(link.settings["max_calls"])))
        self._front.add_worker(link.index, sip, link.capacity)
        if link.index == 0 and len(self._links) == 1:
            workers = math.ceil(self._max_calls / link.capacity)
            for index in range(1, workers):
                self._spawn(index, min(link.capacity, self._max_calls - index * link.capacity))
            log.info("line %s: %d pjsua2 worker(s) of %d call(s) each (pjsua's compiled limit is %d)",
                     self.name, workers, link.capacity, capacity)
        with self._links_lock:
            total = sum(l.capacity for l in self._links.values())
        if total >= self._max_calls:
            self.ready.set()

    def _on_exit(self, link: WorkerLink) -> None:
        """A worker's pipe closed: expected when closing; otherwise its calls are over and it is started again."""
        if self._closing:
            return
        code = link.wait(2.0)
        log.error("line %s: SIP worker %d exited (code %s); its calls are dropped", self.name, link.index, code)
        if self._front is not None:
            self._front.remove_worker(link.index)
        self._post(lambda: self._drop_calls(link))
        self._restarts += 1
        if self._restarts > MAX_RESTARTS:
            log.critical("line %s: SIP workers keep failing; line out of service", self.name)
            return
        time.sleep(min(5.0, 0.2 * self._restarts))
        if not self._closing:
            self._spawn(link.index, int(link.settings["max_calls"]))

    # -- the loop thread ---------------------------------------------------------------------------------------------
    def _incoming(self, link: WorkerLink, call: str, caller: str | None) -> None:
        self._calls[call] = link
        if self._sink is None:
            log.error("line %s: a call arrived before the line was attached; refused", self.name)
            link.send({"op": "hangup", "call": call})
            return
        self._sink(IncomingCall(call, caller))

    def _forget(self, call: str) -> None:
        self._calls.pop(call, None)

    def _emit_for(self, call: str, event: LineEvent) -> None:
        if call in self._calls and self._sink is not None:
            self._sink(event)

    def _drop_calls(self, link: WorkerLink) -> None:
        for call in [c for c, l in self._calls.items() if l is link]:
            del self._calls[call]
            if self._sink is not None:
                self._sink(RemoteHangup(call))


def _validate(
    name: str, bind: str, transport: str, max_calls: int, registrar: str | None, user: str | None,
    trusted_peers: Sequence[str],
) -> tuple[str, int]:
    """Every setting checked before a socket or a process exists; the message names the setting."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise SipError(f"line {name}: bind must be HOST:PORT, got {bind!r}")
    if transport not in TRANSPORTS:
        raise SipError(f"line {name}: transport must be udp or tcp, got {transport!r}")
    if max_calls < 1:
        raise SipError(f"line {name}: max_calls must be at least 1")
    if registrar and not user:
        raise SipError(f"line {name}: a registrar needs a user")
    for peer in trusted_peers:
        if not is_trusted(peer.split("/")[0], [peer]):
            raise SipError(f"line {name}: trusted_peers entry {peer!r} is not an IP address or network")
    return host.strip("[]"), int(port)
