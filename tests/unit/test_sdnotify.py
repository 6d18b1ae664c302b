"""The notify protocol over a real datagram socket: what systemd would read, and nothing without NOTIFY_SOCKET."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from firmware.sdnotify import Notifier


def test_messages_arrive_as_systemd_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "30000000"})
        assert notifier.watchdog_s == 30.0
        assert notifier.ready("serving: gsm0 up;\n 0 calls")
        assert notifier.watchdog()
        notifier.close()
        assert server.recv(4096) == b"READY=1\nSTATUS=serving: gsm0 up; 0 calls"  # STATUS kept to one line
        assert server.recv(4096) == b"WATCHDOG=1"


def test_abstract_socket_names(tmp_path: Path) -> None:
    name = f"resetline-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("hello")
        assert server.recv(4096) == b"STATUS=hello"
        notifier.close()


def test_without_systemd_nothing_is_sent_and_nothing_fails() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_s is None and notifier.ready("x") is False


def test_watchdog_meant_for_another_process_is_ignored(tmp_path: Path) -> None:
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_s is None
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}).watchdog_s == 1.0


def test_a_gone_systemd_is_logged_not_raised(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody")})
    assert notifier.watchdog() is False
