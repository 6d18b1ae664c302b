"""Shared by the snapshot integration tests: central's keys, signed snapshots of a test lineage, a box config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from firmware.keys import load_signing_key, write_central_keys
from firmware.snapshot import KdfParams
from firmware.snapshot_build import write_snapshot
from firmware.snapshot_delta import make_delta

REPO = Path(__file__).resolve().parents[2]
FAST = KdfParams(n=2**4)
SALT = bytes(range(16))
REGION = "HN-01"


def rows(sequence: int, count: int = 400) -> list[tuple[str, str, str | None]]:
    """Accounts for one sequence: each sequence drops its oldest row, adds one and changes one reference."""
    base: list[tuple[str, str, str | None]] = [
        (f"01{i:08d}", f"+8491{i:07d}", f"VSS-{i}") for i in range(sequence, count + sequence)]
    base[0] = (base[0][0], base[0][1], f"VSS-{sequence}-changed")
    return base


def publish(central: Path, sequence: int, *, count: int = 400, with_delta: bool = True) -> Path:
    """Build sequence N (same salt as the lineage) into central's region dir, with the delta from N-1."""
    region_dir = central / "regions" / REGION
    region_dir.mkdir(parents=True, exist_ok=True)
    out = region_dir / f"{sequence}.snap"
    key = load_signing_key(central / "signing.key")
    write_snapshot(rows(sequence, count), out, params=FAST, region=REGION, sequence=sequence, workers=1,
                   salt=SALT, signing_key=key)
    if with_delta and (region_dir / f"{sequence - 1}.snap").exists():
        make_delta(region_dir / f"{sequence - 1}.snap", out, key, region_dir / f"{sequence - 1}-{sequence}.delta")
    return out


def make_central(root: Path) -> Path:
    central = root / "central"
    write_central_keys(central)
    return central


def box_config(root: Path, central: Path, url: str, name: str = "box-1") -> Path:
    state = root / f"state-{name}"
    path = root / f"{name}.toml"
    path.write_text(
        f'[box]\nname = "{name}"\nstate_dir = "{state}"\ncentral_public_key = "{central / "sealing.pub"}"\n\n'
        f'[central]\nurl = "{url}"\nregion = "{REGION}"\nsigning_public_key = "{central / "signing.pub"}"\n'
        "timeout_s = 10\n", encoding="utf-8")
    return path


def resetline(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provisioning.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "provisioning.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
