"""Which pjsua2 worker serves which call: the SIP front's routing, sans-I/O (messages and `now` in, sends out).

The front is a small stateless proxy (RFC 3261 §16.11) with one table: SIP Call-ID → (worker, far end).
- From outside: a new INVITE goes to the least loaded worker with a free slot, or gets `486 Busy Here` from the
  front itself; every later message of that Call-ID goes to the same worker. The front stamps `received`/`rport`
  on the far end's Via (so the worker learns the true source address, for the caller-ID trust rule), adds its
  own inner Via and, on the INVITE, an inner Record-Route so the worker's own requests (BYE) come back through it.
  DTMF INFO bodies are rewritten to the one shape pjsua reads (`dtmf.relay_body`). OPTIONS is answered here.
- From a worker: the inner Via is popped and the response goes where the next Via says; the worker's requests
  go to the far end of their dialog (or the Request-URI, for REGISTER). Contact headers are rewritten to the
  front's own address, so the far end never sees a worker.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from .dtmf import RELAY, info_duration, key_from_info, relay_body
from .message import SipMessage, SipParseError, Via, parse, tag_of, uri_host_port

MAGIC = "z9hG4bKrl"  # our branches start with this (RFC 3261 magic cookie + "rl")
#: how long an ended call's table entry still routes retransmissions (64 × T1)
LINGER_S = 32.0
#: an INVITE the worker never answered, or a call idle this long, is dropped from the table
PENDING_S = 32.0
IDLE_S = 3600.0


@dataclass(frozen=True)
class Peer:
    """A far end: its transport and address (for TCP, the connection's remote address)."""

    transport: str  # "udp" or "tcp"
    host: str
    port: int


@dataclass(frozen=True)
class Send:
    """One message to send: to a far end (`peer`) or to a worker's inner address (`worker`)."""

    data: bytes
    peer: Peer | None = None
    worker: tuple[str, int] | None = None


@dataclass
class Dialog:
    call_id: str
    worker: int
    peer: Peer
    since: float
    seen: float
    state: str = "pending"  # pending → up → ended
    ended_at: float = 0.0


@dataclass
class Worker:
    index: int
    address: tuple[str, int]
    capacity: int
    active: set[str] = field(default_factory=set)


class Router:
    """The Call-ID table and the rewriting rules; the front calls it under one lock."""

    def __init__(
        self,
        *,
        transport: str,
        port: int,
        inner: tuple[str, int],
        max_calls: int,
        local_host: Callable[[Peer], str],
        resolve: Callable[[str, int], tuple[str, int] | None] = lambda host, port: (host, port),
    ) -> None:
        self.transport = transport
        self.port = port
        self.inner = inner
        self.max_calls = max_calls
        self._local_host = local_host
        self._resolve = resolve
        self._salt = os.urandom(8).hex()
        self._workers: dict[int, Worker] = {}
        self._dialogs: dict[str, Dialog] = {}
        self.refused = 0

    # -- workers and capacity ----------------------------------------------------------------------------------------
    def add_worker(self, index: int, address: tuple[str, int], capacity: int) -> None:
        self._workers[index] = Worker(index, address, capacity)

    def remove_worker(self, index: int, now: float) -> list[str]:
        """A worker is gone: its calls are over. Returns their SIP Call-IDs."""
        worker = self._workers.pop(index, None)
        if worker is None:
            return []
        gone = sorted(worker.active)
        for call_id in gone:
            self._dialogs.pop(call_id, None)
        return gone

    @property
    def active(self) -> int:
        return sum(len(worker.active) for worker in self._workers.values())

    @property
    def capacity(self) -> int:
        return min(self.max_calls, sum(worker.capacity for worker in self._workers.values()))

    @property
    def table_size(self) -> int:
        return len(self._dialogs)

    def release(self, call_id: str, now: float) -> None:
        """The call is over (the worker said so, or its INVITE failed): free its slot, keep routing for a while."""
        dialog = self._dialogs.get(call_id)
        if dialog is None or dialog.state == "ended":
            return
        dialog.state, dialog.ended_at = "ended", now
        worker = self._workers.get(dialog.worker)
        if worker is not None:
            worker.active.discard(call_id)

    def expire(self, now: float) -> None:
        for call_id, dialog in list(self._dialogs.items()):
            if dialog.state == "pending" and now - dialog.since > PENDING_S:
                self.release(call_id, now)
            elif dialog.state == "up" and now - dialog.seen > IDLE_S:
                self.release(call_id, now)
            if dialog.state == "ended" and now - dialog.ended_at > LINGER_S:
                del self._dialogs[call_id]

    def _pick(self) -> Worker | None:
        if self.active >= self.max_calls:
            return None
        free = [w for w in self._workers.values() if len(w.active) < w.capacity]
        return min(free, key=lambda w: (len(w.active), w.index)) if free else None

    # -- from a far end ----------------------------------------------------------------------------------------------
    def from_outside(self, data: bytes, peer: Peer, now: float) -> list[Send]:
        try:
            msg = parse(data)
            if not msg.is_request:
                return self._response_to_worker(msg, now)
            return self._request_from_outside(msg, peer, now)
        except (SipParseError, ValueError):
            return []  # not SIP we can route: drop it, as a proxy does

    def _request_from_outside(self, msg: SipMessage, peer: Peer, now: float) -> list[Send]:
        call_id, method = msg.call_id, msg.method
        initial = method == "INVITE" and tag_of(msg.get("To") or "") is None
        dialog = self._dialogs.get(call_id)
        if dialog is None:
            if method == "OPTIONS":
                return [self._reply(msg, peer, 200, "OK")]
            if method == "ACK" or not call_id:
                return []
            if not initial:
                return [self._reply(msg, peer, 481, "Call/Transaction Does Not Exist")]
            worker = self._pick()
            if worker is None:
                self.refused += 1
                return [self._reply(msg, peer, 486, "Busy Here")]
            dialog = Dialog(call_id, worker.index, peer, since=now, seen=now)
            self._dialogs[call_id] = dialog
            worker.active.add(call_id)
        target = self._workers.get(dialog.worker)
        if target is None:
            return [] if method == "ACK" else [self._reply(msg, peer, 481, "Call/Transaction Does Not Exist")]
        dialog.seen = now
        if initial:
            msg.prepend("Record-Route", f"<sip:{_hostport(*self.inner)};lr>")
        if method == "INFO":
            _normalise_dtmf(msg)
        top = Via.parse(msg.get("Via") or "")
        msg.replace_first("Via", str(top.with_param("received", peer.host).with_param("rport", str(peer.port))))
        msg.prepend("Via", str(Via("UDP", self.inner[0], self.inner[1], [("branch", self._branch(top))])))
        return [Send(msg.to_bytes(), worker=target.address)]

    def _response_to_worker(self, msg: SipMessage, now: float) -> list[Send]:
        following = _pop_own_via(msg)
        if following is None:
            return []
        address = following.reply_address()
        if address not in {w.address for w in self._workers.values()}:
            return []
        if msg.cseq_method == "BYE" and msg.status >= 200:
            self.release(msg.call_id, now)  # the box hung up and the far end agreed
        return [Send(msg.to_bytes(), worker=address)]

    # -- from a worker -----------------------------------------------------------------------------------------------
    def from_worker(self, data: bytes, address: tuple[str, int], now: float) -> list[Send]:
        if address not in {w.address for w in self._workers.values()}:
            return []
        try:
            msg = parse(data)
            if msg.is_request:
                return self._request_from_worker(msg)
            return self._response_from_worker(msg, now)
        except (SipParseError, ValueError):
            return []

    def _response_from_worker(self, msg: SipMessage, now: float) -> list[Send]:
        following = _pop_own_via(msg)
        if following is None:
            return []
        host, port = following.reply_address()
        dialog = self._dialogs.get(msg.call_id)
        peer = Peer(self.transport, host, port)
        if dialog is not None and dialog.peer.transport == "tcp":
            peer = dialog.peer  # a TCP response rides the connection the request came on
        own_route = f"{_hostport(*self.inner)};"
        kept = [v for k, v in msg.headers if k == "Record-Route" and own_route not in v]
        msg.remove("Record-Route")
        for value in kept:
            msg.headers.append(("Record-Route", value))
        self._rewrite_contact(msg, peer)
        if dialog is not None and msg.cseq_method == "INVITE" and msg.status >= 200:
            if msg.status >= 300:
                self.release(dialog.call_id, now)
            elif dialog.state == "pending":
                dialog.state = "up"
        elif msg.cseq_method == "BYE" and msg.status >= 200:
            self.release(msg.call_id, now)  # before the far end can dial again: the worker's slot is free by then
        return [Send(msg.to_bytes(), peer=peer)]

    def _request_from_worker(self, msg: SipMessage) -> list[Send]:
        route = msg.get("Route")
        if route is not None and _hostport(*self.inner) in route:
            msg.pop("Route")
        dialog = self._dialogs.get(msg.call_id)
        if dialog is not None:
            peer = dialog.peer
        else:
            target = uri_host_port(msg.get("Route") or msg.request_uri)
            resolved = self._resolve(*target) if target else None
            if resolved is None:
                return []
            peer = Peer(self.transport, *resolved)
        top = Via.parse(msg.get("Via") or "")
        local = self._local_host(peer)
        ours = Via(peer.transport.upper(), local, self.port, [("branch", self._branch(top)), ("rport", None)])
        msg.prepend("Via", str(ours))
        self._rewrite_contact(msg, peer)
        return [Send(msg.to_bytes(), peer=peer)]

    # -- helpers -----------------------------------------------------------------------------------------------------
    def _branch(self, via: Via) -> str:
        seed = f"{self._salt}|{via.branch}|{via.host}|{via.port}"
        return MAGIC + hashlib.sha1(seed.encode()).hexdigest()[:20]

    def _rewrite_contact(self, msg: SipMessage, peer: Peer) -> None:
        value = msg.get("Contact")
        if value is None or value.strip() == "*":
            return
        start, end = value.find("<"), value.find(">")
        uri = value[start + 1:end] if 0 <= start < end else value.split(";", 1)[0]
        after = value[end + 1:] if 0 <= start < end else ""
        user = uri.split(":", 1)[-1].split("@", 1)[0] if "@" in uri else ""
        contact = f"sip:{user + '@' if user else ''}{_hostport(self._local_host(peer), self.port)}"
        if peer.transport == "tcp":
            contact += ";transport=tcp"
        msg.set("Contact", f"<{contact}>{after}")

    def _reply(self, request: SipMessage, peer: Peer, status: int, reason: str) -> Send:
        """A response made by the front itself (486 when full, 481, OPTIONS 200)."""
        response = SipMessage(f"SIP/2.0 {status} {reason}")
        vias = request.get_all("Via")
        if vias:
            top = Via.parse(vias[0]).with_param("received", peer.host).with_param("rport", str(peer.port))
            vias[0] = str(top)
        response.headers += [("Via", via) for via in vias]
        to = request.get("To") or ""
        if tag_of(to) is None and status > 100:
            to += ";tag=" + hashlib.sha1(f"{self._salt}|{request.call_id}".encode()).hexdigest()[:10]
        for name, value in (("From", request.get("From")), ("To", to), ("Call-ID", request.call_id),
                            ("CSeq", request.get("CSeq"))):
            if value is not None:
                response.headers.append((name, value))
        if request.method == "OPTIONS":
            response.headers.append(("Allow", "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS"))
            response.headers.append(("Accept", "application/sdp, application/dtmf-relay, application/dtmf"))
        return Send(response.to_bytes(), peer=peer)


def _normalise_dtmf(msg: SipMessage) -> None:
    body = msg.body.decode("utf-8", errors="replace")
    key = key_from_info(msg.get("Content-Type") or "", body)
    if key is not None:
        msg.set("Content-Type", RELAY)
        msg.body = relay_body(key, info_duration(body))


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _pop_own_via(msg: SipMessage) -> Via | None:
    """A response passes the front on its way back: drop the front's own Via, return the next (None: not ours)."""
    top = Via.parse(msg.get("Via") or "")
    if not top.branch.startswith(MAGIC):
        return None
    msg.pop("Via")
    following = msg.get("Via")
    return Via.parse(following) if following is not None else None
