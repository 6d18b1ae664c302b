"""The one-line STATUS and the ModemManager check (read from a /proc tree)."""
from __future__ import annotations

from pathlib import Path

from firmware.status_report import modem_manager_running, summary


def fake_proc(root: Path, names: dict[str, str]) -> Path:
    for pid, name in names.items():
        (root / pid).mkdir(parents=True)
        (root / pid / "comm").write_text(name + "\n")
    (root / "self").mkdir()
    return root


def test_modem_manager_is_found_by_its_process_name(tmp_path: Path) -> None:
    assert modem_manager_running(fake_proc(tmp_path / "a", {"1": "systemd", "812": "ModemManager"}))
    assert not modem_manager_running(fake_proc(tmp_path / "b", {"1": "systemd", "90": "ModemManagerX"}))
    assert not modem_manager_running(tmp_path / "missing")


def test_summary_names_each_line_and_the_first_fault() -> None:
    lines = [{"name": "gsm0", "state": "up"}, {"name": "sip0", "state": "restarting"}]
    assert summary("serving", lines, 1, 2, (1, 4)) == (
        "serving: gsm0 up, sip0 restarting; 1 call; outbox 2; fault 1 (a line is not up)")
    assert summary("starting", [], 0, None, ()) == "starting: no lines; 0 calls; outbox ?"
