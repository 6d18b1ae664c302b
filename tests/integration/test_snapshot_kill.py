"""`kill -9` at random points of `snapshot install` and of `sync`: a valid snapshot always serves, and every outbox
event reaches central exactly once."""

from __future__ import annotations

import random
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.appliance import SnapshotHolder, snapshot_path
from firmware.journal import Journal
from firmware.keys import load_verify_key
from firmware.snapshot import verify_snapshot
from snapshot_kit import REGION, box_config, make_central, popen, publish, resetline, rows
from test_snapshot_sync import Central, add_events

ROWS = 20_000  # an install takes a few hundred ms here, so random kills land inside it
SYNC_ROWS = 5_000
RUNS = 10


class Caller(threading.Thread):
    """The daemon's side: checks through a SnapshotHolder, without pause, for as long as the test runs."""

    def __init__(self, state: Path) -> None:
        super().__init__(daemon=True)
        self.holder = SnapshotHolder(snapshot_path(state))
        self.stop = threading.Event()
        self.answered = 0
        self.failures: list[str] = []
        self.sequences: set[str] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            snapshot = self.holder()
            sequence = int(snapshot.meta["sequence"])
            code, phone, _ = rows(sequence)[100]  # in every lineage here, whatever its size
            try:
                if snapshot.lookup(code, phone) is None:
                    self.failures.append(f"sequence {sequence}: a registered pair did not match")
            except Exception as exc:  # noqa: BLE001 - the test reports whatever broke a call
                self.failures.append(repr(exc))
            self.answered += 1
            self.sequences.add(snapshot.meta["sequence"])


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    central = make_central(tmp_path_factory.mktemp("kill"))
    for sequence in (1, 2):
        publish(central, sequence, count=ROWS)
    return central


def _run_and_kill(args: tuple[str, ...], after_s: float) -> bool:
    """Start the command, SIGKILL it after `after_s` if it still runs; True when it was killed."""
    process = popen(*args)
    try:
        process.wait(timeout=after_s)
        return False
    except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: still running, so kill it
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        return True


def _timed(args: tuple[str, ...]) -> float:
    started = time.monotonic()
    done = resetline(*args)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def _valid(state: Path, central: Path) -> str:
    return verify_snapshot(snapshot_path(state), load_verify_key(central / "signing.pub"))["sequence"]


@pytest.fixture()
def caller_for(tmp_path: Path) -> Iterator[list[Caller]]:
    callers: list[Caller] = []
    yield callers
    for caller in callers:
        caller.stop.set()
        caller.join(timeout=10)


def test_kill_9_during_install_never_leaves_the_box_without_a_valid_snapshot(
        lineage: Path, tmp_path: Path, caller_for: list[Caller]) -> None:
    config = box_config(tmp_path, lineage, "http://127.0.0.1:9")
    state = tmp_path / "state-box-1"
    region = lineage / "regions" / REGION
    assert resetline("snapshot", "install", str(region / "1.snap"), "--config", str(config)).returncode == 0
    pristine = tmp_path / "pristine"
    shutil.copytree(state, pristine)
    caller = Caller(state)
    caller_for.append(caller)
    caller.start()
    rng = random.Random(7)
    killed = 0
    for run in range(RUNS):
        source = region / ("1-2.delta" if run % 2 else "2.snap")
        args = ("snapshot", "install", str(source), "--config", str(config))
        if run < 2:
            duration = _timed(args)  # how long one whole install takes here, delta and full
        else:
            killed += _run_and_kill(args, rng.uniform(0.0, duration * 1.1))
        assert _valid(state, lineage) in ("1", "2")
        # whatever was left behind, the next install completes (or finds sequence 2 already there)
        done = resetline(*args)
        assert done.returncode == 0 or "not newer than the installed sequence 2" in done.stderr, done.stderr
        assert _valid(state, lineage) == "2"
        shutil.rmtree(state / "snapshot")
        shutil.copytree(pristine / "snapshot", state / "snapshot")
    caller.stop.set()
    caller.join(timeout=10)
    assert killed >= 5, "the kills landed after the installs finished; nothing was tested"
    assert caller.failures == [] and caller.answered > 0 and caller.sequences == {"1", "2"}


def test_kill_9_during_sync_loses_and_duplicates_no_event(lineage: Path, tmp_path: Path,
                                                          caller_for: list[Caller]) -> None:
    central_dir = tmp_path / "central"
    shutil.copytree(lineage, central_dir)
    shutil.rmtree(central_dir / "regions" / REGION)
    publish(central_dir, 1, count=SYNC_ROWS)
    central = Central(central_dir)
    try:
        config = box_config(tmp_path, central_dir, central.url)
        state = tmp_path / "state-box-1"
        add_events(tmp_path, central_dir, 100)
        duration = _timed(("sync", "--config", str(config)))
        caller = Caller(state)
        caller_for.append(caller)
        caller.start()
        rng = random.Random(11)
        queued, sequence, killed, serving = 100, 1, 0, 1
        for run in range(RUNS):
            add_events(tmp_path, central_dir, 50)
            queued += 50
            if run % 3 == 0:
                sequence += 1
                publish(central_dir, sequence, count=SYNC_ROWS)
            killed += _run_and_kill(("sync", "--config", str(config)), rng.uniform(0.0, duration * 1.5))
            now_serving = int(_valid(state, central_dir))
            assert serving <= now_serving <= sequence  # whole, and never older than before
            serving = now_serving
        done = resetline("sync", "--config", str(config))
        assert done.returncode == 0, done.stdout + done.stderr
        assert _valid(state, central_dir) == str(sequence)
        assert [i for _, i, _ in central.events()] == list(range(1, queued + 1))  # each once, none missing
        with Journal.open(state / "journal.db") as journal:
            assert journal.pending_resets() == []
        caller.stop.set()
        caller.join(timeout=10)
        assert killed >= 5 and caller.failures == [] and caller.answered > 0
    finally:
        central.stop()
