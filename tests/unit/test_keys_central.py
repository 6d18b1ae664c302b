"""`central keygen`'s key files: owner-only secrets, never overwritten, and pairs that work together."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.public
import pytest

from firmware.keys import (
    KeyFileError, load_central_private_key, load_central_public_key, load_signing_key, load_verify_key,
    write_central_keys,
)
from firmware.sealing import seal, unseal


@pytest.fixture()
def open_umask() -> object:
    old = os.umask(0)
    yield None
    os.umask(old)


def test_keygen_writes_four_files_private_ones_owner_only(tmp_path: Path, open_umask: object) -> None:
    paths = write_central_keys(tmp_path / "central")
    assert [p.name for p in paths] == ["signing.key", "signing.pub", "sealing.key", "sealing.pub"]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in paths}
    assert modes == {"signing.key": 0o600, "signing.pub": 0o644, "sealing.key": 0o600, "sealing.pub": 0o644}
    assert stat.S_IMODE((tmp_path / "central").stat().st_mode) == 0o700


def test_the_pairs_belong_together(tmp_path: Path) -> None:
    write_central_keys(tmp_path)
    signer, verifier = load_signing_key(tmp_path / "signing.key"), load_verify_key(tmp_path / "signing.pub")
    assert verifier.verify(signer.sign(b"snapshot")) == b"snapshot"
    public, development = load_central_public_key(tmp_path / "sealing.pub", tmp_path)
    assert not development
    blob = seal(public, {"kind": "reset"})
    assert unseal(load_central_private_key(tmp_path / "sealing.key"), blob) == {"kind": "reset"}
    assert isinstance(public, nacl.public.PublicKey)


def test_keygen_refuses_to_overwrite_any_key(tmp_path: Path) -> None:
    write_central_keys(tmp_path)
    before = (tmp_path / "signing.key").read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite existing key files"):
        write_central_keys(tmp_path)
    assert (tmp_path / "signing.key").read_bytes() == before


def test_a_signing_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    write_central_keys(tmp_path)
    (tmp_path / "signing.key").chmod(0o644)
    with pytest.raises(KeyFileError, match="readable beyond the service"):
        load_signing_key(tmp_path / "signing.key")
