"""GsmLine against the ModemSimulator without the appliance: bring-up report, file store, SIM PIN, VoLTE fault,
SMS, closing mid-call, the spy:// wire trace. Events are delivered straight from the line's thread here."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.gsm import GsmError, GsmLine, GsmTimings, ModemSimulator
from drivers.gsm.sms import SmsError
from drivers.line import IncomingCall, LineEvent, RemoteHangup
from firmware.callflow import PLAYABLE
from voice_prompts.catalog import PromptCatalog

FAST = GsmTimings(command_s=0.5, probe_s=0.3, keepalive_s=0.5, in_call_keepalive_s=0.3, reboot_s=1.0,
                  port_return_s=0.5, down_retry_s=0.3).at_speed(20)
PROMPTS = PromptCatalog.load()


class Far:
    def __init__(self) -> None:
        self.heard: list[str] = []
        self.hung_up = threading.Event()

    def prompt_started(self, prompt_id: str) -> None:
        self.heard.append(prompt_id)

    def silent(self) -> None:
        pass

    def box_hung_up(self) -> None:
        self.hung_up.set()


class Box:
    """Answers every call and plays the welcome prompt; remembers events."""

    def __init__(self) -> None:
        self.line: GsmLine | None = None
        self.events: list[LineEvent] = []
        self.answered = threading.Event()

    def __call__(self, event: LineEvent) -> None:
        self.events.append(event)
        if isinstance(event, IncomingCall) and self.line is not None:
            self.line.answer(event.call_id)
            self.line.play(event.call_id, ["welcome", "menu"], 1)
            self.answered.set()


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[list[ModemSimulator]]:
    made: list[ModemSimulator] = []
    yield made
    for sim in made:
        sim.close()


def simulator(sims: list[ModemSimulator], tmp_path: Path, profile: str = "ec25", **options: Any) -> ModemSimulator:
    sim = ModemSimulator(profile, speed=20, link=tmp_path / f"{profile}-{len(sims)}", **options)
    sim.start()
    sims.append(sim)
    return sim


def line_for(sim: ModemSimulator, box: Box | None = None, **options: Any) -> GsmLine:
    line = GsmLine("gsm0", options.pop("port", sim.port), profile=sim.profile, prompts=options.pop("prompts", PROMPTS),
                   post=lambda action: action(), prompt_ids=PLAYABLE, timings=FAST, **options)
    if box is not None:
        box.line = line
        line.attach(box)
    line.start()
    return line


def test_bring_up_report_and_files_kept_on_the_next_bring_up(sims: list[ModemSimulator], tmp_path: Path) -> None:
    sim = simulator(sims, tmp_path)
    sim.put_file("welcome.wav", b"RIFF stale prompt of another size")
    line = line_for(sim)
    try:
        assert line.wait_state(("up", "down"), 10) == "up"
        report = line.report()
    finally:
        line.close()
    assert report["model"] == "EC25" and report["firmware"] == "EC25EFAR06A06M4G"
    assert report["imei"] == "86***********28" and report["sim"] == "READY" and report["registration"] == "home"
    assert report["ims"] == "registered" and report["signal"] == {"rssi": 23, "dbm": -67}
    assert report["files"]["uploaded"] == len(PLAYABLE) and report["faults"] == []
    assert 'AT+QFDEL="welcome.wav"' in sim.commands  # deleted before it was replaced
    assert sim.files["welcome.wav"] == PROMPTS.path("welcome").stat().st_size
    again = line_for(sim)
    try:
        assert again.wait_state(("up", "down"), 10) == "up"
        assert again.report()["files"]["kept"] == len(PLAYABLE) and again.report()["files"]["uploaded"] == 0
    finally:
        again.close()


def test_a_new_recording_of_the_same_size_is_uploaded_again(sims: list[ModemSimulator], tmp_path: Path) -> None:
    class Rerecorded:  # the technician installed a new "welcome" of exactly the same length
        def __init__(self, flip: bool) -> None:
            self.flip = flip

        def audio(self, prompt_id: str, fmt: str) -> bytes:
            data = PROMPTS.audio(prompt_id, fmt)
            return data[:-2] + b"\x01\x02" if self.flip and prompt_id == "welcome" else data

        def duration(self, prompt_id: str) -> float:
            return PROMPTS.duration(prompt_id)

        def path(self, prompt_id: str) -> Path:
            return PROMPTS.path(prompt_id)

    sim = simulator(sims, tmp_path)
    index = tmp_path / "modem-files-gsm0.json"
    reports = []
    for flip in (False, False, True):
        line = line_for(sim, prompts=Rerecorded(flip), upload_index=index)
        try:
            assert line.wait_state(("up", "down"), 10) == "up"
            reports.append(line.report()["files"])
        finally:
            line.close()
    assert [(r["uploaded"], r["kept"]) for r in reports] == [
        (len(PLAYABLE), 0), (0, len(PLAYABLE)), (1, len(PLAYABLE) - 1)]
    assert sim.commands.count('AT+QFDEL="welcome.wav"') == 1  # deleted before the new one went up
    assert "861234567890128" not in index.read_text()  # the modem is named by a hash, not its IMEI


def test_sim_pin(sims: list[ModemSimulator], tmp_path: Path) -> None:
    sim = simulator(sims, tmp_path, pin="4321")
    without = line_for(sim)
    try:
        assert without.wait_state(("up", "down"), 10) == "down"
        assert "pin" in without.report()["last_error"].lower()
    finally:
        without.close()
    line = line_for(sim, pin="4321")
    try:
        assert line.wait_state(("up", "down"), 10) == "up"
    finally:
        line.close()
    assert 'AT+CPIN="4321"' in sim.commands


def test_not_registered_for_volte_is_a_clear_fault(sims: list[ModemSimulator], tmp_path: Path) -> None:
    sim = simulator(sims, tmp_path, "sim7600", ims_registered=False)
    line = line_for(sim)
    try:
        assert line.wait_state(("up", "down"), 10) == "up"
        faults = line.report()["faults"]
    finally:
        line.close()
    assert len(faults) == 1 and "VoLTE" in faults[0] and "IMS not registered" in faults[0]


def test_sms_in_ucs2_text_mode(sims: list[ModemSimulator], tmp_path: Path) -> None:
    sim = simulator(sims, tmp_path)
    line = line_for(sim, sms_notice=True)
    text = "Mật khẩu VssID vừa được đặt lại. Không phải bạn? Gọi BHXH."
    try:
        assert line.wait_state(("up", "down"), 10) == "up"
        assert line.report()["sms"] == "ready"
        line.send_sms("0912345678", text)
        with pytest.raises(SmsError, match="70"):
            line.send_sms("0912345678", "x" * 71)
    finally:
        line.close()
    assert sim.sms_sent == [("0912345678", text)]
    assert sim.commands[-1] == 'AT+CSCS="GSM"'  # back to plain text for the next +CLIP


def test_sms_is_refused_during_a_call_and_the_line_closes_hanging_up(
    sims: list[ModemSimulator], tmp_path: Path,
) -> None:
    sim = simulator(sims, tmp_path, "sim800")
    box, far = Box(), Far()
    line = line_for(sim, box)
    try:
        assert line.wait_state(("up", "down"), 10) == "up"
        sim.ring("0912345678", far)
        assert box.answered.wait(5)
        with pytest.raises(SmsError, match="call"):
            line.send_sms("0912345678", "test")
    finally:
        started = time.monotonic()
        line.close()
        closing_s = time.monotonic() - started
    assert far.hung_up.wait(5) and "ATH" in sim.commands  # SIM800 hangs up with ATH
    assert closing_s < 2.0
    assert not any(isinstance(event, RemoteHangup) for event in box.events)


def test_usb_pcm_needs_a_modem_with_pcm_and_an_audio_port() -> None:
    with pytest.raises(GsmError, match="no USB PCM"):
        GsmLine("gsm0", "/dev/null", profile="sim800", prompts=PROMPTS, post=lambda a: a(), audio="usb-pcm",
                audio_port="/dev/null")
    with pytest.raises(GsmError, match="audio_port"):
        GsmLine("gsm0", "/dev/null", profile="ec25", prompts=PROMPTS, post=lambda a: a(), audio="usb-pcm")
    with pytest.raises(GsmError, match="unknown modem profile"):
        GsmLine("gsm0", "/dev/null", profile="sim900", prompts=PROMPTS, post=lambda a: a())


def test_spy_url_writes_a_wire_trace(sims: list[ModemSimulator], tmp_path: Path) -> None:
    sim = simulator(sims, tmp_path)
    trace = tmp_path / "wire.txt"
    line = line_for(sim, port=f"spy://{sim.port}?file={trace}")
    try:
        assert line.wait_state(("up", "down"), 10) == "up"
    finally:
        line.close()
    assert "ATE0" in trace.read_text()


def test_a_missing_port_keeps_the_line_down_and_retrying(tmp_path: Path) -> None:
    line = GsmLine("gsm0", str(tmp_path / "no-modem"), profile="ec25", prompts=PROMPTS, post=lambda a: a(),
                   prompt_ids=PLAYABLE, timings=FAST)
    line.start()
    try:
        assert line.wait_state(("down",), 10) == "down"
        assert "cannot open" in line.report()["last_error"]
        with pytest.raises(SmsError, match="down"):
            line.send_sms("0912345678", "test")
    finally:
        line.close()
    assert line.report()["state"] == "stopped"
