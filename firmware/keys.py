"""Key files: the box's ``<state>/keys`` (0o700; local secrets 0o600, central's public keys) and central's pairs.

Key files are text, one key per file: **64 hex characters** (what ``write_keypair``
writes), or the standard base64 of the 32 key bytes; blank lines and lines starting
with ``#`` are ignored. Local secrets such as ``lockout.key`` are raw random bytes.
Secret files are created atomically and never overwritten: a temporary file (0o600)
is written and fsynced, then hard-linked into place, so two processes racing to
create the same key end up sharing the first one. No key material is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat
from pathlib import Path

import nacl.public
import nacl.signing

from firmware import FirmwareError
from firmware.atomic import fsync_dir

log = logging.getLogger(__name__)

KEY_SIZE = 32
DEV_CENTRAL_PRIVATE = "dev-central.key"
DEV_CENTRAL_PUBLIC = "dev-central.pub"


class KeyFileError(FirmwareError):
    """A key file is missing, malformed, or readable by more than the service."""


def keys_dir(state_dir: Path) -> Path:
    """``<state>/keys``, created 0o700 (and tightened to 0o700 if found looser)."""
    path = Path(state_dir) / "keys"
    try:
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != 0o700:
            if mode & 0o077:
                log.warning("key directory %s had mode %o; tightening to 700", path, mode)
            path.chmod(0o700)
    except OSError as exc:
        raise KeyFileError(f"cannot prepare key directory {path}: {exc.strerror or exc}") from exc
    return path


def _publish(path: Path, data: bytes, mode: int) -> bool:
    """Atomically create ``path`` with ``data``; False (and nothing written) if it exists."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with open(fd, "wb") as handle:
        os.fchmod(fd, mode)  # exact mode, whatever the umask
        handle.write(data)
        handle.flush()
        os.fsync(fd)
    try:
        os.link(tmp, path)  # unlike rename, never replaces a key another process made
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
    return True


def _read_private_file(path: Path) -> bytes:
    """Read a secret file, refusing symlinks, non-regular files and group/other bits."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} does not exist") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot open key file {path}: {exc.strerror or exc}") from exc
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"key file {path} has mode {mode:o}, readable beyond the service; if nobody else "
                f"could have read it run `chmod 600 {path}`, otherwise delete it and provision a new key"
            )
        return handle.read()


def _check_name(name: str) -> None:
    if not name or name.startswith(".") or "/" in name or "\0" in name:
        raise KeyFileError(f"invalid key file name {name!r}: use a plain name such as 'lockout.key'")


def load_or_create_secret(state_dir: Path, name: str, size: int = 32) -> bytes:
    """The random secret ``<state>/keys/<name>``, created on first use from ``secrets``."""
    _check_name(name)
    if size < 16:
        raise KeyFileError(f"secret {name} would be {size} bytes; use at least 16")
    path = keys_dir(state_dir) / name
    if not path.exists():
        try:
            created = _publish(path, secrets.token_bytes(size), 0o600)
        except OSError as exc:
            raise KeyFileError(f"cannot create secret {path}: {exc.strerror or exc}") from exc
        if created:
            log.info("created new secret %s (%d bytes)", path, size)
    data = _read_private_file(path)
    if len(data) != size:
        raise KeyFileError(
            f"secret {path} holds {len(data)} bytes, expected {size}; it is damaged or not ours: "
            "delete it to have a new one generated (whatever it keyed starts afresh)"
        )
    return data


def _decode_key_text(path: Path, raw: bytes) -> bytes:
    """32 key bytes from hex or base64 text; errors name the file, never its content."""
    expected = f"key file {path}: expected 64 hex characters or base64 of {KEY_SIZE} bytes"
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"{expected}, found binary data") from exc
    lines = [ln.strip() for ln in text.splitlines()]
    body = "".join(ln for ln in lines if ln and not ln.startswith("#"))
    try:
        if len(body) == 2 * KEY_SIZE:
            key = bytes.fromhex(body)
        else:
            key = base64.b64decode(body, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise KeyFileError(f"{expected}; the text is neither") from exc
    if len(key) != KEY_SIZE:
        raise KeyFileError(f"{expected}, found {len(key)} bytes")
    return key


def _encode_key_text(key: bytes, comment: str) -> bytes:
    return f"# {comment}\n{key.hex()}\n".encode("ascii")


def load_central_public_key(path: Path | None, state_dir: Path) -> tuple[nacl.public.PublicKey, bool]:
    """Central's sealing key, and whether it is a local development stand-in.

    With ``path`` None a development key pair is created once under ``<state>/keys``
    and reused; resets sealed to it can be opened on this box only, never by central.
    """
    if path is not None:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read central public key {path}: {exc.strerror or exc}") from exc
        return nacl.public.PublicKey(_decode_key_text(Path(path), raw)), False
    directory = keys_dir(state_dir)
    private_path = directory / DEV_CENTRAL_PRIVATE
    public_path = directory / DEV_CENTRAL_PUBLIC
    if not private_path.exists():
        try:
            write_keypair(private_path, public_path)
        except KeyFileError:
            if not private_path.exists():  # not a lost race with another process
                raise
    private = load_central_private_key(private_path)
    public = private.public_key
    if not public_path.exists():
        _write_public(public_path, bytes(public))
    elif load_central_public_key(public_path, state_dir)[0] != public:
        raise KeyFileError(f"{public_path} does not match {private_path}; delete {public_path} to rewrite it")
    log.warning(
        "no central public key configured: resets are sealed to the development key %s, "
        "which central cannot open",
        public_path,
    )
    return public, True


def load_central_private_key(path: Path) -> nacl.public.PrivateKey:
    """A private sealing key (central tools, tests, the development pair)."""
    path = Path(path)
    return nacl.public.PrivateKey(_decode_key_text(path, _read_private_file(path)))


def _write_public(path: Path, public: bytes, label: str = "resetline central public key (hex)") -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        tmp.write_bytes(_encode_key_text(public, label))
        tmp.chmod(0o644)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KeyFileError(f"cannot write public key {path}: {exc.strerror or exc}") from exc


def _write_private(path: Path, private: bytes, label: str) -> None:
    """A new private key file, 0o600 in a 0o700 directory; never overwrites one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = _publish(path, _encode_key_text(private, label), 0o600)
    except OSError as exc:
        raise KeyFileError(f"cannot write private key {path}: {exc.strerror or exc}") from exc
    if not created:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a private key")


def write_keypair(private_path: Path, public_path: Path) -> None:
    """Generate a sealing key pair: private 0o600 (never overwritten), public 0o644."""
    private = nacl.public.PrivateKey.generate()
    _write_private(Path(private_path), bytes(private), "resetline central PRIVATE key (hex) - keep secret")
    _write_public(Path(public_path), bytes(private.public_key))


# Central's Ed25519 signing pair: central signs snapshots with signing.key; boxes verify with signing.pub.
CENTRAL_KEY_FILES = ("signing.key", "signing.pub", "sealing.key", "sealing.pub")


def write_signing_keypair(private_path: Path, public_path: Path) -> None:
    """Generate an Ed25519 signing pair: private 0o600 (never overwritten), public 0o644."""
    private = nacl.signing.SigningKey.generate()
    _write_private(Path(private_path), bytes(private),
                   "resetline central PRIVATE signing key (Ed25519 seed, hex) - keep secret")
    _write_public(Path(public_path), bytes(private.verify_key), "resetline central signing public key (hex)")


def write_central_keys(directory: Path) -> list[Path]:
    """Central's four key files in ``directory`` (0o700); refuses to replace any existing one."""
    directory = Path(directory)
    paths = [directory / name for name in CENTRAL_KEY_FILES]
    present = [str(p) for p in paths if p.exists()]
    if present:
        raise KeyFileError(f"refusing to overwrite existing key files: {', '.join(present)}")
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)
    except OSError as exc:
        raise KeyFileError(f"cannot prepare key directory {directory}: {exc.strerror or exc}") from exc
    write_signing_keypair(paths[0], paths[1])
    write_keypair(paths[2], paths[3])
    return paths


def load_signing_key(path: Path) -> nacl.signing.SigningKey:
    """Central's private signing key (owner-only file)."""
    path = Path(path)
    return nacl.signing.SigningKey(_decode_key_text(path, _read_private_file(path)))


def load_verify_key(path: Path) -> nacl.signing.VerifyKey:
    """Central's public signing key, as the box verifies snapshots with it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read public key {path}: {exc.strerror or exc}") from exc
    return nacl.signing.VerifyKey(_decode_key_text(path, raw))
