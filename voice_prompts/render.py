"""The renderer: manifest text (or an office's own recording) -> 8 kHz mono 16-bit PCM WAV files.

Follows the measured espeak-ng + sox recipe of the reference study: synthesis, the telephony chain
(resample, 300-3400 Hz band, silence trim, phase rotation, gentle compression, peak normalise), a
level pass towards the target RMS under the peak ceiling, then pads. sox runs with -R (repeatable)
and -D (no dither), and the file is written tmp -> rename, so the same inputs give the same bytes.
"""
from __future__ import annotations

import array
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path

from voice_prompts import PromptError
from voice_prompts.catalog import Prompt, PromptCatalog, RenderSettings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FULL_SCALE = 32768.0

#: tool -> Debian package that provides it
TOOL_PACKAGES = {"espeak-ng": "espeak-ng", "sox": "sox"}

# Raw intermediate audio between the sox passes: 32-bit so the level pass does not re-quantise twice.
_RAW_MID = ["-t", "raw", "-L", "-e", "signed-integer", "-b", "32", "-c", "1", "-r", str(SAMPLE_RATE)]
_RAW_OUT = ["-t", "raw", "-L", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", str(SAMPLE_RATE)]
# Phase rotation (espeak's impulse-like glottal pulses give a ~21 dB crest factor otherwise) and a
# gentle 2 ms / 50 ms compressor: the reference recipe, unchanged.
_SHAPING = [
    "allpass", "300", "0.5q", "allpass", "700", "0.5q", "allpass", "1500", "0.5q",
    "compand", "0.002,0.05", "6:-70,-70,-40,-30,-20,-13,0,-8", "0", "-90", "0.002",
]


def render(catalog_root: Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """Render every prompt of the catalog (or just `only`) into root/wav/; return the files written."""
    catalog = PromptCatalog.load(catalog_root)
    ids = _selected_ids(catalog, only)
    tools = _find_tools(_tools_needed(catalog, ids))
    catalog.wav_dir.mkdir(parents=True, exist_ok=True)
    catalog.amr_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="resetline-prompts-") as scratch:
        for prompt_id in ids:
            prompt = catalog.prompt(prompt_id)
            target = catalog.wav_path(prompt_id)
            samples = _render_samples(catalog, prompt, tools, Path(scratch))
            _write_wav_atomically(target, samples)
            _write_amr(tools["sox"], target, catalog.amr_path(prompt_id))
            logger.info("rendered %s (%.2f s)", target, len(samples) / SAMPLE_RATE)
            written.append(target)
    return written


def _selected_ids(catalog: PromptCatalog, only: Iterable[str] | None) -> list[str]:
    if only is None:
        return catalog.ids()
    wanted = list(dict.fromkeys(only))
    unknown = [prompt_id for prompt_id in wanted if prompt_id not in catalog]
    if unknown:
        raise PromptError(f"unknown prompt id(s): {', '.join(unknown)}")
    return wanted


def _tools_needed(catalog: PromptCatalog, ids: Sequence[str]) -> set[str]:
    needed: set[str] = {"sox"} if ids else set()  # sox writes every AMR-NB copy
    for prompt_id in ids:
        prompt = catalog.prompt(prompt_id)
        if prompt.set == "pause":
            continue
        if not _recording(catalog, prompt_id).is_file():
            needed.add("espeak-ng")
    return needed


def _find_tools(needed: set[str]) -> dict[str, str]:
    """Resolve each tool on PATH, or fail naming the Debian package(s) to install."""
    found = {tool: shutil.which(tool) for tool in sorted(needed)}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        packages = " ".join(TOOL_PACKAGES[tool] for tool in missing)
        raise PromptError(
            f"{', '.join(missing)} not found on PATH; install the Debian package(s): apt-get install {packages}"
        )
    return {tool: path for tool, path in found.items() if path is not None}


def _recording(catalog: PromptCatalog, prompt_id: str) -> Path:
    return catalog.recorded_dir / f"{prompt_id}.wav"


def _render_samples(
    catalog: PromptCatalog, prompt: Prompt, tools: dict[str, str], scratch: Path
) -> array.array[int]:
    """The final 16-bit samples of one prompt."""
    recording = _recording(catalog, prompt.id)
    if prompt.set == "pause":
        if recording.is_file():
            logger.warning("%s is a pause: %s is ignored", prompt.id, recording)
        return array.array("h", bytes(2 * prompt.silence_ms * SAMPLE_RATE // 1000))
    settings = catalog.settings
    shaped = scratch / f"{prompt.id}.shaped.raw"
    if recording.is_file():
        logger.info("%s: using the recording %s", prompt.id, recording)
        _telephony_chain(tools["sox"], recording, shaped, settings, recorded=True)
    else:
        synthesised = scratch / f"{prompt.id}.espeak.wav"
        _synthesise(tools["espeak-ng"], prompt, settings, synthesised)
        _telephony_chain(tools["sox"], synthesised, shaped, settings, recorded=False)
    gain = _level_gain(prompt.id, shaped, settings)
    final = scratch / f"{prompt.id}.final.raw"
    pads = settings.pads[prompt.set]
    _sox(tools["sox"], [*_RAW_MID, str(shaped), *_RAW_OUT, str(final),
                        "gain", f"{gain:.2f}",
                        "pad", _seconds(pads.head_ms), _seconds(pads.tail_ms)])
    return _read_raw(final, "h")


def _synthesise(espeak: str, prompt: Prompt, settings: RenderSettings, out: Path) -> None:
    command = [espeak, "-v", settings.voice, "-s", str(prompt.speed), "-a", str(settings.amplitude),
               "-b", "1", "-w", str(out), prompt.tts]
    _run(command, f"{prompt.id}: espeak-ng")
    if not out.is_file() or out.stat().st_size <= 44:
        raise PromptError(f"{prompt.id}: espeak-ng produced no audio for {prompt.tts!r}")


def _telephony_chain(sox: str, source: Path, out: Path, settings: RenderSettings, *, recorded: bool) -> None:
    """Resample to 8 kHz mono, band-limit, trim both ends, shape, normalise the peak."""
    threshold = f"{settings.trim_threshold_db:g}d"
    trim = ["silence", "1", "0.01", threshold, "reverse", "silence", "1", "0.01", threshold, "reverse"]
    # A recording arrives at any level: bring its peak up first so the trim threshold means the
    # same thing as for espeak's fixed-level output.
    level_first = ["norm", f"{settings.ceiling_dbfs:g}"] if recorded else []
    effects = ["rate", "-v", str(SAMPLE_RATE), "sinc", "300-3400", *level_first, *trim,
               *_SHAPING, "norm", f"{settings.ceiling_dbfs:g}"]
    _sox(sox, [str(source), *_RAW_MID, str(out), *effects])


def _level_gain(prompt_id: str, shaped: Path, settings: RenderSettings) -> float:
    """dB of gain that brings the RMS to the target without lifting the peak above the ceiling."""
    samples = _read_raw(shaped, "i")
    if not samples:
        raise PromptError(f"{prompt_id}: nothing left after trimming silence (is the source silent?)")
    peak = max(max(samples), -min(samples))
    if peak == 0:
        raise PromptError(f"{prompt_id}: the audio is silent")
    full_scale = 2.0**31
    rms = math.sqrt(math.fsum(float(s) * s for s in samples) / len(samples))
    rms_db = 20 * math.log10(rms / full_scale)
    peak_db = 20 * math.log10(peak / full_scale)
    return min(settings.target_rms_dbfs - rms_db, settings.ceiling_dbfs - peak_db)


def _read_raw(path: Path, typecode: str) -> array.array[int]:
    samples = array.array(typecode)
    samples.frombytes(path.read_bytes())
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _write_wav_atomically(target: Path, samples: array.array[int]) -> None:
    """Plain 44-byte-header PCM WAV, written beside the target and renamed over it."""
    tmp = target.with_name(target.name + ".tmp")
    data = samples
    if sys.byteorder == "big":
        data = array.array("h", samples)
        data.byteswap()
    try:
        with wave.open(str(tmp), "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(SAMPLE_RATE)
            writer.writeframes(data.tobytes())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write_amr(sox: str, wav: Path, target: Path) -> None:
    """The AMR-NB 12.2 kbit/s copy for modems that play only AMR (SIM800), written tmp -> rename."""
    tmp = target.with_name(target.name + ".tmp")
    try:
        _sox(sox, [str(wav), "-t", "amr-nb", "-C", "7", str(tmp)])
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _seconds(milliseconds: int) -> str:
    return f"{milliseconds / 1000:.3f}"


def _sox(sox: str, arguments: list[str]) -> None:
    # -R: repeatable; -D: no dither, so pads stay digital zero and output does not depend on a seed
    _run([sox, "-R", "-D", "-V1", *arguments], "sox")


def _run(command: list[str], what: str) -> None:
    logger.debug("running %s", command)
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as err:
        raise PromptError(f"{what}: cannot run {command[0]}: {err}") from err
    if result.returncode != 0:
        detail = result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}"
        raise PromptError(f"{what} failed: {detail}")
