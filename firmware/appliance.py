"""The composition root: opens the box's state once and routes each line's calls to call sessions.

This is the one place that decides which back ends serve the box (today: the simulated line; the GSM, SIP and
V.253 drivers plug in here). Nothing falls back silently from a real back end to a simulated one.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from drivers.clock import Scheduler
from drivers.line import IncomingCall, Line, LineEvent
from voice_prompts.catalog import PromptCatalog

from .call_session import CallSession, Checker
from .callflow import PLAYABLE
from .config import Config
from .journal import CallRecord, Journal
from .keys import load_central_public_key, load_or_create_secret
from .notices import NoticeSettings, NoticeWorker
from .snapshot import Snapshot, SnapshotError
from .verify import Verifier

log = logging.getLogger(__name__)

LOCKOUT_SECRET = "lockout.key"


def snapshot_path(state_dir: Path) -> Path:
    return state_dir / "snapshot" / "current.db"


class SnapshotHolder:
    """Opens the installed snapshot on first use and keeps it open; a missing one is an error per call, not at boot."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._snapshot: Snapshot | None = None

    def __call__(self) -> Snapshot:
        if self._snapshot is None:
            if not self._path.exists():
                raise SnapshotError(f"no snapshot installed at {self._path}; run `resetline snapshot import`")
            self._snapshot = Snapshot.open(self._path)
        return self._snapshot

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None


class Appliance:
    """The box's state, opened once: journal, snapshot, keys, prompts and the verifier built from them."""

    def __init__(self, config: Config, state_dir: Path, *, notices: NoticeSettings = NoticeSettings()) -> None:
        self.config = config
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.prompts = PromptCatalog.load()
        for prompt_id in PLAYABLE:  # fail at start, not in the middle of someone's call
            self.prompts.duration(prompt_id)
        self.journal = Journal.open(state_dir / "journal.db")
        self.snapshot = SnapshotHolder(snapshot_path(state_dir))
        central_key, self.development_key = load_central_public_key(config.box.central_public_key, state_dir)
        self.verifier = Verifier(
            self.snapshot,
            self.journal,
            central_key,
            load_or_create_secret(state_dir, LOCKOUT_SECRET),
            config.lockout.policy(),
        )
        self.notices = NoticeWorker(self.journal, central_key, notices)  # started by the daemon or the first SMS line

    def close(self) -> None:
        self.notices.stop()
        self.snapshot.close()
        self.journal.close()


class Switchboard:
    """Receives one line's events and hands each call's events to its own session."""

    def __init__(
        self,
        appliance: Appliance,
        line: Line,
        scheduler: Scheduler,
        checker: Checker,
        on_session: Callable[[CallSession], None] | None = None,
    ) -> None:
        self._appliance = appliance
        self._line = line
        self._scheduler = scheduler
        self._checker = appliance.notices.wrap(line, checker, busy=lambda: bool(self.sessions))  # SMS after a reset
        self._on_session = on_session
        self.sessions: dict[str, CallSession] = {}

    def __call__(self, event: LineEvent) -> None:
        if isinstance(event, IncomingCall):
            session = CallSession(
                event.call_id,
                self._line,
                self._scheduler,
                self._checker,
                self._finished,
                self._appliance.config.call,
            )
            self.sessions[event.call_id] = session
            if self._on_session is not None:
                self._on_session(session)
        current = self.sessions.get(event.call_id)
        if current is None:
            log.warning("line %s: event for unknown call %s ignored", self._line.name, event.call_id)
            return
        current.handle(event)

    def _finished(self, record: CallRecord) -> None:
        self.sessions = {call_id: s for call_id, s in self.sessions.items() if s.call_ref != record.call_ref}
        self._appliance.journal.record_call(record)
