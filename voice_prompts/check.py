"""The checker: is every rendered file there, in the line's format, at a sane level, and nothing else?

Run after every render and in the tests; an office that drops in its own recording runs it too.
Each fault names the id (or file) and what is wrong, so the list can be printed as it is.
"""
from __future__ import annotations

import array
import logging
import math
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from voice_prompts import PromptError, formats
from voice_prompts.catalog import Prompt, PromptCatalog

logger = logging.getLogger(__name__)

SAMPLE_RATE = 8000
CHANNELS = 1
BITS = 16
PLAIN_HEADER_BYTES = 44
WAVE_FORMAT_PCM = 1

#: whole-file RMS a speech file must have, dBFS
RMS_RANGE_DBFS = (-22.0, -12.0)
#: the loudest sample may not come closer to full scale than this
PEAK_LIMIT_DBFS = -0.5
#: below this a sample counts as silence (for "silent file" and the silence at both ends)
SILENCE_FLOOR_DBFS = -50.0
#: at most this much silence before the first and after the last sound (pads included)
MAX_EDGE_SILENCE_MS = 100
#: an AMR copy rounds up to whole 20 ms frames (and the encoder may add one)
AMR_DURATION_TOLERANCE_S = 0.045


@dataclass(frozen=True)
class WavFacts:
    """What the header of a RIFF/WAVE file says, and its samples when it is 16-bit PCM."""

    format_tag: int
    channels: int
    rate: int
    bits: int
    data_offset: int
    samples: array.array[int] | None


def check(catalog_root: Path | None = None, override_dir: Path | None = None) -> list[str]:
    """Every fault of the catalog at `catalog_root` (default: this package), with a box's own recordings in
    `override_dir` checked instead of the shipped files they replace; empty means good."""
    try:
        catalog = PromptCatalog.load(catalog_root, override_dir)
    except PromptError as err:
        return [str(err)]
    faults: list[str] = []
    for prompt_id in catalog.ids():
        wav_faults = _file_faults(catalog, catalog.prompt(prompt_id))
        faults.extend(wav_faults or _amr_faults(catalog, prompt_id))
    faults.extend(_stray_faults(catalog))
    logger.info("checked %d prompts in %s: %d fault(s)", len(catalog), catalog.root, len(faults))
    return faults


def read_wav(path: Path) -> WavFacts:
    """Parse the RIFF chunks of `path`; PromptError if it is not a WAV file at all."""
    blob = path.read_bytes()
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise PromptError(f"{path}: not a RIFF/WAVE file")
    fmt: tuple[int, int, int, int] | None = None
    position = 12
    while position + 8 <= len(blob):
        chunk_id = blob[position:position + 4]
        (size,) = struct.unpack_from("<I", blob, position + 4)
        body = position + 8
        if chunk_id == b"fmt " and size >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", blob, body)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise PromptError(f"{path}: data chunk before the fmt chunk")
            data = blob[body:body + size]
            return WavFacts(*fmt, data_offset=body, samples=_pcm16(data) if _is_pcm16(fmt) else None)
        position = body + size + (size & 1)
    raise PromptError(f"{path}: no fmt or data chunk")


def _is_pcm16(fmt: tuple[int, int, int, int]) -> bool:
    tag, channels, _, bits = fmt
    return tag == WAVE_FORMAT_PCM and channels == 1 and bits == 16


def _pcm16(data: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(data[: len(data) - len(data) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _file_faults(catalog: PromptCatalog, prompt: Prompt) -> list[str]:
    path = catalog.playing_path(prompt.id)
    if not path.is_file():
        return [f"{prompt.id} ({path.name}): missing (run `resetline prompts render --only {prompt.id}`)"]
    overridden = catalog.override_path(prompt.id) is not None
    return wav_faults(path, prompt, f"{prompt.id} ({'override ' if overridden else ''}{path.name})")


def wav_faults(path: Path, prompt: Prompt, label: str) -> list[str]:
    """The faults of one WAV file meant to play as `prompt`, each starting with `label`; empty means good."""
    try:
        facts = read_wav(path)
    except (OSError, PromptError, struct.error) as err:
        return [f"{label}: unreadable: {err}"]
    faults = _format_faults(facts)
    if faults or facts.samples is None:
        return [f"{label}: {fault}" for fault in faults]
    if prompt.set == "pause":
        faults = _pause_faults(prompt, facts.samples)
    else:
        faults = _speech_faults(facts.samples)
    return [f"{label}: {fault}" for fault in faults]


def _format_faults(facts: WavFacts) -> list[str]:
    faults = []
    if facts.format_tag != WAVE_FORMAT_PCM:
        faults.append(f"format tag {facts.format_tag}, not plain PCM (1)")
    if facts.rate != SAMPLE_RATE:
        faults.append(f"sample rate {facts.rate} Hz, not {SAMPLE_RATE}")
    if facts.channels != CHANNELS:
        faults.append(f"{facts.channels} channels, not mono")
    if facts.bits != BITS:
        faults.append(f"{facts.bits}-bit samples, not {BITS}-bit")
    if not faults and facts.data_offset != PLAIN_HEADER_BYTES:
        faults.append(f"{facts.data_offset}-byte header, not the plain {PLAIN_HEADER_BYTES}-byte one")
    return faults


def _pause_faults(prompt: Prompt, samples: array.array[int]) -> list[str]:
    faults = []
    expected = prompt.silence_ms * SAMPLE_RATE // 1000
    if len(samples) != expected:
        faults.append(f"{len(samples)} samples, expected {expected} ({prompt.silence_ms} ms)")
    loud = sum(1 for sample in samples if sample != 0)
    if loud:
        faults.append(f"not digital silence ({loud} non-zero samples)")
    return faults


def _speech_faults(samples: array.array[int]) -> list[str]:
    if not samples:
        return ["silent (no samples)"]
    peak = max(max(samples), -min(samples))
    floor = _amplitude(SILENCE_FLOOR_DBFS)
    if peak <= floor:
        return [f"silent (peak {_dbfs(peak)} dBFS)"]
    faults = []
    at_full_scale = sum(1 for sample in samples if sample >= 32767 or sample <= -32768)
    if at_full_scale:
        faults.append(f"clipped ({at_full_scale} samples at full scale)")
    elif peak > _amplitude(PEAK_LIMIT_DBFS):
        faults.append(f"peak {_dbfs(peak)} dBFS is above {PEAK_LIMIT_DBFS} dBFS")
    rms = math.sqrt(math.fsum(float(sample) * sample for sample in samples) / len(samples))
    low, high = RMS_RANGE_DBFS
    if not low <= 20 * math.log10(max(rms, 1e-9) / 32768) <= high:
        faults.append(f"RMS {_dbfs(rms)} dBFS is outside {low}..{high} dBFS")
    faults.extend(_edge_faults(samples, floor))
    return faults


def _edge_faults(samples: array.array[int], floor: float) -> list[str]:
    first = next(index for index, sample in enumerate(samples) if abs(sample) > floor)
    last = next(index for index in range(len(samples) - 1, -1, -1) if abs(samples[index]) > floor)
    faults = []
    for where, count in (("leading", first), ("trailing", len(samples) - 1 - last)):
        milliseconds = 1000 * count / SAMPLE_RATE
        if milliseconds > MAX_EDGE_SILENCE_MS:
            faults.append(f"{milliseconds:.0f} ms of {where} silence (at most {MAX_EDGE_SILENCE_MS} ms)")
    return faults


def _amr_faults(catalog: PromptCatalog, prompt_id: str) -> list[str]:
    """The AMR-NB copy (SIM800) must exist and last as long as the WAV it was made from."""
    path = catalog.amr_path(prompt_id)
    label = f"{prompt_id} (amr/{path.name})"
    if not path.is_file():
        return [f"{label}: missing (run `resetline prompts render --only {prompt_id}`)"]
    try:
        seconds = formats.amr_duration(path.read_bytes(), str(path))
    except PromptError as err:
        return [f"{label}: {err}"]
    expected = catalog.duration(prompt_id)
    if abs(seconds - expected) > AMR_DURATION_TOLERANCE_S:
        return [f"{label}: lasts {seconds:.2f} s but the WAV {expected:.2f} s: stale, render it again"]
    return []


def _stray_faults(catalog: PromptCatalog) -> list[str]:
    strays = []
    places = [(catalog.wav_dir, ".wav"), (catalog.amr_dir, ".amr")]
    if catalog.override_dir is not None:
        places += [(catalog.override_dir, ".wav"), (catalog.override_dir, ".amr")]
    for directory, suffix in places:
        if directory.is_dir():
            strays += [
                f"{directory.name}/{path.name}: stray file, the manifest names no prompt {path.stem!r}"
                for path in sorted(directory.glob("*" + suffix))
                if path.stem not in catalog
            ]
    return strays


def _amplitude(dbfs: float) -> float:
    return 32768 * 10 ** (dbfs / 20)


def _dbfs(amplitude: float) -> str:
    if amplitude <= 0:
        return "-inf"
    return f"{20 * math.log10(amplitude / 32768):.1f}"
