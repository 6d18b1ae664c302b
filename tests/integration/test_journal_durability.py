"""A reset id handed out by the journal means the sealed reset is on disk.

These tests use a real child process killed with SIGKILL, and a real full filesystem
(a small tmpfs, when this test may mount one).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import nacl.public
import pytest

from firmware.journal import Journal, JournalError
from firmware.sealing import seal, unseal

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from pathlib import Path
from firmware.journal import Journal
journal = Journal.open(Path(sys.argv[1]))
for i, blob in enumerate(sys.argv[2:]):
    rid = journal.add_reset(call_ref=f"call-{i}", sealed=bytes.fromhex(blob), created_at=1000.0 + i)
    print(rid, flush=True)
sys.stdin.read()  # stay alive, connection open, until the test kills us
"""


def test_reset_survives_sigkill_right_after_add_reset_returns(tmp_path: Path) -> None:
    central = nacl.public.PrivateKey.generate()
    blobs = [seal(central.public_key, {"call_ref": f"call-{i}", "password": f"Vn{i:06d}"}) for i in range(5)]
    path = tmp_path / "journal.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), *(b.hex() for b in blobs)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
    )
    assert child.stdout is not None
    try:
        ids = [int(child.stdout.readline()) for _ in blobs]
        child.send_signal(signal.SIGKILL)  # no close, no checkpoint, no atexit
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert (tmp_path / "journal.db-wal").stat().st_size > 0  # recovery has to come from the WAL

    with Journal.open(path) as journal:
        pending = dict(journal.pending_resets())
    assert sorted(pending) == sorted(ids)
    for rid, blob in zip(ids, blobs):
        assert pending[rid] == blob
    assert unseal(central, pending[ids[-1]])["password"] == "Vn000004"


@pytest.fixture
def tiny_fs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 1 MiB tmpfs: the SD card running out of space, for real."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs to fill needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_full_disk_fails_add_reset_cleanly(tiny_fs: Path) -> None:
    path = tiny_fs / "journal.db"
    journal = Journal.open(path)
    try:
        stored = {journal.add_reset(call_ref="before", sealed=b"b" * 150, created_at=1.0): b"b" * 150}
        filler = _fill(tiny_fs)
        failure: JournalError | None = None
        for i in range(2000):
            blob = os.urandom(150)
            try:
                stored[journal.add_reset(call_ref=f"c{i}", sealed=blob, created_at=2.0 + i)] = blob
            except JournalError as exc:
                failure, failed_ref = exc, f"c{i}"
                break
        assert failure is not None, "the disk never filled up"
        assert str(failure) == "journal write of reset failed: database or disk is full"
        assert failed_ref not in {r["call_ref"] for r in journal.outbox(limit=5000)}
        assert dict(journal.pending_resets(limit=5000)) == stored

        filler.unlink()  # the technician frees space: the journal carries on
        stored[journal.add_reset(call_ref="after", sealed=b"a" * 150, created_at=9e9)] = b"a" * 150
    finally:
        journal.close()

    with Journal.open(path) as reopened:
        assert dict(reopened.pending_resets(limit=5000)) == stored
        assert failed_ref not in {r["call_ref"] for r in reopened.outbox(limit=5000)}
