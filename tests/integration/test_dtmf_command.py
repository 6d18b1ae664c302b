"""`resetline dtmf FILE.wav` as a process: digits on one line of stdout, errors on stderr with a non-zero exit.

The root parser learns the command when provisioning/cli.py registers it; until then a tiny root calls
`register()` exactly as the real one will.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = """
import argparse, sys
from provisioning import dtmf_command
parser = argparse.ArgumentParser(prog="resetline")
sub = parser.add_subparsers(dest="command", required=True)
dtmf_command.register(sub)
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""
ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")


def resetline(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", ROOT, *argv], capture_output=True, text=True, timeout=60)


def keys_audio(keys: str, rate: int = 8000) -> np.ndarray:
    parts = [np.zeros(rate // 10)]
    t = np.arange(int(0.07 * rate)) / rate
    for key in keys:
        row = next(i for i, k in enumerate(KEYPAD) if key in k)
        parts += [6000 * (np.sin(2 * np.pi * ROWS[row] * t) + np.sin(2 * np.pi * COLS[KEYPAD[row].index(key)] * t)),
                  np.zeros(int(0.08 * rate))]
    return np.concatenate(parts)


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
    return path


def test_prints_the_digits_on_one_line(tmp_path: Path) -> None:
    result = resetline("dtmf", str(write_wav(tmp_path / "keys.wav", keys_audio("0912345678#"))))
    assert (result.returncode, result.stdout, result.stderr) == (0, "0912345678#\n", "")


def test_no_digits_is_an_empty_line(tmp_path: Path) -> None:
    result = resetline("dtmf", str(write_wav(tmp_path / "quiet.wav", np.zeros(8000))))
    assert (result.returncode, result.stdout) == (0, "\n")


def test_events_lists_each_press_with_its_times(tmp_path: Path) -> None:
    result = resetline("dtmf", "--events", str(write_wav(tmp_path / "keys.wav", keys_audio("*5"))))
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [line[0] for line in lines] == ["*", "5"]
    assert float(lines[0][1]) == pytest.approx(0.100, abs=0.005)
    assert float(lines[1][2]) == pytest.approx(0.320, abs=0.005)


@pytest.mark.parametrize(("content", "message"), [(None, "No such file"), (b"not audio at all", "not a WAV file")])
def test_errors_go_to_stderr_with_a_non_zero_exit(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "input.wav"
    if content is not None:
        path.write_bytes(content)
    result = resetline("dtmf", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in result.stderr and str(path) in result.stderr


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
@pytest.mark.parametrize("options", [["-r", "44100", "-c", "2", "-b", "24"],
                                     ["-r", "8000", "-b", "8", "-e", "unsigned"],
                                     ["-r", "16000", "-b", "32"], ["-r", "8000", "-e", "u-law"],
                                     ["-r", "22050", "-e", "floating-point", "-b", "32"]],
                         ids=["44k1-stereo-24bit", "8bit-unsigned", "16k-32bit", "ulaw", "22k05-float"])
def test_other_rates_sizes_and_channels_via_sox(tmp_path: Path, options: list[str]) -> None:
    source = write_wav(tmp_path / "keys.wav", keys_audio("147*2580369#ABCD"))
    converted = tmp_path / "converted.wav"
    subprocess.run(["sox", "-R", str(source), *options, str(converted)], check=True)
    result = resetline("dtmf", str(converted))
    assert (result.returncode, result.stdout) == (0, "147*2580369#ABCD\n"), result.stderr
