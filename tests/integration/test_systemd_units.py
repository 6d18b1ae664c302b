"""The units pass `systemd-analyze verify` (with ExecStart= pointed at this checkout's resetline, since
/opt/resetline does not exist here), and the udev rules name each modem by vendor:product and interface."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
RESETLINE = Path(sys.executable).with_name("resetline")
UNITS = ("resetline.service", "resetline-sync.service", "resetline-sync.timer")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for name in UNITS:
        text = (SYSTEMD / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/resetline/venv/bin/resetline", str(RESETLINE)))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    bad = tmp_path / "resetline.service"
    bad.write_text(bad.read_text().replace("ProtectHome=yes", "ProtectHome=yes\nProtectHom=yes"))
    caught = subprocess.run(["systemd-analyze", "verify", "--man=no", str(bad)], capture_output=True, text=True,
                            timeout=60)
    assert "Unknown key 'ProtectHom'" in caught.stderr  # the check above can fail


def test_the_service_has_what_the_appliance_needs() -> None:
    unit = (SYSTEMD / "resetline.service").read_text(encoding="utf-8")
    for setting in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=resetline",
                    "SupplementaryGroups=dialout gpio", "StateDirectory=resetline", "ConfigurationDirectory=resetline",
                    "RuntimeDirectory=resetline", "RuntimeDirectoryMode=0700", "ProtectSystem=strict",
                    "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "DeviceAllow=char-ttyUSB rw",
                    "DeviceAllow=char-gpiochip rw", "DeviceAllow=/dev/gpiomem rw", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        assert re.search(rf"^{re.escape(setting)}", unit, re.M), setting
    assert re.search(r"^ExecStart=/opt/resetline/venv/bin/resetline run --config /etc/resetline/resetline.toml$",
                     unit, re.M)
    sync = (SYSTEMD / "resetline-sync.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/resetline/venv/bin/resetline sync --config /etc/resetline/resetline.toml" in sync


RULE = re.compile(r'^(?P<key>[A-Z_]+(\{[A-Za-z_]+\})?)(?P<op>==|!=|\+=|:=|=)"(?P<value>[^"]*)"$')
MATCH_KEYS = {"SUBSYSTEM", "ATTRS{idVendor}", "ATTRS{idProduct}", "ATTRS{bInterfaceNumber}"}
ASSIGN_KEYS = {"SYMLINK", "GROUP", "MODE", "ENV{ID_MM_DEVICE_IGNORE}"}


def _rules() -> list[dict[str, str]]:
    rules = []
    for raw in (SYSTEMD / "90-resetline.rules").read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        rule: dict[str, str] = {}
        for part in (p.strip() for p in raw.split(", ")):
            found = RULE.match(part)
            assert found, f"not a udev key/operator/value: {part!r}"
            key, op = found["key"], found["op"]
            assert (key in MATCH_KEYS and op == "==") or (key in ASSIGN_KEYS and op in ("=", "+=")), part
            rule[key] = found["value"]
        rules.append(rule)
    return rules


def test_udev_rules_name_each_modem_and_keep_modemmanager_off() -> None:
    rules = _rules()
    names = {(r["ATTRS{idVendor}"], r["ATTRS{idProduct}"], r.get("ATTRS{bInterfaceNumber}")): r.get("SYMLINK")
             for r in rules}
    assert names[("2c7c", "0125", "02")] == "resetline/ec25-at"
    assert names[("2c7c", "0125", "01")] == "resetline/ec25-pcm"
    assert names[("1e0e", "9001", "02")] == "resetline/sim7600-at"
    assert names[("10c4", "ea60", "00")] == names[("1a86", "7523", "00")] == "resetline/sim800"
    assert all(r["SUBSYSTEM"] == "tty" and r["ENV{ID_MM_DEVICE_IGNORE}"] == "1" for r in rules)
