"""What `resetline dial` makes of a call: outcome, readings and figures (pure), and the demo's key rule on live audio."""
from __future__ import annotations

from pathlib import Path

import pytest

from drivers.simcaller import parse_keys
from provisioning.dial_keys import DemoKeys
from provisioning.dial_report import figures, write_report
from provisioning.dial_transcript import CallFacts, transcribe
from provisioning.recognise import Heard
from voice_prompts.catalog import PromptCatalog

CATALOG = PromptCatalog.load()
DISPLAY = {pid: CATALOG.text(pid) for pid in CATALOG.ids()}


def said(*items: tuple[str | None, float]) -> list[Heard]:
    return [Heard(pid, t, t + 0.2, 0.95) for pid, t in items]


def reading(start: float, password: str, first: str) -> list[tuple[str | None, float]]:
    units = [(f"d{c}" if c.isdigit() else f"l_{c}", start + 1.0 + 0.4 * i) for i, c in enumerate(password)]
    return [(first, start), *units]


def test_a_reset_call_reads_the_password_twice_and_times_the_verdict() -> None:
    heard = said(("welcome", 0.0), ("menu", 1.8), ("ask_code", 5.3), *reading(18.0, "4h7k2905", "new_password"),
                 *reading(24.0, "4h7k2905", "repeat"), ("change_password", 29.6), ("goodbye", 36.3))
    keys = [(0.5 + 5.3, "8")] + [(0.5 + 8.9 + i, d) for i, d in enumerate("0123456789")]
    facts = CallFacts(caller="0912345678", answered_s=0.5, ended_s=37.4, box_hung_up=True, keys=keys,
                      audio_start_s=0.5)
    out = transcribe(facts, heard, DISPLAY)
    s = out.summary
    assert s["outcome"] == "reset" and s["password_heard"] == ["4h7k2905", "4h7k2905"] and s["readings_agree"]
    assert s["caller"] == "09******78" and s["keys"] == "80123456789"
    assert s["answer_s"] == 0.5 and s["duration_s"] == 36.9
    assert s["verdict_after_key_s"] == 0.1  # last key at 17.9 s after answer, "Mật khẩu mới là:" at 18.0
    assert [e["t"] for e in out.events] == sorted(e["t"] for e in out.events)
    assert out.events[0] == {"t": 0.0, "say": "welcome", "text": DISPLAY["welcome"], "until": 0.2, "score": 0.95}


def test_readings_that_differ_or_hold_an_unknown_sound_do_not_agree() -> None:
    heard = said(*reading(0.0, "12", "new_password"), *reading(3.0, "13", "repeat"), ("change_password", 6.0),
                 ("goodbye", 9.0))
    s = transcribe(CallFacts("0912345678", 0.1, 10.0, True), heard, DISPLAY).summary
    assert s["password_heard"] == ["12", "13"] and not s["readings_agree"]
    heard = said(("new_password", 0.0), ("d1", 1.0), (None, 1.4), ("repeat", 3.0), ("d1", 4.0), (None, 4.4))
    s = transcribe(CallFacts("0912345678", 0.1, 10.0, True), heard, DISPLAY).summary
    assert s["password_heard"] == ["1?", "1?"] and not s["readings_agree"]


def test_each_verdict_prompt_tells_its_outcome() -> None:
    for prompt, outcome in [("mismatch", "mismatch"), ("invalid_final", "invalid_code"), ("locked", "locked"),
                            ("no_caller_id", "no_caller_id"), ("error", "error")]:
        heard = said(("welcome", 0.0), (prompt, 3.0), ("goodbye", 6.0))
        s = transcribe(CallFacts(None, 0.2, 8.0, True, keys=[(2.0, "8")]), heard, DISPLAY).summary
        assert s["outcome"] == outcome and s["verdict_after_key_s"] == 1.0, prompt  # 2.8 s vs 1.8 s after answer
    silence = transcribe(CallFacts("0912345678", 0.2, 25.0, True), said(("menu", 0.0), ("goodbye", 24.0)), DISPLAY)
    assert silence.summary["outcome"] == "timeout"
    ours = transcribe(CallFacts("0912345678", 0.2, 25.0, False), said(("menu", 0.0), ("mismatch", 10.0)), DISPLAY)
    assert ours.summary["outcome"] == "caller_hangup"  # we hung up first (the limit), whatever was heard
    unanswered = transcribe(CallFacts("0912345678", None, 3.0, False, status=486), [], DISPLAY)
    assert unanswered.summary["outcome"] == "not_answered" and unanswered.summary["status"] == 486


def test_figures_and_the_html_report(tmp_path: Path) -> None:
    calls = []
    for n, answer in enumerate((0.2, 0.4, 0.3), start=1):
        heard = said(*reading(5.0, "4h7k2905", "new_password"), *reading(9.0, "4h7k2905", "repeat"),
                     ("change_password", 13.0), ("goodbye", 20.0))
        t = transcribe(CallFacts("0912345678", answer, 21.0 + answer, True, keys=[(answer + 4.0, "9")]), heard,
                       DISPLAY)
        t.summary["call"] = n
        calls.append(t)
    stats = figures(calls)
    assert stats["answer_s"] == {"min": 0.2, "median": 0.3, "max": 0.4, "n": 3}
    assert stats["outcomes"] == {"reset": 3} and stats["readings_agree"] == "3/3"
    report = tmp_path / "r.html"
    write_report(report, calls, title="box test")
    text = report.read_text(encoding="utf-8")
    assert text.count("<h2>Call") == 3 and "<svg" in text and "Mật khẩu mới là:" in text
    assert "4h7k2905" not in text and "4******5" in text  # the password only masked
    assert "<script" not in text and "http" not in text.replace("http://www.w3.org/2000/svg", "")


def test_the_demo_key_rule_on_live_audio_waits_for_a_second_of_silence() -> None:
    plan = DemoKeys(parse_keys("8 12"))
    plan.answered(100.0)
    pressed: list[tuple[float, str]] = []

    def frames(start: float, end: float, loud: bool) -> None:
        t = start
        while t < end - 1e-9:
            t = round(t + 0.02, 3)
            plan.frame(t, loud)
            pressed.extend((t, k) for k in plan.due(t))

    frames(100.0, 102.0, True)  # the box speaks for 2 s ...
    frames(102.0, 102.6, False)  # ... a 0.6 s gap inside its prompts: no key ...
    frames(102.6, 104.0, True)
    frames(104.0, 106.5, False)  # ... then silence: 8 one second after it, 1 and 2 a second apart
    # (a frame's time is its arrival, so silence is seen up to one 20 ms frame late)
    assert [k for _, k in pressed] == ["8", "1"]
    assert [round(t - 100, 2) for t, _ in pressed] == [5.02, 6.02]
    frames(106.5, 107.5, False)
    assert pressed[-1][1] == "2" and round(pressed[-1][0] - 100, 2) == 7.02 and plan.keys_left == 0


def test_with_barge_in_keys_do_not_wait_for_the_box() -> None:
    plan = DemoKeys(parse_keys("8,1"), barge_in=True)
    plan.answered(0.0)
    pressed: list[tuple[float, str]] = []
    for step in range(1, 200):
        t = step * 0.02
        plan.frame(t, True)  # the box never stops talking
        pressed.extend((round(t, 2), k) for k in plan.due(t))
    assert pressed == [(1.0, "8"), (3.0, "1")]  # ',' waits one second more


def test_bad_arguments_are_named_and_nothing_is_dialled(capsys: pytest.CaptureFixture[str]) -> None:
    from provisioning.cli import main

    assert main(["dial", "--sip", "http://192.0.2.7", "--caller", "0912345678"]) == 2
    assert "expected a SIP URI" in capsys.readouterr().err
    assert main(["dial", "--sip", "sip:reset@192.0.2.7", "--caller", "0912345678", "--keys", "8 12a"]) == 2
    assert "character 5 ('a') is not a key" in capsys.readouterr().err
    assert main(["dial", "--sip", "sip:reset@192.0.2.7", "--caller", "0912345678", "--repeat", "0"]) == 2
