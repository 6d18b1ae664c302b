"""Keys as in-band DTMF in a G.711 RTP capture, for sipp's `play_pcap_audio` (used by `inband_code.xml`).

`write_keys_pcap(path, "80123456789")` writes what a gateway would send for those presses: silence, then each key's
two tones for 100 ms at -10 dBFS each (`drivers.sip.dtmf.tone_pcm`) and 300 ms of silence, µ-law, 20 ms a packet.
The in-band SIP tests and `bench/sip_concurrency.py --inband` share it.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from drivers.sip.dtmf import INBAND_RATE, tone_pcm
from voice_prompts.formats import encode

SCENARIO = Path(__file__).resolve().parent / "inband_code.xml"
PCAP_NAME = "keys.pcap"  # the name inband_code.xml plays, relative to sipp's working directory


def key_audio(keys: str, lead_s: float = 0.3) -> np.ndarray:
    """Silence, then each key: 100 ms of tones at -10 dBFS each, 300 ms of silence (16-bit samples)."""
    parts = [np.zeros(round(INBAND_RATE * lead_s), dtype=np.int16)]
    parts += [np.frombuffer(tone_pcm(key, gap_s=0.3), dtype="<i2") for key in keys]
    return np.concatenate(parts)


def write_pcap(path: Path, payload: bytes, frame: int = 160) -> None:
    """RTP (PCMU, 20 ms a packet) in Ethernet/IPv4/UDP frames, as sipp's play_pcap_audio replays them."""
    records = []
    for seq, at in enumerate(range(0, len(payload) - frame + 1, frame)):
        rtp = struct.pack("!BBHII", 0x80, 0, seq, at, 0x1234) + payload[at:at + frame]
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        packet = b"\x00" * 12 + b"\x08\x00" + ip
        usec = seq * 20_000
        records.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(packet), len(packet)) + packet)
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(records))


def write_keys_pcap(directory: Path, keys: str) -> Path:
    """`keys` as µ-law RTP in `directory`/keys.pcap (where inband_code.xml looks when sipp runs there)."""
    path = directory / PCAP_NAME
    write_pcap(path, encode(key_audio(keys).astype("<i2").tobytes(), "ulaw"))
    return path
