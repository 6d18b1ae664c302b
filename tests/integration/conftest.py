"""Fixtures shared by the integration tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import voice_prompts
from provisioning.snapshot_import import import_csv

PACKAGE_DIR = Path(voice_prompts.__file__).resolve().parent
ACCOUNTS = Path(__file__).resolve().parents[2] / "examples" / "accounts.csv"


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A copy of the shipped catalog directory (manifest.toml, wav/ and amr/) that a test may change."""
    root = tmp_path / "catalog"
    root.mkdir()
    shutil.copy(PACKAGE_DIR / "manifest.toml", root / "manifest.toml")
    shutil.copytree(PACKAGE_DIR / "wav", root / "wav")
    shutil.copytree(PACKAGE_DIR / "amr", root / "amr")
    return root


@pytest.fixture(scope="module")
def accounts_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/accounts.csv imported once per test module (the GSM and V.253 call benches)."""
    state = tmp_path_factory.mktemp("accounts")
    import_csv(ACCOUNTS, state)
    return state


@pytest.fixture
def state_dir(accounts_state: Path, tmp_path: Path) -> Path:
    """A copy of `accounts_state` that one test may change."""
    state = tmp_path / "state"
    shutil.copytree(accounts_state, state)
    return state
