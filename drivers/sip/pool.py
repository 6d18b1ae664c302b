"""The line's side of one pjsua2 worker process: spawn it, feed it commands, read its events, stop it with bounds.

Each link has a writer thread (the loop thread only puts commands on a queue, never blocks on a pipe) and a reader
thread (events are handed to `on_event` in that thread; the line posts them to the loop).
"""
from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import wire

log = logging.getLogger(__name__)

#: the directory that holds the `drivers` package, so `python -m drivers.sip.worker` finds it from anywhere
SOURCE_ROOT = Path(__file__).resolve().parents[2]
_STOP = object()


class WorkerLink:
    """One worker process and its two pipes."""

    def __init__(
        self,
        index: int,
        settings: dict[str, Any],
        on_event: Callable[["WorkerLink", wire.Message], None],
        on_exit: Callable[["WorkerLink"], None],
        python: str = sys.executable,
    ) -> None:
        self.index = index
        self.settings = settings
        self.capacity = 0
        self.pid: int | None = None
        self._on_event = on_event
        self._on_exit = on_exit
        self._python = python
        self._queue: queue.Queue[object] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
        try:
            self._proc = subprocess.Popen(
                [self._python, "-m", "drivers.sip.worker", str(write_fd)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(write_fd,), env=env,
                start_new_session=True,  # a Ctrl-C at the terminal reaches the daemon, which stops us in order
            )
        finally:
            os.close(write_fd)
        self.pid = self._proc.pid
        self._queue.put(self.settings)
        name = f"sip-{self.settings['name']}-{self.index}"
        self._threads = [
            threading.Thread(target=self._write, name=f"{name}-tx", daemon=True),
            threading.Thread(target=self._read, args=(read_fd,), name=f"{name}-rx", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def send(self, command: wire.Message) -> None:
        self._queue.put_nowait(command)

    def close(self) -> None:
        """Ask the worker to tear down (it hangs up its calls); `wait` bounds the rest."""
        self._queue.put_nowait({"op": "close"})
        self._queue.put_nowait(_STOP)

    def wait(self, timeout: float) -> int | None:
        """Wait for the process to exit, kill it past `timeout`; join the threads. Returns its exit code."""
        proc = self._proc
        if proc is None:
            return None
        try:
            code: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("SIP worker %d (pid %d) did not stop in %.1f s; killed", self.index, proc.pid, timeout)
            proc.kill()
            code = proc.wait(5)
        self._queue.put_nowait(_STOP)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(2.0)
        return code

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def _write(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                proc.stdin.write(wire.encode(item))  # type: ignore[arg-type]
                proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker is gone; the reader reports it
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def _read(self, fd: int) -> None:
        decoder = wire.LineDecoder()
        try:
            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                for message in decoder.feed(data):
                    try:
                        self._on_event(self, message)
                    except Exception:  # a thread's top: one bad event must not deafen the line
                        log.exception("SIP worker %d: event %r not handled", self.index, message.get("ev"))
        finally:
            os.close(fd)
            self._on_exit(self)
