"""Sample formats: what `AT+VSM=?` offers, which one we choose, and the conversions both ways.

The driver plays prompts in the chosen format straight from `PromptSource.audio(id, fmt)` ("u8", "ulaw",
"alaw", "s16le") and converts only what it receives, to int16 for the DTMF detector and the tone and silence
watch. G.711 decoding follows the ITU-T reference (Sun's g711.c); encoding (the simulator's side) picks the
nearest level.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FORMATS = ("u8", "ulaw", "alaw", "s16le")
SILENCE = {"u8": b"\x80", "ulaw": b"\xff", "alaw": b"\xd5", "s16le": b"\x00\x00"}
WIDTH = {"u8": 1, "ulaw": 1, "alaw": 1, "s16le": 2}
RATE = 8000

_ENTRY = re.compile(r'^\s*(?:\+VSM:\s*)?(\d+)\s*,\s*"([^"]*)"\s*(.*)$', re.IGNORECASE)
_BITS = re.compile(r"^\s*,\s*(\d+)")
_GROUP = re.compile(r"\(([^)]*)\)")

Int16s = npt.NDArray[np.int16]


@dataclass(frozen=True)
class Offer:
    """One line of `AT+VSM=?`: the compression code, its name, bits per sample, rates (empty: not stated)."""

    code: int
    name: str
    bits: int | None
    rates: tuple[tuple[int, int], ...]  # (low, high) ranges; a single rate is (r, r)
    fmt: str | None  # our name for it, None when we cannot play it (ADPCM, signed 8-bit, G.729)

    def offers_rate(self, rate: int = RATE) -> bool:
        return not self.rates or any(low <= rate <= high for low, high in self.rates)


def parse_offers(lines: tuple[str, ...] | list[str]) -> list[Offer]:
    """Every readable line of an `AT+VSM=?` reply; unreadable lines are skipped."""
    offers = []
    for text in lines:
        found = _ENTRY.match(text)
        if found is None:
            continue
        code, name, rest = int(found.group(1)), found.group(2).strip(), found.group(3)
        bits_found = _BITS.match(rest)
        bits = int(bits_found.group(1)) if bits_found else None
        group = _GROUP.search(rest)
        offers.append(Offer(code, name, bits, _rates(group.group(1)) if group else (), _format_of(name, bits)))
    return offers


def choose(offers: list[Offer], preference: tuple[str, ...]) -> Offer | None:
    """The first format in `preference` that some offer plays at 8 kHz."""
    for fmt in preference:
        for offer in offers:
            if offer.fmt == fmt and offer.offers_rate():
                return offer
    return None


def _rates(text: str) -> tuple[tuple[int, int], ...]:
    ranges = []
    for part in text.split(","):
        bounds = [b.strip() for b in part.split("-")]
        if all(b.isdigit() for b in bounds) and len(bounds) in (1, 2):
            ranges.append((int(bounds[0]), int(bounds[-1])))
    return tuple(ranges)


def _format_of(name: str, bits: int | None) -> str | None:
    upper = name.upper().replace("Μ", "U").replace("µ", "U")
    squashed = re.sub(r"[\s\-_.]", "", upper)
    if any(word in squashed for word in ("ADPCM", "G729", "G723", "GSM", "CELP")):
        return None
    if "ULAW" in squashed or "MULAW" in squashed or "G711U" in squashed:
        return "ulaw" if bits in (None, 8) else None
    if "ALAW" in squashed or "G711A" in squashed:
        return "alaw" if bits in (None, 8) else None
    sixteen = bits == 16 or "16BIT" in squashed
    if sixteen and ("LINEAR" in squashed or "PCM" in squashed):
        return "s16le"
    if "UNSIGNED" in squashed or "LINEAR" in squashed:
        return "u8" if bits in (None, 8) else None
    return None  # signed 8-bit PCM and anything unknown


# -- conversions -------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def decode_table(fmt: str) -> Int16s:
    """The int16 value of every byte of an 8-bit format."""
    codes = np.arange(256)
    if fmt == "u8":
        return ((codes - 128) * 256).astype(np.int16)
    if fmt == "ulaw":
        return np.array([_ulaw(c) for c in range(256)], dtype=np.int16)
    if fmt == "alaw":
        return np.array([_alaw(c) for c in range(256)], dtype=np.int16)
    raise ValueError(f"no byte table for {fmt!r}")


def _ulaw(code: int) -> int:
    u = ~code & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if u & 0x80 else magnitude


def _alaw(code: int) -> int:
    a = code ^ 0x55
    value, segment = (a & 0x0F) << 4, (a & 0x70) >> 4
    if segment == 0:
        value += 8
    else:
        value = (value + 0x108) << (segment - 1)
    return value if a & 0x80 else -value


def to_int16(fmt: str, data: bytes) -> Int16s:
    """Whole samples of `fmt` as int16 (an s16le buffer must hold whole samples: see `SampleDecoder`)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if fmt == "s16le":
        return np.frombuffer(data, dtype="<i2").astype(np.int16)
    return decode_table(fmt)[raw]


def from_int16(fmt: str, samples: npt.NDArray[np.generic]) -> bytes:
    """int16 samples (or floats in int16 units) to `fmt`: what the simulator's far end sends."""
    values = np.clip(np.rint(np.asarray(samples, dtype=np.float64)), -32768, 32767).astype(np.int16)
    if fmt == "s16le":
        return values.astype("<i2").tobytes()
    if fmt == "u8":
        return (np.clip(np.rint(values / 256.0), -128, 127) + 128).astype(np.uint8).tobytes()
    return _encode_table(fmt)[values.astype(np.int32) + 32768].tobytes()


@lru_cache(maxsize=None)
def _encode_table(fmt: str) -> npt.NDArray[np.uint8]:
    levels = decode_table(fmt).astype(np.int32)
    order = np.lexsort((-np.arange(256), levels))  # µ-law's two zeros: +0 (0xFF), as G.711 encoders give
    ordered = levels[order]
    wanted = np.arange(-32768, 32768)
    upper = np.clip(np.searchsorted(ordered, wanted), 1, 255)
    nearer_low = (wanted - ordered[upper - 1]) <= (ordered[upper] - wanted)
    return order[np.where(nearer_low, upper - 1, upper)].astype(np.uint8)


class SampleDecoder:
    """A received stream of `fmt` to int16, keeping a split 16-bit sample between reads."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._odd = b""

    def feed(self, data: bytes) -> Int16s:
        if self.fmt == "s16le":
            data = self._odd + data
            whole = len(data) - len(data) % 2
            self._odd = data[whole:]
            data = data[:whole]
        return to_int16(self.fmt, data)

    def reset(self) -> None:
        self._odd = b""
