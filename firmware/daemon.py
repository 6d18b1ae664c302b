"""`resetline run --config FILE [--state-dir DIR]`: the appliance daemon, one asyncio loop serving every line.

Today it validates the configuration, opens the box's state (journal, keys, snapshot on first call), starts the
configured lines and stops cleanly on SIGTERM or SIGINT. Line supervision, systemd notification and the control
socket come with the appliance issue; the GSM, SIP and V.253 drivers plug into `make_line`.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from drivers import DriverError
from drivers.clock import AsyncioScheduler, Scheduler
from drivers.line import Line, Post
from drivers.gsm import GsmLine, GsmTimings
from drivers.simline import SimulatedLine
from drivers.sip import SipLine
from drivers.v253 import V253Line, V253Timings  # pjsua2 itself runs only in the line's worker processes
from voice_prompts import PromptError

from . import FirmwareError
from . import config as configuration
from .appliance import Appliance, Switchboard
from .call_session import ThreadChecker
from .callflow import PLAYABLE

log = logging.getLogger(__name__)


def make_line(
    line: configuration.LineConfig,
    scheduler: Scheduler,
    appliance: Appliance,
    post: Post,
    *,
    power_cycle: Callable[[], None] | None = None,
    speed: float = 1.0,
) -> Line:
    """The one place a configured line kind becomes a driver (`speed` > 1 only against a simulator)."""
    if isinstance(line, configuration.SimLineConfig):
        return SimulatedLine(line.name, scheduler, appliance.prompts)
    if isinstance(line, configuration.V253LineConfig):
        return V253Line(
            line.name, line.port, prompts=appliance.prompts, post=post, profile=line.profile,
            baudrate=line.baudrate, dtmf=line.dtmf, timings=V253Timings().at_speed(speed),
        )
    if isinstance(line, configuration.GsmLineConfig):
        if line.power_gpio is not None and power_cycle is None:
            log.warning("line %s: power_gpio is set but GPIO power cycling is not in this build yet", line.name)
        return GsmLine(
            line.name, line.port, profile=line.profile, prompts=appliance.prompts, post=post,
            baudrate=line.baudrate, pin=line.pin, audio=line.audio, audio_port=line.audio_port,
            power_cycle=power_cycle, sms_notice=line.sms_notice, prompt_ids=PLAYABLE,
            timings=GsmTimings().at_speed(speed),
        )
    if isinstance(line, configuration.SipLineConfig):
        register = line.register
        return SipLine(
            line.name, line.bind, prompts=appliance.prompts, post=post, transport=line.transport,
            max_calls=line.max_calls, trusted_peers=line.trusted_peers, inband_dtmf=line.inband_dtmf,
            registrar=register.registrar if register else None, user=register.user if register else None,
            password=register.secret() if register else None,
        )
    raise configuration.ConfigError(f"line {line.name!r}: this build has no {line.kind} driver yet")


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("run", help="the appliance daemon (systemd runs this)")
    parser.add_argument("--config", type=Path, required=True, help="box configuration (TOML)")
    parser.add_argument("--state-dir", type=Path, help="overrides box.state_dir")
    parser.set_defaults(func=run, log_level="INFO")


def run(args: argparse.Namespace) -> int:
    try:
        config = configuration.load(args.config)
        appliance = Appliance(config, args.state_dir or config.box.state_dir)
    except (FirmwareError, PromptError, OSError) as exc:
        print(f"resetline run: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(appliance))
    except DriverError as exc:
        print(f"resetline run: {exc}", file=sys.stderr)
        return 2
    finally:
        appliance.close()
    return 0


async def _serve(appliance: Appliance) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    scheduler = AsyncioScheduler(loop)
    checker = ThreadChecker(appliance.verifier.check, loop.call_soon_threadsafe)
    lines: list[Line] = []
    for line_config in appliance.config.lines:
        line = make_line(line_config, scheduler, appliance, loop.call_soon_threadsafe)
        line.attach(Switchboard(appliance, line, scheduler, checker))
        line.start()
        lines.append(line)
        log.info("line %s (%s) started", line_config.name, line_config.kind)
    names = ", ".join(line.name for line in lines) or "none"
    log.info("resetline %s ready in %s; lines: %s", appliance.config.box.name, appliance.state_dir, names)
    await stop.wait()
    log.info("stopping")
    for line in lines:
        line.close()
    checker.close()
