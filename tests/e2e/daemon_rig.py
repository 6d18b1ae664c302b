"""A `resetline run` subprocess with a real systemd-style notify socket: what the e2e daemon tests share."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

RESETLINE = Path(sys.executable).with_name("resetline")
REPO = Path(__file__).resolve().parents[2]


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET: every message kept with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def seen(self, key: str, value: str | None = None) -> list[tuple[float, dict[str, str]]]:
        with self._lock:
            return [(t, m) for t, m in self.messages if key in m and (value is None or m[key] == value)]

    def wait_for(self, key: str, value: str | None = None, timeout: float = 30.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.seen(key, value)
            if found:
                return found[-1][1]
            time.sleep(0.05)
        raise AssertionError(f"no {key}={value or '*'} within {timeout} s; got {self.messages[-5:]}")

    def pings(self) -> list[float]:
        return [t for t, _ in self.seen("WATCHDOG", "1")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class Daemon:
    def __init__(self, tmp: Path, config: Path, state: Path, *, watchdog_s: float = 0.4,
                 preexec: Callable[[], None] | None = None, name: str = "notify") -> None:
        self.runtime = tmp / "run"
        self.notify = NotifySocket(tmp / f"{name}.sock")
        env = dict(os.environ, NOTIFY_SOCKET=str(self.notify.path), WATCHDOG_USEC=str(int(watchdog_s * 1e6)),
                   RESETLINE_LOG="INFO")
        env.pop("RUNTIME_DIRECTORY", None)
        self.log = tmp / f"{name}.log"
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(
            [str(RESETLINE), "run", "--config", str(config), "--state-dir", str(state), "--runtime-dir",
             str(self.runtime)], stdout=self._log, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec,
        )

    def status(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(RESETLINE), "status", "--json", "--runtime-dir", str(self.runtime)],
                              capture_output=True, text=True, timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._log.close()
        self.notify.close()
