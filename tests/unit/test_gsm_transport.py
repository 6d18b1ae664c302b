"""Which port the USB-rebind rung may touch (only a ttyUSB/ttyACM path, resolved through a fake sysfs), and the rebind itself."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivers.gsm import transport
from drivers.serialmodem import usb


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    usb = tmp_path / "devices" / "1-1.3"
    port = usb / "1-1.3:1.2" / "ttyUSB2"
    port.mkdir(parents=True)
    (usb / "idVendor").write_text("2c7c\n")
    tty = tmp_path / "class" / "tty" / "ttyUSB2"
    tty.mkdir(parents=True)
    (tty / "device").symlink_to(port)
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "ttyUSB2").touch()
    (dev / "ec25-at").symlink_to(dev / "ttyUSB2")  # what the udev rule makes
    return tmp_path


def test_a_udev_name_resolves_to_its_usb_device(sysfs: Path) -> None:
    assert usb.usb_device_of(str(sysfs / "dev" / "ec25-at"), sysfs / "class" / "tty") == (sysfs / "devices" / "1-1.3").resolve()


def test_urls_and_ptys_are_not_usb_devices(sysfs: Path) -> None:
    master, slave = os.openpty()
    try:
        assert usb.usb_device_of(os.ttyname(slave)) is None
    finally:
        os.close(master)
        os.close(slave)
    assert usb.usb_device_of("socket://192.0.2.1:7000") is None
    assert usb.usb_device_of("spy:///dev/ttyUSB2") is None


def test_a_missing_port_is_port_lost(tmp_path: Path) -> None:
    with pytest.raises(transport.PortLost, match="cannot open"):
        transport.open_port(str(tmp_path / "nothing"), 115200, timeout=0.1)


def test_rebind_unbinds_then_binds_the_device(tmp_path: Path) -> None:
    driver = tmp_path / "drivers" / "usb"
    driver.mkdir(parents=True)
    written: list[str] = []
    usb.rebind_usb(tmp_path / "devices" / "1-1.3", driver)
    written = [(driver / name).read_text() for name in ("unbind", "bind")]
    assert written == ["1-1.3", "1-1.3"]
    with pytest.raises(OSError):
        usb.rebind_usb(tmp_path / "devices" / "1-1.3", tmp_path / "missing")
