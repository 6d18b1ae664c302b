"""The README's GSM promises: the demo call through our driver to each modem simulator, and `line test`."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers.gsm import ModemSimulator
from firmware import password as pw

REPO = Path(__file__).resolve().parents[2]
RESETLINE = Path(sys.executable).with_name("resetline")


def demo(*args: str) -> tuple[list[dict], dict]:
    result = subprocess.run([str(RESETLINE), "demo", "--json", "--line", "gsm-sim", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return lines[:-1], lines[-1]


@pytest.mark.parametrize("profile", ["ec25", "sim7600", "sim800"])
def test_demo_reset_through_each_modem_simulator(profile: str) -> None:
    events, summary = demo("--profile", profile, "--keys", "8 0123456789", "--barge-in", "--speed", "20")
    assert summary["outcome"] == "reset", summary
    first, second = summary["password_heard"]
    assert first == second and pw.is_valid(first)
    assert [e["say"] for e in events if "say" in e][-2:] == ["change_password", "goodbye"]


def test_demo_withheld_number_over_the_modem() -> None:
    events, summary = demo("--caller", "anonymous", "--keys", "8", "--speed", "20")
    assert summary["outcome"] == "no_caller_id"
    assert [e["say"] for e in events if "say" in e] == ["no_caller_id"]


def test_line_test_reports_bring_up_and_ims(tmp_path: Path) -> None:
    modem = ModemSimulator("ec25", link=tmp_path / "modem", boot_s=0.0)
    modem.start()
    try:
        config = tmp_path / "box.toml"
        config.write_text(f'[[line]]\nname = "gsm0"\nkind = "gsm"\nport = "{modem.port}"\nprofile = "ec25"\n',
                          encoding="utf-8")
        result = subprocess.run([str(RESETLINE), "line", "test", "gsm0", "--config", str(config), "--json",
                                 "--state-dir", str(tmp_path / "state"), "--timeout", "60"],
                                capture_output=True, text=True, timeout=120)
        report = json.loads(result.stdout)
        assert result.returncode == 0, result.stdout + result.stderr
        assert report["state"] == "up" and report["profile"] == "ec25"
        assert "ims" in report and "*" in str(report.get("imei"))
        modem.set_ims(False)
        result = subprocess.run([str(RESETLINE), "line", "test", "0", "--config", str(config),
                                 "--state-dir", str(tmp_path / "state"), "--timeout", "60"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1 and "FAULT" in result.stdout
    finally:
        modem.close()


def test_line_test_names_a_missing_line(tmp_path: Path) -> None:
    result = subprocess.run([str(RESETLINE), "line", "test", "7", "--config", str(REPO / "examples" / "sim.toml"),
                             "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no such line" in result.stderr and "0 (sim0)" in result.stderr


class _Far:
    def prompt_started(self, prompt_id: str) -> None:
        pass

    def silent(self) -> None:
        pass

    def box_hung_up(self) -> None:
        pass


def test_line_test_audio_checks_both_directions_on_usb_pcm(tmp_path: Path) -> None:
    modem = ModemSimulator("ec25", link=tmp_path / "modem", boot_s=0.0, audio=True, echo=True)
    modem.start()
    try:
        config = tmp_path / "box.toml"
        config.write_text(f'[[line]]\nname = "gsm0"\nkind = "gsm"\nport = "{modem.port}"\nprofile = "ec25"\n'
                          f'audio = "usb-pcm"\naudio_port = "{modem.audio_port}"\n', encoding="utf-8")
        process = subprocess.Popen([str(RESETLINE), "line", "test", "gsm0", "--config", str(config), "--json",
                                    "--audio", "--call-timeout", "60", "--state-dir", str(tmp_path / "state")],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while "AT+QPCMV=0" not in modem.commands and time.monotonic() < deadline:  # the end of bring-up
            time.sleep(0.1)
        time.sleep(0.5)
        modem.ring("0912345678", _Far())
        out, err = process.communicate(timeout=90)
        report = json.loads(out)
        assert process.returncode == 0, out + err
        assert "Call the line now" in err
        check = report["audio_check"]
        assert check["available"] and check["tone_sent"] and check["audio_back"], check
        assert modem.pcm_sound_frames >= 40
    finally:
        modem.close()


def test_line_test_audio_is_not_available_on_modem_files(tmp_path: Path) -> None:
    modem = ModemSimulator("ec25", link=tmp_path / "modem", boot_s=0.0)
    modem.start()
    try:
        config = tmp_path / "box.toml"
        config.write_text(f'[[line]]\nname = "gsm0"\nkind = "gsm"\nport = "{modem.port}"\nprofile = "ec25"\n',
                          encoding="utf-8")
        result = subprocess.run([str(RESETLINE), "line", "test", "gsm0", "--config", str(config), "--audio",
                                 "--state-dir", str(tmp_path / "state"), "--timeout", "60"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "not available on the modem-files path" in result.stdout
    finally:
        modem.close()
