"""systemd/resetline-console@.service: the hardening the project asks of every unit, and systemd's own check."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "resetline-console@.service"


def test_unit_runs_the_console_on_the_instance_tty_with_the_common_hardening() -> None:
    text = UNIT.read_text(encoding="utf-8")
    for line in ("User=resetline", "StateDirectory=resetline", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ProtectHome=yes", "PrivateTmp=yes", "Restart=always"):
        assert f"\n{line}\n" in text
    assert "SupplementaryGroups=dialout" in text
    assert "resetline console --port /dev/%I --state-dir /var/lib/resetline" in text


def test_every_unit_runs_the_program_and_config_where_the_installer_puts_them() -> None:
    installer = (UNIT.parents[1] / "provisioning" / "install-pi.sh").read_text(encoding="utf-8")
    assert "\nVENV=$PREFIX/venv\n" in installer and "\nCONF=/etc/resetline/resetline.toml\n" in installer
    for unit in sorted(UNIT.parent.glob("*.service")):
        for line in unit.read_text(encoding="utf-8").splitlines():
            if line.startswith("ExecStart="):
                assert line.startswith("ExecStart=/opt/resetline/venv/bin/resetline "), (unit.name, line)
                assert "--config /etc/resetline/resetline.toml" in line, (unit.name, line)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_an_instance(tmp_path: Path) -> None:
    # The venv path exists only on a box; point ExecStart at a binary that exists here, change nothing else.
    text = UNIT.read_text(encoding="utf-8").replace("/opt/resetline/venv/bin/resetline", shutil.which("true") or "")
    (tmp_path / UNIT.name).write_text(text, encoding="utf-8")
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "resetline-console@ttyUSB0.service")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "resetline-console" not in proc.stderr, proc.stderr
