"""`config install` and `prompts install|revert` over the pty console, files uploaded by lrzsz's sb."""
from __future__ import annotations

import shutil
import sys
import subprocess
import time
from pathlib import Path

import pytest

from provisioning.console.context import Context

from serial_cable import Cable
from test_console import Technician, audit_actions, box  # noqa: F401  (the pty console fixture)

pytestmark = pytest.mark.skipif(not shutil.which("sb"), reason="lrzsz is not installed")

Box = tuple[Cable, Technician, Context]


def upload(cable: Cable, tech: Technician, folder: Path, *names: str) -> None:
    tech.command("receive", r"Waiting 15 s for the sender")
    time.sleep(0.2)
    sb = subprocess.run(["sb", "-k", *names], stdin=cable.laptop_fd, stdout=cable.laptop_fd,
                        stderr=subprocess.DEVNULL, cwd=folder, timeout=60)
    assert sb.returncode == 0
    tech.wait_for(r"in all\)\r\nresetline# $", timeout=20)


def test_config_install_validates_keeps_the_old_file_and_undoes(box: Box, tmp_path: Path) -> None:
    cable, tech, ctx = box
    config = ctx.settings.config_path
    assert config is not None
    old = config.read_bytes()
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    good = '[box]\nname = "bhxh-q3"\n\n[call]\nmenu_timeout_s = 11\n\n[[line]]\nname = "sim0"\nkind = "sim"\n'
    (laptop / "box-q3.toml").write_text(good, encoding="utf-8")
    (laptop / "bad-key.toml").write_text(good.replace("menu_timeout_s", "menu_timeout_seconds"), encoding="utf-8")
    (laptop / "latin1.toml").write_bytes(b'[box]\nname = "Qu\xe2n 3"\n')  # Latin-1, not UTF-8
    (laptop / "big.toml").write_text("# x\n" * 80_000, encoding="utf-8")
    tech.login()
    upload(cable, tech, laptop, "box-q3.toml", "bad-key.toml", "latin1.toml", "big.toml")

    refused = tech.command("config install bad-key.toml")
    assert "Not changed" in refused and "menu_timeout_seconds" in refused
    assert "not UTF-8" in tech.command("config install latin1.toml")
    assert "at most 262144" in tech.command("config install big.toml")
    assert "no file 'nope.toml'" in tech.command("config install nope.toml")
    assert "../etc/passwd" in tech.command("config install ../etc/passwd")
    assert config.read_bytes() == old and not config.with_name("box.toml.previous").exists()

    shown = tech.command("config install box-q3.toml")
    assert "Installed box-q3.toml" in shown and "systemctl restart resetline" in shown
    assert config.read_text(encoding="utf-8") == good
    assert config.with_name("box.toml.previous").read_bytes() == old
    assert "menu_timeout_s = 11" in tech.command("config show")
    assert "install NAME | undo" in tech.command("help config")
    assert "Installed box.toml.previous" in tech.command("config undo")
    assert config.read_bytes() == old
    actions = audit_actions(ctx)
    assert actions.count("config_install_refused") == 5
    assert actions[-2:] == ["config_install", "config_undo"]


def write_wav(path: Path, *, rate: int = 8000, channels: int = 1, amplitude: float = 0.2, seconds: float = 1.2,
              lead_s: float = 0.0) -> None:
    import wave

    import numpy as np
    t = np.arange(int(rate * seconds)) / rate
    tone = amplitude * 32767 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 3 * t) ** 2
    samples = np.clip(np.concatenate([np.zeros(int(rate * lead_s)), tone]), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(samples, channels).tobytes())


@pytest.mark.skipif(not shutil.which("sox"), reason="sox is not installed")
def test_prompt_recording_installed_checked_played_and_reverted(box: Box, tmp_path: Path) -> None:
    from firmware.appliance import Appliance
    from firmware.config import Config
    from voice_prompts.catalog import PromptCatalog, box_recordings
    cable, tech, ctx = box
    state = ctx.settings.state_dir
    shipped = PromptCatalog.load()
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    write_wav(laptop / "ask_code.wav", amplitude=0.25)
    write_wav(laptop / "cd.wav", rate=44100, channels=2)
    write_wav(laptop / "quiet.wav", amplitude=0.01)
    write_wav(laptop / "late.wav", lead_s=0.5)
    write_wav(laptop / "loud.wav", amplitude=1.3)
    tech.login()
    upload(cable, tech, laptop, "ask_code.wav", "cd.wav", "quiet.wav", "late.wav", "loud.wav")

    assert "sample rate 44100 Hz" in tech.command("prompts install cd.wav ask_code")
    assert "RMS" in tech.command("prompts install quiet.wav ask_code")
    assert "ms of leading silence" in tech.command("prompts install late.wav ask_code")
    assert "clipped" in tech.command("prompts install loud.wav ask_code")
    unknown = tech.command("prompts install cd.wav")
    assert "no prompt 'cd'" in unknown and "ask_code" in unknown
    assert "no prompt 'nope'" in tech.command("prompts install ask_code.wav nope")
    recorded = box_recordings(state)
    assert not recorded.exists() or not any(recorded.iterdir())

    shown = tech.command("prompts install ask_code.wav", timeout=30)
    assert "Installed ask_code.wav as prompt ask_code (1.20 s)" in shown and "systemctl restart" in shown
    new = (laptop / "ask_code.wav").read_bytes()
    assert (recorded / "ask_code.wav").read_bytes() == new
    checked = tech.command("prompts check", timeout=60)
    assert "OK: 29 prompt files" in checked and "own recording" in checked and "ask_code" in checked

    daemon = Appliance(Config(), state)  # the daemon's composition root plays the override, in every format
    try:
        for fmt in ("wav", "s16le", "ulaw", "alaw", "amr"):
            assert daemon.prompts.audio("ask_code", fmt) != shipped.audio("ask_code", fmt), fmt
            assert daemon.prompts.audio("change_password", fmt) == shipped.audio("change_password", fmt), fmt
        assert daemon.prompts.audio("ask_code", "wav") == new
        assert abs(daemon.prompts.duration("ask_code") - 1.2) < 0.01
    finally:
        daemon.journal.close()

    assert "already plays the shipped" in tech.command("prompts revert change_password")
    assert "plays the shipped recording again" in tech.command("prompts revert ask_code")
    assert not (recorded / "ask_code.wav").exists() and not (recorded / "ask_code.amr").exists()
    assert PromptCatalog.load(override_dir=recorded).audio("ask_code", "amr") == shipped.audio("ask_code", "amr")
    actions = audit_actions(ctx)
    assert actions.count("prompts_install_refused") == 6
    assert actions[-2:] == ["prompts_install", "prompts_revert"]


def test_prompts_check_with_state_dir_checks_the_overrides_the_box_plays(tmp_path: Path) -> None:
    from voice_prompts.catalog import box_recordings
    recorded = box_recordings(tmp_path / "state")
    recorded.mkdir(parents=True)
    cli = [str(Path(sys.executable).with_name("resetline")), "prompts", "check", "--state-dir", str(tmp_path / "state")]
    assert subprocess.run(cli, capture_output=True, text=True, timeout=60).returncode == 0
    write_wav(recorded / "ask_code.wav", rate=16000)  # dropped in by hand, past `prompts install`
    write_wav(recorded / "typo_id.wav")
    run = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "ask_code (override ask_code.wav): sample rate 16000 Hz" in run.stdout
    assert "recorded/typo_id.wav: stray file" in run.stdout
    plain = subprocess.run(cli[:3], capture_output=True, text=True, timeout=60)  # without --state-dir: shipped only
    assert plain.returncode == 0 and "own recording" not in plain.stdout
