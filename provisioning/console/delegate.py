"""Other `resetline` commands (snapshot, sync, status, prompts, line test) run as bounded subprocesses.

The console never reimplements them: it runs `python -m provisioning.cli …` from the same environment and shows
what they print, masked. A command this firmware build does not have is reported as missing, not as a failure.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.serialmodem.privacy import redact

# One place for the command lines the console relies on (ARCHITECTURE.md's contract); if a command takes other
# arguments in a later build, change them here.


def status_argv(state_dir: Path) -> tuple[str, ...]:
    """`status --json --state-dir DIR`: the daemon's socket in $RUNTIME_DIRECTORY or /run/resetline, else <state>/run."""
    return ("status", "--json", "--state-dir", str(state_dir))


def snapshot_argv(action: str, state_dir: Path, config: Path | None, file: Path | None = None) -> tuple[str, ...]:
    """`snapshot info|rollback|install [FILE] --state-dir DIR [--config FILE]` (the config names the box's region
    and central's signing key, which install needs)."""
    return ("snapshot", action, *((str(file),) if file is not None else ()), "--state-dir", str(state_dir),
            *(("--config", str(config)) if config is not None else ()))


def sync_argv(config: Path) -> tuple[str, ...]:
    return ("sync", "--config", str(config))


def line_test_argv(line: str, config: Path, state_dir: Path, timeout_s: float) -> tuple[str, ...]:
    return ("line", "test", line, "--config", str(config), "--state-dir", str(state_dir), "--timeout", f"{timeout_s:g}")


def prompts_check_argv(state_dir: Path) -> tuple[str, ...]:
    """`prompts check --state-dir DIR`: the prompts as the box plays them (its own recordings included)."""
    return ("prompts", "check", "--state-dir", str(state_dir))


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    code: int | None  # None: it did not finish in time
    output: str  # stdout then stderr, masked
    missing: bool = False  # this build has no such command (or it takes other arguments)
    raw_stdout: str = field(default="", repr=False)  # unmasked, for parsing only (status --json); never shown

    def parsed_json(self) -> Any:
        """The command's stdout as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.raw_stdout)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return self.code == 0

    def describe(self) -> str:
        """What the technician reads when the command did not succeed."""
        name = " ".join(self.argv[:1] + tuple(a for a in self.argv[1:2] if not a.startswith("-")))
        if self.missing:
            return (f"`resetline {name}` is not available in this firmware build (or takes other arguments); "
                    "nothing was done. / Chức năng này chưa có trong phiên bản phần mềm này.")
        if self.code is None:
            return f"`resetline {name}` did not finish in time and was stopped; nothing more is known."
        return f"`resetline {name}` failed (exit {self.code}); see the lines above."


def run_resetline(args: Sequence[str], timeout_s: float) -> Outcome:
    argv = tuple(str(a) for a in args)
    try:
        proc = subprocess.run([sys.executable, "-m", "provisioning.cli", *argv], capture_output=True, text=True,
                              errors="replace", timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        partial = (exc.stdout or b"")
        text = partial.decode("utf-8", "replace") if isinstance(partial, bytes) else partial
        return Outcome(argv, None, redact(text))
    missing = proc.returncode == 2 and ("invalid choice" in proc.stderr or "unrecognized arguments" in proc.stderr
                                        or "the following arguments are required" in proc.stderr)
    output = proc.stdout + ("" if missing else proc.stderr)
    return Outcome(argv, proc.returncode, mask_lines(output), missing, proc.stdout)


def mask_lines(text: str) -> str:
    """Every line with digit runs of 7+ masked (numbers, codes), as the logs are."""
    return "\n".join(redact(line) for line in text.splitlines())
