"""What every console command gets: the terminal, the box's paths, the journal for audit rows, and the settings."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drivers.serialmodem.privacy import redact
from firmware.journal import Journal, JournalError

from .auth import Backoff
from .delegate import Outcome, run_resetline
from .lineeditor import Line
from .terminal import Terminal
from .ymodem_receiver import ReceiverTimings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsoleSettings:
    state_dir: Path
    config_path: Path | None = None
    idle_s: float = 600.0
    reboot_command: tuple[str, ...] = ("systemctl", "reboot")
    max_upload_bytes: int = 2 * 1024**3
    # 60 s to start the send; a silent sender is given up after 5 NAKs 5 s apart (lrzsz answers in well under 1 s)
    receive: ReceiverTimings = ReceiverTimings(header_wait_s=60.0, block_wait_s=5.0, retries=5)


Runner = Callable[[Sequence[str], float], Outcome]


@dataclass
class Context:
    terminal: Terminal
    settings: ConsoleSettings
    journal: Journal
    backoff: Backoff
    stop: threading.Event = field(default_factory=threading.Event)
    run: Runner = run_resetline
    clock: Callable[[], float] = time.time
    logged_in: bool = False

    def say(self, text: str = "") -> None:
        self.terminal.write(text + "\n")

    def audit(self, action: str, detail: str = "") -> None:
        """An audit row; a journal that cannot take it is said on the console and logged, never fatal."""
        try:
            self.journal.record_audit(action, redact(detail), at=self.clock())
        except JournalError as exc:
            log.error("audit row %s not written: %s", action, exc)
            self.say(f"warning: the journal did not take the audit row ({exc})")

    def audit_quietly(self, action: str, detail: str = "") -> None:
        """An audit row when the terminal is gone: failures are only logged."""
        try:
            self.journal.record_audit(action, redact(detail), at=self.clock())
        except JournalError as exc:
            log.error("audit row %s not written: %s", action, exc)

    def ask(self, prompt: str, *, secret: bool = False, timeout_s: float = 60.0) -> str | None:
        """One answer typed by the technician; None when cancelled (Ctrl-C), too long or not given in time."""
        entry = self.terminal.read_entry(prompt, timeout_s=timeout_s, secret=secret, stop=self.stop)
        return entry.text if isinstance(entry, Line) else None

    def show(self, outcome: Outcome) -> bool:
        """Print a delegated command's output; say what went wrong when it did not succeed."""
        if outcome.output.strip():
            self.say(outcome.output.rstrip())
        if not outcome.ok:
            self.say(outcome.describe())
        return outcome.ok
