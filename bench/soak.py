"""Soak: N simulated reset calls through the daemon (`firmware.daemon.Daemon`, as `resetline run` builds it:
supervisors, switchboards, call book, journal with fsync, verifier in worker threads, control socket) on
simulated lines, the call flow's clock running `--speed` times faster. Prints failures, calls per second and the
process's RSS at start and end (goal: 0 failures, RSS flat).

    .venv/bin/python bench/soak.py [--calls 10000] [--lines 40] [--speed 20]

A failure is a call that did not end as `reset` with the password heard twice, or did not end within 60 s.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drivers.gpio import SimulatedPins  # noqa: E402
from drivers.simcaller import ScriptedCaller, parse_keys  # noqa: E402
from drivers.simline import SimulatedLine  # noqa: E402
from firmware.appliance import Appliance  # noqa: E402
from firmware.callflow import FlowSettings  # noqa: E402
from firmware.config import Config, SimLineConfig  # noqa: E402
from firmware.daemon import Daemon, DaemonSettings  # noqa: E402
from firmware.sdnotify import Notifier  # noqa: E402
from firmware.snapshot import KdfParams  # noqa: E402
from provisioning.snapshot_import import import_csv  # noqa: E402

ACCOUNTS = [("0912345678", "8 0123456789"), ("0362345678", "8 7912345601"), ("0987654321", "8 3112345602")]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Ear:
    def __init__(self) -> None:
        self.readings = 0
        self.done = asyncio.get_running_loop().create_future()

    def heard(self, t: float, prompt_id: str) -> None:
        if prompt_id == "new_password" or prompt_id == "repeat":
            self.readings += 1

    def pressed(self, t: float, key: str) -> None:
        pass

    def ended(self, t: float, by_caller: bool) -> None:
        if not self.done.done():
            self.done.set_result(by_caller)


class Progress:
    """RSS after every `every` calls, to tell warm-up from a leak."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.done = 0
        self.rss: list[tuple[int, float]] = []

    def one(self) -> None:
        self.done += 1
        if self.done % self.every == 0:
            self.rss.append((self.done, rss_mb()))


async def caller_loop(daemon: Daemon, index: int, quota: int, failures: list[str], progress: Progress) -> None:
    supervisor = daemon.supervisors[index]
    assert daemon.scheduler is not None
    await asyncio.sleep(index * 0.05)  # lines do not all ring in the same millisecond
    for n in range(quota):
        line = supervisor.line
        assert isinstance(line, SimulatedLine)
        number, keys = ACCOUNTS[(index + n) % len(ACCOUNTS)]
        ear = Ear()
        ScriptedCaller(line, daemon.scheduler, parse_keys(keys), ear).call(number)
        try:
            await asyncio.wait_for(ear.done, 60)
        except asyncio.TimeoutError:
            failures.append(f"{line.name} call {n}: did not end within 60 s")
            line.caller_hangs_up()
            continue
        progress.one()
        if ear.readings != 2:
            failures.append(f"{line.name} call {n}: password heard {ear.readings} time(s)")
        await asyncio.sleep(0)  # the session finishes journalling before the next ring


async def soak(calls: int, lines: int, speed: float, state: Path) -> int:
    import_csv(REPO / "examples" / "accounts.csv", state, params=KdfParams(n=1024), skip_bad=True)
    # The verifier (scrypt, fsync) runs in real time while the call's clock runs `speed` times faster: give the
    # check its longest allowed window so that queueing behind other lines' checks is not counted as a failure.
    config = Config(call=FlowSettings(check_timeout_s=60.0), lines=tuple(SimLineConfig(f"sim{i}") for i in range(lines)))
    appliance = Appliance(config, state)
    daemon = Daemon(appliance, runtime=state / "run", pins=SimulatedPins(), notifier=Notifier({}),
                    settings=DaemonSettings(speed=speed))
    stop = asyncio.Event()
    serving = asyncio.create_task(daemon.serve(stop))
    while daemon.phase != "serving":
        await asyncio.sleep(0.01)
    failures: list[str] = []
    start_rss, started = rss_mb(), time.monotonic()
    quotas = [calls // lines + (1 if i < calls % lines else 0) for i in range(lines)]
    progress = Progress(max(1, calls // 10))
    await asyncio.gather(*(caller_loop(daemon, i, q, failures, progress) for i, q in enumerate(quotas)))
    elapsed = time.monotonic() - started
    end_rss = rss_mb()
    stop.set()
    await serving
    appliance.close()
    with sqlite3.connect(state / "journal.db") as db:
        outcomes = dict(db.execute("SELECT outcome, COUNT(*) FROM calls GROUP BY outcome").fetchall())
        outbox = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    if outcomes.get("reset", 0) != calls:
        failures.append(f"journal outcomes {outcomes}, expected {calls} resets")
    if outbox != calls:
        failures.append(f"outbox has {outbox} events, expected {calls}")
    print(f"calls: {calls} on {lines} simulated lines at {speed:g}x clock")
    print(f"failures: {len(failures)}")
    for failure in failures[:20]:
        print(f"  {failure}")
    print(f"calls per second: {calls / elapsed:.1f} ({elapsed:.1f} s)")
    print(f"RSS: {start_rss:.1f} MB at start, {end_rss:.1f} MB at end")
    print("RSS along the way: " + ", ".join(f"{done}: {mb:.1f}" for done, mb in progress.rss))
    print(f"journal: {outcomes}; outbox events: {outbox}")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--speed", type=float, default=20.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="resetline-soak-") as tmp:
        return asyncio.run(soak(args.calls, args.lines, args.speed, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
