"""YMODEM framing shared by the receiver and the sender: control bytes, blocks with CRC-16, the block-0 header.

A block is `SOH|STX, n, 255-n, payload (128|1024 bytes), CRC-16/XMODEM (big-endian)`. Block 0 carries
`name NUL size [mtime-octal [mode-octal …]] NUL…`; an empty name in block 0 ends the batch.
"""
from __future__ import annotations

import binascii
from dataclasses import dataclass

SOH = 0x01
STX = 0x02
EOT = 0x04
ACK = 0x06
NAK = 0x15
CAN = 0x18
CRC_REQUEST = 0x43  # "C": the receiver asks for CRC-16 blocks
PAD = 0x1A  # CP/M end-of-file, the padding of a short last block

PAYLOAD = {SOH: 128, STX: 1024}
OVERHEAD = 5  # start byte, number, complement, two CRC bytes
CANCEL = bytes([CAN]) * 8  # lrzsz gives up on two; more survives a lost byte


class YmodemError(Exception):
    """A malformed header or an impossible request; transfers report failures as events instead."""


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM (polynomial 0x1021, initial 0): binascii's CRC-CCITT."""
    return binascii.crc_hqx(data, 0)


def encode_block(number: int, payload: bytes) -> bytes:
    """One block; `payload` must be exactly 128 or 1024 bytes."""
    start = {128: SOH, 1024: STX}.get(len(payload))
    if start is None:
        raise YmodemError(f"a block carries 128 or 1024 bytes, not {len(payload)}")
    number &= 0xFF
    return bytes([start, number, 0xFF - number]) + payload + crc16(payload).to_bytes(2, "big")


def decode_block(frame: bytes) -> tuple[int, bytes] | None:
    """(number, payload) of a whole frame, or None when its complement or CRC is wrong."""
    size = PAYLOAD[frame[0]]
    number, complement = frame[1], frame[2]
    payload = frame[3:3 + size]
    if number ^ complement != 0xFF or crc16(payload) != int.from_bytes(frame[3 + size:5 + size], "big"):
        return None
    return number, payload


@dataclass(frozen=True)
class Header:
    """What block 0 announces; `name` empty means the end of the batch."""

    name: str
    size: int | None = None
    mtime: int | None = None


def encode_header(header: Header) -> bytes:
    """Block 0's payload, padded to 128 bytes (or 1024 when the name is long)."""
    body = header.name.encode("utf-8") + b"\0"
    if header.name:
        fields = [str(header.size if header.size is not None else 0)]
        if header.mtime is not None:
            fields.append(f"{header.mtime:o}")
        body += " ".join(fields).encode("ascii") + b"\0"
    if len(body) > 1024:
        raise YmodemError(f"file name too long for a YMODEM header: {header.name[:40]!r}…")
    return body.ljust(128 if len(body) <= 128 else 1024, b"\0")


def decode_header(payload: bytes) -> Header:
    """Parse block 0; raise YmodemError for a size field that is not a decimal number."""
    name_raw, _, rest = payload.partition(b"\0")
    if not name_raw:
        return Header("")
    try:
        name = name_raw.decode("utf-8")
    except UnicodeDecodeError:
        name = name_raw.decode("latin-1")
    fields = rest.split(b"\0", 1)[0].split()
    size = mtime = None
    try:
        if fields:
            size = int(fields[0].decode("ascii"), 10)
        if len(fields) > 1:
            mtime = int(fields[1].decode("ascii"), 8)
    except (UnicodeDecodeError, ValueError) as exc:
        raise YmodemError(f"header of {name!r}: unreadable size or time field") from exc
    if size is not None and size < 0:
        raise YmodemError(f"header of {name!r}: negative size")
    return Header(name, size, mtime)
