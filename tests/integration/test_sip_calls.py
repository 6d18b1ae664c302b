"""The SIP line against real peers on 127.0.0.1: sipp scenarios, a raw UDP peer and a second pjsua2 endpoint.

One box (Appliance + Switchboard + SipLine on an asyncio loop in a thread, the daemon's composition) serves the
module; a few tests start their own (TCP, a two-call limit, teardown). Reset calls last ~20 s of real prompts,
so slow scenarios run side by side where they do not depend on each other.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.clock import AsyncioScheduler
from drivers.line import IncomingCall, KeyPressed, LineEvent, PlaybackFinished, RemoteHangup
from drivers.sip import SipLine
from firmware.appliance import Appliance, Switchboard
from firmware.call_session import ThreadChecker
from firmware.config import Config
from firmware.snapshot import KdfParams
from provisioning.snapshot_import import import_csv

pytest.importorskip("pjsua2")
pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) is not installed")

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "sipp"
PCAPS = Path("/usr/share/sip-tester")  # sipp's RFC 4733 telephone-event captures (Debian sip-tester)
CALLER, CODE, OTHER_CODE = "0912345678", "0123456789", "0987654321"


class Box:
    """The daemon's composition, in-process: a loop thread runs the sessions; the test thread looks on."""

    def __init__(self, state: Path, **line: Any) -> None:
        self.state = state
        self.line_args = {"trusted_peers": ["127.0.0.1"], **line}
        self.events: list[LineEvent] = []
        self.loop = asyncio.new_event_loop()
        self.app = Appliance(Config(), state)
        self._thread = threading.Thread(target=self.loop.run_forever, name="box-loop", daemon=True)
        self._thread.start()
        self.line: SipLine = self._on_loop(self._start)

    def _on_loop(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def _start(self) -> SipLine:
        self.checker = ThreadChecker(self.app.verifier.check, self.loop.call_soon_threadsafe)
        scheduler = AsyncioScheduler(self.loop)
        line = SipLine("sip0", self.line_args.pop("bind", "127.0.0.1:0"), prompts=self.app.prompts,
                       post=self.loop.call_soon_threadsafe, **self.line_args)
        board = Switchboard(self.app, line, scheduler, self.checker)
        line.attach(lambda event: (self.events.append(event), board(event)))
        line.start()
        return line

    @property
    def port(self) -> int:
        return self.line.address[1]

    def wait_ready(self) -> None:
        assert self.line.ready.wait(15), "the SIP workers did not come up"

    def calls(self) -> list[dict[str, Any]]:
        return self.app.journal.calls(500)

    def wait_calls(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.calls()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.calls()

    def of(self, kind: type, call_id: str | None = None) -> list[Any]:
        return [e for e in list(self.events) if isinstance(e, kind) and (call_id is None or e.call_id == call_id)]

    def stop(self) -> None:
        self._on_loop(self.line.close)
        self.checker.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.app.close()


def make_state(root: Path) -> Path:
    import_csv(REPO / "examples" / "accounts.csv", root, params=KdfParams(n=2**10))
    return root


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    b = Box(make_state(tmp_path_factory.mktemp("box")))
    b.wait_ready()
    yield b
    b.stop()
    assert b.line.exit_codes and all(code == 0 for code in b.line.exit_codes), b.line.exit_codes


def sipp(port: int, scenario: str, *, keys: dict[str, str] | None = None, calls: int = 1, hold_ms: int = 0,
         local_ip: str = "127.0.0.1", transport: str = "u1", timeout: int = 60, cwd: Path | None = None
         ) -> subprocess.Popen[str]:
    """Start sipp (one scenario, `calls` at once); `.wait()` gives 0 when every call succeeded."""
    args = ["sipp", f"127.0.0.1:{port}", "-sf", str(SCENARIOS / scenario), "-i", local_ip, "-p", "0",
            "-t", transport, "-m", str(calls), "-l", str(calls), "-r", "100", "-timeout", f"{timeout}s",
            "-timeout_error", "-nostdin", "-max_recv_loops", "10000"]
    if hold_ms:
        args += ["-d", str(hold_ms)]
    for name, value in (keys or {}).items():
        args += ["-key", name, value]
    return subprocess.Popen(args, cwd=cwd or Path.cwd(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def code_keys(code: str, caller: str = CALLER) -> dict[str, str]:
    return {"caller": caller, "menu": "8", **{f"d{i}": digit for i, digit in enumerate(code, start=1)}}


def finished(proc: subprocess.Popen[str], timeout: float = 70) -> int:
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()


def new_calls(box: Box, before: int, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    rows = box.wait_calls(before + count, timeout)
    return sorted(rows, key=lambda r: r["started_at"])[before:]


# -- resets and mismatches ------------------------------------------------------------------------------------------
def test_reset_by_sip_info_and_by_rfc4733_side_by_side(box: Box) -> None:
    before, resets_before = len(box.calls()), len(box.app.journal.outbox(100))
    info = sipp(box.port, "info_code.xml", keys=code_keys(CODE))
    rfc = sipp(box.port, "rfc4733_code.xml", keys={"caller": CALLER}, cwd=PCAPS)  # sends 8 then 0123456789...
    assert finished(info) == 0, info.stderr.read() if info.stderr else ""
    assert finished(rfc) == 0, rfc.stderr.read() if rfc.stderr else ""
    rows = new_calls(box, before, 2)
    assert sorted(row["outcome"] for row in rows) == ["reset", "reset"]
    assert all(row["caller_masked"] == "09******78" and row["line"] == "sip0" for row in rows)
    assert len(box.app.journal.outbox(100)) == resets_before + 2
    for call in box.of(IncomingCall)[-2:]:
        keys = "".join(event.key for event in box.of(KeyPressed, call.call_id))
        assert keys == "8" + CODE  # one KeyPressed per press, whichever the method


def test_mismatch_is_spoken_and_recorded(box: Box) -> None:
    before = len(box.calls())
    proc = sipp(box.port, "info_code.xml", keys=code_keys(OTHER_CODE))
    assert finished(proc) == 0
    [row] = new_calls(box, before, 1)
    assert row["outcome"] == "mismatch" and row["caller_masked"] == "09******78"


# -- caller ID trust ------------------------------------------------------------------------------------------------
def test_withheld_anonymous_private_and_untrusted_callers_get_no_caller_id(box: Box) -> None:
    before = len(box.calls())
    procs = [
        sipp(box.port, "identity.xml", keys={"caller": "anonymous", "pai": "anonymous", "privacy": "none"}),
        sipp(box.port, "identity.xml", keys={"caller": CALLER, "pai": CALLER, "privacy": "id"}),
        sipp(box.port, "identity.xml", keys={"caller": CALLER, "pai": CALLER, "privacy": "none"},
             local_ip="127.0.0.2"),  # not in trusted_peers
    ]
    assert [finished(proc, 30) for proc in procs] == [0, 0, 0]
    rows = new_calls(box, before, 3)
    assert [row["outcome"] for row in rows] == ["no_caller_id"] * 3
    assert all(call.caller is None for call in box.of(IncomingCall)[-3:])


# -- the caller goes first ------------------------------------------------------------------------------------------
def test_caller_hangs_up_mid_prompt(box: Box) -> None:
    before = len(box.calls())
    assert finished(sipp(box.port, "hangup.xml", keys={"caller": CALLER}, hold_ms=1500), 20) == 0
    [row] = new_calls(box, before, 1)
    assert row["outcome"] == "caller_hangup" and row["duration_s"] < 3


def test_cancel_before_answer_ends_the_call(box: Box) -> None:
    before = len(box.calls())
    replies = RawPeer(box.port).invite_then_cancel()
    assert replies["CANCEL"] == 200 and replies["INVITE"] == 487
    [row] = new_calls(box, before, 1)
    assert row["outcome"] == "caller_hangup"
    assert box.of(RemoteHangup)[-1].call_id == box.of(IncomingCall)[-1].call_id


# -- the second pjsua2 endpoint -------------------------------------------------------------------------------------
def test_a_pjsua2_caller_resets_by_rfc4733_and_hears_the_box(box: Box, tmp_path: Path) -> None:
    before = len(box.calls())
    result = dial(box.port, "--caller", CALLER, "--keys", "8 " + CODE, "--record", str(tmp_path / "heard.wav"))
    assert result["answered"] and result["box_hung_up"], result
    assert result["heard_s"] > 8.0, result  # welcome, code prompt cut short, then the password read twice
    [row] = new_calls(box, before, 1)
    assert row["outcome"] == "reset" and row["caller_masked"] == "09******78"


def dial(port: int, *args: str, timeout: float = 60) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "drivers.sip.dialer", f"sip:bhxh@127.0.0.1:{port}", "--json", "--timeout", "50",
         *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- concurrency ----------------------------------------------------------------------------------------------------
def test_twenty_concurrent_calls_are_all_answered_and_hear_their_prompts(box: Box) -> None:
    before, seen = len(box.calls()), len(box.of(IncomingCall))
    proc = sipp(box.port, "hangup.xml", keys={"caller": CALLER}, calls=20, hold_ms=5500, timeout=30)
    assert finished(proc, 40) == 0, proc.stderr.read() if proc.stderr else ""
    calls = box.of(IncomingCall)[seen:]
    assert len(calls) == 20
    assert all(box.of(PlaybackFinished, call.call_id) for call in calls)  # welcome + menu heard to the end
    rows = new_calls(box, before, 20)
    assert [row["outcome"] for row in rows] == ["caller_hangup"] * 20
    assert all(row["caller_masked"] == "09******78" for row in rows)
    assert box.line.stats()["active"] == 0


def test_a_call_over_the_limit_gets_486_and_the_line_carries_on(tmp_path: Path) -> None:
    small = Box(make_state(tmp_path), max_calls=2)
    try:
        small.wait_ready()
        held = sipp(small.port, "hangup.xml", keys={"caller": CALLER}, calls=2, hold_ms=2500)
        deadline = time.monotonic() + 5
        while small.line.stats().get("active", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert RawPeer(small.port).invite_final() == 486
        assert finished(held, 20) == 0
        assert finished(sipp(small.port, "hangup.xml", keys={"caller": CALLER}, hold_ms=500), 20) == 0
    finally:
        small.stop()
    assert small.line.exit_codes == [0]


def test_tcp_transport(tmp_path: Path) -> None:
    tcp = Box(make_state(tmp_path), transport="tcp")
    try:
        tcp.wait_ready()
        assert finished(sipp(tcp.port, "hangup.xml", keys={"caller": CALLER}, hold_ms=1000, transport="t1"), 20) == 0
        [row] = tcp.wait_calls(1)
        assert row["outcome"] == "caller_hangup" and row["caller_masked"] == "09******78"
    finally:
        tcp.stop()


def test_close_hangs_up_live_calls_and_tears_pjsua2_down_in_order(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    temporary = Box(make_state(tmp_path))
    temporary.wait_ready()
    pids = temporary.line.worker_pids()
    live = sipp(temporary.port, "identity.xml", keys={"caller": CALLER, "pai": CALLER, "privacy": "none"})
    deadline = time.monotonic() + 5
    while not temporary.of(IncomingCall) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    temporary.stop()
    assert time.monotonic() - started < 10
    assert finished(live, 10) == 0  # the box's BYE reached the caller before pjsua2 went down
    assert temporary.line.exit_codes == [0] * len(pids)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert not [t.name for t in threading.enumerate() if t not in threads_before]  # every thread joined


# -- a raw SIP peer (for what sipp cannot send deterministically) ---------------------------------------------------
class RawPeer:
    """INVITE (and CANCEL) from a plain UDP socket: the CANCEL leaves before any answer can exist."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.local = self.sock.getsockname()[1]
        self.call_id = uuid.uuid4().hex
        self.branch = "z9hG4bK" + uuid.uuid4().hex[:12]

    def _request(self, method: str, to_tag: str = "") -> bytes:
        sdp = (f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               f"m=audio {self.local + 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n") if method == "INVITE" else ""
        head = (f"{method} sip:bhxh@127.0.0.1:{self.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.local};branch={self.branch}\r\n"
                f"From: <sip:{CALLER}@127.0.0.1>;tag=raw1\r\nTo: <sip:bhxh@127.0.0.1>{to_tag}\r\n"
                f"Call-ID: {self.call_id}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
                f"Contact: <sip:{CALLER}@127.0.0.1:{self.local}>\r\n")
        if sdp:
            head += "Content-Type: application/sdp\r\n"
        return (head + f"Content-Length: {len(sdp)}\r\n\r\n{sdp}").encode()

    def _final(self) -> dict[str, tuple[int, str]]:
        finals: dict[str, tuple[int, str]] = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "INVITE" not in finals:
            data = self.sock.recv(65535).decode()
            status = int(data.split(" ", 2)[1])
            method = next(line for line in data.split("\r\n") if line.startswith("CSeq:")).split()[-1]
            to = next(line for line in data.split("\r\n") if line.startswith("To:"))
            if status >= 200:
                finals[method] = (status, to[3:].split(">", 1)[-1])
        return finals

    def invite_final(self) -> int:
        self.sock.sendto(self._request("INVITE"), ("127.0.0.1", self.port))
        status, tag = self._final()["INVITE"]
        self.sock.sendto(self._request("ACK", tag), ("127.0.0.1", self.port))
        return status

    def invite_then_cancel(self) -> dict[str, int]:
        self.sock.sendto(self._request("INVITE"), ("127.0.0.1", self.port))
        self.sock.sendto(self._request("CANCEL"), ("127.0.0.1", self.port))
        finals = self._final()
        self.sock.sendto(self._request("ACK", finals["INVITE"][1]), ("127.0.0.1", self.port))
        return {method: status for method, (status, _) in finals.items()}


# -- registration ---------------------------------------------------------------------------------------------------
def test_the_line_registers_through_its_front_with_digest_auth(tmp_path: Path) -> None:
    registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    registrar.bind(("127.0.0.1", 0))
    registrar.settimeout(10)
    port = registrar.getsockname()[1]
    line = Box(make_state(tmp_path), registrar=f"sip:127.0.0.1:{port}", user="0241234567", password="s3cret")
    try:
        first, source = registrar.recvfrom(65535)
        registrar.sendto(_reply(first, "401 Unauthorized", 'WWW-Authenticate: Digest realm="trunk", nonce="n1"'),
                         source)
        second, source2 = registrar.recvfrom(65535)
        registrar.sendto(_reply(second, "200 OK", "Expires: 300"), source2)
        text = second.decode()
        assert source == source2 == ("127.0.0.1", line.port)  # from the line's own port, not a worker's
        assert 'username="0241234567"' in text and "s3cret" not in text
        contact = next(h for h in text.split("\r\n") if h.lower().startswith(("contact:", "m:")))
        assert f"127.0.0.1:{line.port}" in contact  # calls for the AOR come to the front
    finally:
        registrar.close()
        line.stop()


def _reply(request: bytes, status: str, extra: str) -> bytes:
    lines = request.decode().split("\r\n")
    keep = [h for h in lines[1:] if h.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "to", "t",
                                                                            "call-id", "i", "cseq", "contact", "m")]
    keep = [h + (";tag=reg1" if h.lower().startswith(("to:", "t:")) and "tag=" not in h else "") for h in keep]
    return ("\r\n".join([f"SIP/2.0 {status}", *keep, extra, "Content-Length: 0"]) + "\r\n\r\n").encode()


# -- supervision ----------------------------------------------------------------------------------------------------
def test_a_crashed_worker_ends_its_calls_and_is_replaced(tmp_path: Path) -> None:
    crashy = Box(make_state(tmp_path), max_calls=4)  # one worker with the wheel
    try:
        crashy.wait_ready()
        [pid] = crashy.line.worker_pids()
        live = sipp(crashy.port, "hangup.xml", keys={"caller": CALLER}, hold_ms=4000, timeout=10)
        deadline = time.monotonic() + 5
        while not crashy.of(IncomingCall) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(pid, 9)  # what a segfault inside pjsua2 would look like
        finished(live, 20)  # its BYE now meets a 481: the call is gone with the worker
        [row] = crashy.wait_calls(1)
        assert row["outcome"] == "caller_hangup"
        assert crashy.of(RemoteHangup)[-1].call_id == crashy.of(IncomingCall)[-1].call_id
        deadline = time.monotonic() + 10
        while (crashy.line.worker_pids() == [pid] or crashy.line.stats()["capacity"] < 4) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert finished(sipp(crashy.port, "hangup.xml", keys={"caller": CALLER}, hold_ms=500), 20) == 0
    finally:
        crashy.stop()
