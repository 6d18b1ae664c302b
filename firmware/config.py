"""The box's configuration: TOML in, one frozen typed object out, validated once; every error names its key.

```toml
[box]
name = "bhxh-office-1"
state_dir = "/var/lib/resetline"
central_public_key = "/etc/resetline/central.pub"   # optional: without it a development key is made, with a warning

[central]         # optional; `resetline sync` and `resetline snapshot install --config` need it
url = "https://central.example.vn/resetline"   # HTTPS; plain http only to 127.0.0.1/localhost (tests)
region = "HN-01"                                # this box's region: snapshots for another are refused
signing_public_key = "/etc/resetline/central-signing.pub"   # central's Ed25519 key that signs snapshots
timeout_s = 30

[call]            # caller-facing timings and limits (firmware.callflow.FlowSettings)
menu_timeout_s = 8
entry_timeout_s = 10
max_invalid = 3
max_call_s = 180
check_timeout_s = 10
max_extra_readings = 2   # more readings of the password the caller may ask for with 9

[lockout]
max_mismatches = 3
window_h = 24

[[line]]
name = "sim0"
kind = "sim"

[[line]]                # a USB cellular modem
name = "gsm0"
kind = "gsm"
port = "/dev/resetline/ec25-at"   # or any pyserial URL: socket://host:port, spy:///dev/ttyUSB2
profile = "ec25"                  # ec25 | sim7600 | sim800 (lab and legacy only: 2G is off in Vietnam)
audio = "modem-files"             # or "usb-pcm" with audio_port
sms_notice = true                 # text the caller after a reset (docs/modems.md)
# timings = { dedup_s = 0.15, key_window_s = 0.6 }   # per-carrier key timing and the rest of drivers.gsm.GsmTimings:
#   dedup_s: repeated reports of one key within this are one press; key_window_s: usb-pcm, a modem report and the
#   tones of one key this close are one press; reboot_s = 60 for a slow modem

[[line]]                # an FXO gateway or trunk
name = "sip0"
kind = "sip"
bind = "0.0.0.0:5060"
trusted_peers = ["192.0.2.10"]
# register = { registrar = "sip:trunk.example", user = "0241234567", password_file = "/etc/resetline/sip0.password" }

[[line]]                # a copper line on a voice modem
name = "pots0"
kind = "v253"
port = "/dev/resetline/voice-modem"
profile = "cx93010"               # generic | usr5637 | cx93010
dtmf = "detector"                 # or "modem" (the stick's own <DLE> reports)
busy_hz = 425                     # the exchange's busy tone after the caller hangs up (measure it: docs/v253.md)
busy_on_s = 0.5                   # its cadence: tone on …
busy_off_s = 0.5                  # … tone off
busy_tolerance = 0.3              # each period within ±30 % of the above
busy_cycles = 2                   # on/off cycles heard before the call counts as ended
```
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import FirmwareError
from drivers.gsm.timings import GsmTimings

from .callflow import FlowSettings
from .verify import LockoutPolicy

DEFAULT_STATE_DIR = Path("/var/lib/resetline")


class ConfigError(FirmwareError):
    """A configuration problem; the message starts with the offending key."""


@dataclass(frozen=True)
class BoxConfig:
    name: str = "resetline"
    state_dir: Path = DEFAULT_STATE_DIR
    central_public_key: Path | None = None


@dataclass(frozen=True)
class CentralConfig:
    """Where sync reaches central, which region's snapshots this box takes, and the key they must be signed with.

    Central's *sealing* key (what resets are sealed to) stays `box.central_public_key`.
    """

    url: str
    region: str
    signing_public_key: Path
    timeout_s: float = 30.0


@dataclass(frozen=True)
class LockoutConfig:
    max_mismatches: int = 3
    window_h: float = 24.0

    def policy(self) -> LockoutPolicy:
        return LockoutPolicy(self.max_mismatches, self.window_h * 3600.0)


@dataclass(frozen=True)
class SimLineConfig:
    """A simulated line (demo, dry runs): nothing to connect."""

    name: str
    kind: str = "sim"


@dataclass(frozen=True)
class GsmLineConfig:
    """A USB cellular modem (EC25, SIM7600 over VoLTE; SIM800 for the lab) driven by AT commands."""

    name: str
    port: str  # a device path or any pyserial URL (socket://, spy://)
    kind: str = "gsm"
    baudrate: int = 115200
    profile: str = "ec25"
    pin: str | None = None
    audio: str = "modem-files"  # or "usb-pcm"
    audio_port: str | None = None
    power_gpio: int | None = None  # the modem's power key (PWRKEY) through a transistor: True = pressed
    reset_gpio: int | None = None  # the modem's RESET_N through a transistor: True = held in reset
    sms_notice: bool = False
    timings: GsmTimings | None = None  # e.g. { reboot_s = 60 } for a slow modem (drivers.gsm.GsmTimings)


@dataclass(frozen=True)
class SipRegistration:
    """`register = { registrar = "sip:trunk.example", user = "…", password_file = "/etc/resetline/sip0.password" }`."""

    registrar: str
    user: str
    password: str | None = None  # inline, or better:
    password_file: Path | None = None  # a file readable by the service only

    def secret(self) -> str | None:
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return self.password


@dataclass(frozen=True)
class SipLineConfig:
    """A SIP line (FXO gateway or trunk) answered by pjsua2."""

    name: str
    bind: str  # HOST:PORT
    kind: str = "sip"
    transport: str = "udp"  # or "tcp"
    max_calls: int = 20
    register: SipRegistration | None = None
    trusted_peers: tuple[str, ...] = ()
    inband_dtmf: bool = False


@dataclass(frozen=True)
class V253LineConfig:
    """An analog line answered by an ITU-T V.253 voice modem."""

    name: str
    port: str
    kind: str = "v253"
    baudrate: int = 115200
    profile: str = "generic"
    dtmf: str = "modem"  # "modem" reports, or "detector" on the received audio
    # the exchange's busy tone, recognised on the received audio as the caller's hang-up (V253Timings' names)
    busy_hz: float = 425.0
    busy_on_s: float = 0.5
    busy_off_s: float = 0.5
    busy_tolerance: float = 0.3
    busy_cycles: int = 2

    def tone_settings(self) -> dict[str, Any]:
        """The busy-tone cadence as `drivers.v253.V253Timings` fields: `V253Timings(**line.tone_settings())`."""
        return {name: getattr(self, name) for name in BUSY_KEYS}


BUSY_KEYS = ("busy_hz", "busy_on_s", "busy_off_s", "busy_tolerance", "busy_cycles")
LineConfig = SimLineConfig | GsmLineConfig | SipLineConfig | V253LineConfig
LINE_TYPES: dict[str, type] = {"sim": SimLineConfig, "gsm": GsmLineConfig, "sip": SipLineConfig, "v253": V253LineConfig}
LINE_KINDS = tuple(LINE_TYPES)
#: the allowed values of string settings, by "kind.key"
CHOICES: dict[str, tuple[str, ...]] = {
    "gsm.profile": ("ec25", "sim7600", "sim800"),
    "gsm.audio": ("modem-files", "usb-pcm"),
    "sip.transport": ("udp", "tcp"),
    "v253.profile": ("generic", "usr5637", "cx93010"),
    "v253.dtmf": ("modem", "detector"),
}


#: (low, high) bounds of numeric settings, by "table.key"
BOUNDS: dict[str, tuple[float, float]] = {
    "call.menu_timeout_s": (1, 60),
    "call.entry_timeout_s": (1, 60),
    "call.max_invalid": (1, 10),
    "call.max_call_s": (30, 900),
    "call.check_timeout_s": (1, 60),
    "call.max_extra_readings": (0, 5),
    "lockout.max_mismatches": (1, 100),
    "line.baudrate": (300, 4_000_000),
    "line.max_calls": (1, 64),
    "line.power_gpio": (2, 27),
    "line.reset_gpio": (2, 27),
    "gpio.led_power": (2, 27),
    "gpio.led_line": (2, 27),
    "gpio.led_call": (2, 27),
    "gpio.led_fault": (2, 27),
    "gpio.button": (2, 27),
    "gpio.console_hold_s": (1, 60),
    "gpio.power_key_s": (0.05, 5),
    "gpio.power_off_wait_s": (0, 60),
    "gpio.reset_pulse_s": (0.01, 5),
    "line.busy_hz": (300, 700),  # E.180 busy and congestion tones lie between 400 and 660 Hz
    "line.busy_on_s": (0.1, 2.0),  # shorter than 0.1 s cannot be timed in 20 ms blocks within the tolerance
    "line.busy_off_s": (0.1, 2.0),
    "line.busy_tolerance": (0.05, 0.5),
    "line.busy_cycles": (1, 10),
    "lockout.window_h": (1, 24 * 30),
    "central.timeout_s": (1, 600),
}
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # as firmware.snapshot.REGION (a URL path segment)


GPIO_BACKENDS = ("none", "rpi", "sim")


@dataclass(frozen=True)
class GpioConfig:
    """`[gpio]`: the front panel (LEDs, button) and how a modem's power key and reset line are pulsed."""

    backend: str = "none"
    led_power: int | None = None
    led_line: int | None = None
    led_call: int | None = None
    led_fault: int | None = None
    button: int | None = None
    console_command: tuple[str, ...] = ("systemctl", "start", "--no-block", "resetline-console@serial0.service")
    console_hold_s: float = 10.0
    power_key_s: float = 0.6  # one press of the power key (EC25: ≥ 0.5 s on, ≥ 0.65 s off)
    power_off_wait_s: float = 5.0  # between the press that turns the modem off and the one that turns it on
    reset_pulse_s: float = 0.3  # how long the reset line is held
    trace: Path | None = None  # sim only: every pin change as a JSON line

    def panel_pins(self) -> dict[str, int]:
        pins = {"led_power": self.led_power, "led_line": self.led_line, "led_call": self.led_call,
                "led_fault": self.led_fault, "button": self.button}
        return {name: pin for name, pin in pins.items() if pin is not None}


@dataclass(frozen=True)
class Config:
    box: BoxConfig = field(default_factory=BoxConfig)
    call: FlowSettings = field(default_factory=FlowSettings)
    lockout: LockoutConfig = field(default_factory=LockoutConfig)
    lines: tuple[LineConfig, ...] = ()
    gpio: GpioConfig = field(default_factory=GpioConfig)
    central: CentralConfig | None = None


def load(path: Path) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse(raw)


def parse(raw: Mapping[str, Any]) -> Config:
    _no_unknown(raw, ("box", "call", "lockout", "line", "gpio", "central"), "")
    lines = raw.get("line", [])
    if not isinstance(lines, list):
        raise ConfigError("line: must be an array of tables ([[line]])")
    parsed_lines = tuple(_line(entry, i) for i, entry in enumerate(lines))
    names = [line.name for line in parsed_lines]
    if len(set(names)) != len(names):
        raise ConfigError("line: two lines share a name; each [[line]] needs its own name")
    gpio = _gpio(_table(GpioConfig, raw.get("gpio", {}), "gpio"), parsed_lines)
    return Config(
        box=_table(BoxConfig, raw.get("box", {}), "box"),
        call=_table(FlowSettings, raw.get("call", {}), "call"),
        lockout=_table(LockoutConfig, raw.get("lockout", {}), "lockout"),
        lines=parsed_lines,
        gpio=gpio,
        central=_central(raw["central"]) if "central" in raw else None,
    )


def _gpio(gpio: GpioConfig, lines: tuple[LineConfig, ...]) -> GpioConfig:
    """One use per pin across the panel and every line's modem pins; pins need a back end; a console command."""
    if gpio.backend not in GPIO_BACKENDS:
        raise ConfigError(f"gpio.backend: must be one of {', '.join(GPIO_BACKENDS)}, got {gpio.backend!r}")
    used: dict[int, str] = {}
    owners = [(f"gpio.{name}", pin) for name, pin in gpio.panel_pins().items()]
    for index, line in enumerate(lines):
        if isinstance(line, GsmLineConfig):
            owners += [(f"line[{index}].{key}", getattr(line, key)) for key in ("power_gpio", "reset_gpio")
                       if getattr(line, key) is not None]
    for key, pin in owners:
        if pin in used:
            raise ConfigError(f"{key}: GPIO{pin} is already used by {used[pin]}")
        used[pin] = key
    if used and gpio.backend == "none":
        raise ConfigError(f"gpio.backend: {next(iter(used.values()))} names a pin; set backend = \"rpi\" (or \"sim\")")
    if not gpio.console_command:
        raise ConfigError("gpio.console_command: must name a program")
    if gpio.trace is not None and gpio.backend != "sim":
        raise ConfigError("gpio.trace: only the simulated back end (backend = \"sim\") writes a trace")
    return gpio


def _central(raw: Any) -> CentralConfig:
    central = _table(CentralConfig, raw, "central")
    scheme, _, rest = central.url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0]
    if scheme != "https" and not (scheme == "http" and host in ("127.0.0.1", "localhost", "[::1]")):
        raise ConfigError(f"central.url: must be https:// (plain http only to 127.0.0.1), got {central.url!r}")
    if not host:
        raise ConfigError(f"central.url: has no host, got {central.url!r}")
    if not _REGION.fullmatch(central.region):
        raise ConfigError(f"central.region: 1-64 letters, digits, '.', '_' or '-', got {central.region!r}")
    return central


_T = typing.TypeVar("_T")


def _line(raw: Any, index: int) -> LineConfig:
    where = f"line[{index}]"
    kind = raw.get("kind") if isinstance(raw, Mapping) else None
    if kind not in LINE_TYPES:
        raise ConfigError(f"{where}.kind: unknown kind {kind!r}; known: {', '.join(LINE_KINDS)}")
    line: LineConfig = _table(LINE_TYPES[kind], raw, where)
    for key, allowed in CHOICES.items():
        table_kind, name = key.split(".")
        if table_kind == kind and getattr(line, name) not in allowed:
            raise ConfigError(f"{where}.{name}: must be one of {', '.join(allowed)}, got {getattr(line, name)!r}")
    if isinstance(line, SipLineConfig) and not _host_port(line.bind):
        raise ConfigError(f"{where}.bind: must be HOST:PORT, got {line.bind!r}")
    if isinstance(line, GsmLineConfig) and line.timings is not None:
        for name, value in dataclasses.asdict(line.timings).items():
            if value <= 0:
                raise ConfigError(f"{where}.timings.{name}: must be above 0, got {value!r}")
    return line


def _host_port(value: str) -> bool:
    host, _, port = value.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def _table(cls: type[_T], raw: Any, where: str) -> _T:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    _no_unknown(raw, tuple(fields), where)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{where}.{name}"
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: required")
            continue
        values[name] = _value(hints[name], raw[name], key)
    return cls(**values)


def _value(kind: Any, value: Any, key: str) -> Any:
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    target = next(option for option in options if option is not type(None))
    if target is bool or target is str:
        if not isinstance(value, target):
            raise ConfigError(f"{key}: must be {'true or false' if target is bool else 'a string'}, got {value!r}")
        return value
    if isinstance(target, type) and dataclasses.is_dataclass(target):
        return _table(target, value, key)
    if typing.get_origin(target) is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{key}: must be a list of strings, got {value!r}")
        return tuple(value)
    if target is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: must be a file or directory path, got {value!r}")
        return Path(value)
    if target in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (target is int and not isinstance(value, int)):
            raise ConfigError(f"{key}: must be {'a whole number' if target is int else 'a number'}, got {value!r}")
        low, high = BOUNDS.get(re.sub(r"^line\[\d+\]", "line", key), (float("-inf"), float("inf")))
        if not low <= value <= high:
            raise ConfigError(f"{key}: must be between {low:g} and {high:g}, got {value!r}")
        return target(value)
    raise ConfigError(f"{key}: unsupported setting type")  # a programming error, named all the same


def _no_unknown(raw: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for name in raw:
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"{where + '.' if where else ''}{name}: unknown key{suggestion}")
