"""Fixtures shared by the integration tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import voice_prompts

PACKAGE_DIR = Path(voice_prompts.__file__).resolve().parent


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A copy of the shipped catalog directory (manifest.toml, wav/ and amr/) that a test may change."""
    root = tmp_path / "catalog"
    root.mkdir()
    shutil.copy(PACKAGE_DIR / "manifest.toml", root / "manifest.toml")
    shutil.copytree(PACKAGE_DIR / "wav", root / "wav")
    shutil.copytree(PACKAGE_DIR / "amr", root / "amr")
    return root
