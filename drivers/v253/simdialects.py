"""What each simulated stick says and does, as data: the simulator's own copy of each profile's dialect (so
driver and simulator check each other), drawn from shared/reference/v253.md."""
from __future__ import annotations

from dataclasses import dataclass

_PCM = '8,0,(8000),(0),(0)'


@dataclass(frozen=True)
class Dialect:
    name: str
    ati0: str
    ati3: str
    manufacturer: str
    model: str
    revision: str
    offers: tuple[str, ...]  # AT+VSM=? lines
    formats: dict[int, str]  # AT+VSM code → the sample format it streams
    vsm_arity: tuple[int, ...]  # argument counts AT+VSM accepts
    duplex: bool  # AT+VTR
    dtmf_reports: bool  # <DLE>digit
    dtmf_framing: bool  # <DLE>/ ... <DLE>~ around each press
    dtmf_repeat: bool  # the digit again every 70 ms while the key is held (IS-101)
    busy_reports: bool  # <DLE>b once the exchange's busy tone is heard (receive states)
    loop_drop: bool  # <DLE>l when the far end clears (with -STE bit 2)
    silence_reports: bool  # <DLE>s after +VSD's sdi of silence in AT+VRX
    receive_end: bytes  # what follows <DLE>! before OK
    ste: bool  # knows the Conexant -STE / -SCID commands


DIALECTS = {
    "usr5637": Dialect(
        name="usr5637", ati0="5601", ati3="U.S. Robotics 56K FAX USB V1.2.23", manufacturer="U.S. Robotics",
        model="USR5637", revision="1.2.23",
        offers=(f'128,"8-BIT LINEAR",{_PCM}', '129,"16-BIT LINEAR",16,0,(8000),(0),(0)',
                f'130,"8-BIT ALAW",{_PCM}', f'131,"8-BIT ULAW",{_PCM}', '132,"IMA ADPCM",4,0,(8000),(0),(0)'),
        formats={128: "u8", 129: "s16le", 130: "alaw", 131: "ulaw"}, vsm_arity=(2, 4), duplex=False,
        dtmf_reports=True, dtmf_framing=False, dtmf_repeat=False, busy_reports=True, loop_drop=False,
        silence_reports=True, receive_end=b"\x10\x03", ste=False,
    ),
    "cx93010": Dialect(
        name="cx93010", ati0="56000", ati3="CX93001-EIS_V0.2002-V92", manufacturer="CONEXANT",
        model="CX93001", revision="V0.2002",
        offers=(f'1,"UNSIGNED PCM",{_PCM}', '129,"IMA ADPCM",4,0,(8000),(0),(0)', f'130,"UNSIGNED PCM",{_PCM}',
                '140,"2-BIT ADPCM",2,0,(8000),(0),(0)', '141,"4-BIT ADPCM",4,0,(8000),(0),(0)'),
        formats={1: "u8", 130: "u8"}, vsm_arity=(4,), duplex=True,
        dtmf_reports=True, dtmf_framing=True, dtmf_repeat=True, busy_reports=False, loop_drop=True,
        silence_reports=False, receive_end=b"", ste=True,
    ),
    "generic": Dialect(
        name="generic", ati0="V253", ati3="resetline V.253 simulator", manufacturer="resetline",
        model="V253-SIM", revision="1.0",
        offers=(f'0,"SIGNED PCM",{_PCM}', f'1,"UNSIGNED PCM",{_PCM}', f'4,"G.711 ULAW",{_PCM}',
                f'5,"G.711 ALAW",{_PCM}'),
        formats={1: "u8", 4: "ulaw", 5: "alaw"}, vsm_arity=(2, 4), duplex=True,
        dtmf_reports=True, dtmf_framing=False, dtmf_repeat=False, busy_reports=False, loop_drop=False,
        silence_reports=False, receive_end=b"\x10\x03", ste=False,
    ),
}
