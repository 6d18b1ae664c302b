"""Sealed resets only central can open; lockout buckets that do not name a caller."""

from __future__ import annotations

import hashlib
import hmac
import json

import nacl.public
import pytest

from firmware.sealing import SealingError, bucket, seal, unseal

CENTRAL = nacl.public.PrivateKey.generate()
PAYLOAD = {"call_ref": "7f3a", "password": "Hà Nội-482913", "account": "0123456789", "at": 1750000000.5}


def test_round_trip_with_central_key() -> None:
    blob = seal(CENTRAL.public_key, PAYLOAD)
    assert unseal(CENTRAL, blob) == PAYLOAD
    assert b"482913" not in blob


def test_plaintext_is_sorted_utf8_json() -> None:
    plain = nacl.public.SealedBox(CENTRAL).decrypt(seal(CENTRAL.public_key, {"b": 1, "a": "Nội"}))
    assert plain == '{"a":"Nội","b":1}'.encode("utf-8")
    assert json.loads(plain) == {"a": "Nội", "b": 1}


def test_sealing_twice_gives_unlinkable_blobs() -> None:
    assert seal(CENTRAL.public_key, PAYLOAD) != seal(CENTRAL.public_key, PAYLOAD)


def test_other_key_or_altered_blob_cannot_open() -> None:
    blob = seal(CENTRAL.public_key, PAYLOAD)
    with pytest.raises(SealingError, match="cannot be opened"):
        unseal(nacl.public.PrivateKey.generate(), blob)
    altered = bytearray(blob)
    altered[-1] ^= 0x01
    with pytest.raises(SealingError, match="cannot be opened"):
        unseal(CENTRAL, bytes(altered))


def test_unencodable_payload_is_refused() -> None:
    with pytest.raises(SealingError, match="JSON"):
        seal(CENTRAL.public_key, {"at": float("nan")})
    with pytest.raises(SealingError, match="JSON"):
        seal(CENTRAL.public_key, {"raw": b"bytes"})


SECRET = bytes(range(32))


def test_bucket_is_truncated_hmac_and_stable() -> None:
    full = hmac.new(SECRET, b"phone:0912345678", hashlib.sha256).hexdigest()
    value = bucket(SECRET, "phone", "0912345678")
    assert value == full[:6]
    assert value == "066228"  # fixed: lockout counters must survive firmware upgrades
    assert bucket(SECRET, "code", "0912345678") != value
    assert bucket(bytes(reversed(SECRET)), "phone", "0912345678") != value


def test_bucket_stands_for_many_numbers() -> None:
    # 200 000 numbers in 2^24 buckets: about n^2/2^25 ≈ 1190 shared buckets expected.
    # A longer bucket (32 bits: ≈ 5) would let a thief tell callers apart.
    numbers = [f"09{n:08d}" for n in range(200_000)]
    shared = len(numbers) - len({bucket(SECRET, "phone", n) for n in numbers})
    assert 900 < shared < 1500


def test_bucket_kind_cannot_be_ambiguous() -> None:
    with pytest.raises(SealingError, match="kind"):
        bucket(SECRET, "phone:09", "12345678")
    with pytest.raises(SealingError, match="too short"):
        bucket(b"short", "phone", "0912345678")
