"""The simulated stick, sans I/O (product code: the demo and the field's dry runs trust it): caller ID only when
turned on, DLE stuffing both ways, key reports per dialect, AT+VIT, and the caller's hang-up as each stick
signals it."""
from __future__ import annotations

from collections.abc import Callable

from drivers.v253.codec import Audio, Result, Shielded, StreamEnd, V253Codec
from drivers.v253.simaudio import PromptEar
from drivers.v253.simdialects import DIALECTS
from drivers.v253.simmodem import SimOptions, SimulatedV253


class Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Hooks:
    def __init__(self) -> None:
        self.now = 0.0
        self.sent = bytearray()
        self.timers: list[tuple[float, Timer, Callable[[], None]]] = []
        self.heard: list[str] = []

    def send(self, data: bytes) -> None:
        self.sent += data

    def schedule(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        timer = Timer()
        self.timers.append((self.now + delay_s, timer, callback))
        return timer

    def line_now(self) -> float:
        return self.now

    def prompt_started(self, prompt_id: str) -> None:
        self.heard.append(prompt_id)

    def silent(self) -> None:
        self.heard.append("(silent)")

    def box_hung_up(self) -> None:
        self.heard.append("(box hung up)")

    def advance(self, seconds: float, modem: SimulatedV253) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + 0.01)
            for due, timer, callback in [t for t in self.timers if t[0] <= self.now]:
                self.timers.remove((due, timer, callback))
                if not timer.cancelled:
                    callback()
            modem.tick()

    def take(self) -> bytes:
        data, self.sent = bytes(self.sent), bytearray()
        return data


def stick(name: str, **options: object) -> tuple[SimulatedV253, Hooks]:
    hooks = Hooks()
    ear = PromptEar(None, (), hooks.prompt_started, hooks.silent)
    return SimulatedV253(DIALECTS[name], hooks, ear, SimOptions(**options), speed=1.0), hooks  # type: ignore[arg-type]


def at(modem: SimulatedV253, hooks: Hooks, *commands: str) -> bytes:
    hooks.take()
    for text in commands:
        modem.receive(text.encode() + b"\r")
    return hooks.take()


def test_caller_id_comes_between_the_rings_only_when_turned_on() -> None:
    modem, hooks = stick("usr5637")
    modem.ring("0912345678")
    hooks.advance(6.0, modem)
    assert b"NMBR" not in hooks.take()
    modem.end_call()
    at(modem, hooks, "ATE0", "AT+VCID=1")
    modem.ring("0912345678")
    hooks.advance(0.9, modem)
    assert hooks.take() == b"\r\nRING\r\n"
    hooks.advance(0.2, modem)
    lines = hooks.take().decode().split()
    assert lines[:2] == ["DATE", "="] and "NMBR" in lines and "0912345678" in lines


def test_formatted_private_and_late_caller_id() -> None:
    modem, hooks = stick("generic", cid_after_ring=2)
    at(modem, hooks, "ATE0", "AT+VCID=1")
    modem.ring(None)
    hooks.advance(5.5, modem)
    assert b"NMBR" not in hooks.sent
    hooks.advance(1.0, modem)
    text = hooks.take().decode()
    assert text.count("RING") == 2 and "NMBR = P" in text and "NAME" not in text


def test_conexant_needs_four_vsm_arguments_and_its_own_caller_id_command() -> None:
    modem, hooks = stick("cx93010")
    assert at(modem, hooks, "ATE0", "AT+FCLASS=8", "AT+VSM=1,8000").endswith(b"ERROR\r\n")
    assert at(modem, hooks, "AT+VSM=1,8000,0,0").endswith(b"OK\r\n")
    assert at(modem, hooks, "AT-SCID=1;+VCID=1;-STE=7").endswith(b"OK\r\n")
    assert modem.vcid == 1 and modem.ste == 7
    assert at(modem, hooks, "AT-STE=7").endswith(b"OK\r\n")
    usr, usr_hooks = stick("usr5637")
    assert at(usr, usr_hooks, "AT-STE=7").endswith(b"ERROR\r\n")


def answered(name: str, **options: object) -> tuple[SimulatedV253, Hooks, V253Codec]:
    modem, hooks = stick(name, **options)
    at(modem, hooks, "ATE0", "AT+VCID=1")
    modem.ring("0912345678")
    vsm = {"cx93010": "AT+VSM=1,8000,0,0", "usr5637": "AT+VSM=128,8000"}.get(name, "AT+VSM=1,8000")
    at(modem, hooks, "AT+FCLASS=8", vsm, "AT+VLS=1")
    return modem, hooks, V253Codec()


def test_keys_are_tones_in_the_audio_and_reported_as_the_dialect_does() -> None:
    modem, hooks, codec = answered("cx93010")
    codec.audio_on_connect = True
    modem.receive(b"AT+VRX\r")
    modem.key("5")
    hooks.advance(0.3, modem)
    events = codec.feed(hooks.take())
    codes = [e.code for e in events if isinstance(e, Shielded)]
    assert codes[0] == "/" and codes[-1] == "~" and set(codes[1:-1]) == {"5"} and len(codes) > 3
    audio = b"".join(e.data for e in events if isinstance(e, Audio))
    assert abs(len(audio) - 0.3 * 8000) < 100 and len(set(audio)) > 10  # the tones are in it


def test_host_audio_is_destuffed_and_the_playback_drains_before_ok() -> None:
    modem, hooks, codec = answered("generic")
    modem.receive(b"AT+VTX\r")
    assert hooks.take().endswith(b"CONNECT\r\n")
    modem.receive(b"\x80" * 799 + b"\x10\x10" + b"\x10\x10\x10\x03")  # 801 bytes of audio, then the triple end
    assert modem.ear.buffered == 801
    hooks.advance(0.05, modem)
    assert b"OK" not in hooks.sent
    hooks.advance(0.1, modem)
    assert hooks.take().endswith(b"\r\nOK\r\n") and modem.data is None


def test_abort_receive_conexant_sends_ok_alone_usr_sends_dle_etx_first() -> None:
    for name, tail in (("cx93010", b"\r\nOK\r\n"), ("usr5637", b"\x10\x03\r\nOK\r\n")):
        modem, hooks, _ = answered(name)
        modem.receive(b"AT+VRX\r")
        hooks.advance(0.02, modem)
        hooks.take()
        modem.receive(b"\x10!")
        assert hooks.take() == tail, name


def test_the_inactivity_timer_hangs_up_when_the_host_falls_silent() -> None:
    modem, hooks, _ = answered("generic")
    at(modem, hooks, "AT+VIT=3")
    modem.receive(b"AT+VRX\r")
    hooks.advance(2.5, modem)
    modem.receive(b"\x10\x00")  # <DLE><NUL> refreshes it
    hooks.advance(2.5, modem)
    assert modem.off_hook
    hooks.advance(1.0, modem)
    assert not modem.off_hook and modem.stats["vit_expired"] == 1 and hooks.heard == ["(box hung up)"]


def test_the_callers_hang_up_as_each_stick_signals_it() -> None:
    modem, hooks, codec = answered("cx93010")
    at(modem, hooks, "AT-STE=7")
    modem.receive(b"AT+VTX\r")
    modem.caller_hangup()
    assert hooks.take().endswith(b"\x10l")
    modem, hooks, codec = answered("usr5637")
    codec.audio_on_connect = True
    modem.receive(b"AT+VRX\r")
    modem.caller_hangup()
    hooks.advance(2.0, modem)
    events = codec.feed(hooks.take())
    assert Shielded("b") in events and not any(isinstance(e, (Result, StreamEnd)) for e in events[1:])
