"""The prompts in the modem's own file store (audio = "modem-files"), synchronised once per bring-up.

A file already there with the same size is kept; a different size is deleted, then uploaded again (uploading
over an existing name fails on some firmware). A size alone cannot tell a new recording of the same length from
the old one, so with an `UploadIndex` (a small JSON file in the box's state directory: per modem, the SHA-256 of
every file we uploaded) a file is kept only when its size and our record of its content both match. Uploads send raw bytes after the modem's CONNECT or `>` prompt;
SIM800 takes at most 10 kB per AT+FSWRITE, so bigger files go in appended chunks.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drivers.line import PromptSource

from .engine import Command, Reply
from .profiles import FileStore

log = logging.getLogger(__name__)

Run = Callable[[Command], Reply]
#: the modem's own wait for the data of one upload command (AT+QFUPL / AT+FSWRITE <timeout>), seconds
MODEM_DATA_TIMEOUT_S = 10


@dataclass
class StoreReport:
    kept: int = 0
    uploaded: int = 0
    bytes_uploaded: int = 0
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"kept": self.kept, "uploaded": self.uploaded, "bytes_uploaded": self.bytes_uploaded,
                "missing": list(self.missing), "seconds": round(self.seconds, 2)}


class UploadIndex:
    """What we uploaded to one modem's file store: prompt id -> SHA-256 of the bytes, keyed by a hash of the IMEI
    (a swapped modem starts empty). Written atomically after each sync; a missing or unreadable file is empty."""

    def __init__(self, path: Path, modem: str) -> None:
        self._path = path
        self._modem = hashlib.sha256(modem.encode()).hexdigest()[:16]
        try:
            every = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            every = {}
        self._every: dict[str, dict[str, str]] = every if isinstance(every, dict) else {}
        self.digests: dict[str, str] = dict(self._every.get(self._modem, {}))

    def save(self) -> None:
        self._every[self._modem] = self.digests
        tmp = self._path.with_name(f".{self._path.name}.tmp")
        try:
            tmp.write_text(json.dumps(self._every, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:  # the next bring-up uploads again: slower, never wrong
            log.warning("cannot record the modem's files in %s: %s", self._path, exc)


class StoreSync:
    def __init__(self, run: Run, store: FileStore, *, command_s: float, upload_base_s: float,
                 upload_bytes_per_s: float, check_stop: Callable[[], None] = lambda: None) -> None:
        self._run = run
        self._store = store
        self._command_s = command_s
        self._upload_base_s = upload_base_s
        self._upload_bytes_per_s = upload_bytes_per_s
        self._check_stop = check_stop

    def sync(self, prompts: PromptSource, prompt_ids: Sequence[str], index: UploadIndex | None = None) -> StoreReport:
        started = time.monotonic()
        report = StoreReport()
        sizes = self._listing()
        for prompt_id in prompt_ids:
            self._check_stop()
            try:
                data = prompts.audio(prompt_id, self._store.fmt)
            except Exception as exc:  # the source's own error type (drivers cannot import voice_prompts)
                log.error("prompt %s has no %s audio: %s", prompt_id, self._store.fmt, exc)
                report.missing.append(prompt_id)
                continue
            have = sizes[prompt_id] if sizes is not None and prompt_id in sizes else self._size_of(prompt_id)
            digest = hashlib.sha256(data).hexdigest()
            if have == len(data) and (index is None or index.digests.get(prompt_id) == digest):
                report.kept += 1
                continue
            if have is not None:
                self._run(Command(self._store.delete.format(path=self._store.path(prompt_id)), self._command_s))
            if index is not None:
                index.digests.pop(prompt_id, None)
            if self._upload(prompt_id, data):
                report.uploaded += 1
                report.bytes_uploaded += len(data)
                if index is not None:
                    index.digests[prompt_id] = digest
            else:
                report.missing.append(prompt_id)
        if index is not None:
            index.save()
        report.seconds = time.monotonic() - started
        log.info("file store: %d kept, %d uploaded (%d bytes) in %.1f s%s", report.kept, report.uploaded,
                 report.bytes_uploaded, report.seconds, f"; missing: {report.missing}" if report.missing else "")
        return report

    def _listing(self) -> dict[str, int] | None:
        """Every stored file's size by prompt id, when the modem lists sizes in one command (EC25)."""
        query = self._store.list_all
        if query is None:
            return None
        reply = self._run(Command(query.command, self._command_s, retries=1, response=query.reply))
        if not reply.ok:
            log.warning("cannot list the modem's files (%s): uploading everything", reply.describe())
            return {}
        suffix = f".{self._store.fmt}"
        sizes: dict[str, int] = {}
        for line in reply.lines:
            match = re.search(query.pattern, line)
            if match and match.group("name").endswith(suffix):
                sizes[match.group("name")[: -len(suffix)]] = int(match.group("value"))
        return sizes

    def _size_of(self, prompt_id: str) -> int | None:
        query = self._store.size_of
        if query is None:
            return None
        command = query.command.format(path=self._store.path(prompt_id))
        reply = self._run(Command(command, self._command_s, retries=1, response=query.reply))
        if not reply.ok:
            return None  # ERROR: no such file
        match = next((m for line in reply.lines if (m := re.search(query.pattern, line))), None)
        return int(match.group("value")) if match else None

    def _upload(self, prompt_id: str, data: bytes) -> bool:
        store, path = self._store, self._store.path(prompt_id)
        if store.create is not None:
            reply = self._run(Command(store.create.format(path=path), self._command_s))
            if not reply.ok:
                log.error("cannot create %s in the modem (%s)", path, reply.describe())
                return False
        chunk = store.chunk or len(data) or 1
        for mode, start in enumerate(range(0, max(len(data), 1), chunk)):
            part = data[start:start + chunk]
            text = store.upload.format(path=path, size=len(part), timeout_s=MODEM_DATA_TIMEOUT_S, mode=min(mode, 1))
            timeout = self._upload_base_s + len(part) / self._upload_bytes_per_s
            reply = self._run(Command(text, timeout, payload=part))
            if not reply.ok or not _size_confirmed(reply, len(part)):
                log.error("upload of %s failed (%s)", path, reply.describe())
                return False
        log.debug("uploaded %s (%d bytes)", path, len(data))
        return True


def _size_confirmed(reply: Reply, size: int) -> bool:
    """+QFUPL: <size>,<checksum> when the modem says how much it got; other modems just say OK."""
    for line in reply.lines:
        match = re.match(r"\+QFUPL:\s*(\d+)", line)
        if match:
            return int(match.group(1)) == size
    return True
