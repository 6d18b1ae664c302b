"""The post-reset SMS notice worker on a real journal file, with a fake line: sending once idle, retries with
back-off, the bound, the hand-over to central (key lost, attempts exhausted) and nothing of the number at rest or
in the logs."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import nacl.public
import pytest

from drivers.gsm.sms import SmsError
from firmware.journal import Journal, JournalError
from firmware.notices import MAX_CHARS, NoticeSettings, NoticeWorker, notice_text
from firmware.sealing import unseal

NUMBER = "0912345678"
SETTINGS = NoticeSettings(retry_s=10.0, max_retry_s=40.0, max_attempts=4, poll_s=0.01)


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_140_700.0  # 2025-11-26 07:05 UTC = 14:05 in Vietnam

    def __call__(self) -> float:
        return self.now


class Line:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.busy = False
        self.sent: list[tuple[str, str]] = []
        self.tries = 0

    def send(self, number: str, text: str) -> None:
        self.tries += 1
        if self.failures > 0:
            self.failures -= 1
            raise SmsError("+CMS ERROR: 500")
        self.sent.append((number, text))


@pytest.fixture
def central() -> nacl.public.PrivateKey:
    return nacl.public.PrivateKey.generate()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.db") as j:
        yield j


def worker(journal: Journal, central: nacl.public.PrivateKey, clock: Clock, line: Line | None = None) -> NoticeWorker:
    notices = NoticeWorker(journal, central.public_key, SETTINGS, clock)
    if line is not None:
        notices.register("gsm0", line.send, lambda: line.busy, start=False)
    return notices


def events(journal: Journal, central: nacl.public.PrivateKey) -> list[dict[str, object]]:
    return [unseal(central, blob) for _, blob in journal.pending_resets()]


def at_rest(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_the_text_is_vietnamese_one_ucs2_message_with_the_time_in_vietnam() -> None:
    text = notice_text(Clock().now)
    assert text == "Mật khẩu VssID đã cấp lại qua ĐT 14:05 26/11. Không phải bạn? Gọi BHXH"
    assert len(text) <= MAX_CHARS == 70
    assert len(notice_text(1_767_225_599.0)) <= MAX_CHARS  # 23:59 31/12 Vietnam time: the widest


def test_waits_while_the_line_is_busy_then_sends_and_keeps_nothing(
    journal: Journal, central: nacl.public.PrivateKey,
) -> None:
    clock, line = Clock(), Line()
    notices = worker(journal, central, clock, line)
    line.busy = True
    notices.queue("call-1", "gsm0", NUMBER, clock.now)
    notices.pass_once()
    notices.pass_once()
    assert line.tries == 0 and len(journal.notices()) == 1  # a call is up: no attempt, none counted
    assert journal.notices()[0].attempts == 0
    line.busy = False
    notices.pass_once()
    assert line.sent == [(NUMBER, notice_text(clock.now))]
    assert journal.notices() == [] and journal.pending_resets() == []


def test_the_number_is_never_at_rest_nor_in_the_log_unmasked(
    journal: Journal, central: nacl.public.PrivateKey, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock, line = Clock(), Line(failures=1)
    notices = worker(journal, central, clock, line)
    notices.queue("call-1", "gsm0", NUMBER, clock.now)
    notices.pass_once()  # stored, then the first send fails: the row waits with the number in it
    row = journal.notices()[0]
    assert row.attempts == 1 and NUMBER.encode() not in row.number
    stored = at_rest(journal.path)
    for form in (NUMBER, "912345678", "84912345678", NUMBER.encode("utf-16-be").hex().upper()):
        assert form.encode() not in stored
    assert NUMBER not in caplog.text and "09******78" in caplog.text
    with pytest.raises(JournalError, match="unencrypted"):
        journal.add_notice(call_ref="x", line="gsm0", created_at=0, boot="b", number=NUMBER.encode(), next_at=0)


def test_a_failed_sms_is_retried_with_back_off_then_sent(journal: Journal, central: nacl.public.PrivateKey) -> None:
    clock, line = Clock(), Line(failures=2)
    notices = worker(journal, central, clock, line)
    notices.queue("call-1", "gsm0", NUMBER, clock.now)
    notices.pass_once()
    assert journal.notices()[0].next_at == clock.now + 10.0
    clock.now += 9.0
    notices.pass_once()
    assert line.tries == 1  # not due yet
    clock.now += 1.0
    notices.pass_once()
    row = journal.notices()[0]
    assert line.tries == 2 and row.attempts == 2 and row.next_at == clock.now + 20.0  # doubled
    clock.now += 20.0
    notices.pass_once()
    assert line.sent and journal.notices() == [] and journal.pending_resets() == []


def test_out_of_attempts_goes_to_central_sealed_in_one_commit(
    journal: Journal, central: nacl.public.PrivateKey,
) -> None:
    clock, line = Clock(), Line(failures=100)
    notices = worker(journal, central, clock, line)
    reset_at = clock.now
    notices.queue("call-1", "gsm0", NUMBER, reset_at)
    for _ in range(10):
        notices.pass_once()
        clock.now += 60.0
    assert line.tries == SETTINGS.max_attempts
    assert journal.notices() == []
    (event,) = events(journal, central)
    assert event["kind"] == "sms_notice_failed" and event["call_ref"] == "call-1"
    assert event["reason"] == "attempts_exhausted" and event["attempts"] == 4 and event["reset_at"] == reset_at
    assert NUMBER not in str(event)


def test_after_a_restart_the_key_is_gone_and_the_notice_goes_to_central(
    tmp_path: Path, central: nacl.public.PrivateKey,
) -> None:
    clock, line = Clock(), Line()
    line.busy = True
    with Journal.open(tmp_path / "journal.db") as journal:
        first = worker(journal, central, clock, line)
        first.queue("call-1", "gsm0", NUMBER, clock.now)
        first.pass_once()  # stored; the line stays busy until the power cut
    line.busy = False
    with Journal.open(tmp_path / "journal.db") as journal:  # the next boot: a new key in RAM
        second = worker(journal, central, clock, line)
        second.pass_once()
        assert line.tries == 0 and journal.notices() == []
        (event,) = events(journal, central)
    assert event["kind"] == "sms_notice_failed" and event["reason"] == "key_lost" and event["call_ref"] == "call-1"


def test_a_notice_for_a_line_that_no_longer_sends_goes_to_central(
    journal: Journal, central: nacl.public.PrivateKey,
) -> None:
    clock = Clock()
    notices = worker(journal, central, clock)
    notices.queue("call-1", "gsm9", NUMBER, clock.now)
    notices.pass_once()
    assert [e["reason"] for e in events(journal, central)] == ["no_line"]


def test_the_worker_thread_starts_stops_and_sends(journal: Journal, central: nacl.public.PrivateKey) -> None:
    line = Line()
    notices = NoticeWorker(journal, central.public_key, SETTINGS)
    notices.register("gsm0", line.send, lambda: line.busy)  # starts the thread
    notices.queue("call-1", "gsm0", NUMBER, 1_764_140_700.0)
    deadline = time.monotonic() + 5
    while not line.sent and time.monotonic() < deadline:
        time.sleep(0.01)
    notices.stop()
    assert line.sent and journal.notices() == []
