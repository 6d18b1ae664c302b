"""Progress of a long transfer as short lines: percent, bytes, rate and time left (115200 baud is ~11 kB/s)."""
from __future__ import annotations

from dataclasses import dataclass, field


def human_bytes(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"  # unreachable; keeps mypy content


def human_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class ProgressMeter:
    """Says something every `step_pct` percent or every `every_s` seconds, whichever comes first."""

    name: str
    size: int
    started: float
    step_pct: float = 10.0
    every_s: float = 15.0
    _said_pct: float = field(default=-1.0, init=False)
    _said_at: float = field(default=0.0, init=False)

    def update(self, done: int, now: float) -> str | None:
        pct = 100.0 * done / self.size if self.size else 100.0
        due = pct >= self._said_pct + self.step_pct or now - self._said_at >= self.every_s or done >= self.size
        if not due or (done >= self.size and self._said_pct >= 100.0):
            return None
        self._said_pct, self._said_at = pct, now
        return self.line(done, now)

    def line(self, done: int, now: float) -> str:
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        text = f"{self.name}: {min(100.0, 100.0 * done / self.size) if self.size else 100.0:3.0f}% " \
               f"{human_bytes(done)} of {human_bytes(self.size)}, {human_bytes(rate)}/s"
        if 0 < done < self.size and rate > 0:
            text += f", {human_seconds((self.size - done) / rate)} left"
        return text
