"""`resetline snapshot install|info|rollback` on a box directory, with the daemon's SnapshotHolder serving throughout."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware.appliance import SnapshotHolder, snapshot_path
from firmware.snapshot import Snapshot
from snapshot_kit import REGION, box_config, make_central, publish, resetline, rows


@pytest.fixture()
def central(tmp_path: Path) -> Path:
    central = make_central(tmp_path)
    for sequence in (1, 2, 3):
        publish(central, sequence)
    return central


@pytest.fixture()
def config(tmp_path: Path, central: Path) -> Path:
    return box_config(tmp_path, central, "http://127.0.0.1:9")


def _snap(central: Path, name: str) -> str:
    return str(central / "regions" / REGION / name)


def _state(config: Path) -> Path:
    return config.parent / "state-box-1"


def _install(config: Path, path: str) -> tuple[int, str]:
    done = resetline("snapshot", "install", path, "--config", str(config))
    return done.returncode, done.stdout + done.stderr


def _serving(state: Path) -> str:
    with Snapshot.open(snapshot_path(state)) as snapshot:
        return snapshot.meta["sequence"]


def test_full_then_delta_installs_keep_the_previous(config: Path, central: Path) -> None:
    assert _install(config, _snap(central, "1.snap"))[0] == 0
    code, out = _install(config, _snap(central, "1-2.delta"))
    assert code == 0, out
    assert "installed sequence 2 (delta" in out and "previous sequence 1 kept" in out
    assert _serving(_state(config)) == "2"
    info = json.loads(resetline("snapshot", "info", "--json", "--config", str(config)).stdout)
    assert (info["current"]["sequence"], info["previous"]["sequence"], info["current"]["rows"]) == (2, 1, 400)
    assert info["verification"] == "ok: signed by the configured central key"
    assert sorted(p.name for p in (_state(config) / "snapshot").iterdir()) == \
        ["current.db", "install.lock", "previous.db"]


def _truncated(central: Path, tmp_path: Path) -> str:
    data = (central / "regions" / REGION / "3.snap").read_bytes()
    (tmp_path / "cut.snap").write_bytes(data[: len(data) * 2 // 3])
    return str(tmp_path / "cut.snap")


def _tampered(central: Path, tmp_path: Path) -> str:
    copy = tmp_path / "tampered.snap"
    shutil.copy(central / "regions" / REGION / "3.snap", copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE accounts SET sealed_ref = zeroblob(72) WHERE lookup = (SELECT min(lookup) FROM accounts)")
    return str(copy)


def _other_region(central: Path, tmp_path: Path) -> str:
    from firmware.keys import load_signing_key
    from firmware.snapshot_build import write_snapshot
    from snapshot_kit import FAST
    out = tmp_path / "hcm.snap"
    write_snapshot(rows(9), out, params=FAST, region="HCM-02", sequence=9, workers=1,
                   signing_key=load_signing_key(central / "signing.key"))
    return str(out)


def _other_key(central: Path, tmp_path: Path) -> str:
    from firmware.keys import write_central_keys
    from snapshot_kit import publish as publish_to
    thief = tmp_path / "thief"
    write_central_keys(thief)
    return str(publish_to(thief, 9))


@pytest.mark.parametrize("make,reason", [
    (_tampered, "signature does not match its content"),
    (_truncated, "truncated|damaged|not a readable"),
    (_other_region, "region 'HCM-02'; this box serves 'HN-01'"),
    (_other_key, "signed by another key"),
    (lambda c, t: _snap(c, "2.snap"), "sequence 2 is not newer than the installed sequence 2"),
    (lambda c, t: _snap(c, "1.snap"), "sequence 1 is not newer than the installed sequence 2"),
    (lambda c, t: _snap(c, "2-3.delta") + ".missing", "no such file"),
])
def test_a_refused_file_leaves_the_installed_snapshot_serving(config: Path, central: Path, tmp_path: Path,
                                                              make: Callable[[Path, Path], str], reason: str) -> None:
    assert _install(config, _snap(central, "2.snap"))[0] == 0
    state = _state(config)
    holder = SnapshotHolder(snapshot_path(state))
    before = holder()
    installed = snapshot_path(state).read_bytes()
    code, out = _install(config, make(central, tmp_path))
    assert code == 1
    assert out.startswith("snapshot install: ") and re.search(reason, out), out
    assert snapshot_path(state).read_bytes() == installed
    assert holder() is before and before.lookup(*rows(2)[5][:2]) is not None
    assert sorted(p.name for p in (state / "snapshot").iterdir()) == ["current.db", "install.lock"]  # no leftovers


def test_a_delta_for_another_base_is_refused(config: Path, central: Path) -> None:
    _install(config, _snap(central, "1.snap"))
    code, out = _install(config, _snap(central, "2-3.delta"))
    assert code == 1 and "applies to sequence 2, but the installed snapshot is sequence 1" in out
    assert _serving(_state(config)) == "1"


def test_a_running_holder_switches_for_new_calls_while_a_call_in_progress_finishes_on_the_old(
        config: Path, central: Path) -> None:
    _install(config, _snap(central, "1.snap"))
    holder = SnapshotHolder(snapshot_path(_state(config)))
    in_progress = holder()  # a check that has begun holds this object
    assert in_progress.meta["sequence"] == "1"
    assert _install(config, _snap(central, "1-2.delta"))[0] == 0
    dropped = rows(1)[0][:2]  # removed in sequence 2
    assert in_progress.lookup(*dropped) is not None  # the old file still answers its call
    fresh = holder()
    assert fresh.meta["sequence"] == "2" and fresh is not in_progress
    assert fresh.lookup(*dropped) is None
    assert holder() is fresh  # no reopen without a new file


def test_rollback_serves_the_previous_and_refuses_the_rolled_back_sequence(config: Path, central: Path) -> None:
    _install(config, _snap(central, "1.snap"))
    _install(config, _snap(central, "2.snap"))
    holder = SnapshotHolder(snapshot_path(_state(config)))
    assert holder().meta["sequence"] == "2"
    done = resetline("snapshot", "rollback", "--config", str(config))
    assert done.returncode == 0 and "sequence 1 serving again" in done.stdout
    assert holder().meta["sequence"] == "1"
    code, out = _install(config, _snap(central, "2.snap"))
    assert code == 1 and "sequence 2 was rolled back on this box" in out
    assert _install(config, _snap(central, "3.snap"))[0] == 0
    info = resetline("snapshot", "info", "--config", str(config))
    assert "current: region HN-01, sequence 3" in info.stdout and "rolled back: sequences up to 2" in info.stdout


def test_rollback_without_a_kept_snapshot_says_so(config: Path, central: Path) -> None:
    _install(config, _snap(central, "1.snap"))
    done = resetline("snapshot", "rollback", "--config", str(config))
    assert done.returncode == 1 and "no previous snapshot is kept" in done.stderr


def test_install_needs_to_know_the_region_and_key(tmp_path: Path, central: Path) -> None:
    done = resetline("snapshot", "install", _snap(central, "1.snap"), "--state-dir", str(tmp_path / "s"))
    assert done.returncode == 1 and "--region and --public-key" in done.stderr
    done = resetline("snapshot", "install", _snap(central, "1.snap"), "--state-dir", str(tmp_path / "s"),
                     "--region", REGION, "--public-key", str(central / "signing.pub"))
    assert done.returncode == 0, done.stderr


def test_verify_exit_status_and_reason(central: Path, tmp_path: Path) -> None:
    ok = resetline("snapshot", "verify", _snap(central, "3.snap"), "--public-key", str(central / "signing.pub"))
    assert ok.returncode == 0 and ok.stdout.startswith("OK: region HN-01, sequence 3, 400 rows")
    bad = resetline("snapshot", "verify", _tampered(central, tmp_path), "--public-key", str(central / "signing.pub"))
    assert bad.returncode == 1 and "signature does not match its content" in bad.stderr


def test_a_holder_keeps_serving_when_the_renamed_in_file_cannot_be_opened(
        config: Path, central: Path, caplog: pytest.LogCaptureFixture) -> None:
    _install(config, _snap(central, "1.snap"))
    path = snapshot_path(_state(config))
    holder = SnapshotHolder(path)
    serving = holder()
    broken = path.with_name("broken.tmp")
    broken.write_bytes(b"not a database" * 500)
    broken.replace(path)  # what only a bug or a hand edit could do: install verifies first
    assert holder() is serving and serving.lookup(*rows(1)[5][:2]) is not None
    assert "refused, keeping the one in use" in caplog.text
    code, out = _install(config, _snap(central, "1-2.delta"))
    assert code == 1 and "needs an installed snapshot (the installed one is damaged)" in out
    assert _install(config, _snap(central, "2.snap"))[0] == 0  # a full snapshot repairs the box
    assert holder().meta["sequence"] == "2"


def test_info_reports_a_snapshot_altered_after_install(config: Path, central: Path) -> None:
    _install(config, _snap(central, "1.snap"))
    with sqlite3.connect(snapshot_path(_state(config))) as conn:
        conn.execute("DELETE FROM accounts WHERE lookup = (SELECT min(lookup) FROM accounts)")
        conn.execute("UPDATE meta SET value = '399' WHERE key = 'row_count'")
    done = resetline("snapshot", "info", "--config", str(config))
    assert done.returncode == 1
    assert "verification: FAILED" in done.stdout and "signature does not match its content" in done.stdout
    unchecked = resetline("snapshot", "info", "--state-dir", str(_state(config)))
    assert "not checked (no central signing key given)" in unchecked.stdout
