"""Paced audio for one data state: what to write now so the modem never starves and never holds more than
`lead` bytes (barge-in clears at most that), with every prompt starting on a frame boundary of the stream.

Pure: time comes in as `now`. The modem's playing position is modelled as a clock at the line rate that stops
when its buffer is empty (an underrun plays silence and delays what follows), so "the list has been heard"
is known without the modem saying so (it does not inside `AT+VTR`).
"""
from __future__ import annotations

from .samples import SILENCE, WIDTH


class Transmitter:
    def __init__(self, fmt: str, *, bytes_per_s: float, lead_bytes: int, frame_bytes: int) -> None:
        self._silence = SILENCE[fmt]
        self._width = WIDTH[fmt]
        self._rate = bytes_per_s
        self._lead = max(lead_bytes, frame_bytes)
        self._frame = frame_bytes
        self._pending = bytearray()
        self._token: int | None = None
        self._list_end = 0
        self.written = 0
        self._played = 0.0
        self._t = 0.0

    def begin(self, now: float) -> None:
        """A data state opened: the stream counts from zero (the modem's frame grid too)."""
        self._pending.clear()
        self._token = None
        self.written, self._played, self._t = 0, 0.0, now

    @property
    def busy(self) -> bool:
        """A list is loaded and not yet heard to its end."""
        return self._token is not None

    @property
    def drained(self) -> bool:
        """Everything loaded has been written."""
        return not self._pending

    def load(self, chunks: list[bytes], token: int) -> None:
        """A play list: each prompt from a frame boundary (the simulator's ear and a clean start)."""
        self._pending += self._silence * (((-self.written - len(self._pending)) % self._frame) // self._width)
        for chunk in chunks:
            chunk = chunk[: len(chunk) - len(chunk) % self._width]
            self._pending += chunk + self._silence * (((-len(chunk)) % self._frame) // self._width)
        self._token = token
        self._list_end = self.written + len(self._pending)

    def clear(self) -> None:
        """The modem dropped its buffer (<DLE><CAN>) and we drop the rest of the list."""
        self._pending.clear()
        self._token = None
        self._played = float(self.written)

    def take(self, now: float, fill: bool) -> bytes:
        """The bytes to write now; `fill` pads with silence (a full-duplex stream never pauses)."""
        self._advance(now)
        room = int(self._lead - (self.written - self._played))
        room -= room % self._width
        if room <= 0:
            return b""
        out = bytes(self._pending[:room])
        del self._pending[:room]
        if fill and len(out) < room:
            out += self._silence * ((room - len(out)) // self._width)
        self.written += len(out)
        return out

    def finished(self, now: float) -> int | None:
        """The token of a list the modem has now played to the end (once), else None."""
        self._advance(now)
        if self._token is None or self._pending or self._played < self._list_end:
            return None
        token, self._token = self._token, None
        return token

    def release(self) -> int | None:
        """All written and the data state is being ended: the token, which the modem's OK will confirm."""
        token, self._token = self._token, None
        return token

    def _advance(self, now: float) -> None:
        self._played = min(float(self.written), self._played + max(0.0, now - self._t) * self._rate)
        self._t = now
