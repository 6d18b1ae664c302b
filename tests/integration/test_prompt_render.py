"""The renderer with the real espeak-ng and sox: deterministic output, recordings win, clear tool errors."""
from __future__ import annotations

import argparse
import array
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

import voice_prompts
from voice_prompts import PromptError
from voice_prompts.catalog import PromptCatalog
from voice_prompts.check import check
from voice_prompts.commands import register
from voice_prompts.render import render

PACKAGE_DIR = Path(voice_prompts.__file__).resolve().parent
SILENCE_FLOOR = 32768 * 10 ** (-50 / 20)

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs the Debian packages espeak-ng and sox",
)



def samples_of(path: Path) -> tuple[int, int, int, array.array[int]]:
    """(rate, channels, sample width, samples) of a PCM WAV file."""
    with wave.open(str(path), "rb") as reader:
        frames = reader.readframes(reader.getnframes())
        return reader.getframerate(), reader.getnchannels(), reader.getsampwidth(), array.array("h", frames)


def edge_silence_ms(samples: array.array[int]) -> tuple[float, float]:
    loud = [index for index, sample in enumerate(samples) if abs(sample) > SILENCE_FLOOR]
    return loud[0] / 8, (len(samples) - 1 - loud[-1]) / 8


def test_render_is_byte_identical_and_matches_the_shipped_files(catalog_dir: Path) -> None:
    ids = ["welcome", "d3"]
    first = render(catalog_dir, ids)
    assert first == [catalog_dir / "wav" / "welcome.wav", catalog_dir / "wav" / "d3.wav"]
    once = {path.name: path.read_bytes() for path in first}
    second = render(catalog_dir, ids)
    assert {path.name: path.read_bytes() for path in second} == once
    for name, blob in once.items():
        assert blob == (PACKAGE_DIR / "wav" / name).read_bytes(), f"shipped {name} is stale: re-render"
    assert not list((catalog_dir / "wav").glob("*.tmp"))


def test_rendered_format_level_and_edges(catalog_dir: Path) -> None:
    settings = PromptCatalog.load(catalog_dir).settings
    for path in render(catalog_dir, ["ask_code", "l_x"]):
        blob = path.read_bytes()
        assert blob[:4] == b"RIFF" and blob[36:40] == b"data", "plain 44-byte header"
        rate, channels, width, samples = samples_of(path)
        assert (rate, channels, width) == (8000, 1, 2)
        assert max(abs(sample) for sample in samples) <= 32768 * 10 ** (settings.ceiling_dbfs / 20) + 1
        lead, trail = edge_silence_ms(samples)
        assert lead <= 100 and trail <= 100


def test_pause_files_are_exact_digital_silence_and_need_no_synthesiser(
    catalog_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_sox = tmp_path / "only-sox"  # sox still writes the AMR-NB copy
    only_sox.mkdir()
    (only_sox / "sox").symlink_to(shutil.which("sox") or "sox")
    monkeypatch.setenv("PATH", str(only_sox))
    (path,) = render(catalog_dir, ["pause_group"])
    assert (catalog_dir / "amr" / "pause_group.amr").read_bytes().startswith(b"#!AMR\n")
    rate, channels, _, samples = samples_of(path)
    assert (rate, channels, len(samples)) == (8000, 1, 4000)
    assert not any(samples)


def test_missing_tools_name_the_debian_packages(
    catalog_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    before = (catalog_dir / "wav" / "welcome.wav").read_bytes()
    with pytest.raises(PromptError) as caught:
        render(catalog_dir, ["welcome"])
    message = str(caught.value)
    assert "espeak-ng" in message and "sox" in message and "apt-get install" in message
    assert (catalog_dir / "wav" / "welcome.wav").read_bytes() == before


def test_unknown_only_id_is_refused(catalog_dir: Path) -> None:
    with pytest.raises(PromptError, match="no_such"):
        render(catalog_dir, ["welcome", "no_such"])


def make_recording(catalog_dir: Path, prompt_id: str, scratch: Path) -> Path:
    """A person's 'recording': espeak speech at 44.1 kHz stereo, quiet, with half a second of silence."""
    spoken = scratch / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(spoken), "Xin cảm ơn quý khách."], check=True)
    recorded = catalog_dir / "recorded" / f"{prompt_id}.wav"
    recorded.parent.mkdir()
    subprocess.run(["sox", "-R", str(spoken), "-r", "44100", "-c", "2", "-b", "24", str(recorded),
                    "vol", "0.2", "pad", "0.5", "0.5"], check=True)
    return recorded


def test_a_recording_wins_over_synthesis(catalog_dir: Path, tmp_path: Path) -> None:
    make_recording(catalog_dir, "goodbye", tmp_path)
    synthesised = (catalog_dir / "wav" / "goodbye.wav").read_bytes()
    (path,) = render(catalog_dir, ["goodbye"])
    assert path.read_bytes() != synthesised
    rate, channels, width, samples = samples_of(path)
    assert (rate, channels, width) == (8000, 1, 2)
    lead, trail = edge_silence_ms(samples)
    assert lead <= 100 and trail <= 100, "the recording's half second of silence is trimmed"
    again = render(catalog_dir, ["goodbye"])[0].read_bytes()
    assert again == path.read_bytes()
    assert check(catalog_dir) == []


def test_render_command_on_a_tiny_root_parser(catalog_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="resetline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prompts", "render", "--only", "repeat", "d1", "--only", "pause_char",
                              "--root", str(catalog_dir)])
    assert args.func(args) == 0
    assert "rendered 3 file(s)" in capsys.readouterr().out
    args = parser.parse_args(["prompts", "render", "--only", "nope", "--root", str(catalog_dir)])
    assert args.func(args) == 1
    assert "nope" in capsys.readouterr().err
