"""Each line's native audio, made from the rendered prompts, so no driver converts audio itself.

| format  | what it is                                  | who plays it                                              |
|---------|---------------------------------------------|-----------------------------------------------------------|
| `wav`   | 8 kHz mono 16-bit PCM WAV (the shipped file) | SIP (pjsua2 players); EC25 `AT+QPSND`, SIM7600 `AT+CCMXPLAY` from the modem's file store |
| `s16le` | raw 8 kHz signed 16-bit little-endian        | the USB-PCM audio path of EC25/SIM7600; 16-bit linear V.253 modes |
| `u8`    | raw 8 kHz unsigned 8-bit (silence 0x80)      | V.253 voice modems' common mode (`AT+VSM=1` Conexant, `128` USR) |
| `ulaw`  | raw G.711 µ-law                              | V.253 modems that offer it                                |
| `alaw`  | raw G.711 A-law                              | V.253 modems that offer it                                |
| `amr`   | AMR-NB file (`#!AMR\\n`, 20 ms frames)        | SIM800 `AT+CREC=4` file playback; rendered with sox into `amr/`, committed |

The PCM conversions are pure Python (the box needs no sox); G.711 follows the ITU-T reference segment tables.
"""
from __future__ import annotations

import array
import sys
import wave
from functools import lru_cache
from pathlib import Path

from voice_prompts import PromptError

FORMATS = ("wav", "s16le", "u8", "ulaw", "alaw", "amr")
RAW_FORMATS = ("s16le", "u8", "ulaw", "alaw")
AMR_MAGIC = b"#!AMR\n"
#: AMR-NB speech bytes per 20 ms frame, by frame type (after the one-byte frame header); 8 = SID; 15 = no data
AMR_FRAME_BYTES = {0: 12, 1: 13, 2: 15, 3: 17, 4: 19, 5: 20, 6: 26, 7: 31, 8: 5, 15: 0}
AMR_FRAME_S = 0.02

_ULAW_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_ALAW_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for index, end in enumerate(ends):
        if value <= end:
            return index
    return len(ends)


def linear_to_ulaw(sample: int) -> int:
    """One 16-bit sample to G.711 µ-law (14-bit magnitude, bias 33, inverted)."""
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 0x21
    segment = _segment(value, _ULAW_END)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def linear_to_alaw(sample: int) -> int:
    """One 16-bit sample to G.711 A-law (13-bit magnitude, even bits inverted)."""
    value = sample >> 3
    mask = 0xD5
    if value < 0:
        value, mask = -value - 1, 0x55
    segment = _segment(value, _ALAW_END)
    if segment >= 8:
        return 0x7F ^ mask
    mantissa = (value >> 1) if segment < 2 else (value >> segment)
    return ((segment << 4) | (mantissa & 0x0F)) ^ mask


@lru_cache(maxsize=None)
def _table(fmt: str) -> bytes:
    """The encoded byte of every 16-bit sample, indexed by the sample's unsigned bit pattern."""
    encode = {"ulaw": linear_to_ulaw, "alaw": linear_to_alaw, "u8": lambda s: (s >> 8) + 128}[fmt]
    return bytes(encode(pattern - 65536 if pattern >= 32768 else pattern) for pattern in range(65536))


def read_pcm(path: Path) -> bytes:
    """The little-endian 16-bit samples of a line-format WAV (8 kHz mono 16-bit), or PromptError."""
    try:
        with wave.open(str(path), "rb") as reader:
            if (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) != (8000, 1, 2):
                raise PromptError(f"{path}: not 8 kHz mono 16-bit PCM (run `resetline prompts render`)")
            return reader.readframes(reader.getnframes())
    except (OSError, EOFError, wave.Error) as err:
        raise PromptError(f"{path}: not a readable PCM WAV file: {err}") from err


def encode(pcm: bytes, fmt: str) -> bytes:
    """Raw 8 kHz 16-bit little-endian samples in one of `RAW_FORMATS`."""
    if fmt == "s16le":
        return pcm
    if fmt not in RAW_FORMATS:
        raise PromptError(f"unknown raw format {fmt!r}; known: {', '.join(RAW_FORMATS)}")
    samples = array.array("H")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    table = _table(fmt)
    return bytes(table[pattern] for pattern in samples)


def amr_duration(data: bytes, where: str = "AMR data") -> float:
    """Playing time of an AMR-NB file from its frame headers; PromptError if it is not one."""
    if not data.startswith(AMR_MAGIC):
        raise PromptError(f"{where}: not an AMR-NB file (no #!AMR header)")
    position, frames = len(AMR_MAGIC), 0
    while position < len(data):
        frame_type = (data[position] >> 3) & 0x0F
        if frame_type not in AMR_FRAME_BYTES:
            raise PromptError(f"{where}: damaged AMR frame at byte {position}")
        position += 1 + AMR_FRAME_BYTES[frame_type]
        frames += 1
    if position != len(data):
        raise PromptError(f"{where}: truncated last AMR frame")
    return frames * AMR_FRAME_S
