"""``resetline sync --config FILE``: once, pull the newest snapshot or delta from central and push the outbox.

Safe to interrupt at any byte: a download goes to ``snapshot/download-<sha256>.part`` (resumed
with an HTTP Range on the next run, checked against central's size and SHA-256 before use), the
install is the atomic one of ``snapshot install``, and an outbox event is marked sent only
after central acknowledged it — central stores each (box, outbox id) once, so an event sent
twice after a lost answer is recognised, not duplicated. A systemd timer runs it.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hashlib
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from firmware import FirmwareError
from firmware.config import CentralConfig, Config, ConfigError, load
from firmware.journal import Journal
from firmware.keys import load_verify_key

from . import ProvisioningError
from .snapshot_install import (
    InstallError, Trust, install, installed_sequence, rolled_back_sequence, snapshot_dir,
)

log = logging.getLogger(__name__)

BATCH: Final = 100
BLOCK: Final = 1 << 16
PART_PREFIX: Final = "download-"


class SyncError(ProvisioningError):
    """One step of the sync failed; the message says which and why."""


@dataclass
class SyncReport:
    """What one sync did; ``errors`` is empty when everything succeeded."""

    snapshot: str = ""
    pushed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)


class Central:
    """The HTTP client side of docs/central-api.md."""

    def __init__(self, config: CentralConfig) -> None:
        self._base = config.url.rstrip("/")
        self._timeout = config.timeout_s

    def _open(self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(self._base + path, data=data, headers=headers or {})
        try:
            return urllib.request.urlopen(request, timeout=self._timeout)  # noqa: S310 - URL scheme checked by config
        except urllib.error.HTTPError as exc:
            try:
                reason = json.loads(exc.read()).get("error", exc.reason)
            except (ValueError, AttributeError):
                reason = exc.reason
            raise SyncError(f"central answered {exc.code} for {path}: {reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise SyncError(f"central unreachable at {self._base}: {getattr(exc, 'reason', exc)}") from exc

    def latest(self, region: str, installed: int | None) -> dict[str, Any]:
        query = "" if installed is None else f"?installed={installed}"
        with self._open(f"/v1/regions/{region}/latest{query}") as response:
            return dict(json.loads(response.read()))

    def download(self, path: str, target: Path, size: int) -> None:
        """Fetch into ``target``, resuming from its current length."""
        have = target.stat().st_size if target.exists() else 0
        if have >= size:
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._open(path, headers=headers) as response, open(target, "ab") as out:
            if have and response.status != 206:
                out.truncate(0)  # the server ignored the range: start over
            while block := response.read(BLOCK):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())

    def push(self, box: str, events: list[tuple[int, bytes]]) -> list[int]:
        body = json.dumps({"box": box, "events": [
            {"id": i, "sealed": base64.b64encode(blob).decode("ascii")} for i, blob in events]}).encode()
        with self._open("/v1/outbox", data=body, headers={"Content-Type": "application/json"}) as response:
            answer = json.loads(response.read())
        acked = answer.get("acked") if isinstance(answer, dict) else None
        if not isinstance(acked, list):
            raise SyncError("central's answer to the outbox push has no 'acked' list")
        return [i for i in acked if isinstance(i, int)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def pull(config: Config, client: Central) -> str:
    """Install central's newest snapshot or delta if it is newer; returns what happened in one line."""
    assert config.central is not None
    state_dir = config.box.state_dir
    trust = Trust(config.central.region, load_verify_key(config.central.signing_public_key))
    installed = installed_sequence(state_dir)
    offer = client.latest(config.central.region, installed)
    if offer.get("kind") == "none":
        return f"up to date (sequence {installed})"
    refused = rolled_back_sequence(state_dir)
    if refused is not None and int(offer.get("sequence", 0)) <= refused:
        return (f"central's newest, sequence {offer.get('sequence')}, was rolled back on this box; "
                f"staying on sequence {installed} until central publishes a newer one")
    try:
        size, sha, url = int(offer["size"]), str(offer["sha256"]), str(offer["url"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SyncError(f"central's offer for region {config.central.region} is malformed") from exc
    if not url.startswith("/v1/") or len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
        raise SyncError("central's offer names an unexpected file or checksum")
    directory = snapshot_dir(state_dir)
    part = directory / f"{PART_PREFIX}{sha}.part"
    for stale in directory.glob(f"{PART_PREFIX}*.part"):
        if stale != part:
            stale.unlink()  # an interrupted download of a file central no longer offers
    client.download(url, part, size)
    got = part.stat().st_size
    if got != size or _sha256(part) != sha:
        part.unlink()
        raise SyncError(f"download of {url} is truncated or corrupt ({got} of {size} bytes, checksum "
                        "mismatch); the installed snapshot keeps serving, the next sync starts over")
    try:
        done = install(part, state_dir, trust, lock_wait_s=30.0, consume=True)
    finally:
        part.unlink(missing_ok=True)
    return f"sequence {done.sequence} installed ({'delta' if done.delta else 'full'}, {done.rows} rows)"


def push(config: Config, client: Central) -> tuple[int, int]:
    """Send every pending outbox row, whatever its kind, oldest first; returns (sent, still pending)."""
    sent = 0
    with Journal.open(config.box.state_dir / "journal.db") as journal:
        while batch := journal.pending_resets(BATCH):
            acked = set(client.push(config.box.name, batch)) & {row_id for row_id, _ in batch}
            journal.mark_sent(sorted(acked), time.time())  # only after central's commit answered
            sent += len(acked)
            if len(acked) < len(batch):
                break  # central kept some back: try again next time
        return sent, len(journal.pending_resets(BATCH))


def sync_once(config: Config) -> SyncReport:
    """Pull then push; a failure of one step does not stop the other."""
    if config.central is None:
        raise ConfigError("central: the [central] table (url, region, signing_public_key) is needed for sync")
    client = Central(config.central)
    report = SyncReport()
    with open(snapshot_dir(config.box.state_dir) / "sync.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncError("another sync is running") from None
        try:
            report.snapshot = pull(config, client)
        except (InstallError, SyncError, FirmwareError, OSError) as exc:
            report.errors.append(f"snapshot: {exc}")
        try:
            report.pushed, report.pending = push(config, client)
        except (SyncError, FirmwareError, OSError) as exc:
            report.errors.append(f"outbox: {exc}")
    return report


def run_sync(args: argparse.Namespace) -> int:
    try:
        report = sync_once(load(args.config))
    except (ProvisioningError, FirmwareError, OSError) as exc:
        print(f"sync: {exc}", file=sys.stderr)
        return 1
    if report.snapshot:
        print(f"snapshot: {report.snapshot}")
    print(f"outbox: {report.pushed} event(s) sent, {report.pending} pending")
    for error in report.errors:
        print(f"sync: {error}", file=sys.stderr)
    return 1 if report.errors else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sync``."""
    parser = sub.add_parser("sync", help="pull the newest snapshot from central and push the outbox, once",
                            description="One sync with central (docs/central-api.md); a systemd timer runs it.")
    parser.add_argument("--config", type=Path, required=True, metavar="FILE", help="the box's resetline.toml")
    parser.set_defaults(func=run_sync)
