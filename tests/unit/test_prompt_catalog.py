"""The prompt catalog against the real manifest and rendered files, and against broken copies of it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import voice_prompts
from voice_prompts import PromptError
from voice_prompts.catalog import Prompt, PromptCatalog

PACKAGE_DIR = Path(voice_prompts.__file__).resolve().parent

FLOW_IDS = [
    "welcome", "menu", "ask_code", "invalid_code", "invalid_final", "no_caller_id", "mismatch",
    "locked", "new_password", "repeat", "change_password", "goodbye", "error",
]
UNIT_IDS = [f"d{digit}" for digit in range(10)] + ["l_h", "l_k", "l_m", "l_x"]
PAUSE_IDS = ["pause_char", "pause_group"]
ALL_IDS = FLOW_IDS + UNIT_IDS + PAUSE_IDS


@pytest.fixture(scope="module")
def catalog() -> PromptCatalog:
    return PromptCatalog.load()


@pytest.fixture
def manifest_copy(tmp_path: Path) -> Path:
    """A catalog directory holding a copy of the real manifest (and no wav/)."""
    shutil.copy(PACKAGE_DIR / "manifest.toml", tmp_path / "manifest.toml")
    return tmp_path


def test_default_root_is_the_package_directory(catalog: PromptCatalog) -> None:
    assert catalog.root == PACKAGE_DIR


def test_exactly_the_ids_the_call_flow_plays(catalog: PromptCatalog) -> None:
    assert catalog.ids() == ALL_IDS
    for prompt_id in ALL_IDS:
        assert prompt_id in catalog
    assert "nope" not in catalog
    assert 8 not in catalog


def test_sets_and_synthesis_settings(catalog: PromptCatalog) -> None:
    for prompt_id in FLOW_IDS + UNIT_IDS:
        prompt = catalog.prompt(prompt_id)
        assert prompt.set == ("flow" if prompt_id in FLOW_IDS else "units")
        assert prompt.speed > 0 and prompt.silence_ms == 0 and prompt.tts
    assert catalog.prompt("pause_char") == Prompt("pause_char", "pause", "", "", 0, 200)
    assert catalog.prompt("pause_group").silence_ms == 500


def test_display_and_tts_texts(catalog: PromptCatalog) -> None:
    assert catalog.text("mismatch") == (
        "Số điện thoại và mã số bảo hiểm xã hội không khớp hoặc chưa đăng ký với cơ quan Bảo hiểm xã hội."
    )
    menu = catalog.prompt("menu")
    assert menu.display == "Cấp lại mật khẩu VssID, bấm phím 8."
    assert "vê ét ét ai đi" in menu.tts and "tám" in menu.tts and "8" not in menu.tts
    assert "mười" in catalog.prompt("ask_code").tts
    assert catalog.prompt("welcome").tts == catalog.text("welcome")
    assert [catalog.prompt(f"d{digit}").display for digit in range(10)] == list("0123456789")
    assert catalog.prompt("l_m").tts == "chữ em mờ"
    closing = catalog.text("change_password")
    assert "VssID" in closing and "không bao giờ" in closing


def test_every_file_has_a_positive_duration(catalog: PromptCatalog) -> None:
    for prompt_id in ALL_IDS:
        assert catalog.path(prompt_id) == PACKAGE_DIR / "wav" / f"{prompt_id}.wav"
        assert catalog.duration(prompt_id) > 0
    assert catalog.duration("pause_char") == pytest.approx(0.2)
    assert catalog.duration("pause_group") == pytest.approx(0.5)


def test_unknown_id_is_a_prompt_error(catalog: PromptCatalog) -> None:
    for call in (catalog.prompt, catalog.text, catalog.path, catalog.duration):
        with pytest.raises(PromptError, match="unknown prompt id 'no_such_prompt'"):
            call("no_such_prompt")


def test_missing_file_is_a_prompt_error(manifest_copy: Path) -> None:
    catalog = PromptCatalog.load(manifest_copy)
    with pytest.raises(PromptError, match="welcome.*missing"):
        catalog.path("welcome")
    with pytest.raises(PromptError, match="missing"):
        catalog.duration("welcome")


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('[prompts.menu]\nset = "flow"\nspeed = 185', '[prompts.menu]\nset = "flow"\nspeed = "fast"',
         "prompts.menu.speed"),
        ('[prompts.goodbye]\nset = "flow"', '[prompts.goodbye]\nset = "speech"', "prompts.goodbye.set"),
        ('[prompts.locked]\nset = "flow"\nspeed = 185\n', '[prompts.locked]\nset = "flow"\n',
         "prompts.locked.speed"),
        ('display = "Xin cảm ơn."', 'text = "Xin cảm ơn."', "prompts.goodbye"),
        ("silence_ms = 200", "silence_ms = 0", "prompts.pause_char.silence_ms"),
        ("amplitude = 70", "amplitude = 70.5", "render.amplitude"),
        ("units = { head = 10, tail = 10 }", "units = { head = 10 }", "render.pad_ms.units"),
        ('[prompts.d0]\nset = "units"\nspeed = 155\ndisplay = "0"\ntts = "không"',
         '[prompts.d0]\nset = "units"\nspeed = 155\ndisplay = "0"\ntts = 0', "prompts.d0.tts"),
    ],
)
def test_malformed_manifest_names_the_key(manifest_copy: Path, old: str, new: str, named: str) -> None:
    manifest = manifest_copy / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text, "the test's anchor is no longer in the manifest"
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PromptError, match=named.replace(".", r"\.")):
        PromptCatalog.load(manifest_copy)


def test_invalid_toml_and_missing_manifest(manifest_copy: Path, tmp_path: Path) -> None:
    manifest = manifest_copy / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "\n[prompts.welcome\n", encoding="utf-8")
    with pytest.raises(PromptError, match="not valid TOML"):
        PromptCatalog.load(manifest_copy)
    with pytest.raises(PromptError, match="cannot read"):
        PromptCatalog.load(tmp_path / "nowhere")


def test_voice_prompts_is_a_leaf_package() -> None:
    """Importing every module of voice_prompts pulls in none of firmware, drivers, provisioning."""
    code = (
        "import sys, voice_prompts.catalog, voice_prompts.render, voice_prompts.check, voice_prompts.commands\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('firmware', 'drivers', 'provisioning'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE_DIR.parent,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
