"""The far side of each line kind in `resetline demo --line`: who the scripted caller talks to.

`sim` is the simulated line itself; `gsm-sim` is our real GSM driver over a pseudo-terminal to the modem simulator
of one profile. Each rig returns the caller's telephone and the line the box serves, and tears both down in order.
"""
from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from drivers.clock import Scheduler
from drivers.gsm import GsmLine, ModemSimulator
from drivers.line import Line, Post
from drivers.simcaller import Telephone
from drivers.simline import SimulatedLine
from firmware import config as configuration
from firmware.appliance import Appliance
from firmware.callflow import PLAYABLE
from firmware.daemon import make_line

from . import ProvisioningError

LINES = ("sim", "gsm-sim")
PROFILES = ("ec25", "sim7600", "sim800")
#: how long a simulated modem may take to come up before the demo gives up
BRING_UP_S = 30.0


@dataclass
class Rig:
    telephone: Telephone
    line: Line


async def open_rig(
    kind: str, appliance: Appliance, scheduler: Scheduler, post: Post, stack: ExitStack, *, speed: float, profile: str
) -> Rig:
    """Build, start and wait for the line; `stack` closes the line, then its simulator."""
    if kind == "sim":
        line = SimulatedLine("sim0", scheduler, appliance.prompts)
        return Rig(line, line)
    if kind == "gsm-sim":
        return await _gsm_rig(appliance, scheduler, post, stack, speed=speed, profile=profile)
    raise ProvisioningError(f"--line: unknown line {kind!r}; known: {', '.join(LINES)}")


async def _gsm_rig(
    appliance: Appliance, scheduler: Scheduler, post: Post, stack: ExitStack, *, speed: float, profile: str
) -> Rig:
    link = Path(appliance.state_dir) / "gsm-sim"
    modem = ModemSimulator(profile, speed=speed, post=post, link=link, prompts=appliance.prompts,
                           prompt_ids=PLAYABLE)
    modem.start()
    stack.callback(modem.close)
    config = configuration.GsmLineConfig(name="gsm0", port=str(modem.port), profile=profile)
    line = make_line(config, scheduler, appliance, post, power_cycle=modem.power_cycle, speed=speed)
    assert isinstance(line, GsmLine)
    stack.callback(line.close)
    return Rig(modem, line)


async def wait_ready(line: Line) -> None:
    """A GSM line brings itself up in the background: wait until it is up, or say why not."""
    if isinstance(line, GsmLine):
        state = await asyncio.get_running_loop().run_in_executor(None, line.wait_state, ("up", "down"), BRING_UP_S)
        if state != "up":
            raise ProvisioningError(f"the simulated modem did not come up ({state}): {line.report().get('last_error')}")
