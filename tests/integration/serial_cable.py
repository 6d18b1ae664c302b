"""A null-modem cable for tests: two pseudo-terminals joined by a relay thread.

`box_path` is the tty the console (or our YMODEM side) opens with pyserial, as it would /dev/ttyUSB0; `laptop_fd`
is the technician's end, a real tty that picocom, `sb` or `rb` can be given as stdin/stdout. `tap` sees (and may
change) every chunk in flight; `unplug()` makes the box's tty vanish like a pulled USB adapter, `plug()` brings a new
one back behind the same `box_path` symlink.
"""
from __future__ import annotations

import os
import select
import threading
import tty
from collections.abc import Callable
from pathlib import Path

Tap = Callable[[str, bytes], bytes]  # ("to_box" | "to_laptop", chunk) -> chunk


class Cable:
    def __init__(self, link: Path, tap: Tap | None = None) -> None:
        self.box_path = link
        self.tap: Tap = tap or (lambda direction, data: data)
        self.to_box_bytes = 0
        self._lock = threading.Lock()
        self._laptop_master, self.laptop_fd = os.openpty()
        tty.setraw(self.laptop_fd)
        self._box: tuple[int, int] | None = None
        self._stop = threading.Event()
        self.plug()
        self._thread = threading.Thread(target=self._relay, name="cable", daemon=True)
        self._thread.start()

    @property
    def laptop_path(self) -> str:
        return os.ttyname(self.laptop_fd)

    def plug(self) -> None:
        with self._lock:
            if self._box is not None:
                return
            master, slave = os.openpty()
            tty.setraw(slave)
            self._box = (master, slave)  # we hold the slave too, so the master never reads EIO between opens
            temporary = self.box_path.with_name(self.box_path.name + ".new")
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(os.ttyname(slave))
            temporary.replace(self.box_path)

    def unplug(self) -> None:
        with self._lock:
            box, self._box = self._box, None
            self.box_path.unlink(missing_ok=True)
        if box is not None:
            for fd in box:
                os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.unplug()
        for fd in (self._laptop_master, self.laptop_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def _relay(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                box_master = self._box[0] if self._box else None
            fds = [self._laptop_master] + ([box_master] if box_master is not None else [])
            try:
                readable, _, _ = select.select(fds, [], [], 0.02)
            except (OSError, ValueError):
                continue
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if fd == self._laptop_master:
                    data = self.tap("to_box", data)
                    self.to_box_bytes += len(data)
                    with self._lock:
                        target = self._box[0] if self._box else None
                else:
                    data = self.tap("to_laptop", data)
                    target = self._laptop_master
                if target is not None and data:
                    self._write_all(target, data)

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                select.select([], [fd], [], 0.1)
            except OSError:
                return  # unplugged while writing: the bytes are lost, as on a real cable
