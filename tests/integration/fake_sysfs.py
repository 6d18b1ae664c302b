"""A fake sysfs for the USB-rebind rung of both modem drivers' recovery, with the simulated modem on its far side."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def fake_sysfs(tmp_path: Path, tty: str) -> Iterator[dict[str, Any]]:
    """class/tty/<tty> → a USB device 1-1.3, and the usb driver's unbind/bind files; `bind` is a FIFO whose writes
    are handed to `state["on_bind"]` (the simulated modem re-enumerating, as a real rebind makes it)."""
    root = tmp_path / "sys"
    interface = root / "devices" / "1-1.3" / "1-1.3:1.0"
    interface.mkdir(parents=True)
    (root / "devices" / "1-1.3" / "idVendor").write_text("0baf\n")
    node = root / "class" / "tty" / tty
    node.mkdir(parents=True)
    (node / "device").symlink_to(interface)
    driver = root / "bus" / "usb" / "drivers" / "usb"
    driver.mkdir(parents=True)
    (driver / "unbind").write_text("")
    os.mkfifo(driver / "bind")
    state: dict[str, Any] = {"sys_tty": root / "class" / "tty", "usb_driver": driver, "bound": [], "on_bind": None}
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            with open(driver / "bind") as fifo:
                data = fifo.read()
            if data and not stop.is_set():
                state["bound"].append(data)
                if state["on_bind"] is not None:
                    state["on_bind"]()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield state
    finally:
        stop.set()
        try:
            os.close(os.open(driver / "bind", os.O_WRONLY | os.O_NONBLOCK))  # wake the reader's open()
        except OSError:
            pass
        reader.join(2)
