"""The README's promise: `resetline demo` runs whole calls through the real flow, verifier and journal."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware import password as pw
from firmware.keys import load_central_private_key
from firmware.sealing import unseal
from voice_prompts.catalog import PromptCatalog

REPO = Path(__file__).resolve().parents[2]
RESETLINE = Path(sys.executable).with_name("resetline")
ACCOUNTS = REPO / "examples" / "accounts.csv"
CALLER, CODE = "0912345678", "0123456789"
MISMATCH_TEXT = (
    "Số điện thoại và mã số bảo hiểm xã hội không khớp hoặc chưa đăng ký với cơ quan Bảo hiểm xã hội."
)
PROMPTS = PromptCatalog.load()


def resetline(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(RESETLINE), *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=REPO
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def demo(*args: str, stdin: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lines = [json.loads(line) for line in resetline("demo", "--json", *args, stdin=stdin).stdout.splitlines()]
    return lines[:-1], lines[-1]


def said(events: list[dict[str, Any]]) -> list[str]:
    return [e["say"] for e in events if "say" in e]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("box")
    resetline("snapshot", "import", "--csv", str(ACCOUNTS), "--state-dir", str(path))
    return path


def test_reset_call_reads_the_password_twice_and_times_it(state: Path) -> None:
    events, summary = demo("--caller", CALLER, "--keys", "8 " + CODE, "--state-dir", str(state))
    assert summary["outcome"] == "reset"
    assert said(events)[:3] == ["welcome", "menu", "ask_code"]
    assert said(events)[-2:] == ["change_password", "goodbye"]
    assert "".join(e["key"] for e in events if "key" in e) == "8" + CODE
    times = [e["t"] for e in events]
    assert times == sorted(times) and times[0] == 0.5
    first, second = summary["password_heard"]
    assert first == second and pw.is_valid(first) and summary["readings_agree"]
    assert summary["caller"] == "09******78"
    # keys at 1 key/s after the box fell silent: the first key 1 s after the menu ended
    menu = next(e for e in events if e.get("say") == "menu")
    first_key = next(e for e in events if "key" in e)
    assert first_key["t"] == pytest.approx(menu["t"] + PROMPTS.duration("menu") + 1.0, abs=0.011)
    assert summary["duration_s"] == pytest.approx(events[-1]["t"] + PROMPTS.duration("goodbye"), abs=0.011)


def test_one_message_for_a_number_and_code_that_do_not_match(state: Path) -> None:
    events, summary = demo("--caller", "0987654321", "--keys", "8 " + CODE, "--state-dir", str(state))
    assert summary["outcome"] == "mismatch"
    assert [e["text"] for e in events if e.get("say") == "mismatch"] == [MISMATCH_TEXT]
    assert "password_heard" not in summary


def test_withheld_number_is_told_why_and_asked_nothing() -> None:
    events, summary = demo("--caller", "anonymous", "--keys", "8 " + CODE)
    assert said(events) == ["no_caller_id"]
    assert summary["outcome"] == "no_caller_id" and summary["caller"] == "anonymous"


def test_three_invalid_codes_end_the_call() -> None:
    events, summary = demo("--keys", "8 123# 0000000000 45#")
    assert said(events).count("invalid_code") == 2
    assert said(events)[-2:] == ["invalid_final", "goodbye"]
    assert summary["outcome"] == "invalid_code"


def test_silence_gets_the_menu_once_more_then_goodbye() -> None:
    events, summary = demo("--keys", "")
    assert said(events) == ["welcome", "menu", "menu", "goodbye"]
    d = PROMPTS.duration
    expected = 0.5 + d("welcome") + d("menu") + 8 + d("menu") + 8 + d("goodbye")
    assert summary["outcome"] == "timeout"
    assert summary["duration_s"] == pytest.approx(expected, abs=0.011)


def test_barge_in_cuts_prompts_and_saves_time() -> None:
    _, waited = demo("--keys", "8 " + CODE)
    events, barged = demo("--keys", "8 " + CODE, "--barge-in")
    assert barged["outcome"] == "reset"
    assert said(events)[:3] == ["welcome", "ask_code", "new_password"]  # menu and ask_code were cut short
    assert waited["duration_s"] - barged["duration_s"] > 5


def test_9_reads_the_password_once_more() -> None:
    _, summary = demo("--keys", "8 " + CODE + " 9", "--barge-in")  # 9 one second into the first reading
    assert summary["outcome"] == "reset"
    assert len(summary["password_heard"]) == 3 and summary["readings_agree"]


def test_caller_hanging_up_is_journaled_cleanly(state: Path) -> None:
    _, summary = demo("--keys", "8 0123", "--hangup-at", "12", "--state-dir", str(state))
    assert summary["outcome"] == "caller_hangup" and summary["duration_s"] == 12.0
    calls = journal(state)["call"]
    assert calls[0]["outcome"] == "caller_hangup"


def test_guessing_locks_out_across_restarts(tmp_path: Path) -> None:
    resetline("snapshot", "import", "--csv", str(ACCOUNTS), "--state-dir", str(tmp_path))
    for guess in ("5512345678", "5512345679", "5512345670"):  # three processes: three restarts
        _, summary = demo("--keys", "8 " + guess, "--state-dir", str(tmp_path))
        assert summary["outcome"] == "mismatch"
    events, summary = demo("--keys", "8 " + CODE, "--state-dir", str(tmp_path))
    assert summary["outcome"] == "locked" and "locked" in said(events)


def journal(state: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"call": [], "reset": []}
    for line in resetline("journal", "--json", "--state-dir", str(state)).stdout.splitlines():
        record = json.loads(line)
        out[record["kind"]].append(record)
    return out


def test_journal_is_masked_and_the_box_holds_no_plaintext(state: Path) -> None:
    demo("--caller", CALLER, "--keys", "8 " + CODE, "--state-dir", str(state))
    printed = resetline("journal", "--state-dir", str(state)).stdout
    assert "09******78" in printed and CALLER not in printed
    records = journal(state)
    assert records["reset"] and all(r["caller"] != CALLER for r in records["call"])
    secrets = [CALLER, "84912345678", "912345678", CODE]
    for path in state.rglob("*"):
        if path.is_file() and path.suffix != ".key":
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"{secret} found in {path}"


def test_password_is_durable_in_the_outbox_before_its_first_digit_is_spoken(tmp_path: Path) -> None:
    resetline("snapshot", "import", "--csv", str(ACCOUNTS), "--state-dir", str(tmp_path))
    proc = subprocess.Popen(
        [str(RESETLINE), "demo", "--json", "--keys", "8 " + CODE, "--speed", "20", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert proc.stdout is not None
    first_unit = None
    for line in proc.stdout:
        event = json.loads(line)
        if PROMPTS.prompt(event.get("say", "welcome")).set == "units":
            first_unit = event["text"]
            os.kill(proc.pid, signal.SIGKILL)  # power cut right after the first character was spoken
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and first_unit is not None
    conn = sqlite3.connect(tmp_path / "journal.db")
    [(blob,)] = conn.execute("SELECT sealed FROM outbox").fetchall()
    conn.close()
    event = unseal(load_central_private_key(tmp_path / "keys" / "dev-central.key"), blob)
    assert event["password"][0] == first_unit and pw.is_valid(event["password"])


def test_a_person_at_the_terminal_can_call(state: Path) -> None:
    events, summary = demo("--speed", "40", "--state-dir", str(state), stdin="8" + CODE + "\n")
    assert summary["outcome"] == "reset"
    assert [e["key"] for e in events if "key" in e] == list("8" + CODE)


def test_bad_keys_are_refused_before_the_call() -> None:
    result = resetline("demo", "--keys", "8 12a", check=False)
    assert result.returncode == 1 and "is not a key" in result.stderr
