"""A box's own recordings (`override_dir`) win over the shipped files in every path and format of the catalog."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from voice_prompts import PromptError
from voice_prompts.catalog import PromptCatalog, box_recordings


def test_override_wins_for_path_duration_and_pcm_formats_only_for_its_id(tmp_path: Path) -> None:
    shipped = PromptCatalog.load()
    recorded = box_recordings(tmp_path)
    assert recorded == tmp_path / "prompts" / "recorded"
    recorded.mkdir(parents=True)
    shutil.copyfile(shipped.path("menu"), recorded / "welcome.wav")  # another prompt's audio as welcome's
    box = PromptCatalog.load(override_dir=recorded)
    assert box.overrides() == ["welcome"]
    assert box.path("welcome") == recorded / "welcome.wav" and box.path("menu") == shipped.path("menu")
    assert box.duration("welcome") == shipped.duration("menu") != shipped.duration("welcome")
    for fmt in ("wav", "s16le", "u8", "ulaw", "alaw"):
        assert box.audio("welcome", fmt) == shipped.audio("menu", fmt)
        assert box.audio("ask_code", fmt) == shipped.audio("ask_code", fmt)
    with pytest.raises(PromptError, match="welcome.amr is missing"):  # never the shipped AMR of other audio
        box.audio("welcome", "amr")
    shutil.copyfile(shipped.amr_path("menu"), recorded / "welcome.amr")
    assert PromptCatalog.load(override_dir=recorded).audio("welcome", "amr") == shipped.audio("menu", "amr")


def test_an_amr_alone_or_a_stray_name_overrides_nothing(tmp_path: Path) -> None:
    shipped = PromptCatalog.load()
    tmp_path.joinpath("welcome.amr").write_bytes(b"#!AMR\n")
    tmp_path.joinpath("not_a_prompt.wav").write_bytes(b"RIFF")
    box = PromptCatalog.load(override_dir=tmp_path)
    assert box.overrides() == []
    assert box.audio("welcome", "amr") == shipped.audio("welcome", "amr")
    assert PromptCatalog.load(override_dir=tmp_path / "missing").overrides() == []
