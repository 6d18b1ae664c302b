"""A modest corpus from bench/dtmf (the benchmark's own generator): the digit error goal and zero talk-off.

bench/dtmf/score.py runs the full corpus (hours of audio, and multimon-ng beside us); this keeps a few
items of every condition and a couple of minutes of speech and music, so that it runs in a few seconds.
"""
from __future__ import annotations

import collections
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from drivers.dtmf import decode

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dtmf"

pytestmark = pytest.mark.skipif(not (shutil.which("sox") and shutil.which("espeak-ng")),
                                reason="the corpus needs sox and espeak-ng")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_dtmf_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scored() -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    """Per condition [digits sent, errors, false digits], and the items that went wrong."""
    corpus, score = _load("corpus"), _load("score")
    items = corpus.build(seed=11, per_condition=3, speech_minutes=2.0, music_minutes=1.0)
    tally: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    wrong: dict[str, list[str]] = collections.defaultdict(list)
    for item in items:
        got = "".join(event.key for event in decode(item.samples))
        row = tally[item.group]
        row[0] += len(item.sent)
        row[1] += sum(score.edit_counts(item.sent, got))
        row[2] += len(got) if not item.sent else 0
        if got != item.sent:
            wrong[item.group].append(f"{item.name}: sent {item.sent!r}, heard {got!r}")
    return tally, wrong


def test_digit_error_rate_is_at_most_one_percent(scored: tuple[dict[str, list[int]], dict[str, list[str]]]) -> None:
    tally, wrong = scored
    for group in ("core", "hard", "realistic"):
        sent, errors, _ = tally[group]
        assert sent >= 30
        assert errors <= 0.01 * sent, (group, wrong[group])


def test_what_must_be_rejected_is(scored: tuple[dict[str, list[int]], dict[str, list[str]]]) -> None:
    tally, wrong = scored
    assert tally["reject"][2] == 0, wrong["reject"]


def test_no_digit_from_speech_music_prompts_or_other_tones(
        scored: tuple[dict[str, list[int]], dict[str, list[str]]]) -> None:
    tally, wrong = scored
    assert tally["talk-off"][2] == 0, wrong["talk-off"]
