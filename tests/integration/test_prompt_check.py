"""The checker: the shipped files pass; each kind of fault is found on a damaged copy."""
from __future__ import annotations

import argparse
import array
import math
import re
import shutil
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

import voice_prompts
from voice_prompts.check import check
from voice_prompts.commands import register

PACKAGE_DIR = Path(voice_prompts.__file__).resolve().parent

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="needs the Debian package sox")



def write_wav(path: Path, samples: list[int], rate: int = 8000, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(array.array("h", samples).tobytes())


def sox_rewrite(path: Path, *arguments: str) -> None:
    """Rewrite `path` through sox: output format options and effects come in `arguments`."""
    out = path.with_name("rewritten.tmp.wav")
    subprocess.run(["sox", "-R", str(path), *arguments[:arguments.index("--")], str(out),
                    *arguments[arguments.index("--") + 1:]], check=True)
    out.replace(path)


def only(faults: list[str], prompt_id: str) -> str:
    matching = [fault for fault in faults if fault.startswith(prompt_id)]
    assert len(faults) == 1 and matching, faults
    return matching[0]


def test_the_shipped_files_pass() -> None:
    assert check() == []
    assert check(PACKAGE_DIR) == []


def test_missing_file(catalog_dir: Path) -> None:
    (catalog_dir / "wav" / "d5.wav").unlink()
    assert "missing" in only(check(catalog_dir), "d5")


def test_stray_file(catalog_dir: Path) -> None:
    shutil.copy(catalog_dir / "wav" / "welcome.wav", catalog_dir / "wav" / "welcome_old.wav")
    assert "stray" in only(check(catalog_dir), "wav/welcome_old.wav")


@needs_sox
def test_wrong_rate(catalog_dir: Path) -> None:
    sox_rewrite(catalog_dir / "wav" / "menu.wav", "-r", "16000", "--")
    assert "sample rate 16000 Hz" in only(check(catalog_dir), "menu")


@needs_sox
def test_stereo_and_8_bit(catalog_dir: Path) -> None:
    sox_rewrite(catalog_dir / "wav" / "locked.wav", "-c", "2", "--")
    sox_rewrite(catalog_dir / "wav" / "d1.wav", "-b", "8", "-e", "unsigned-integer", "--")
    faults = check(catalog_dir)
    assert any(f.startswith("locked") and "2 channels" in f for f in faults), faults
    assert any(f.startswith("d1") and "8-bit" in f for f in faults), faults
    assert len(faults) == 2


def test_header_that_is_not_plain(catalog_dir: Path) -> None:
    path = catalog_dir / "wav" / "repeat.wav"
    blob = path.read_bytes()
    extra = b"LIST" + (4).to_bytes(4, "little") + b"INFO"
    riff_size = int.from_bytes(blob[4:8], "little") + len(extra)
    path.write_bytes(blob[:4] + riff_size.to_bytes(4, "little") + blob[8:36] + extra + blob[36:])
    assert "56-byte header" in only(check(catalog_dir), "repeat")


def test_not_a_wav_file(catalog_dir: Path) -> None:
    (catalog_dir / "wav" / "error.wav").write_bytes(b"ID3 this is an mp3")
    assert "not a RIFF/WAVE file" in only(check(catalog_dir), "error")


def speech_like(count: int = 8000) -> list[int]:
    """A 500 Hz tone at about -16 dBFS RMS, loud from the first sample to the last."""
    return [round(7340 * math.sin(2 * math.pi * 500 * i / 8000)) for i in range(count)]


def test_clipped(catalog_dir: Path) -> None:
    samples = speech_like()
    samples[100:103] = [32767, 32767, -32768]
    write_wav(catalog_dir / "wav" / "goodbye.wav", samples)
    assert "clipped (3 samples at full scale)" in only(check(catalog_dir), "goodbye")


def test_peak_too_close_to_full_scale(catalog_dir: Path) -> None:
    samples = speech_like()
    samples[100] = 32000
    write_wav(catalog_dir / "wav" / "d2.wav", samples)
    assert "peak -0.2 dBFS is above -0.5 dBFS" in only(check(catalog_dir), "d2")


@needs_sox
def test_a_good_file_of_our_own_passes_once_its_amr_copy_is_made(catalog_dir: Path) -> None:
    write_wav(catalog_dir / "wav" / "d2.wav", speech_like())
    assert "stale, render it again" in only(check(catalog_dir), "d2 (amr/d2.amr)")
    subprocess.run(["sox", str(catalog_dir / "wav" / "d2.wav"), "-t", "amr-nb", str(catalog_dir / "amr" / "d2.amr")],
                   check=True)
    assert check(catalog_dir) == []


def test_missing_or_damaged_amr_copy(catalog_dir: Path) -> None:
    (catalog_dir / "amr" / "menu.amr").unlink()
    (catalog_dir / "amr" / "d3.amr").write_bytes(b"#!AMR\n\x3c\x00")
    faults = check(catalog_dir)
    assert faults == [
        "menu (amr/menu.amr): missing (run `resetline prompts render --only menu`)",
        f"d3 (amr/d3.amr): {catalog_dir / 'amr' / 'd3.amr'}: truncated last AMR frame",
    ]


def test_silent_speech_file(catalog_dir: Path) -> None:
    write_wav(catalog_dir / "wav" / "welcome.wav", [0] * 8000)
    assert "silent" in only(check(catalog_dir), "welcome")


@needs_sox
def test_too_quiet_and_long_leading_silence(catalog_dir: Path) -> None:
    sox_rewrite(catalog_dir / "wav" / "ask_code.wav", "--", "vol", "0.2")
    sox_rewrite(catalog_dir / "wav" / "l_k.wav", "--", "pad", "0.3", "0")
    faults = check(catalog_dir)
    assert any(re.fullmatch(r"ask_code \(ask_code\.wav\): RMS -3\d\.\d dBFS is outside -22\.0\.\.-12\.0 dBFS", f)
               for f in faults), faults
    assert any(f.startswith("l_k") and "ms of leading silence" in f for f in faults), faults
    assert len(faults) == 2


def test_pause_not_silent_or_wrong_length(catalog_dir: Path) -> None:
    write_wav(catalog_dir / "wav" / "pause_char.wav", [0] * 1599 + [1])
    write_wav(catalog_dir / "wav" / "pause_group.wav", [0] * 4001)
    faults = check(catalog_dir)
    assert faults == [
        "pause_char (pause_char.wav): not digital silence (1 non-zero samples)",
        "pause_group (pause_group.wav): 4001 samples, expected 4000 (500 ms)",
    ]


def test_broken_manifest_is_reported_as_a_fault(catalog_dir: Path) -> None:
    manifest = catalog_dir / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("speed = 185", "speed = -1", 1),
                        encoding="utf-8")
    assert "prompts.welcome.speed" in only(check(catalog_dir), str(manifest))


def command(root: Path) -> tuple[argparse.Namespace, Callable[[argparse.Namespace], int]]:
    parser = argparse.ArgumentParser(prog="resetline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prompts", "check", "--root", str(root)])
    return args, args.func


def test_check_command(catalog_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args, func = command(catalog_dir)
    assert func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 29 prompt files,") and out.count("\n") == 1
    (catalog_dir / "wav" / "d9.wav").unlink()
    (catalog_dir / "wav" / "junk.wav").write_bytes(b"")
    assert func(args) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "d9 (d9.wav): missing (run `resetline prompts render --only d9`)",
        "wav/junk.wav: stray file, the manifest names no prompt 'junk'",
    ]
    assert "2 fault(s)" in captured.err
