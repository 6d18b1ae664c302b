"""Files a technician uploads land in `<state>/incoming/` whole or not at all.

Each file is written to a hidden temporary name (0600) while it arrives, then, once the transfer says it is
complete with every block's CRC checked, flushed, fsynced and renamed into place (and the directory fsynced). A
transfer that breaks for any reason removes its temporary file; nothing partial is ever visible under a real name.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from firmware.atomic import fsync_dir
from .progress import ProgressMeter
from .ymodem_receiver import Aborted, FileData, FileDone, FileStarted

log = logging.getLogger(__name__)

INCOMING = "incoming"
SPARE_BYTES = 16 * 1024 * 1024  # leave room for the journal on a full card
STALE_PARTIAL_S = 3600.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def incoming_dir(state_dir: Path) -> Path:
    path = Path(state_dir) / INCOMING
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def sweep_partials(directory: Path, now: float, older_than_s: float = STALE_PARTIAL_S) -> list[str]:
    """Remove temporary files a power cut left behind; a transfer in progress touches its file every block."""
    removed = []
    for path in directory.glob(".*.partial"):
        try:
            if now - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed.append(path.name)
        except FileNotFoundError:
            continue
    return removed


def check_name(name: str) -> str | None:
    """Why `name` cannot be stored (None when it can): plain names only, no paths, no hidden files."""
    if not _NAME.fullmatch(name):
        return (f"file name {name[:60]!r} refused: use letters, digits, '.', '_', '-' only, no folders "
                "(rename the file on the laptop and send it again)")
    return None


@dataclass(frozen=True)
class ReceivedFile:
    name: str
    size: int
    seconds: float
    replaced: bool


class IncomingFiles:
    """Turns receiver events into files; `handle` returns a reason when the transfer must be cancelled."""

    def __init__(self, directory: Path, clock: Callable[[], float]) -> None:
        self.directory = directory
        self.received: list[ReceivedFile] = []
        self.failure: str | None = None
        self._clock = clock
        self._tmp: Path | None = None
        self._handle: BinaryIO | None = None
        self._name = ""
        self._done = 0
        self._meter: ProgressMeter | None = None

    def handle(self, event: object) -> str | None:
        try:
            if isinstance(event, FileStarted):
                return self._start(event)
            if isinstance(event, FileData):
                return self._write(event.data)
            if isinstance(event, FileDone):
                self._finish(event)
            elif isinstance(event, Aborted):
                self.failure = event.reason
                self.discard()
        except OSError as exc:
            self.discard()
            return f"cannot write {self._name!r} in {self.directory}: {exc.strerror or exc}"
        return None

    def discard(self) -> None:
        """Remove the file being received, if any (also when the console closes mid-transfer)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            tmp.unlink(missing_ok=True)

    def _start(self, event: FileStarted) -> str | None:
        refused = check_name(event.name)
        if refused:
            return refused
        free = shutil.disk_usage(self.directory).free
        if event.size + SPARE_BYTES > free:
            return f"{event.name!r} needs {event.size} bytes; only {free - SPARE_BYTES} free for uploads"
        self._name, self._done = event.name, 0
        self._tmp = self.directory / f".{event.name}.{secrets.token_hex(4)}.partial"
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self._handle = open(fd, "wb")
        self._meter = ProgressMeter(event.name, event.size, self._clock())
        log.info("receiving %s (%d bytes) by YMODEM", event.name, event.size)
        return None

    def _write(self, data: bytes) -> str | None:
        if self._handle is None:
            return "data arrived before a file header"
        self._handle.write(data)
        self._done += len(data)
        if self._meter is not None:
            line = self._meter.update(self._done, self._clock())
            if line:
                log.info("%s", line)
        return None

    def _finish(self, event: FileDone) -> None:
        handle, tmp = self._handle, self._tmp
        if handle is None or tmp is None:
            return
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        self._handle = None
        target = self.directory / event.name
        replaced = target.exists()
        os.replace(tmp, target)
        self._tmp = None
        fsync_dir(self.directory)
        seconds = self._clock() - (self._meter.started if self._meter else self._clock())
        self.received.append(ReceivedFile(event.name, event.size, seconds, replaced))
        log.info("received %s (%d bytes) in %.1f s", event.name, event.size, seconds)
