"""Sealing resets for central, and the keyed buckets that lockout counters are kept under.

A reset leaves the box only as a ``nacl.public.SealedBox`` addressed to central's
public key: the box itself cannot open what it sealed, so a stolen SD card yields
no passwords from the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import nacl.exceptions
import nacl.public

from firmware import FirmwareError

BUCKET_BITS = 24
_BUCKET_HEX = BUCKET_BITS // 4


class SealingError(FirmwareError):
    """A payload could not be sealed, or a blob could not be opened with the given key."""


def seal(public_key: nacl.public.PublicKey, payload: Mapping[str, Any]) -> bytes:
    """Encode ``payload`` as JSON (sorted keys, UTF-8) and seal it to ``public_key``."""
    try:
        text = json.dumps(dict(payload), sort_keys=True, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise SealingError(f"payload cannot be encoded as JSON: {exc}") from exc
    return bytes(nacl.public.SealedBox(public_key).encrypt(text.encode("utf-8")))


def unseal(private_key: nacl.public.PrivateKey, blob: bytes) -> dict[str, Any]:
    """Open a sealed blob; fails (SealingError) with the wrong key or altered bytes."""
    try:
        plain = nacl.public.SealedBox(private_key).decrypt(bytes(blob))
    except nacl.exceptions.CryptoError as exc:
        raise SealingError("sealed blob cannot be opened with this key (wrong key or damaged)") from exc
    try:
        payload = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SealingError("sealed blob does not hold a JSON payload") from exc
    if not isinstance(payload, dict):
        raise SealingError("sealed blob holds JSON that is not an object")
    return payload


def bucket(secret: bytes, kind: str, value: str) -> str:
    """Lockout counter key: HMAC-SHA256(secret, "kind:value") cut to 24 bits (6 hex chars).

    The cut is deliberate. ``secret`` lives on the same SD card as the journal, so a
    thief holding both could run every phone number (about 10^9) through a full HMAC
    and read off who called. With 2^24 ≈ 16.8 million buckets each bucket stands for
    about 60 possible phone numbers (about 600 insurance codes), so a bucket no longer
    names a person. The price is small: two different real callers share a bucket
    with probability n²/2^25, about 3 % per day at 1000 callers, and then merely
    share a lockout counter.
    """
    if ":" in kind or not kind:
        raise SealingError(f"bucket kind must be a non-empty word without ':', got {kind!r}")
    if len(secret) < 16:
        raise SealingError("bucket secret is too short (need at least 16 bytes)")
    digest = hmac.new(secret, f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:_BUCKET_HEX]
