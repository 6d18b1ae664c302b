"""Audio files for the DTMF receiver: a RIFF/WAVE reader for the codings phone audio comes in, and a resampler.

The standard `wave` module of Python 3.11 reads neither WAVE_FORMAT_EXTENSIBLE (what sox writes for 24-bit
audio) nor float or G.711 files, so the few chunks we need are parsed here. Samples come back as float64 in
int16 units (full scale +/-32768) mixed down to mono, which is what `DtmfDetector.feed` takes.
"""
from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import DriverError

log = logging.getLogger(__name__)

Samples = npt.NDArray[np.float64]

PCM, IEEE_FLOAT, ALAW, MULAW, EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
_CODING_NAMES = {PCM: "PCM", IEEE_FLOAT: "float", ALAW: "A-law", MULAW: "mu-law"}
#: samples per resampling chunk (bounds the memory of the tap matrix)
_CHUNK = 1 << 15


class WavError(DriverError):
    """The file is not a WAV file we can read; the message says why."""


@dataclass(frozen=True)
class Audio:
    """Mono audio: `samples` in int16 units at `rate` Hz, and what the file held."""

    samples: Samples
    rate: int
    channels: int
    coding: str  # e.g. "16-bit PCM", "mu-law"

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


@dataclass(frozen=True)
class _Format:
    tag: int
    channels: int
    rate: int
    block_align: int
    bits: int


def read_wav(path: Path) -> Audio:
    """Read a WAV file (8/16/24/32-bit PCM, 32/64-bit float, A-law, mu-law; any channels, mixed to mono)."""
    data = Path(path).read_bytes()
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    fmt: _Format | None = None
    body: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        content = data[pos + 8: pos + 8 + size]  # a truncated or streamed (size 0xFFFFFFFF) chunk ends at EOF
        if chunk == b"fmt ":
            fmt = _parse_format(content)
        elif chunk == b"data":
            body = content
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise WavError("no fmt chunk")
    if body is None:
        raise WavError("no data chunk")
    frames = _decode(fmt, body[: len(body) // fmt.block_align * fmt.block_align])
    coding = f"{fmt.bits}-bit {_CODING_NAMES[fmt.tag]}" if fmt.tag in (PCM, IEEE_FLOAT) else _CODING_NAMES[fmt.tag]
    mono = frames.reshape(-1, fmt.channels).mean(axis=1) if fmt.channels > 1 else frames
    return Audio(samples=mono, rate=fmt.rate, channels=fmt.channels, coding=coding)


def _parse_format(content: bytes) -> _Format:
    if len(content) < 16:
        raise WavError("fmt chunk too short")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", content)
    if tag == EXTENSIBLE:
        if len(content) < 26:
            raise WavError("extensible fmt chunk too short")
        tag = struct.unpack_from("<H", content, 24)[0]  # first two bytes of the sub-format GUID
    if tag not in _CODING_NAMES:
        raise WavError(f"unsupported WAV coding (format tag {tag:#06x}); use PCM, float, A-law or mu-law")
    if channels < 1 or rate < 1:
        raise WavError(f"bad fmt chunk: {channels} channel(s) at {rate} Hz")
    width = {PCM: (8, 16, 24, 32), IEEE_FLOAT: (32, 64), ALAW: (8,), MULAW: (8,)}[tag]
    if bits not in width:
        raise WavError(f"unsupported {_CODING_NAMES[tag]} sample size: {bits} bits")
    if block_align != channels * bits // 8:
        raise WavError(f"bad fmt chunk: block align {block_align} for {channels} x {bits} bits")
    return _Format(tag, channels, rate, block_align, bits)


def _decode(fmt: _Format, body: bytes) -> Samples:
    """Interleaved samples of every channel, as float64 in int16 units."""
    if fmt.tag == ALAW:
        return _ALAW_TABLE[np.frombuffer(body, dtype=np.uint8)]
    if fmt.tag == MULAW:
        return _MULAW_TABLE[np.frombuffer(body, dtype=np.uint8)]
    if fmt.tag == IEEE_FLOAT:
        return np.frombuffer(body, dtype=f"<f{fmt.bits // 8}").astype(np.float64) * 32768.0
    if fmt.bits == 8:
        return (np.frombuffer(body, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    if fmt.bits == 24:
        raw = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        return np.where(value >= 1 << 23, value - (1 << 24), value).astype(np.float64) / 256.0
    return np.frombuffer(body, dtype=f"<i{fmt.bits // 8}").astype(np.float64) / float(1 << (fmt.bits - 16))


def _g711_tables() -> tuple[Samples, Samples]:
    """Decoded value (int16 units) of every mu-law and A-law byte (ITU-T G.711)."""
    code = np.arange(256)
    mu = ~code & 0xFF
    magnitude = (((mu & 0x0F) << 3) + 0x84) << ((mu >> 4) & 0x07)
    mulaw = np.where(mu & 0x80, 0x84 - magnitude, magnitude - 0x84)
    a = code ^ 0x55
    segment = (a >> 4) & 0x07
    mantissa = ((a & 0x0F) << 4) + 8
    alaw_mag = np.where(segment == 0, mantissa, (mantissa + 0x100) << np.maximum(segment - 1, 0))
    alaw = np.where(a & 0x80, alaw_mag, -alaw_mag)
    return mulaw.astype(np.float64), alaw.astype(np.float64)


_MULAW_TABLE, _ALAW_TABLE = _g711_tables()


def resample(samples: Samples, rate_in: int, rate_out: int, taps_per_side: int = 16) -> Samples:
    """Windowed-sinc (Kaiser) resampling by the exact ratio rate_out/rate_in; the band edge sits at 0.9 x the
    lower Nyquist frequency, so nothing above 3.6 kHz folds into an 8 kHz result."""
    if rate_in == rate_out or not len(samples):
        return samples.astype(np.float64)
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    scale = min(1.0, up / down)  # cut-off as a fraction of the input Nyquist frequency
    half = math.ceil(taps_per_side / scale)
    offsets = np.arange(-half + 1, half + 1)
    # output j sits at input position j * down / up: its integer part picks the taps, the fraction
    # (one of `up` phases) the weights; with few phases the weights are computed once per phase
    bank = _taps(np.arange(up) / up, offsets, half, 0.9 * scale) if up <= _CHUNK else None
    padded = np.concatenate([np.zeros(half), samples.astype(np.float64), np.zeros(half + 1)])
    n_out = len(samples) * up // down
    out = np.empty(n_out)
    for first in range(0, n_out, _CHUNK):
        j = np.arange(first, min(first + _CHUNK, n_out), dtype=np.int64)
        phase = j * down % up
        weights = bank[phase] if bank is not None else _taps(phase / up, offsets, half, 0.9 * scale)
        out[first: first + len(j)] = np.einsum("ij,ij->i", padded[(j * down // up)[:, None] + offsets + half], weights)
    log.debug("resampled %d samples at %d Hz to %d at %d Hz", len(samples), rate_in, n_out, rate_out)
    return out


def _taps(frac: Samples, offsets: npt.NDArray[np.int64], half: int, cutoff: float) -> Samples:
    """Kaiser-windowed sinc weights (len(frac), len(offsets)) for output instants `frac` past an input sample."""
    t = offsets[None, :] - frac[:, None]
    taper = np.i0(8.0 * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, 1.0))) / np.i0(8.0)
    return cutoff * np.sinc(cutoff * t) * taper
