"""The composition root: opens the box's state once and routes each line's calls to call sessions.

This is the one place that decides which back ends serve the box (today: the simulated line; the GSM, SIP and
V.253 drivers plug in here). Nothing falls back silently from a real back end to a simulated one.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from drivers.clock import Scheduler
from drivers.line import IncomingCall, Line, LineEvent
from voice_prompts.catalog import PromptCatalog, box_recordings

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
    """The snapshot each check uses: opened on first use, reopened when an install renames a new `current.db` in.

    Every call compares the path's (device, inode, mtime) with the open file's, one `stat`; a new file is opened
    for the calls from then on, while a lookup already holding the old object finishes on it (the old file stays
    readable through its open descriptor and is closed when the last user drops it). A new file that fails to
    open is logged and the old one keeps serving. A missing one is an error per call, not at boot.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._snapshot: Snapshot | None = None
        self._identity: tuple[int, int, int] | None = None
        self._refused: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Snapshot:
        with self._lock:
            try:
                info = os.stat(self._path)
            except FileNotFoundError:
                if self._snapshot is not None:
                    return self._snapshot  # only a filesystem without hard links shows this gap
                raise SnapshotError(f"no snapshot installed at {self._path}; run `resetline snapshot install`") from None
            identity = (info.st_dev, info.st_ino, info.st_mtime_ns)
            if identity != self._identity and identity != self._refused:
                self._open(identity)
            if self._snapshot is None:
                raise SnapshotError(f"snapshot {self._path} cannot be opened; see the log")
            return self._snapshot

    def _open(self, identity: tuple[int, int, int]) -> None:
        try:
            fresh = Snapshot.open(self._path)
        except SnapshotError as exc:
            log.error("new snapshot at %s refused, %s: %s", self._path,
                      "keeping the one in use" if self._snapshot else "none serving", exc)
            self._refused = identity
            return
        if self._snapshot is not None:
            log.info("snapshot sequence %s now serving (was %s)", fresh.meta["sequence"],
                     self._snapshot.meta["sequence"])
        self._snapshot, self._identity, self._refused = fresh, identity, None  # the old one closes when unused

    def close(self) -> None:
        with self._lock:
            if self._snapshot is not None:
                self._snapshot.close()
                self._snapshot = None
                self._identity = None


class Appliance:
    """The box's state, opened once: journal, snapshot, keys, prompts and the verifier built from them."""

    def __init__(self, config: Config, state_dir: Path, *, notices: NoticeSettings = NoticeSettings()) -> None:
        self.config = config
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.prompts = PromptCatalog.load(override_dir=box_recordings(state_dir))
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
                void=self._appliance.verifier.void,
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
