"""`resetline run`: the daemon starts from a TOML configuration, names a bad key, and stops cleanly on SIGTERM."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
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


def test_the_daemon_answers_a_sip_call_and_journals_it(tmp_path: Path) -> None:
    """`resetline run` with a SIP line, dialled by the pjsua2 dialer over 127.0.0.1."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "box.toml"
    config.write_text(
        f'[[line]]\nname = "sip0"\nkind = "sip"\nbind = "127.0.0.1:{port}"\ntrusted_peers = ["127.0.0.1"]\n'
        "max_calls = 4\n",
        encoding="utf-8",
    )
    state = tmp_path / "state"
    subprocess.run([str(RESETLINE), "snapshot", "import", "--csv", str(REPO / "examples" / "accounts.csv"),
                    "--state-dir", str(state)], check=True, capture_output=True)
    box = subprocess.Popen([str(RESETLINE), "run", "--config", str(config), "--state-dir", str(state)],
                           stderr=subprocess.PIPE, text=True)
    try:
        assert box.stderr is not None
        for line in box.stderr:
            if "worker(s)" in line:  # the SIP line's workers are up
                break
        threading.Thread(target=box.stderr.read, daemon=True).start()  # keep the pipe drained
        dial = subprocess.run(
            [sys.executable, "-m", "drivers.sip.dialer", f"sip:bhxh@127.0.0.1:{port}", "--caller", "0912345678",
             "--keys", "8 0123456789"],
            capture_output=True, text=True, timeout=120,
        )
        assert "answered: True" in dial.stdout and "box_hung_up: True" in dial.stdout, dial.stdout + dial.stderr
    finally:
        box.send_signal(signal.SIGTERM)
        assert box.wait(timeout=30) == 0
    journal = subprocess.run([str(RESETLINE), "journal", "--state-dir", str(state)], capture_output=True, text=True)
    assert "sip0" in journal.stdout and "reset" in journal.stdout and "0912345678" not in journal.stdout
