"""The USB device behind a modem's tty, and the USB unbind/bind that makes it re-enumerate without a power cut
(field failure: a modem hangs or vanishes from USB and only a replug helps). Both modem drivers' recovery uses it.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SYS_TTY = Path("/sys/class/tty")
SYS_USB_DRIVER = Path("/sys/bus/usb/drivers/usb")


def is_device_path(url: str) -> bool:
    return "://" not in url


def usb_device_of(url: str, sys_tty: Path = SYS_TTY) -> Path | None:
    """The sysfs USB device (e.g. /sys/bus/usb/devices/1-1.3) behind a ttyUSB/ttyACM path (a udev name is
    followed to its node), else None: pyserial URLs, ptys and anything else are not touched."""
    if not is_device_path(url):
        return None
    name = _tty_name(url)
    if name is None:
        return None
    try:
        interface = (sys_tty / name / "device").resolve()
    except OSError:
        return None
    # ttyUSBn/device is the USB interface (1-1.3:1.2) for ttyACM, or a port below it for usb-serial drivers
    for candidate in (interface, *interface.parents):
        if (candidate / "idVendor").exists():
            return candidate
    return None


def rebind_usb(device: Path, driver: Path = SYS_USB_DRIVER) -> None:
    """Unbind and bind the USB device from its driver: the modem re-enumerates without a power cut. Needs root
    (or a udev rule granting the service write access to these sysfs files). OSError when refused."""
    log.warning("USB unbind/bind of %s", device.name)
    (driver / "unbind").write_text(device.name)
    (driver / "bind").write_text(device.name)


def _tty_name(url: str) -> str | None:
    """The last ttyUSB*/ttyACM* name along the chain of links from `url` (a udev name → ../ttyUSB2), else None."""
    found, path, seen = None, Path(url), set()
    while path not in seen:
        seen.add(path)
        if path.name.startswith(("ttyUSB", "ttyACM")):
            found = path.name
        if not path.is_symlink():
            break
        path = (path.parent / os.readlink(path)).absolute()
    return found
