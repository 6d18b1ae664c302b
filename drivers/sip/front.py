"""The SIP front's sockets: the configured port (UDP or TCP) outside, one loopback UDP port towards the workers.

A thin shell over `router.Router`: one thread waits on every socket with a selector, hands each message to the
router under a lock and sends what it returns. `release` (from the line's reader threads) takes the same lock.
"""
from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable

from . import SipError
from .message import SipParseError, StreamFramer
from .router import Peer, Router, Send

log = logging.getLogger(__name__)

INNER_HOST = "127.0.0.1"
TICK_S = 0.5
MAX_DATAGRAM = 65_535
MAX_TCP_CONNECTIONS = 256


class _Connection:
    def __init__(self, sock: socket.socket, peer: Peer) -> None:
        self.sock = sock
        self.peer = peer
        self.framer = StreamFramer()


class SipFront:
    """Binds at construction (so a busy port fails at once, by name); `start` runs the selector thread."""

    def __init__(
        self, host: str, port: int, transport: str, max_calls: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._host = host
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._selector = selectors.DefaultSelector()
        self._connections: dict[tuple[str, int], _Connection] = {}
        self._local_cache: dict[str, str] = {}
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._inner = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._inner.bind((INNER_HOST, 0))
            if transport == "tcp":
                self._outer = socket.socket(family, socket.SOCK_STREAM)
                self._outer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self._outer.bind((host, port))
                self._outer.listen(32)
            else:
                self._outer = socket.socket(family, socket.SOCK_DGRAM)
                self._outer.bind((host, port))
        except OSError as exc:
            self._selector.close()
            raise SipError(f"cannot bind SIP {transport.upper()} {host}:{port}: {exc.strerror or exc}") from exc
        self.transport = transport
        self.address: tuple[str, int] = self._outer.getsockname()[:2]
        self.inner_address: tuple[str, int] = self._inner.getsockname()[:2]
        self.router = Router(
            transport=transport, port=self.address[1], inner=self.inner_address, max_calls=max_calls,
            local_host=self._local_host, resolve=_resolve,
        )

    # -- the line's side ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        for sock in (self._outer, self._inner):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="sip-front", daemon=True)
        self._thread.start()

    def add_worker(self, index: int, address: tuple[str, int], capacity: int) -> None:
        with self._lock:
            self.router.add_worker(index, address, capacity)

    def remove_worker(self, index: int) -> list[str]:
        with self._lock:
            return self.router.remove_worker(index, self._clock())

    def release(self, call_id: str) -> None:
        with self._lock:
            self.router.release(call_id, self._clock())

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"active": self.router.active, "capacity": self.router.capacity,
                    "refused": self.router.refused, "table": self.router.table_size}

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("SIP front thread did not stop within %.1f s", timeout)
        for conn in list(self._connections.values()):
            conn.sock.close()
        self._connections.clear()
        self._selector.close()
        self._outer.close()
        self._inner.close()

    # -- the thread --------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        last_expiry = self._clock()
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(TICK_S):
                    self._ready(key.fileobj)  # type: ignore[arg-type]
                now = self._clock()
                if now - last_expiry >= TICK_S:
                    last_expiry = now
                    with self._lock:
                        self.router.expire(now)
        except Exception:  # a thread's top: log it; the line's supervisor sees a dead front through its calls
            log.exception("SIP front stopped by an error")

    def _ready(self, sock: socket.socket) -> None:
        if sock is self._inner:
            self._datagram(sock, inner=True)
        elif sock is self._outer and self.transport == "udp":
            self._datagram(sock, inner=False)
        elif sock is self._outer:
            self._accept()
        else:
            self._stream(sock)

    def _datagram(self, sock: socket.socket, *, inner: bool) -> None:
        try:
            data, source = sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. ICMP port unreachable reported on the next read
            log.debug("SIP front: %s", exc)
            return
        with self._lock:
            if inner:
                sends = self.router.from_worker(data, source[:2], self._clock())
            else:
                sends = self.router.from_outside(data, Peer("udp", source[0], source[1]), self._clock())
        self._send(sends)

    def _accept(self) -> None:
        try:
            sock, remote = self._outer.accept()
        except (BlockingIOError, InterruptedError):
            return
        if len(self._connections) >= MAX_TCP_CONNECTIONS:
            sock.close()
            return
        sock.setblocking(False)
        conn = _Connection(sock, Peer("tcp", remote[0], remote[1]))
        self._connections[(remote[0], remote[1])] = conn
        self._selector.register(sock, selectors.EVENT_READ)

    def _stream(self, sock: socket.socket) -> None:
        conn = next((c for c in self._connections.values() if c.sock is sock), None)
        if conn is None:
            return
        try:
            data = sock.recv(MAX_DATAGRAM)
            messages = conn.framer.feed(data) if data else None
        except (BlockingIOError, InterruptedError):
            return
        except (OSError, SipParseError) as exc:
            log.debug("SIP front: TCP %s:%d dropped: %s", conn.peer.host, conn.peer.port, exc)
            messages = None
        if messages is None:
            self._drop(conn)
            return
        for message in messages:
            with self._lock:
                sends = self.router.from_outside(message, conn.peer, self._clock())
            self._send(sends)

    def _drop(self, conn: _Connection) -> None:
        self._connections.pop((conn.peer.host, conn.peer.port), None)
        self._selector.unregister(conn.sock)
        conn.sock.close()

    def _send(self, sends: list[Send]) -> None:
        for send in sends:
            try:
                if send.worker is not None:
                    self._inner.sendto(send.data, send.worker)
                elif send.peer is not None and send.peer.transport == "tcp":
                    self._send_tcp(send.peer, send.data)
                elif send.peer is not None:
                    self._outer.sendto(send.data, (send.peer.host, send.peer.port))
            except OSError as exc:
                log.debug("SIP front: send failed: %s", exc)

    def _send_tcp(self, peer: Peer, data: bytes) -> None:
        conn = self._connections.get((peer.host, peer.port))
        if conn is None:
            log.debug("SIP front: no TCP connection to %s:%d any more", peer.host, peer.port)
            return
        conn.sock.setblocking(True)
        conn.sock.settimeout(1.0)
        try:
            conn.sock.sendall(data)
        finally:
            conn.sock.setblocking(False)

    def _local_host(self, peer: Peer) -> str:
        """The address the far end reaches us at: the bind address, or (bound to any) the route's source address."""
        if self._host not in ("0.0.0.0", "::", ""):
            return self._host
        if peer.host not in self._local_cache:
            if len(self._local_cache) > 1024:
                self._local_cache.clear()
            family = socket.AF_INET6 if ":" in peer.host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                try:
                    probe.connect((peer.host, peer.port))  # no packet is sent: this only asks the routing table
                    self._local_cache[peer.host] = probe.getsockname()[0]
                except OSError:
                    return INNER_HOST
        return self._local_cache[peer.host]


def _resolve(host: str, port: int) -> tuple[str, int] | None:
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError:
        return None
    address = info[0][4]
    return str(address[0]), int(address[1])
