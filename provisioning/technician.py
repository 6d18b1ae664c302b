"""The technician's credential: a PIN or passphrase stored only as a salted scrypt hash with its parameters.

`<state>/keys/technician.scrypt` (0600, in the 0700 key directory) holds one JSON object:
`{"kdf": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": hex, "hash": hex, "set_at": unix seconds}`. The file is
replaced atomically (temporary file, fsync, rename). The secret itself is never stored, printed or logged.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from firmware.keys import keys_dir

from firmware.atomic import replace_file

CREDENTIAL_FILE = "technician.scrypt"
MIN_LENGTH = 6
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~0.1 s per check here: slow enough to hurt guessing
HASH_BYTES = 32


class CredentialError(Exception):
    """No credential, a damaged file, or a PIN refused as too weak; the message says what to do."""


@dataclass(frozen=True)
class Credential:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes
    set_at: float

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(_derive(secret, self.salt, self.n, self.r, self.p), self.digest)


def credential_path(state_dir: Path) -> Path:
    return Path(state_dir) / "keys" / CREDENTIAL_FILE


def weakness(secret: str) -> str | None:
    """Why `secret` is too weak to protect the console (None when it is acceptable)."""
    if not all(" " <= ch <= "~" for ch in secret):
        return ("use only unaccented letters, digits, spaces and punctuation: a serial terminal cannot type "
                "Vietnamese letters or control keys into the console")
    if len(secret) < MIN_LENGTH:
        return f"too short: use at least {MIN_LENGTH} characters (digits, letters or a passphrase)"
    if len(set(secret)) == 1:
        return "one character repeated: choose something harder to guess"
    if secret.isdigit():
        steps = {int(b) - int(a) for a, b in zip(secret, secret[1:])}
        if steps in ({1}, {-1}):
            return "a run of consecutive digits: choose something harder to guess"
    return None


def _derive(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES,
                          maxmem=256 * r * n)


def set_credential(state_dir: Path, secret: str, *, now: float | None = None) -> Path:
    """Hash and store a new credential, replacing any old one; raises CredentialError for a weak secret."""
    why = weakness(secret)
    if why:
        raise CredentialError(f"PIN refused: {why}")
    salt = secrets.token_bytes(16)
    record = {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex(),
              "hash": _derive(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P).hex(),
              "set_at": time.time() if now is None else now}
    path = keys_dir(state_dir) / CREDENTIAL_FILE
    try:
        replace_file(path, json.dumps(record).encode("ascii"), 0o600)
    except OSError as exc:
        raise CredentialError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def load_credential(state_dir: Path) -> Credential:
    path = credential_path(state_dir)
    try:
        info = path.stat()
        raw = json.loads(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        raise CredentialError("no technician PIN is set on this box; an administrator runs "
                              f"`resetline technician set-pin --state-dir {state_dir}`") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CredentialError(f"technician credential {path} is unreadable or damaged ({exc}); set the PIN again")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise CredentialError(f"technician credential {path} is readable by others; set the PIN again")
    try:
        if raw["kdf"] != "scrypt":
            raise ValueError(f"unknown kdf {raw['kdf']!r}")
        return Credential(int(raw["n"]), int(raw["r"]), int(raw["p"]), bytes.fromhex(raw["salt"]),
                          bytes.fromhex(raw["hash"]), float(raw["set_at"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CredentialError(f"technician credential {path} is damaged ({exc}); set the PIN again") from None
