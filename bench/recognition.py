"""Recognition accuracy of `resetline dial`'s recogniser on the box's prompt set, through G.711 with noise and gain.

For each condition (µ-law / A-law × level change × white noise at a signal-to-noise ratio) one synthetic line
recording is made: every flow prompt and password character in a random order with random 0.2-0.6 s gaps, then
password readings as the box plays them ("Mật khẩu mới là:" + characters with their pause files). The recogniser
must name each prompt and place it within 50 ms; a reading is right when all 8 characters are.

    python bench/recognition.py [--seed 1] [--passwords 10] [--quick]

Prints one row per condition: prompts right / total, wrong or missed, extra (a prompt claimed where none was),
readings right / total, and the recogniser's speed (seconds of audio per second of CPU).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.v253.samples import decode_table  # noqa: E402
from firmware import password as pw  # noqa: E402
from provisioning.dial_transcript import readings  # noqa: E402
from provisioning.recognise import Recogniser  # noqa: E402
from voice_prompts.catalog import PromptCatalog  # noqa: E402
from voice_prompts.formats import encode, read_pcm  # noqa: E402

RATE = 8000
TOLERANCE_S = 0.05
Samples = npt.NDArray[np.float64]


def load(catalog: PromptCatalog) -> dict[str, Samples]:
    return {pid: np.frombuffer(read_pcm(catalog.path(pid)), dtype="<i2").astype(np.float64) for pid in catalog.ids()}


def recording(audio: dict[str, Samples], catalog: PromptCatalog, rng: np.random.Generator, passwords: list[str]
              ) -> tuple[Samples, list[tuple[str, float]]]:
    """The line recording and the truth: (prompt id, start in seconds) of every prompt in it."""
    spoken = [pid for pid in catalog.ids() if catalog.prompt(pid).set != "pause"]
    order = list(rng.permutation(spoken))
    pieces: list[Samples] = [np.zeros(int(0.3 * RATE))]
    truth: list[tuple[str, float]] = []
    at = len(pieces[0])

    def add(pid: str | None, samples: Samples) -> None:
        nonlocal at
        if pid is not None:
            truth.append((pid, at / RATE))
        pieces.append(samples)
        at += len(samples)

    for pid in order:
        add(pid, audio[pid])
        add(None, np.zeros(int(rng.uniform(0.2, 0.6) * RATE)))
    for password in passwords:
        add("new_password", audio["new_password"])
        for unit in pw.spoken(password):
            add(None if catalog.prompt(unit).set == "pause" else unit, audio[unit])
        add(None, np.zeros(int(0.4 * RATE)))
    return np.concatenate(pieces), truth


def password(rng: np.random.Generator) -> str:
    """A password of the box's scheme, from the seeded generator (the box's own uses `secrets`)."""
    while True:
        candidate = "".join(rng.choice(list(pw.ALPHABET), pw.LENGTH))
        if pw.is_valid(candidate):
            return candidate


def channel(x: Samples, law: str, gain_db: float, snr_db: float | None, rng: np.random.Generator) -> Samples:
    y = x * 10 ** (gain_db / 20)
    if snr_db is not None:
        speech = float(np.sqrt(np.mean(y[np.abs(y) > 0] ** 2)))
        y = y + rng.normal(0.0, speech * 10 ** (-snr_db / 20), len(y))
    pcm = np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes()
    return decode_table(law)[np.frombuffer(encode(pcm, law), dtype=np.uint8)].astype(np.float64)


def score(truth: list[tuple[str, float]], heard: list[tuple[str | None, float]]) -> tuple[int, int, int]:
    """(right, wrong or missed, extra) by start time."""
    used: set[int] = set()
    right = 0
    for pid, start in truth:
        for index, (got, at) in enumerate(heard):
            if index not in used and abs(at - start) <= TOLERANCE_S:
                used.add(index)
                right += got == pid
                break
    extra = sum(1 for index, (got, _) in enumerate(heard) if index not in used and got is not None)
    return right, len(truth) - right, extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--passwords", type=int, default=10, help="password readings per condition (default 10)")
    parser.add_argument("--quick", action="store_true", help="only no noise and 20 dB S/N, level 0 dB")
    args = parser.parse_args()
    catalog = PromptCatalog.load()
    audio = load(catalog)
    recogniser = Recogniser.from_catalog(catalog)
    display = {pid: catalog.text(pid) for pid in catalog.ids()}
    gains = (0.0,) if args.quick else (-6.0, 0.0, 6.0)
    snrs: tuple[float | None, ...] = (None, 20.0) if args.quick else (None, 30.0, 20.0, 15.0, 10.0)
    print(f"{'law':5} {'level':>6} {'S/N':>6} {'prompts right':>14} {'wrong/missed':>13} {'extra':>6} "
          f"{'readings':>9} {'x real time':>12}")
    totals = [0, 0, 0, 0, 0]
    for law in ("ulaw", "alaw"):
        for gain in gains:
            for snr in snrs:
                rng = np.random.default_rng(args.seed)
                passwords = [password(rng) for _ in range(args.passwords)]
                x, truth = recording(audio, catalog, rng, passwords)
                y = channel(x, law, gain, snr, rng)
                started = time.process_time()
                found = recogniser.recognise(y)
                cpu = time.process_time() - started
                right, wrong, extra = score(truth, [(h.prompt, h.start_s) for h in found])
                got = readings(found, display)
                # the last readings are the passwords' (a "repeat" in the shuffled part starts one too)
                readings_right = sum(a == b for a, b in zip(got[-len(passwords):], passwords)) if passwords else 0
                for i, v in enumerate((right, len(truth), wrong, extra, readings_right)):
                    totals[i] += v
                noise = "none" if snr is None else f"{snr:g} dB"
                print(f"{law:5} {gain:+5.0f}  {noise:>6} {right:>8}/{len(truth):<5} {wrong:>13} {extra:>6} "
                      f"{readings_right:>5}/{len(passwords):<3} {len(y) / RATE / max(cpu, 1e-6):>11.0f}x")
    print(f"total: {totals[0]}/{totals[1]} prompts right ({100 * totals[0] / totals[1]:.2f} %), {totals[2]} wrong or "
          f"missed, {totals[3]} extra; readings right {totals[4]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
