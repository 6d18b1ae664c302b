"""The box's snapshot directory: verified install (full or delta), atomic swap, rollback, status.

``<state>/snapshot/`` holds ``current.db`` (what the daemon serves), ``previous.db`` (kept
for rollback) and, only while an install runs, ``incoming.db``. Every change is a rename
(``current.db`` is replaced, never written in place, never absent), so a power cut or
``kill -9`` at any point leaves the old or the new snapshot serving, both whole. One
``install.lock`` (flock) serialises install, import, rollback and sync.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import nacl.signing

from firmware.snapshot import Snapshot, SnapshotError, verify_snapshot
from firmware.snapshot_build import fsync_path, remove_db
from firmware.snapshot_delta import apply_delta, is_delta

from . import ProvisioningError

logger = logging.getLogger(__name__)

DIR_MODE: Final = 0o700
ROLLED_BACK: Final = "rolled-back-sequence"


class InstallError(ProvisioningError):
    """Nothing was installed; the snapshot that was serving still serves. The message says why."""


@dataclass(frozen=True)
class Trust:
    """What the box accepts: snapshots for its region, signed with central's key."""

    region: str
    verify_key: nacl.signing.VerifyKey


@dataclass(frozen=True)
class Installed:
    """What an install did."""

    sequence: int
    previous_sequence: int | None
    rows: int
    delta: bool
    seconds: float


def snapshot_dir(state_dir: Path) -> Path:
    """``<state>/snapshot``, created 0o700."""
    state_dir = Path(state_dir)
    state_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    directory = state_dir / "snapshot"
    directory.mkdir(mode=DIR_MODE, exist_ok=True)
    return directory


@contextlib.contextmanager
def install_lock(directory: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold ``install.lock``; InstallError when another install, import, rollback or sync holds it."""
    deadline = time.monotonic() + wait_s
    with open(directory / "install.lock", "w") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise InstallError("another snapshot install, import, rollback or sync is running") from None
                time.sleep(0.1)
        yield


def read_meta(path: Path) -> dict[str, str] | None:
    """The meta of an installed file, or None when there is none."""
    if not path.exists():
        return None
    with Snapshot.open(path) as snapshot:
        return dict(snapshot.meta)


def installed_sequence(state_dir: Path) -> int | None:
    meta = read_meta(snapshot_dir(state_dir) / "current.db")
    return None if meta is None else int(meta["sequence"])


def swap_in(incoming: Path, directory: Path) -> Path | None:
    """Make ``incoming`` current.db, keeping the old one as previous.db; current.db never vanishes."""
    current, previous = directory / "current.db", directory / "previous.db"
    kept: Path | None = None
    if current.exists():
        staged = directory / "previous.tmp"
        staged.unlink(missing_ok=True)
        try:
            os.link(current, staged)
            os.replace(staged, previous)
        except OSError:  # no hard links on this filesystem: current.db is briefly absent
            staged.unlink(missing_ok=True)
            os.replace(current, previous)
        kept = previous
    os.replace(incoming, current)
    fsync_path(directory)
    return kept


def install(source: Path, state_dir: Path, trust: Trust, *, lock_wait_s: float = 0.0,
            consume: bool = False) -> Installed:
    """Verify ``source`` (a full snapshot or a delta) and make it current; InstallError says why not.

    ``consume``: ``source`` is a file of ours in the same directory (sync's download), renamed rather than copied.
    """
    started = time.monotonic()
    source = Path(source)
    if not source.is_file():
        raise InstallError(f"{source}: no such file")
    directory = snapshot_dir(state_dir)
    incoming = directory / "incoming.db"
    with install_lock(directory, lock_wait_s):
        current, damaged = _current_meta(directory)
        try:
            delta = is_delta(source)
            if delta:
                if current is None:
                    raise InstallError(f"a delta needs an installed snapshot{damaged}; install a full snapshot")
                meta = apply_delta(source, directory / "current.db", incoming, trust.verify_key)
            else:
                remove_db(incoming)
                if consume and source.parent.resolve() == directory.resolve():
                    os.replace(source, incoming)
                else:
                    shutil.copyfile(source, incoming)  # verify our own copy, not a file someone may still change
                meta = verify_snapshot(incoming, trust.verify_key)
            _check_acceptable(meta, current, directory, trust)
            fsync_path(incoming)
            swap_in(incoming, directory)
        except SnapshotError as exc:
            raise InstallError(f"refused: {exc}") from exc
        except OSError as exc:
            raise InstallError(f"cannot install {source}: {exc.strerror or exc}") from exc
        finally:
            remove_db(incoming)
    done = Installed(sequence=int(meta["sequence"]), rows=int(meta["row_count"]), delta=delta,
                     previous_sequence=None if current is None else int(current["sequence"]),
                     seconds=round(time.monotonic() - started, 3))
    logger.info("snapshot sequence %d installed (%s, %d rows, %.1f s)", done.sequence,
                "delta" if delta else "full", done.rows, done.seconds)
    return done


def _current_meta(directory: Path) -> tuple[dict[str, str] | None, str]:
    """The installed meta; a damaged current.db counts as none, so a full snapshot can repair the box."""
    try:
        return read_meta(directory / "current.db"), ""
    except SnapshotError as exc:
        logger.warning("installed snapshot is damaged (%s); a full snapshot may replace it", exc)
        return None, " (the installed one is damaged)"


def _check_acceptable(meta: dict[str, str], current: dict[str, str] | None, directory: Path,
                      trust: Trust) -> None:
    if meta["region"] != trust.region:
        raise InstallError(f"refused: snapshot is for region {meta['region']!r}; this box serves {trust.region!r}")
    sequence = int(meta["sequence"])
    if current is not None and sequence <= int(current["sequence"]):
        raise InstallError(f"refused: sequence {sequence} is not newer than the installed sequence "
                           f"{current['sequence']}")
    rolled_back = _rolled_back(directory)
    if rolled_back is not None and sequence <= rolled_back:
        raise InstallError(f"refused: sequence {sequence} was rolled back on this box (up to {rolled_back}); "
                           "central must publish a newer one")


def rolled_back_sequence(state_dir: Path) -> int | None:
    """The highest sequence a technician rolled back from on this box (refused from then on), if any."""
    return _rolled_back(Path(state_dir) / "snapshot")


def _rolled_back(directory: Path) -> int | None:
    try:
        return int((directory / ROLLED_BACK).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def rollback(state_dir: Path) -> tuple[int, int]:
    """Swap current.db and previous.db; returns (sequence now serving, sequence rolled back from).

    The sequence rolled back from is remembered, so sync does not bring it straight back.
    """
    directory = snapshot_dir(state_dir)
    current, previous = directory / "current.db", directory / "previous.db"
    with install_lock(directory):
        now_meta, back_meta = read_meta(current), read_meta(previous)
        if back_meta is None:
            raise InstallError("no previous snapshot is kept; nothing to roll back to")
        if now_meta is None:
            raise InstallError("no snapshot is installed; nothing to roll back from")
        leaving = int(now_meta["sequence"])
        marker = directory / (ROLLED_BACK + ".tmp")
        marker.write_text(f"{max(leaving, _rolled_back(directory) or 0)}\n")
        fsync_path(marker)
        os.replace(marker, directory / ROLLED_BACK)
        staged = directory / "rollback.tmp"
        staged.unlink(missing_ok=True)
        os.link(current, staged)
        os.replace(previous, current)  # the daemon sees the kept file from its next call on
        os.replace(staged, previous)
        fsync_path(directory)
    return int(back_meta["sequence"]), leaving


def status(state_dir: Path, verify_key: nacl.signing.VerifyKey | None, now: float | None = None) -> dict[str, Any]:
    """What `snapshot info` shows: the serving file, the kept one, and whether the serving one verifies."""
    directory = Path(state_dir) / "snapshot"
    now = time.time() if now is None else now
    report: dict[str, Any] = {"state_dir": str(state_dir)}
    for name in ("current", "previous"):
        try:
            meta = read_meta(directory / f"{name}.db")
        except SnapshotError as exc:
            report[name] = {"error": str(exc)}
            continue
        report[name] = None if meta is None else _describe(meta, now)
    report["verification"] = _verification(directory / "current.db", report["current"], verify_key)
    report["rolled_back_sequence"] = _rolled_back(directory)
    return report


def _describe(meta: dict[str, str], now: float) -> dict[str, Any]:
    built = datetime.fromisoformat(meta["built_at"].replace("Z", "+00:00")).timestamp()
    return {"region": meta["region"], "sequence": int(meta["sequence"]), "rows": int(meta["row_count"]),
            "built_at": meta["built_at"], "age_s": round(now - built), "format_version": meta["format_version"],
            "kdf": f"{meta['kdf']} N={meta['kdf_n']} r={meta['kdf_r']} p={meta['kdf_p']}"}


def _verification(path: Path, current: dict[str, Any] | None, verify_key: nacl.signing.VerifyKey | None) -> str:
    if current is None:
        return "none installed"
    if "error" in current:
        return "damaged: " + current["error"]
    if current["format_version"] == "1":
        return "unsigned local import"
    if verify_key is None:
        return "not checked (no central signing key given)"
    try:
        verify_snapshot(path, verify_key)
    except SnapshotError as exc:
        return f"FAILED: {exc}"
    return "ok: signed by the configured central key"
