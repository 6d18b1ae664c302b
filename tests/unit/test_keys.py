"""Key files as a technician meets them: permissions, formats, the development key pair."""

from __future__ import annotations

import base64
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import nacl.public
import pytest

from firmware.keys import (
    KeyFileError,
    keys_dir,
    load_central_private_key,
    load_central_public_key,
    load_or_create_secret,
    write_keypair,
)
from firmware.sealing import seal, unseal


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A permissive umask, so the modes asserted below come from the code, not the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_keys_dir_is_private_even_if_found_open(tmp_path: Path, open_umask: None) -> None:
    directory = keys_dir(tmp_path / "state")
    assert directory == tmp_path / "state" / "keys"
    assert _mode(directory) == 0o700
    directory.chmod(0o755)
    keys_dir(tmp_path / "state")
    assert _mode(directory) == 0o700


def test_secret_created_once_private_and_reused(tmp_path: Path, open_umask: None) -> None:
    first = load_or_create_secret(tmp_path, "lockout.key")
    path = tmp_path / "keys" / "lockout.key"
    assert len(first) == 32
    assert _mode(path) == 0o600
    assert path.read_bytes() == first
    assert load_or_create_secret(tmp_path, "lockout.key") == first
    assert load_or_create_secret(tmp_path, "other.key") != first
    assert sorted(p.name for p in path.parent.iterdir()) == ["lockout.key", "other.key"]  # no temp files left


def test_world_readable_secret_is_refused_with_advice(tmp_path: Path) -> None:
    load_or_create_secret(tmp_path, "lockout.key")
    path = tmp_path / "keys" / "lockout.key"
    path.chmod(0o644)
    with pytest.raises(KeyFileError) as caught:
        load_or_create_secret(tmp_path, "lockout.key")
    message = str(caught.value)
    assert str(path) in message and "644" in message and "chmod 600" in message


def test_wrong_size_symlink_and_bad_names_are_refused(tmp_path: Path) -> None:
    load_or_create_secret(tmp_path, "short.key", size=16)
    with pytest.raises(KeyFileError, match="holds 16 bytes, expected 32"):
        load_or_create_secret(tmp_path, "short.key")
    target = tmp_path / "elsewhere"
    target.write_bytes(b"x" * 32)
    target.chmod(0o600)
    (tmp_path / "keys" / "link.key").symlink_to(target)
    with pytest.raises(KeyFileError, match="link.key"):
        load_or_create_secret(tmp_path, "link.key")
    for bad in ("../escape.key", "", ".hidden"):
        with pytest.raises(KeyFileError, match="invalid key file name"):
            load_or_create_secret(tmp_path, bad)
    assert not (tmp_path / "escape.key").exists()


def test_dev_central_key_pair_created_once_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, open_umask: None
) -> None:
    caplog.set_level(logging.WARNING, logger="firmware.keys")
    public, is_dev = load_central_public_key(None, tmp_path)
    assert is_dev is True
    private_path = tmp_path / "keys" / "dev-central.key"
    assert _mode(private_path) == 0o600
    assert _mode(tmp_path / "keys" / "dev-central.pub") == 0o644
    assert "development key" in caplog.text and "central cannot open" in caplog.text

    caplog.clear()
    again, is_dev_again = load_central_public_key(None, tmp_path)
    assert (again, is_dev_again) == (public, True)
    assert "development key" in caplog.text  # warned on every use, not only on creation

    private = load_central_private_key(private_path)
    assert unseal(private, seal(public, {"password": "12345678"})) == {"password": "12345678"}
    assert bytes(private).hex() not in caplog.text and bytes(public).hex() not in caplog.text


def test_public_key_formats(tmp_path: Path) -> None:
    key = nacl.public.PrivateKey.generate().public_key
    raw = bytes(key)
    forms = {
        "hex.pub": raw.hex().encode() + b"\n",
        "upper.pub": b"# central, region 79\n\n" + raw.hex().upper().encode() + b"\n",
        "b64.pub": base64.b64encode(raw) + b"\n",
    }
    for name, content in forms.items():
        (tmp_path / name).write_bytes(content)
        assert load_central_public_key(tmp_path / name, tmp_path) == (key, False), name
    assert not (tmp_path / "keys").exists()  # a configured key needs no development pair

    broken = {
        "raw.pub": (raw, "binary data"),
        "short.pub": (raw.hex()[:-2].encode(), "neither"),
        "b64short.pub": (base64.b64encode(raw[:16]), "found 16 bytes"),
    }
    for name, (content, reason) in broken.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(KeyFileError, match=reason) as caught:
            load_central_public_key(tmp_path / name, tmp_path)
        assert name in str(caught.value)
    with pytest.raises(KeyFileError, match="missing.pub"):
        load_central_public_key(tmp_path / "missing.pub", tmp_path)


def test_write_keypair_never_overwrites_a_private_key(tmp_path: Path, open_umask: None) -> None:
    private_path, public_path = tmp_path / "central" / "seal.key", tmp_path / "central" / "seal.pub"
    write_keypair(private_path, public_path)
    assert _mode(private_path) == 0o600 and _mode(public_path) == 0o644
    original = private_path.read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        write_keypair(private_path, public_path)
    assert private_path.read_bytes() == original
    private = load_central_private_key(private_path)
    assert load_central_public_key(public_path, tmp_path)[0] == private.public_key

    private_path.chmod(0o640)
    with pytest.raises(KeyFileError, match="mode 640"):
        load_central_private_key(private_path)
