"""`resetline sync` against `resetline central serve` on 127.0.0.1: pull full and delta, push the outbox once each."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.appliance import snapshot_path
from firmware.journal import Journal
from firmware.keys import load_central_public_key
from firmware.sealing import seal
from firmware.snapshot import Snapshot
from snapshot_kit import REGION, box_config, make_central, popen, publish, resetline


class Central:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.process = popen("central", "serve", "--dir", str(directory), "--bind", "127.0.0.1:0")
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "central serving" in line, line + (self.process.stderr.read() if self.process.stderr else "")
        self.url = line.rsplit(" ", 1)[1].strip()

    def events(self) -> list[tuple[str, int, str]]:
        with sqlite3.connect(self.dir / "central.db") as conn:
            return [tuple(r) for r in conn.execute("SELECT box, outbox_id, kind FROM events ORDER BY box, outbox_id")]

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


@pytest.fixture()
def central(tmp_path: Path) -> Iterator[Central]:
    directory = make_central(tmp_path)
    publish(directory, 1)
    server = Central(directory)
    yield server
    server.stop()


def add_events(config_dir: Path, central_dir: Path, count: int, box: str = "box-1") -> list[str]:
    """Queue `count` sealed events in the box's outbox (every 4th an SMS-notice failure); returns the passwords."""
    key, _ = load_central_public_key(central_dir / "sealing.pub", config_dir)
    passwords = []
    with Journal.open(config_dir / f"state-{box}" / "journal.db") as journal:
        for i in range(count):
            kind = "sms_notice_failed" if i % 4 == 3 else "reset"
            password = f"pw{i:06d}"
            passwords.append(password)
            payload = {"v": 1, "kind": kind, "call_ref": f"c{i}", "account_ref": f"VSS-{i}", "password": password}
            journal.add_reset(call_ref=f"c{i}", sealed=seal(key, payload), created_at=float(i))
    return passwords


def _sync(config: Path) -> tuple[int, str]:
    done = resetline("sync", "--config", str(config))
    return done.returncode, done.stdout + done.stderr


def _serving(config: Path, box: str = "box-1") -> str:
    with Snapshot.open(snapshot_path(config.parent / f"state-{box}")) as snapshot:
        return snapshot.meta["sequence"]


def test_sync_installs_full_then_delta_and_delivers_every_event_once(central: Central, tmp_path: Path) -> None:
    config = box_config(tmp_path, central.dir, central.url)
    add_events(tmp_path, central.dir, 6)
    code, out = _sync(config)
    assert code == 0, out
    assert "snapshot: sequence 1 installed (full, 400 rows)" in out and "outbox: 6 event(s) sent, 0 pending" in out
    publish(central.dir, 2)
    add_events(tmp_path, central.dir, 2)
    code, out = _sync(config)
    assert code == 0 and "sequence 2 installed (delta" in out and "2 event(s) sent" in out, out
    assert _serving(config) == "2"
    assert central.events() == [("box-1", i, "sms_notice_failed" if i == 4 else "reset") for i in range(1, 9)]
    with sqlite3.connect(central.dir / "central.db") as conn:  # central opened the sealed password
        assert conn.execute("SELECT password FROM resets WHERE outbox_id = 1").fetchone() == ("pw000000",)
        assert "pw000000" not in conn.execute("SELECT payload FROM events WHERE outbox_id = 1").fetchone()[0]
    code, out = _sync(config)
    assert code == 0 and "up to date (sequence 2)" in out and "0 event(s) sent, 0 pending" in out


def test_central_acknowledges_a_resent_event_without_storing_it_twice(central: Central, tmp_path: Path) -> None:
    body = json.dumps({"box": "box-9", "events": [
        {"id": 1, "sealed": base64.b64encode(b"not a sealed box").decode()}]}).encode()
    answers = []
    for _ in range(2):
        request = urllib.request.Request(central.url + "/v1/outbox", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answers.append(json.loads(response.read()))
    assert answers[0] == {"acked": [1], "duplicates": [], "unreadable": [1]}
    assert answers[1] == {"acked": [1], "duplicates": [1], "unreadable": []}
    assert central.events() == [("box-9", 1, None)]


def test_two_boxes_with_the_same_outbox_ids_are_kept_apart(central: Central, tmp_path: Path) -> None:
    for box in ("box-1", "box-2"):
        config = box_config(tmp_path, central.dir, central.url, name=box)
        add_events(tmp_path, central.dir, 2, box=box)
        assert _sync(config)[0] == 0
    assert [(b, i) for b, i, _ in central.events()] == [("box-1", 1), ("box-1", 2), ("box-2", 1), ("box-2", 2)]


def test_a_corrupt_download_is_refused_and_the_next_sync_recovers(central: Central, tmp_path: Path) -> None:
    config = box_config(tmp_path, central.dir, central.url)
    assert _sync(config)[0] == 0
    new = publish(central.dir, 2, with_delta=False)
    sha = hashlib.sha256(new.read_bytes()).hexdigest()
    part = snapshot_path(tmp_path / "state-box-1").parent / f"download-{sha}.part"
    part.write_bytes(b"\0" * new.stat().st_size)  # as long as the file, wrong bytes
    code, out = _sync(config)
    assert code == 1 and "truncated or corrupt" in out and "keeps serving" in out
    assert _serving(config) == "1" and not part.exists()
    part.write_bytes(new.read_bytes()[: new.stat().st_size // 3])  # an interrupted download resumes
    code, out = _sync(config)
    assert code == 0 and "sequence 2 installed (full" in out, out


def test_with_central_down_the_snapshot_serves_and_events_stay_queued(central: Central, tmp_path: Path) -> None:
    config = box_config(tmp_path, central.dir, central.url)
    assert _sync(config)[0] == 0
    add_events(tmp_path, central.dir, 3)
    central.stop()
    code, out = _sync(config)
    assert code == 1 and "central unreachable" in out
    assert _serving(config) == "1"
    with Journal.open(tmp_path / "state-box-1" / "journal.db") as journal:
        assert len(journal.pending_resets()) == 3
    central.process = Central(central.dir).process  # restarted for the fixture's teardown


def test_sync_stays_on_a_rollback_until_central_publishes_a_newer_sequence(central: Central,
                                                                           tmp_path: Path) -> None:
    config = box_config(tmp_path, central.dir, central.url)
    _sync(config)
    publish(central.dir, 2)
    _sync(config)
    assert resetline("snapshot", "rollback", "--config", str(config)).returncode == 0
    code, out = _sync(config)
    assert code == 0 and "sequence 2, was rolled back on this box; staying on sequence 1" in out
    publish(central.dir, 3, with_delta=False)
    code, out = _sync(config)
    assert code == 0 and "sequence 3 installed" in out and _serving(config) == "3"


def test_sync_without_a_central_table_says_what_is_missing(tmp_path: Path) -> None:
    config = tmp_path / "box.toml"
    config.write_text(f'[box]\nstate_dir = "{tmp_path / "state"}"\n')
    done = resetline("sync", "--config", str(config))
    assert done.returncode == 1 and "[central] table" in done.stderr and REGION not in done.stderr


@pytest.mark.parametrize("path", [
    "/v1/regions/HN-01/files/..%2F..%2Fsealing.key", "/v1/regions/../files/sealing.key",
    "/v1/regions/HN-01/files/../../sealing.key", "/sealing.key", "/v1/regions/HN-01/files/central.db",
])
def test_central_serves_only_published_snapshot_files(central: Central, path: str) -> None:
    request = urllib.request.Request(central.url + path)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404


def test_a_range_resumes_and_a_range_past_the_end_is_refused(central: Central) -> None:
    whole = (central.dir / "regions" / REGION / "1.snap").read_bytes()
    url = central.url + f"/v1/regions/{REGION}/files/1.snap"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=1000-"}), timeout=10) as part:
        assert part.status == 206 and part.read() == whole[1000:]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Range": f"bytes={len(whole) + 1}-"}), timeout=10)
    assert refused.value.code == 416
