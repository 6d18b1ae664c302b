"""A deterministic DTMF test corpus: digit sequences under each condition of dtmf-receiver-spec.md, plus talk-off.

`python bench/dtmf/corpus.py OUTDIR [--seed N] [--items N] [--speech-min M] [--music-min M]` writes one 8 kHz
mono 16-bit WAV per item and `manifest.json` (what was sent in each). `build()` returns the same items in memory.

Conventions (as the spec's section 5): level is dBm0 per tone (0 dBm0 = a sine 3.14 dB below 16-bit full scale);
the level drawn is the low tone's, the high tone sits `twist` dB above it; S/N is the mean per-tone power over
the power of white Gaussian noise across 0-4 kHz. Frequencies are drawn within +/-1.5 % unless the condition
says otherwise. Codec and band-pass conditions go through sox (u-law, A-law, GSM 06.10, sinc 300-3400).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import talkoff  # noqa: E402  (a sibling script, not a package)

RATE = 8000
KEYS = "0123456789*#ABCD"
ROW_HZ = (697.0, 770.0, 852.0, 941.0)
COL_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
FULL_SCALE_SINE_POWER = 32767.0**2 / 2.0


def dbm0_power(dbm0: float) -> float:
    """Mean power (int16 units squared) of a sine at `dbm0` dBm0 (full-scale sine = +3.14 dBm0)."""
    return FULL_SCALE_SINE_POWER * 10.0 ** ((dbm0 - 3.14) / 10.0)


@dataclass(frozen=True)
class Item:
    name: str
    condition: str
    group: str  # "core", "extended", "reject" or a talk-off source
    sent: str  # digits that must be reported ("" for reject and talk-off items)
    bursts: int  # tone bursts that must NOT be reported (reject items)
    samples: np.ndarray = field(repr=False)
    channel: str = ""  # codec or band-pass the item went through

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


@dataclass(frozen=True)
class Recipe:
    """How one condition's items are drawn. Ranges are (low, high), drawn uniformly: level and twist once per
    item (one phone, one line), frequencies, durations and gaps per digit."""

    level: tuple[float, float] = (-20.0, -5.0)
    twist: tuple[float, float] = (-4.0, 2.0)
    offset: tuple[float, float] | None = (-0.015, 0.015)  # None: `offsets` cycles through fixed pairs
    offsets: tuple[tuple[float, float], ...] = ()
    duration_ms: tuple[float, float] = (50.0, 120.0)
    gap_ms: tuple[float, float] = (50.0, 150.0)
    snr_db: tuple[float, float] | None = None
    repeat: float = 0.1  # chance that a key repeats the previous one (tests the gap between equal keys)
    dropout_ms: float = 0.0
    channel: str = ""  # "", "ulaw", "alaw", "gsm", "band" or "mix" (one drawn per item)
    over_speech_dbm0: float | None = None  # talk-down: continuous speech at this active level


FIXED_SIGNS = ((1, 1), (1, -1), (-1, 1), (-1, -1))
OFF_35 = tuple((a * 0.035, b * 0.035) for a, b in FIXED_SIGNS) + ((0.035, 0.0), (-0.035, 0.0), (0.0, 0.035),
                                                                   (0.0, -0.035))

#: name -> (group, recipe, must report?)
CONDITIONS: dict[str, tuple[str, Recipe, bool]] = {
    "clean": ("core", Recipe(), True),
    "noise-20dB": ("core", Recipe(snr_db=(20, 20)), True),
    "noise-15dB": ("core", Recipe(snr_db=(15, 15)), True),
    "twist+4dB": ("core", Recipe(level=(-14, -8), twist=(4, 4)), True),
    "twist-8dB": ("core", Recipe(level=(-10, -4), twist=(-8, -8)), True),
    "level-3dBm0": ("core", Recipe(level=(-3, -3), twist=(0, 0)), True),
    "level-25dBm0": ("core", Recipe(level=(-25, -25), twist=(0, 0)), True),
    "level-mix": ("core", Recipe(level=(-25, -3), twist=(0, 0)), True),
    "freq+-1.5%": ("core", Recipe(offset=None, offsets=tuple((a * 0.015, b * 0.015) for a, b in FIXED_SIGNS)), True),
    "tone40-gap40": ("core", Recipe(duration_ms=(40, 40), gap_ms=(40, 40), repeat=0.5), True),
    "dropout-10ms": ("core", Recipe(duration_ms=(80, 120), dropout_ms=10.0, repeat=0.5), True),
    "g711-ulaw": ("core", Recipe(channel="ulaw"), True),
    "g711-alaw": ("core", Recipe(channel="alaw"), True),
    "band-300-3400": ("core", Recipe(channel="band"), True),
    "noise-10dB": ("extended", Recipe(snr_db=(10, 10)), True),
    "noise-6dB": ("hard", Recipe(snr_db=(6, 6)), True),
    "noise-3dB": ("extended", Recipe(snr_db=(3, 3)), True),
    "clipped-0dBm0": ("hard", Recipe(level=(0, 0), twist=(0, 0)), True),  # every item is clipped to 16 bits
    "hard-mix-ulaw": ("hard", Recipe(snr_db=(6, 6), twist=(-6, 3), duration_ms=(45, 80), gap_ms=(45, 80),
                                     channel="ulaw"), True),
    "gsm-fr": ("extended", Recipe(channel="gsm"), True),
    "talk-down": ("extended", Recipe(level=(-10, -10), twist=(0, 0), over_speech_dbm0=-20.0), True),
    "gsm-twist-8dB": ("extended", Recipe(level=(-20, -5), twist=(-8, -8), channel="gsm"), True),
    # one call: any level, typical twist (phones send the high group +2 dB, lines tilt it down a few dB),
    # S/N 10-40 dB, and a codec or band-pass in 4 calls out of 6
    "realistic": ("realistic", Recipe(level=(-25, -3), twist=(-6, 3), duration_ms=(45, 150), gap_ms=(45, 200),
                                      snr_db=(10, 40), channel="mix"), True),
    "freq+-3.5%": ("reject", Recipe(offset=None, offsets=OFF_35), False),
    "level-55dBm0": ("reject", Recipe(level=(-55, -55), twist=(0, 0)), False),
    "tone20ms": ("reject", Recipe(duration_ms=(20, 20), gap_ms=(60, 100)), False),
    "twist+12dB": ("reject", Recipe(level=(-20, -15), twist=(12, 12)), False),
    "twist-12dB": ("reject", Recipe(level=(-8, -4), twist=(-12, -12)), False),
}
MIX_CHANNELS = ("", "", "ulaw", "alaw", "gsm", "band")


def tone_pair(key: str, samples: int, low_dbm0: float, twist_db: float, offsets: tuple[float, float],
              rng: np.random.Generator) -> np.ndarray:
    """One dual tone of `samples` samples with random phases."""
    row = next(i for i, keys in enumerate(KEYPAD) if key in keys)
    col = KEYPAD[row].index(key)
    t = np.arange(samples) / RATE
    phases = rng.uniform(0, 2 * np.pi, 2)
    low = np.sqrt(2 * dbm0_power(low_dbm0)) * np.sin(2 * np.pi * ROW_HZ[row] * (1 + offsets[0]) * t + phases[0])
    high = np.sqrt(2 * dbm0_power(low_dbm0 + twist_db)) * np.sin(
        2 * np.pi * COL_HZ[col] * (1 + offsets[1]) * t + phases[1])
    return low + high


def _keys(rng: np.random.Generator, count: int, repeat: float) -> str:
    keys = [KEYS[rng.integers(16)]]
    while len(keys) < count:
        keys.append(keys[-1] if rng.random() < repeat else KEYS[rng.integers(16)])
    return "".join(keys)


def synthesise(recipe: Recipe, rng: np.random.Generator, count: int, speech: Callable[[int], np.ndarray]
               ) -> tuple[str, np.ndarray]:
    """A digit sequence under `recipe` (before the channel): the keys and float samples in int16 units."""
    keys = _keys(rng, count, recipe.repeat)
    parts = [np.zeros(int(rng.integers(800, 2400)))]
    level, twist = rng.uniform(*recipe.level), rng.uniform(*recipe.twist)
    tone_power = (dbm0_power(level) + dbm0_power(level + twist)) / 2
    for i, key in enumerate(keys):
        offsets = (rng.uniform(*recipe.offset), rng.uniform(*recipe.offset)) if recipe.offset else \
            recipe.offsets[(i + int(rng.integers(len(recipe.offsets)))) % len(recipe.offsets)]
        n = int(round(rng.uniform(*recipe.duration_ms) * RATE / 1000))
        tone = tone_pair(key, n, level, twist, offsets, rng)
        if recipe.dropout_ms:
            cut = int(recipe.dropout_ms * RATE / 1000)
            at = int(rng.integers(n // 3, 2 * n // 3 - cut))
            tone[at: at + cut] = 0.0
        parts += [tone, np.zeros(int(round(rng.uniform(*recipe.gap_ms) * RATE / 1000)))]
    parts.append(np.zeros(2400))
    signal = np.concatenate(parts)
    if recipe.snr_db:
        noise_power = tone_power / 10 ** (rng.uniform(*recipe.snr_db) / 10)
        signal = signal + rng.normal(0.0, np.sqrt(noise_power), len(signal))
    if recipe.over_speech_dbm0 is not None:
        signal = signal + talkoff.set_active_level(speech(len(signal)), recipe.over_speech_dbm0)
    return keys, signal


def channel(samples: np.ndarray, kind: str) -> np.ndarray:
    """The item through a codec round trip or the telephone band-pass, by sox; int16 out (clipped)."""
    pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2")
    raw = ["-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1"]
    if kind == "band":
        return _sox(raw + ["-"] + raw + ["-", "sinc", "300-3400"], pcm.tobytes())
    coded = {"ulaw": ["-t", "ul", "-r", str(RATE), "-c", "1"], "alaw": ["-t", "al", "-r", str(RATE), "-c", "1"],
             "gsm": ["-t", "gsm", "-r", str(RATE), "-c", "1"]}[kind]
    return _sox(coded + ["-"] + raw + ["-"], _sox(raw + ["-"] + coded + ["-"], pcm.tobytes(), raw_out=True).tobytes())


def _sox(args: list[str], data: bytes, raw_out: bool = False) -> np.ndarray:
    out = subprocess.run(["sox", "-R", "-V1", *args], input=data, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.uint8 if raw_out else "<i2")


def digit_items(seed: int, per_condition: int, digits: int = 10,
                only: Callable[[str], bool] = lambda name: True) -> Iterator[Item]:
    """`per_condition` items of `digits` keys for each condition (each item seeded on its own)."""
    speech_bank = talkoff.SpeechBank(seed) if any(r.over_speech_dbm0 is not None and only(n)
                                                 for n, (_, r, _) in CONDITIONS.items()) else None
    for c, (name, (group, recipe, report)) in enumerate(CONDITIONS.items()):
        if not only(name):
            continue
        for i in range(per_condition):
            rng = np.random.default_rng([seed, c, i])
            kind = MIX_CHANNELS[int(rng.integers(len(MIX_CHANNELS)))] if recipe.channel == "mix" else recipe.channel
            speech = speech_bank.take if speech_bank else (lambda n: np.zeros(n))
            keys, signal = synthesise(replace(recipe, channel=kind), rng, digits, speech)
            pcm = channel(signal, kind) if kind else np.clip(np.round(signal), -32768, 32767).astype(np.int16)
            yield Item(f"{name}/{i:03d}", name, group, keys if report else "", 0 if report else len(keys),
                       pcm.astype(np.int16), kind)


def build(seed: int = 1, per_condition: int = 40, speech_minutes: float = 60.0, music_minutes: float = 20.0,
          only: Callable[[str], bool] = lambda name: True) -> list[Item]:
    """The whole corpus: digit conditions, then talk-off sources (speech, music, prompts, other signals)."""
    items = list(digit_items(seed, per_condition, only=only))
    for source, name, samples in talkoff.sources(seed, speech_minutes, music_minutes):
        if only(source):
            items.append(Item(f"{source}/{name}", source, "talk-off", "", 0, samples))
    return items


def write(items: list[Item], out: Path) -> None:
    """One WAV per item under `out` (by condition) and `out/manifest.json`."""
    manifest = []
    for item in items:
        path = out / f"{item.name.replace('/', '__')}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(item.samples.astype("<i2").tobytes())
        manifest.append(dict(name=item.name, condition=item.condition, group=item.group, sent=item.sent,
                             bursts=item.bursts, channel=item.channel, file=path.name,
                             seconds=round(item.seconds, 3)))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))


def load(out: Path) -> list[Item]:
    """Items written by `write`."""
    items = []
    for row in json.loads((out / "manifest.json").read_text()):
        with wave.open(str(out / row["file"]), "rb") as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        items.append(Item(row["name"], row["condition"], row["group"], row["sent"], row["bursts"], samples,
                          row.get("channel", "")))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--items", type=int, default=40, help="items per digit condition (10 keys each)")
    parser.add_argument("--speech-min", type=float, default=60.0, help="minutes of speech (talk-off)")
    parser.add_argument("--music-min", type=float, default=20.0, help="minutes of music (talk-off)")
    args = parser.parse_args()
    items = build(args.seed, args.items, args.speech_min, args.music_min)
    write(items, args.out)
    print(f"{len(items)} items, {sum(i.seconds for i in items) / 60:.1f} min, in {args.out}")


if __name__ == "__main__":
    main()
