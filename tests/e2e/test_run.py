"""`resetline run`: the daemon starts from a TOML configuration, names a bad key, and stops cleanly on SIGTERM."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESETLINE = Path(sys.executable).with_name("resetline")


def test_starts_prepares_its_state_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(RESETLINE), "run", "--config", str(REPO / "examples" / "sim.toml"), "--state-dir", str(tmp_path)],
        stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "ready" in line:
            assert "lines: sim0" in line
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert (tmp_path / "journal.db").exists()
    assert (tmp_path / "keys" / "lockout.key").stat().st_mode & 0o077 == 0


def test_a_bad_key_is_named_and_nothing_starts(tmp_path: Path) -> None:
    config = tmp_path / "box.toml"
    config.write_text('[call]\nentry_timeout_s = "ten"\n', encoding="utf-8")
    result = subprocess.run(
        [str(RESETLINE), "run", "--config", str(config), "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "call.entry_timeout_s: must be a number" in result.stderr
    assert not (tmp_path / "state").exists()


def test_config_check_prints_the_effective_settings() -> None:
    result = subprocess.run(
        [str(RESETLINE), "config", "check", "--config", str(REPO / "examples" / "sim.toml")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0 and '"menu_timeout_s": 8.0' in result.stdout
