"""`config install` and `prompts install|revert` over the pty console, files uploaded by lrzsz's sb."""
from __future__ import annotations

import shutil
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
