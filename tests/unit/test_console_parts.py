"""The console's pure parts: line editor, wrong-PIN back-off, config edits, the technician credential."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from provisioning.console.auth import Backoff
from provisioning.console.config_edit import ConfigEditError, edit
from provisioning.console.lineeditor import Cancelled, Line, LineEditor, TooLong
from provisioning.technician import CredentialError, credential_path, load_credential, set_credential, weakness


def typed(data: bytes, editor: LineEditor | None = None) -> tuple[bytes, list[object]]:
    return (editor or LineEditor()).feed(data)


def test_backspace_as_bs_and_del_and_line_ends_cr_crlf_lf() -> None:
    echo, entries = typed(b"statux\x7fs\r")
    assert entries == [Line("status")] and echo == b"statux\b \bs\r\n"
    assert typed(b"calsl\x08\x08ls\r\n")[1] == [Line("calls")]
    editor = LineEditor()
    assert editor.feed(b"help\r\nlogin\n")[1] == [Line("help"), Line("login")]  # the LF of CRLF is not a 2nd line
    assert editor.feed(b"\x7f\x7f")[0] == b""  # nothing to erase, nothing echoed


def test_ctrl_c_clears_and_arrow_keys_are_ignored() -> None:
    echo, entries = typed(b"rebo\x03status\x1b[A\x1b[1;5C\x1bOB\r")
    assert entries == [Cancelled(), Line("status")]
    assert b"\x1b" not in echo
    assert typed(b"ca\x1b\rlls\r")[1] == [Line("ca"), Line("lls")]  # a broken sequence does not eat Enter


def test_binary_noise_and_huge_lines_are_bounded() -> None:
    editor = LineEditor(max_len=16)
    echo, entries = editor.feed(bytes(range(256)) * 4)
    assert all(isinstance(e, (Line, TooLong, Cancelled)) for e in entries)
    assert editor.feed(b"\x03help\r")[1] == [Cancelled(), Line("help")]
    echo, entries = editor.feed(b"x" * 100_000 + b"\r")
    assert entries == [TooLong(16)] and echo.count(b"x") == 16 and echo.count(b"\x07") == 1
    assert editor.feed(b"help\r")[1] == [Line("help")]


def test_secret_entry_echoes_stars() -> None:
    editor = LineEditor()
    editor.reset(secret=True)
    echo, entries = editor.feed(b"4821\r")
    assert echo == b"****\r\n" and entries == [Line("4821")]


def test_backoff_grows_after_five_failures_and_survives_a_restart() -> None:
    backoff = Backoff()
    for i in range(5):
        assert backoff.wait_s(100.0 + i) == 0
        backoff.failed(100.0 + i)
    assert backoff.wait_s(104.0) == 30
    backoff.failed(200.0)
    assert backoff.wait_s(200.0) == 60
    rows = [{"action": "login_failed", "at": 200.0 - i} for i in range(6)] + [{"action": "login_ok", "at": 1.0}]
    assert Backoff.from_audit(rows, 201.0).wait_s(201.0) == 59
    backoff.succeeded()
    assert backoff.wait_s(201.0) == 0


CONFIG = """# the office box
[box]
name = "bhxh-1"   # shown in status

[call]
menu_timeout_s = 8

[[line]]
name = "gsm0"
kind = "gsm"
port = "/dev/ttyUSB2"
"""


def test_config_edit_keeps_comments_and_checks_the_value() -> None:
    text, change = edit(CONFIG, "call.menu_timeout_s", "12")
    assert "menu_timeout_s = 12\n" in text and "# the office box" in text and change.old == 8
    text, _ = edit(text, "line.gsm0.port", "/dev/ttyUSB3")
    assert 'port = "/dev/ttyUSB3"' in text
    text, _ = edit(text, "line[0].profile", "sim7600")
    text, _ = edit(text, "lockout.window_h", "12")
    assert "[lockout]\nwindow_h = 12\n" in text
    with pytest.raises(ConfigEditError, match="between 1 and 60"):
        edit(CONFIG, "call.menu_timeout_s", "600")
    with pytest.raises(ConfigEditError, match="did you mean 'menu_timeout_s'"):
        edit(CONFIG, "call.menu_timout_s", "9")
    with pytest.raises(ConfigEditError, match="must be one of"):
        edit(CONFIG, "line.0.profile", "nokia")
    with pytest.raises(ConfigEditError, match="no such line"):
        edit(CONFIG, "line.3.port", "/dev/x")
    with pytest.raises(ConfigEditError, match="write keys as"):
        edit(CONFIG, "menu_timeout_s", "9")


def test_credential_is_a_scrypt_hash_in_a_private_file(tmp_path: Path) -> None:
    path = set_credential(tmp_path, "correct horse 42")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path == credential_path(tmp_path)
    assert b"correct horse" not in path.read_bytes()
    credential = load_credential(tmp_path)
    assert credential.matches("correct horse 42") and not credential.matches("correct horse 43")
    assert credential.n == 2**15
    for weak in ("12345", "000000", "123456", "987654", "mật khẩu dài", "tab\there"):
        assert weakness(weak)
        with pytest.raises(CredentialError):
            set_credential(tmp_path, weak)
    assert load_credential(tmp_path).matches("correct horse 42")  # refused PINs change nothing
    os.chmod(path, 0o644)
    with pytest.raises(CredentialError, match="readable by others"):
        load_credential(tmp_path)


def test_delegated_output_is_masked_like_the_logs() -> None:
    from provisioning.console.delegate import mask_lines
    text = mask_lines("caller 0912345678 code 0123456789 at +84912345678\nsize 42 ok")
    assert "0912345678" not in text and "0123456789" not in text and "84912345678" not in text
    assert "09******78" in text and "size 42 ok" in text


def test_secret_settings_are_hidden_in_change_reports() -> None:
    from provisioning.console.config_edit import Change, is_secret
    assert is_secret("line.0.pin") and is_secret("line.sip0.register.password_file") is True
    assert not is_secret("box.central_public_key") and not is_secret("line.0.inband_dtmf")
    assert Change("line.0.pin", "1234", "5678").describe() == "line.0.pin: *** -> ***"


def test_partials_left_by_a_power_cut_are_swept_but_live_ones_kept(tmp_path: Path) -> None:
    from provisioning.console.incoming import sweep_partials
    stale = tmp_path / ".snap.db.1a2b3c4d.partial"
    live = tmp_path / ".other.db.5e6f7a8b.partial"
    done = tmp_path / "done.db"
    for path in (stale, live, done):
        path.write_bytes(b"x")
    os.utime(stale, (1000.0, 1000.0))
    os.utime(live, (9000.0, 9000.0))
    os.utime(done, (1000.0, 1000.0))
    assert sweep_partials(tmp_path, now=9500.0) == [stale.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, done.name])
