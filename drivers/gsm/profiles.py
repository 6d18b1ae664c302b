"""Each modem's dialect as data: what to send, which URCs it speaks, how its replies read.

Sources are `../shared/reference/modems.md` (section numbers below). Items it marks [unverified] are listed in each
profile's `unverified` tuple: the line's report carries them, and docs/modems.md says how to check them on the bench.
The driver's code holds no vendor string; the simulator keeps its own copy of each dialect so the two check
each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import GsmError

COMMON_URCS = (
    "RING", "+CRING:", "+CLIP:", "NO CARRIER", "BUSY", "NO ANSWER", "+CCWA:", "+CSSI:", "+CSSU:",
    "+CMTI:", "+CMT:", "+CDSI:", "+CDS:", "+CBM:", "+CUSD:",
    "+CREG:", "+CGREG:", "+CEREG:", "+CIREG:", "+CIREGU:", "+CIEV:", "+CTZV:", "+CTZE:", "+CPIN:", "RDY", "+CFUN:",
)


@dataclass(frozen=True)
class Query:
    """A status query: the command, the prefix of its reply line, a regex whose group `value` is the answer."""

    command: str
    reply: str
    pattern: str


@dataclass(frozen=True)
class FileStore:
    """How prompts live in the modem's file store (uploaded once at bring-up, played by name)."""

    fmt: str  # PromptSource.audio format of the stored files: "wav" or "amr"
    prefix: str  # path prefix of a stored file: "" (Quectel UFS), "c:/", "C:\\User\\"
    upload: str  # template; {path} {size} {timeout_s} {mode}
    upload_prompt: str  # "CONNECT" or ">"
    chunk: int | None  # bytes per upload command (the rest appended with mode 1); None: one command
    create: str | None  # template run before the first chunk
    delete: str  # template
    list_all: Query | None  # one command listing every file (pattern groups: name, value = size)
    size_of: Query | None  # per-file size query (when there is no listing with sizes); ERROR = no such file

    def path(self, prompt_id: str) -> str:
        return f"{self.prefix}{self.file_name(prompt_id)}"

    def file_name(self, prompt_id: str) -> str:
        return f"{prompt_id}.{self.fmt}"


@dataclass(frozen=True)
class Profile:
    name: str
    vendor: str
    network: str
    needs_volte: bool  # calls only over IMS/VoLTE in Vietnam (2G off in 2026, 3G by 2028)
    urcs: tuple[str, ...]
    boot_urcs: tuple[str, ...]  # the modem (re)started: every volatile setting is gone
    settings: tuple[str, ...]  # volatile settings, re-sent after every reset; a failure is a bring-up fault
    optional_settings: tuple[str, ...]  # firmware-dependent: a failure is logged, not fatal
    dtmf_prefix: str
    dtmf_style: str  # "ascii": decimal character code (+QTONEDET: 56 = '8'); "char": the key itself
    call_state_prefix: str | None  # +QIND: "ccinfo" / +CLCC:
    call_state_style: str  # "ccinfo" or "clcc"
    hangup_urcs: tuple[str, ...]  # URC texts (prefix match) that mean the call is over
    play: str  # template; {path}
    play_end: tuple[str, ...]  # the end-of-playback URC(s), whole text
    stop: str
    end_after_stop: bool | None  # does a stopped playback also send play_end? None: unknown, wait settle_s
    store: FileStore
    hang_up: str = "AT+CHUP"
    answer: str = "ATA"
    reset: str = "AT+CFUN=1,1"
    pcm_on: tuple[str, ...] = ()  # usb-pcm: after the call connects
    pcm_off: tuple[str, ...] = ()  # usb-pcm: when the call ends
    registration: tuple[Query, ...] = ()
    ims: tuple[Query, ...] = ()  # registered when any query's value is "1"
    canary: Query = Query("AT+CLIP?", "+CLIP:", r"\+CLIP:\s*(?P<value>\d+)")  # "0": the modem forgot its settings
    unverified: tuple[str, ...] = field(default=())

    @property
    def ring_urcs(self) -> tuple[str, ...]:
        return ("RING", "+CRING:")


_CREG = Query("AT+CREG?", "+CREG:", r"\+CREG:\s*\d+,\s*(?P<value>\d+)")
_CEREG = Query("AT+CEREG?", "+CEREG:", r"\+CEREG:\s*\d+,\s*(?P<value>\d+)")
_CIREG = Query("AT+CIREG?", "+CIREG:", r"\+CIREG:\s*\d+,\s*(?P<value>\d+)")

# modems.md §1 (EC25) and §4 (SMS)
EC25 = Profile(
    name="ec25",
    vendor="Quectel EC25",
    network="LTE, calls over VoLTE",
    needs_volte=True,
    urcs=COMMON_URCS + ("+QIND:", "+QTONEDET:", "+QPSND:", "+QAUDPIND:", "+QUSIM:", "POWERED DOWN", "+QIURC:"),
    boot_urcs=("RDY",),
    settings=("AT+CLIP=1", "AT+QTONEDET=1", 'AT+QINDCFG="ccinfo",1,0'),
    optional_settings=('AT+QURCCFG="urcport","usbat"',),
    dtmf_prefix="+QTONEDET:",
    dtmf_style="ascii",
    call_state_prefix='+QIND: "ccinfo"',
    call_state_style="ccinfo",
    hangup_urcs=("NO CARRIER",),
    play='AT+QPSND=1,"{path}",0,1,1',
    play_end=("+QPSND: 0",),
    stop="AT+QPSND=0",
    end_after_stop=None,
    store=FileStore(
        fmt="wav",
        prefix="",
        upload='AT+QFUPL="{path}",{size},{timeout_s}',
        upload_prompt="CONNECT",
        chunk=None,
        create=None,
        delete='AT+QFDEL="{path}"',
        list_all=Query('AT+QFLST="*"', "+QFLST:", r'\+QFLST:\s*"(?:UFS:)?(?P<name>[^"]+)",\s*(?P<value>\d+)'),
        size_of=None,
    ),
    pcm_on=("AT+QPCMV=1,0",),
    pcm_off=("AT+QPCMV=0",),
    registration=(_CEREG, _CREG),
    ims=(Query('AT+QCFG="ims"', "+QCFG:", r'\+QCFG:\s*"ims",\s*\d+,\s*(?P<value>\d+)'), _CIREG),
    unverified=(
        "+QTONEDET reports keys sent over VoLTE (RFC 4733) on this firmware",
        "a stopped AT+QPSND playback sends no +QPSND: 0 (the driver waits settle_s either way)",
        "URC port default is usbat (AT+QURCCFG)",
        "UFS size; AT+QFUPL over an existing name (the driver deletes first)",
        "PCM frame size on the NMEA port with AT+QPCMV=1,0",
    ),
)

# modems.md §2 (SIM7600)
SIM7600 = Profile(
    name="sim7600",
    vendor="SIMCom SIM7600",
    network="LTE, calls over VoLTE",
    needs_volte=True,
    urcs=COMMON_URCS + ("+RXDTMF:", "VOICE CALL:", "MISSED_CALL:", "+CLCC:", "+AUDIOSTATE:", "PB DONE", "SMS DONE"),
    boot_urcs=("RDY",),
    settings=("AT+CLIP=1", "AT+DDET=1", "AT+CLCC=1"),
    optional_settings=("AT+CVHU=0",),
    dtmf_prefix="+RXDTMF:",
    dtmf_style="char",
    call_state_prefix="+CLCC:",
    call_state_style="clcc",
    hangup_urcs=("NO CARRIER", "VOICE CALL: END", "MISSED_CALL:"),
    play='AT+CCMXPLAY="{path}",1,0',
    play_end=("+AUDIOSTATE: audio play stop",),
    stop="AT+CCMXSTOP",
    end_after_stop=True,
    store=FileStore(
        fmt="wav",
        prefix="c:/",
        upload='AT+CFTRANRX="{path}",{size}',
        upload_prompt=">",
        chunk=None,
        create=None,
        delete='AT+FSDEL="{path}"',
        list_all=None,
        size_of=Query('AT+FSATTRI="{path}"', "+FSATTRI:", r"\+FSATTRI:\s*(?P<value>\d+)"),
    ),
    pcm_on=("AT+CPCMFRM=0", "AT+CPCMREG=1"),
    pcm_off=("AT+CPCMREG=0",),
    registration=(_CEREG, _CREG),
    ims=(_CIREG,),
    unverified=(
        "AT+CCMXPLAY play_path 1 reaches the caller (check AT+CCMXPLAY=?) and the drive is c:/",
        "+RXDTMF reports keys sent over VoLTE",
        "AT+CIREG? reports IMS registration",
        "AT+FSATTRI size query (seen on A76xx) and the largest AT+CFTRANRX upload",
        "PCM frame size on the audio port with AT+CPCMREG=1",
    ),
)

# modems.md §3 (SIM800: 2G only, lab and legacy)
SIM800 = Profile(
    name="sim800",
    vendor="SIMCom SIM800",
    network="2G only: lab and legacy (Vietnam's 2G network is off in 2026)",
    needs_volte=False,
    urcs=COMMON_URCS + (
        "+DTMF:", "+CREC:", "+CLCC:", "Call Ready", "SMS Ready", "NORMAL POWER DOWN", "UNDER-VOLTAGE WARNNING",
        "UNDER-VOLTAGE POWER DOWN", "OVER-VOLTAGE WARNNING", "MO RING", "MO CONNECTED", "*PSUTTZ:", "DST:",
    ),
    boot_urcs=("RDY", "Call Ready"),
    settings=("AT+CLIP=1", "AT+DDET=1,0,0", "AT+CLCC=1"),
    optional_settings=(),
    dtmf_prefix="+DTMF:",
    dtmf_style="char",
    call_state_prefix="+CLCC:",
    call_state_style="clcc",
    hangup_urcs=("NO CARRIER",),
    play='AT+CREC=4,"{path}",0,90',
    play_end=("+CREC: 0",),
    stop="AT+CREC=5",
    end_after_stop=None,
    store=FileStore(
        fmt="amr",
        prefix="C:\\User\\",
        upload="AT+FSWRITE={path},{mode},{size},{timeout_s}",
        upload_prompt=">",
        chunk=10240,
        create="AT+FSCREATE={path}",
        delete="AT+FSDEL={path}",
        list_all=None,
        size_of=Query("AT+FSFLSIZE={path}", "+FSFLSIZE:", r"\+FSFLSIZE:\s*(?P<value>\d+)"),
    ),
    hang_up="ATH",  # modems.md §3: ATH hangs up on SIM800; AT+CHUP there is unverified
    registration=(_CREG,),
    unverified=(
        "+CREC: 0 after playback ends (seen in code, not in the manual excerpt)",
        "AT+CFUN=1,1 resets the module",
        "10240 bytes per AT+FSWRITE; usable file store (~40 kB on some firmware, the AMR prompts need ~150 kB)",
    ),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (EC25, SIM7600, SIM800)}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise GsmError(f"unknown modem profile {name!r}; known: {', '.join(PROFILES)}") from None
