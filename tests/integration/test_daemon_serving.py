"""The daemon in-process on simulated lines (as bench/soak.py drives it): a ring while stopping is refused and the
call in progress finishes; a call still up when the drain bound passes is cut and journalled as `error`."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from drivers.gpio import SimulatedPins
from drivers.simcaller import ScriptedCaller, parse_keys
from drivers.simline import SimulatedLine
from firmware.appliance import Appliance
from firmware.config import Config, SimLineConfig
from firmware.daemon import Daemon, DaemonSettings
from firmware.sdnotify import Notifier
from firmware.snapshot import KdfParams
from provisioning.snapshot_import import import_csv

REPO = Path(__file__).resolve().parents[2]


class Ear:
    """The caller's listener: what it heard and how the call ended."""

    def __init__(self) -> None:
        self.heard_ids: list[str] = []
        self.done = asyncio.Event()
        self.by_caller: bool | None = None

    def heard(self, t: float, prompt_id: str) -> None:
        self.heard_ids.append(prompt_id)

    def pressed(self, t: float, key: str) -> None:
        pass

    def ended(self, t: float, by_caller: bool) -> None:
        self.by_caller = by_caller
        self.done.set()


async def up(tmp: Path, **settings: Any) -> tuple[Daemon, asyncio.Event, asyncio.Task[None]]:
    import_csv(REPO / "examples" / "accounts.csv", tmp / "state", params=KdfParams(n=1024), skip_bad=True)
    appliance = Appliance(Config(lines=(SimLineConfig("sim0"), SimLineConfig("sim1"))), tmp / "state")
    daemon = Daemon(appliance, runtime=tmp / "run", pins=SimulatedPins(), notifier=Notifier({}),
                    settings=DaemonSettings(speed=50, **settings))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.serve(stop))
    while daemon.phase != "serving":
        await asyncio.sleep(0.01)
    return daemon, stop, task


def line(daemon: Daemon, index: int) -> SimulatedLine:
    found = daemon.supervisors[index].line
    assert isinstance(found, SimulatedLine)
    return found


def test_stopping_refuses_new_calls_and_lets_the_current_one_finish(tmp_path: Path) -> None:
    async def scenario() -> None:
        daemon, stop, task = await up(tmp_path)
        assert daemon.scheduler is not None
        first = Ear()
        ScriptedCaller(line(daemon, 0), daemon.scheduler, parse_keys("8 0123456789"), first).call("0912345678")
        while "ask_code" not in first.heard_ids:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.sleep(0.05)
        late = Ear()
        ScriptedCaller(line(daemon, 1), daemon.scheduler, [], late).call("0987654321")
        await asyncio.wait_for(late.done.wait(), 5)
        assert late.by_caller is False and late.heard_ids == [] and daemon.book.refused == 1
        await asyncio.wait_for(task, 30)
        assert first.by_caller is False and first.heard_ids.count("new_password") == 1
        assert "goodbye" in first.heard_ids
        calls = daemon.appliance.journal.calls()
        assert [(c["line"], c["outcome"]) for c in calls] == [("sim0", "reset")]
        daemon.appliance.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_call_still_up_after_the_drain_is_cut_and_journalled(tmp_path: Path) -> None:
    async def scenario() -> None:
        daemon, stop, task = await up(tmp_path, drain_s=0.2)
        assert daemon.scheduler is not None
        silent = Ear()
        ScriptedCaller(line(daemon, 0), daemon.scheduler, [], silent).call("0912345678")
        while "welcome" not in silent.heard_ids:
            await asyncio.sleep(0.01)
        assert len(daemon.book.in_progress) == 1
        stop.set()
        await asyncio.wait_for(task, 30)
        calls = daemon.appliance.journal.calls()
        assert [(c["line"], c["caller_masked"], c["outcome"]) for c in calls] == [("sim0", "09******78", "error")]
        assert daemon.book.in_progress == {}
        daemon.appliance.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
