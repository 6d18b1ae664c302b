"""The call's audio with a fake clock: full-duplex pacing (never more than the lead ahead of the line), prompts
on frame boundaries, barge-in at once, the half-duplex dance between AT+VTX and AT+VRX, and a hang-up that
never writes an AT command into a data state."""
from __future__ import annotations

from collections.abc import Callable

from drivers.v253.codec import V253Codec
from drivers.v253.engine import Command, Reply
from drivers.v253.profiles import CX93010, GENERIC, Profile
from drivers.v253.timings import V253Timings
from drivers.v253.transmit import Transmitter
from drivers.v253.voicepath import CLOSED, COMMAND, DUPLEX, RX, TX, VoicePath

T = V253Timings(answer_settle_s=0.5, lead_s=0.25, min_lead_wall_s=0.0, stream_idle_s=2.0, nul_every_s=2.0)
RATE = 8000


class Clock:
    def __init__(self) -> None:
        self.t = 10.0

    def __call__(self) -> float:
        return self.t


class Rig:
    def __init__(self, duplex: bool, profile: Profile = GENERIC) -> None:
        self.clock = Clock()
        self.commands: list[tuple[Command, Callable[[Reply], None]]] = []
        self.written: list[bytes] = []
        self.finished: list[int] = []
        self.trouble: list[str] = []
        self.codec = V253Codec()
        self.path = VoicePath("v0", profile, "u8", duplex, T, submit=lambda c, done: self.commands.append((c, done)),
                              write=self.written.append, codec=self.codec, clock=self.clock,
                              finished=self.finished.append, trouble=self.trouble.append,
                              session_started=lambda state: None)

    def answer(self, status: str = "ok") -> Command:
        """Answer the oldest unanswered command."""
        command, done = self.commands.pop(0)
        done(Reply(command, status))
        return command

    def run(self, seconds: float, step: float = 0.01) -> None:
        end = self.clock.t + seconds
        while self.clock.t < end - 1e-9:
            self.clock.t += step
            self.path.poll()

    def audio(self) -> bytes:
        return b"".join(w for w in self.written if w not in (b"\x10\x18", b"\x10\x00"))


def open_duplex() -> Rig:
    rig = Rig(duplex=True)
    rig.path.poll()
    assert not rig.commands  # on-hook: nothing opens
    rig.path.off_hook()
    rig.run(0.49)
    assert not rig.commands  # the line settles first
    rig.run(0.02)
    assert rig.commands[0][0].text == "AT+VTR" and rig.commands[0][0].receive
    rig.answer("connect")
    assert rig.path.state == DUPLEX
    return rig


def test_full_duplex_streams_silence_at_the_line_rate_never_more_than_the_lead_ahead() -> None:
    rig = open_duplex()
    rig.path.poll()
    assert len(rig.audio()) == int(0.25 * RATE)  # the lead, at once
    for _ in range(200):
        rig.run(0.01)
        ahead = len(rig.audio()) - (rig.clock.t - 10.51) * RATE
        assert ahead <= 0.25 * RATE + 1
    assert abs(len(rig.audio()) - (0.25 + 2.0) * RATE) < 0.02 * RATE
    assert set(rig.audio()) == {0x80}


def test_a_prompt_starts_on_a_frame_boundary_and_is_reported_when_heard() -> None:
    rig = open_duplex()
    rig.run(0.013)  # an odd number of bytes written so far
    prompt = bytes([0x90, 0x10, 0x70]) * 800  # 0.3 s, with 0x10 bytes to stuff
    rig.path.play([prompt], token=7)
    assert rig.path.playing
    rig.run(0.4)
    stream = b"".join(rig.written).replace(b"\x10\x10", b"\x10")
    start = stream.index(prompt[:30])
    assert start % 160 == 0 and prompt in stream
    assert rig.finished == []  # written, not yet heard
    rig.run(0.2)
    assert rig.finished == [7] and not rig.path.playing


def test_barge_in_inside_duplex_clears_the_modems_buffer_at_once() -> None:
    rig = open_duplex()
    rig.path.play([b"\x90" * 8000], token=1)
    rig.run(0.3)
    rig.path.stop()
    assert rig.written[-1] == GENERIC.clear
    rig.run(1.5)
    assert rig.finished == [] and set(rig.written[-1]) == {0x80}


def test_half_duplex_listens_plays_and_listens_again() -> None:
    rig = Rig(duplex=False)
    rig.path.off_hook()
    rig.run(0.51)
    assert rig.answer("connect").text == "AT+VRX"
    assert rig.path.state == RX
    rig.path.play([b"\x90" * 1600], token=3)
    rig.path.poll()
    command = rig.answer()
    assert command.raw == GENERIC.abort_receive and not rig.codec.audio_on_connect
    rig.path.poll()
    assert rig.answer("connect").text == "AT+VTX"
    assert rig.path.state == TX
    rig.run(0.3)
    assert rig.commands[0][0].raw == GENERIC.end_play  # all written: <DLE><ETX>, the modem plays the rest
    assert rig.finished == []
    rig.answer()  # its OK: the list has been heard
    assert rig.finished == [3]
    rig.path.poll()
    assert rig.commands[0][0].text == "AT+VRX"


def test_barge_in_during_playback_uses_the_profiles_stop_sequence() -> None:
    rig = Rig(duplex=False, profile=CX93010)
    rig.path.off_hook()
    rig.path.play([b"\x90" * 16000], token=1)
    rig.run(0.51)
    assert rig.answer("connect").text == "AT+VTX"
    rig.run(0.2)
    written = len(rig.written)
    rig.path.stop()
    assert rig.commands[0][0].raw == CX93010.stop_play == b"\x10\x18\x10\x10\x10\x03"
    rig.run(0.2)
    assert len(rig.written) == written  # no more audio after the stop
    rig.answer()
    assert rig.finished == [] and rig.path.state == COMMAND


def test_a_playback_stopped_while_its_data_state_opens_ends_it_and_listens_again() -> None:
    rig = Rig(duplex=False)
    rig.path.off_hook()
    rig.path.play([b"\x90" * 1600], token=4)
    rig.run(0.51)
    assert rig.commands[0][0].text == "AT+VTX"
    rig.path.stop()
    rig.answer("connect")
    rig.path.poll()
    assert rig.commands[0][0].raw == GENERIC.end_play and rig.audio() == b""
    rig.answer()
    rig.path.poll()
    assert rig.commands[0][0].text == "AT+VRX" and rig.finished == []


def test_a_hang_up_while_a_data_state_opens_waits_for_it_before_the_at_commands() -> None:
    rig = Rig(duplex=True)
    rig.path.off_hook()
    rig.run(0.51)
    assert rig.commands[0][0].text == "AT+VTR"
    closed: list[bool] = []
    rig.path.close(then=lambda: closed.append(True))
    assert rig.path.state == CLOSED and not closed
    rig.answer("connect")  # it opened after all: end it first
    assert rig.commands[0][0].raw == GENERIC.clear + GENERIC.leave_duplex and not closed
    rig.answer()
    assert closed == [True]


def test_a_silent_stream_is_trouble_and_listening_refreshes_the_inactivity_timer() -> None:
    rig = Rig(duplex=False)
    rig.path.off_hook()
    rig.run(0.51)
    rig.answer("connect")
    rig.run(1.9)
    assert rig.written.count(GENERIC.refresh) >= 1 and not rig.trouble
    rig.path.heard()
    rig.run(1.9)
    assert not rig.trouble
    rig.run(0.2)
    assert rig.trouble == ["no audio from the modem for 2 s"]


def test_transmitter_models_an_underrun_as_a_later_end() -> None:
    tx = Transmitter("u8", bytes_per_s=RATE, lead_bytes=2000, frame_bytes=160)
    tx.begin(0.0)
    tx.load([b"\x90" * 4000], token=1)
    assert len(tx.take(0.0, fill=False)) == 2000
    assert tx.take(1.0, fill=False) == b"\x90" * 2000  # late: the modem ran dry for 0.75 s
    assert tx.finished(1.2) is None
    assert tx.finished(1.26) == 1
