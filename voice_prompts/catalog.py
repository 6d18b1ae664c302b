"""The prompt catalog: the manifest (id -> Vietnamese text and render settings) and the rendered WAV files.

Loaded once, validated once; every error names the prompt id and the key so a broken manifest is
fixed in one go. Drivers use `path()`, `duration()` and `audio()` (the prompt in their own format, see
`formats.py`); the render and check tools use the rest.

A box may hold its own recordings outside the (read-only) package: `load(override_dir=<state>/prompts/recorded)`.
A `<override_dir>/<id>.wav` there wins over the shipped `wav/<id>.wav` for `path()`, `duration()` and every
`audio()` format, its AMR-NB copy being `<override_dir>/<id>.amr` (written by `prompts install` on the console).
"""
from __future__ import annotations

import logging
import re
import tomllib
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_prompts import PromptError, formats

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.toml"
WAV_DIR = "wav"
AMR_DIR = "amr"
RECORDED_DIR = "recorded"

#: The three kinds of prompt: call-flow sentences, password characters, digital silence.
SETS = ("flow", "units", "pause")
SYNTHESISED_SETS = ("flow", "units")

_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
_PROMPT_KEYS = {"set", "display", "tts", "speed", "silence_ms"}
_RENDER_KEYS = {"voice", "amplitude", "target_rms_dbfs", "ceiling_dbfs", "trim_threshold_db", "pad_ms"}
# espeak-ng accepts 80..450 words per minute
_SPEED_RANGE = (80, 450)
_SILENCE_RANGE = (1, 10_000)


def box_recordings(state_dir: Path) -> Path:
    """Where a box keeps its own recordings, `<state>/prompts/recorded` (the package is read-only on the Pi)."""
    return Path(state_dir) / "prompts" / "recorded"


@dataclass(frozen=True)
class Prompt:
    """One prompt id: its text, the set it belongs to, and how it is rendered."""

    id: str
    set: str
    display: str
    tts: str
    speed: int
    silence_ms: int


@dataclass(frozen=True)
class Padding:
    """Digital silence put before and after the trimmed speech of one set, in milliseconds."""

    head_ms: int
    tail_ms: int


@dataclass(frozen=True)
class RenderSettings:
    """The `[render]` table: voice, levels and pads shared by every prompt."""

    voice: str
    amplitude: int
    target_rms_dbfs: float
    ceiling_dbfs: float
    trim_threshold_db: float
    pads: dict[str, Padding]


class PromptCatalog:
    """The prompts of one catalog directory (manifest.toml, wav/, recorded/)."""

    def __init__(self, root: Path, prompts: dict[str, Prompt], settings: RenderSettings,
                 override_dir: Path | None = None) -> None:
        self.root = root
        self.override_dir = override_dir
        self.settings = settings
        self._prompts = prompts
        self._durations: dict[str, float] = {}
        self._audio: dict[tuple[str, str], bytes] = {}

    @classmethod
    def load(cls, root: Path | None = None, override_dir: Path | None = None) -> PromptCatalog:
        """Read and validate `root/manifest.toml` (root defaults to this package's directory); recordings in
        `override_dir` (a box's state directory, see the module docstring) win over the shipped files."""
        root = Path(root) if root is not None else Path(__file__).resolve().parent
        manifest = root / MANIFEST_NAME
        try:
            with manifest.open("rb") as handle:
                data = tomllib.load(handle)
        except OSError as err:
            raise PromptError(f"{manifest}: cannot read the manifest: {err}") from err
        except tomllib.TOMLDecodeError as err:
            raise PromptError(f"{manifest}: not valid TOML: {err}") from err
        unknown = set(data) - {"render", "prompts"}
        if unknown:
            raise PromptError(f"{manifest}: unknown top-level key(s): {', '.join(sorted(unknown))}")
        settings = _parse_settings(manifest, _table(manifest, data, "render"))
        prompts_table = _table(manifest, data, "prompts")
        if not prompts_table:
            raise PromptError(f"{manifest}: [prompts] names no prompt")
        prompts = {pid: _parse_prompt(manifest, pid, entry) for pid, entry in prompts_table.items()}
        logger.debug("loaded %d prompts from %s", len(prompts), manifest)
        return cls(root, prompts, settings, Path(override_dir) if override_dir is not None else None)

    @property
    def wav_dir(self) -> Path:
        return self.root / WAV_DIR

    @property
    def amr_dir(self) -> Path:
        return self.root / AMR_DIR

    @property
    def recorded_dir(self) -> Path:
        return self.root / RECORDED_DIR

    def ids(self) -> list[str]:
        """Every prompt id, in manifest order."""
        return list(self._prompts)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._prompts

    def __len__(self) -> int:
        return len(self._prompts)

    def prompt(self, prompt_id: str) -> Prompt:
        try:
            return self._prompts[prompt_id]
        except KeyError:
            raise PromptError(f"unknown prompt id {prompt_id!r}") from None

    def text(self, prompt_id: str) -> str:
        """The display text (full diacritics; empty for pauses)."""
        return self.prompt(prompt_id).display

    def wav_path(self, prompt_id: str) -> Path:
        """Where the rendered file of `prompt_id` belongs, whether or not it exists yet."""
        self.prompt(prompt_id)
        return self.wav_dir / f"{prompt_id}.wav"

    def override_path(self, prompt_id: str, suffix: str = ".wav") -> Path | None:
        """The box's own recording of `prompt_id` (or its AMR copy with suffix ".amr") when one is installed."""
        self.prompt(prompt_id)
        if self.override_dir is None:
            return None
        path = self.override_dir / f"{prompt_id}{suffix}"
        return path if (self.override_dir / f"{prompt_id}.wav").is_file() else None

    def overrides(self) -> list[str]:
        """The ids that play the box's own recording, in manifest order."""
        return [prompt_id for prompt_id in self._prompts if self.override_path(prompt_id) is not None]

    def playing_path(self, prompt_id: str) -> Path:
        """The WAV file that plays for `prompt_id`: the override if installed, else the shipped one."""
        return self.override_path(prompt_id) or self.wav_path(prompt_id)

    def path(self, prompt_id: str) -> Path:
        """The rendered file (or the box's override); PromptError if it has not been rendered."""
        path = self.playing_path(prompt_id)
        if not path.is_file():
            raise PromptError(f"prompt {prompt_id!r}: {path} is missing (run `resetline prompts render`)")
        return path

    def amr_path(self, prompt_id: str) -> Path:
        """Where the AMR-NB copy of `prompt_id` belongs (SIM800 file playback); beside an override's WAV for one."""
        return self.override_path(prompt_id, ".amr") or self.amr_dir / f"{prompt_id}.amr"

    def audio(self, prompt_id: str, fmt: str = "wav") -> bytes:
        """The prompt in a line's native format (`formats.FORMATS`): what a driver uploads or streams."""
        key = (prompt_id, fmt)
        if key not in self._audio:
            if fmt == "wav":
                data = self.path(prompt_id).read_bytes()
            elif fmt == "amr":
                path = self.amr_path(prompt_id)
                if not path.is_file():
                    raise PromptError(f"prompt {prompt_id!r}: {path} is missing (run `resetline prompts render`)")
                data = path.read_bytes()
            else:
                data = formats.encode(formats.read_pcm(self.path(prompt_id)), fmt)
            self._audio[key] = data
        return self._audio[key]

    def duration(self, prompt_id: str) -> float:
        """Playing time in seconds, read from the WAV header once and cached."""
        cached = self._durations.get(prompt_id)
        if cached is not None:
            return cached
        path = self.path(prompt_id)
        try:
            with wave.open(str(path), "rb") as reader:
                seconds = reader.getnframes() / reader.getframerate()
        except (OSError, EOFError, wave.Error) as err:
            raise PromptError(f"prompt {prompt_id!r}: {path} is not a readable PCM WAV file: {err}") from err
        self._durations[prompt_id] = seconds
        return seconds


def _where(manifest: Path, key: str) -> str:
    return f"{manifest}: {key}"


def _table(manifest: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise PromptError(f"{_where(manifest, key)}: missing or not a table")
    return value


def _int(manifest: Path, key: str, value: object, bounds: tuple[int, int]) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PromptError(f"{_where(manifest, key)}: must be an integer, got {value!r}")
    low, high = bounds
    if not low <= value <= high:
        raise PromptError(f"{_where(manifest, key)}: {value} is outside {low}..{high}")
    return value


def _float(manifest: Path, key: str, value: object, bounds: tuple[float, float]) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise PromptError(f"{_where(manifest, key)}: must be a number, got {value!r}")
    low, high = bounds
    if not low <= value <= high:
        raise PromptError(f"{_where(manifest, key)}: {value} is outside {low}..{high}")
    return float(value)


def _str(manifest: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise PromptError(f"{_where(manifest, key)}: must be a string, got {value!r}")
    return value


def _parse_settings(manifest: Path, table: dict[str, Any]) -> RenderSettings:
    unknown = set(table) - _RENDER_KEYS
    if unknown:
        raise PromptError(f"{_where(manifest, 'render')}: unknown key(s): {', '.join(sorted(unknown))}")
    missing = _RENDER_KEYS - set(table)
    if missing:
        raise PromptError(f"{_where(manifest, 'render')}: missing key(s): {', '.join(sorted(missing))}")
    voice = _str(manifest, "render.voice", table["voice"])
    if not re.fullmatch(r"[A-Za-z0-9_+-]+", voice):
        raise PromptError(f"{_where(manifest, 'render.voice')}: {voice!r} is not an espeak-ng voice name")
    pad_table = table["pad_ms"]
    if not isinstance(pad_table, dict):
        raise PromptError(f"{_where(manifest, 'render.pad_ms')}: must be a table")
    pads: dict[str, Padding] = {}
    for set_name in SYNTHESISED_SETS:
        pads[set_name] = _parse_padding(manifest, set_name, pad_table.get(set_name))
    extra = set(pad_table) - set(SYNTHESISED_SETS)
    if extra:
        raise PromptError(f"{_where(manifest, 'render.pad_ms')}: unknown set(s): {', '.join(sorted(extra))}")
    return RenderSettings(
        voice=voice,
        amplitude=_int(manifest, "render.amplitude", table["amplitude"], (1, 200)),
        target_rms_dbfs=_float(manifest, "render.target_rms_dbfs", table["target_rms_dbfs"], (-40.0, -3.0)),
        ceiling_dbfs=_float(manifest, "render.ceiling_dbfs", table["ceiling_dbfs"], (-20.0, -0.5)),
        trim_threshold_db=_float(manifest, "render.trim_threshold_db", table["trim_threshold_db"], (-90.0, -20.0)),
        pads=pads,
    )


def _parse_padding(manifest: Path, set_name: str, value: object) -> Padding:
    key = f"render.pad_ms.{set_name}"
    if not isinstance(value, dict) or set(value) != {"head", "tail"}:
        raise PromptError(f"{_where(manifest, key)}: must be a table with exactly `head` and `tail`")
    return Padding(
        head_ms=_int(manifest, f"{key}.head", value["head"], (0, 100)),
        tail_ms=_int(manifest, f"{key}.tail", value["tail"], (0, 100)),
    )


def _parse_prompt(manifest: Path, prompt_id: str, entry: object) -> Prompt:
    base = f"prompts.{prompt_id}"
    if not _ID_PATTERN.fullmatch(prompt_id):
        raise PromptError(f"{_where(manifest, base)}: id must be lower case letters, digits and _")
    if not isinstance(entry, dict):
        raise PromptError(f"{_where(manifest, base)}: must be a table")
    unknown = set(entry) - _PROMPT_KEYS
    if unknown:
        raise PromptError(f"{_where(manifest, base)}: unknown key(s): {', '.join(sorted(unknown))}")
    set_name = entry.get("set")
    if set_name not in SETS:
        raise PromptError(f"{_where(manifest, base + '.set')}: must be one of {', '.join(SETS)}, got {set_name!r}")
    if set_name == "pause":
        return _parse_pause(manifest, prompt_id, entry)
    for forbidden in ("silence_ms",):
        if forbidden in entry:
            raise PromptError(f"{_where(manifest, f'{base}.{forbidden}')}: only pause prompts have it")
    if "display" not in entry:
        raise PromptError(f"{_where(manifest, base + '.display')}: missing")
    display = _str(manifest, f"{base}.display", entry["display"]).strip()
    tts = _str(manifest, f"{base}.tts", entry.get("tts", display)).strip()
    if not display:
        raise PromptError(f"{_where(manifest, base + '.display')}: empty")
    if not tts:
        raise PromptError(f"{_where(manifest, base + '.tts')}: empty")
    if "speed" not in entry:
        raise PromptError(f"{_where(manifest, base + '.speed')}: missing (words per minute)")
    speed = _int(manifest, f"{base}.speed", entry["speed"], _SPEED_RANGE)
    return Prompt(id=prompt_id, set=set_name, display=display, tts=tts, speed=speed, silence_ms=0)


def _parse_pause(manifest: Path, prompt_id: str, entry: dict[str, Any]) -> Prompt:
    base = f"prompts.{prompt_id}"
    for forbidden in ("tts", "speed"):
        if forbidden in entry:
            raise PromptError(f"{_where(manifest, f'{base}.{forbidden}')}: a pause is not synthesised")
    display = _str(manifest, f"{base}.display", entry.get("display", ""))
    if "silence_ms" not in entry:
        raise PromptError(f"{_where(manifest, base + '.silence_ms')}: missing")
    silence_ms = _int(manifest, f"{base}.silence_ms", entry["silence_ms"], _SILENCE_RANGE)
    return Prompt(id=prompt_id, set="pause", display=display, tts="", speed=0, silence_ms=silence_ms)
