"""provisioning/install-pi.sh in a throw-away root (--root): what it installs, --dry-run changes nothing, a second
run keeps the technician's configuration. No network: --no-pip, and pjsua2 is reported, not built."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from firmware import config as configuration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "provisioning" / "install-pi.sh"

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-sysusers") is None or shutil.which("systemctl") is None,
    reason="needs systemd-sysusers and systemctl (they work on --root offline)",
)


def install(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), "--root", str(root), "--no-pip", *extra], capture_output=True,
                          text=True, timeout=300)


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    result = install(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "systemctl --root=" in result.stdout and "mask ModemManager.service" in result.stdout
    assert "dry run: nothing was changed" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_installs_into_a_root_and_is_idempotent(tmp_path: Path) -> None:
    first = install(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text()
    assert "resetline:x:" in passwd and ":/usr/sbin/nologin" in passwd
    groups = {line.split(":")[0]: line.split(":")[3] for line in (tmp_path / "etc" / "group").read_text().splitlines()}
    assert "resetline" in groups["dialout"] and "resetline" in groups["gpio"]
    system = tmp_path / "etc" / "systemd" / "system"
    for unit in ("resetline.service", "resetline-sync.service", "resetline-sync.timer"):
        assert (system / unit).read_text() == (REPO / "systemd" / unit).read_text()
    assert os.readlink(system / "ModemManager.service") == "/dev/null"
    assert (system / "multi-user.target.wants" / "resetline.service").is_symlink()
    assert (system / "timers.target.wants" / "resetline-sync.timer").is_symlink()
    assert (tmp_path / "etc" / "udev" / "rules.d" / "90-resetline.rules").exists()
    polkit_rule = tmp_path / "etc" / "polkit-1" / "rules.d" / "50-resetline.rules"
    assert polkit_rule.read_text() == (REPO / "systemd" / "50-resetline.rules").read_text()
    assert polkit_rule.stat().st_mode & 0o777 == 0o644
    assert "Storage=volatile" in (tmp_path / "etc/systemd/journald.conf.d/resetline-volatile.conf").read_text()
    state = tmp_path / "var" / "lib" / "resetline"
    assert state.is_dir() and state.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "opt/resetline/venv/bin/python").exists()
    assert (tmp_path / "opt/resetline/src/firmware/daemon.py").exists()
    assert not (tmp_path / "opt/resetline/src/.venv").exists()
    assert "pjsua2 not installed" in first.stdout
    conf = tmp_path / "etc" / "resetline" / "resetline.toml"
    assert conf.stat().st_mode & 0o777 == 0o640
    parsed = configuration.load(conf)  # the commented example is a valid configuration
    assert parsed.gpio.backend == "rpi" and parsed.gpio.button == 26 and parsed.lines == ()
    conf.write_text(conf.read_text().replace('name = "bhxh-office-1"', 'name = "office-7"'))
    second = install(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "resetline.toml exists: kept" in second.stdout and "venv /opt/resetline/venv exists: kept" in second.stdout
    assert 'name = "office-7"' in conf.read_text()
    assert "50-resetline.rules" in second.stdout and polkit_rule.read_text() == (REPO / "systemd" / "50-resetline.rules").read_text()
    assert (tmp_path / "etc" / "passwd").read_text() == passwd


def test_read_only_root_is_a_switch(tmp_path: Path) -> None:
    result = install(tmp_path, "--dry-run", "--read-only-root")
    assert result.returncode == 0 and "read-only root with an overlay" in result.stdout
