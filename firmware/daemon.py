"""`resetline run --config FILE [--state-dir DIR] [--runtime-dir DIR]`: the appliance daemon, one asyncio loop.

It validates the configuration, opens the box's state, journals the calls a crash left open, and serves every
configured line under its own supervisor (firmware.supervisor: a failed line is restarted with back-off, the
others untouched). It tells systemd READY=1 once the lines have come up, WATCHDOG=1 only while the loop and every
line are healthy, STATUS= a one-line summary (firmware.sdnotify); answers `resetline status` on its control
socket (firmware.control); drives the front panel (firmware.status_panel). SIGTERM or SIGINT: new calls are
refused, calls in progress may finish (up to `drain_s`), the lines and background services stop, the journal
is flushed, exit 0. `make_line` is the one place a configured line kind becomes a driver.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drivers import DriverError
from drivers.clock import AsyncioScheduler, Scheduler
from drivers.gpio import GpioError, Pins, SimulatedPins
from drivers.gpio_power import ModemPower
from drivers.gsm import GsmLine, GsmTimings
from drivers.line import Line, Post
from drivers.simline import SimulatedLine
from drivers.sip import SipLine
from drivers.v253 import V253Line, V253Timings  # pjsua2 itself runs only in the line's worker processes
from voice_prompts import PromptError

from . import FirmwareError
from . import config as configuration
from .appliance import Appliance, snapshot_path
from .call_session import ThreadChecker
from .callbook import CallBook, ServingSwitchboard
from .callflow import PLAYABLE
from .control import ControlError, ControlServer, runtime_dir
from .journal import JournalError
from .sdnotify import Notifier
from .status_panel import FAULTS, Panel, PanelState
from .status_report import modem_manager_running, summary
from .supervisor import LineSupervisor, Supervision

log = logging.getLogger(__name__)


def make_line(
    line: configuration.LineConfig,
    scheduler: Scheduler,
    appliance: Appliance,
    post: Post,
    *,
    pins: Pins | None = None,
    power_cycle: Callable[[], None] | None = None,
    speed: float = 1.0,
) -> Line:
    """The one place a configured line kind becomes a driver (`speed` > 1 only against a simulator); `pins`
    gives a GSM line with `power_gpio` / `reset_gpio` its power cycle (the recovery ladder's last rung), unless
    `power_cycle` is given (the demo's modem simulator)."""
    if isinstance(line, configuration.SimLineConfig):
        return SimulatedLine(line.name, scheduler, appliance.prompts)
    if isinstance(line, configuration.V253LineConfig):
        return V253Line(
            line.name, line.port, prompts=appliance.prompts, post=post, profile=line.profile,
            baudrate=line.baudrate, dtmf=line.dtmf, timings=V253Timings(**line.tone_settings()).at_speed(speed),
            power_cycle=power_cycle,
        )
    if isinstance(line, configuration.GsmLineConfig):
        return GsmLine(
            line.name, line.port, profile=line.profile, prompts=appliance.prompts, post=post,
            baudrate=line.baudrate, pin=line.pin, audio=line.audio, audio_port=line.audio_port,
            power_cycle=power_cycle or _power_cycle(line, pins, appliance.config.gpio), sms_notice=line.sms_notice,
            prompt_ids=PLAYABLE, timings=(line.timings or GsmTimings()).at_speed(speed),
            upload_index=appliance.state_dir / f"modem-files-{line.name}.json",
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


def make_pins(gpio: configuration.GpioConfig) -> Pins | None:
    """The one place the GPIO back end is chosen; RPi.GPIO is imported only here, only when asked for."""
    if gpio.backend == "rpi":
        from drivers.gpio_rpi import RpiPins

        return RpiPins()
    if gpio.backend == "sim":
        return SimulatedPins(trace=gpio.trace)
    return None


def _power_cycle(line: configuration.GsmLineConfig, pins: Pins | None,
                 gpio: configuration.GpioConfig) -> Callable[[], None] | None:
    if line.power_gpio is None and line.reset_gpio is None:
        return None
    if pins is None:
        log.warning("line %s: power_gpio/reset_gpio set but no GPIO back end here: no power cycling", line.name)
        return None
    power = ModemPower(line.name, pins, power_pin=line.power_gpio, reset_pin=line.reset_gpio,
                       key_s=gpio.power_key_s, off_wait_s=gpio.power_off_wait_s, reset_s=gpio.reset_pulse_s)
    return power.power_cycle


class Service(Protocol):
    """A background worker started after the lines and stopped before them (e.g. the SMS notice worker).
    `start` returns at once; `stop` may block briefly (bounded join): it runs in a worker thread."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class DaemonSettings:
    supervision: Supervision = Supervision()
    ready_timeout_s: float = 60.0  # READY=1 at the latest this long after start, even with a line still starting
    drain_s: float = 60.0  # at SIGTERM, calls in progress get this long to finish
    tick_s: float = 0.1  # front panel
    flush_every_s: float = 5.0  # call records kept in memory: written again this often
    speed: float = 1.0  # > 1 only with simulated lines (bench/soak.py): the call flow's clock runs faster


class Daemon:
    def __init__(self, appliance: Appliance, *, runtime: Path, pins: Pins | None, notifier: Notifier,
                 settings: DaemonSettings = DaemonSettings(),
                 console: Callable[[Sequence[str]], None] | None = None) -> None:
        self.appliance = appliance
        self.settings = settings
        self.pins = pins
        self.notifier = notifier
        self.book = CallBook(appliance)
        self.control = ControlServer(runtime, self.status)
        self.supervisors: list[LineSupervisor] = []
        # background workers, started after the lines and stopped before them: the SMS notice worker (its first pass
        # hands notices an earlier run left behind to central, even when no line sends notices any more)
        self.services: list[Service] = [appliance.notices]
        self.phase = "starting"
        self.started = time.monotonic()
        self.modem_manager = False
        self.watchdog_fed = 0
        self._closer = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="line-close")
        self._console = console
        gpio = appliance.config.gpio
        self.panel = Panel(pins, gpio.panel_pins(), console=self._start_console, console_command=gpio.console_command,
                           hold_s=gpio.console_hold_s) if pins is not None and gpio.panel_pins() else None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.scheduler: AsyncioScheduler | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    async def serve(self, stop: asyncio.Event) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self.modem_manager = modem_manager_running()
        if self.modem_manager:
            log.warning("ModemManager is running: it probes and grabs modem ports (its udev tag is not honoured "
                        "under its strict filter policy). Mask it: systemctl mask --now ModemManager")
        try:
            interrupted = self.appliance.journal.close_interrupted()
        except JournalError as exc:
            self.book.last_error = str(exc)
            log.error("%s", exc)
        else:
            if interrupted:
                log.warning("%d call(s) cut by the last stop journalled as error", interrupted)
        scheduler = self.scheduler = AsyncioScheduler(loop, self.settings.speed)
        checker = ThreadChecker(self.appliance.verifier.check, loop.call_soon_threadsafe)
        await self.control.start()
        try:
            await self._run(stop, scheduler, checker)
        finally:
            checker.close()
            self._closer.shutdown(wait=False)
            await self.control.close()
            if self.panel is not None:
                self.panel.off()

    async def _run(self, stop: asyncio.Event, scheduler: AsyncioScheduler, checker: ThreadChecker) -> None:
        assert self._loop is not None
        post = self._loop.call_soon_threadsafe

        boards: dict[int, ServingSwitchboard] = {}

        def build(line_config: configuration.LineConfig) -> Line:
            line = make_line(line_config, scheduler, self.appliance, post, pins=self.pins)
            board = boards[id(line)] = ServingSwitchboard(self.appliance, line, scheduler, checker, self.book)
            line.attach(board)
            return line

        def closed(line: Line) -> None:
            board = boards.pop(id(line), None)
            if board is not None:
                board.line_closed()

        first = [build(line_config) for line_config in self.appliance.config.lines]  # a bad line stops us here
        for line_config, line in zip(self.appliance.config.lines, first):
            supervisor = LineSupervisor(line_config, build, self.settings.supervision, self._closer, closed)
            supervisor.begin(line)
            self.supervisors.append(supervisor)
            log.info("line %s (%s) started", line_config.name, line_config.kind)
        for service in self.services:
            service.start()
        self._tasks = [asyncio.create_task(coro) for coro in (self._heartbeat(), self._panel(), self._flusher())]
        await self._until_settled(stop)
        self.phase = "serving"
        names = ", ".join(s.name for s in self.supervisors) or "none"
        log.info("resetline %s ready in %s; lines: %s", self.appliance.config.box.name, self.appliance.state_dir,
                 names)
        self.notifier.ready(self.summary())
        await stop.wait()
        await self._stop()

    async def _until_settled(self, stop: asyncio.Event) -> None:
        waits = [asyncio.create_task(s.settled.wait()) for s in self.supervisors]
        stopped = asyncio.create_task(stop.wait())
        try:
            everything: asyncio.Future[Any] = asyncio.gather(*waits)
            await asyncio.wait([everything, stopped], timeout=self.settings.ready_timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*waits, stopped]:
                task.cancel()

    async def _stop(self) -> None:
        self.phase = "stopping"
        self.book.accepting = False
        log.info("stopping: no new calls; %d call(s) in progress may finish", len(self.book.in_progress))
        self.notifier.stopping(self.summary())
        deadline = time.monotonic() + self.settings.drain_s
        while self.book.in_progress and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert self._loop is not None
        for service in self.services:
            await self._loop.run_in_executor(None, service.stop)
        await asyncio.gather(*(s.stop() for s in self.supervisors))
        for task in self._tasks:
            task.cancel()
        self.book.cut(time.time())
        if not self.book.flush():
            log.error("%d call record(s) could not be journalled before exit", len(self.book.backlog))
        try:
            self.appliance.journal.checkpoint()
        except JournalError as exc:
            log.error("%s", exc)
        self.phase = "stopped"

    # -- background tasks ------------------------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        """WATCHDOG=1 only from the loop itself and only while every line is healthy; STATUS= on change."""
        interval = (self.notifier.watchdog_s or 2.0) / 2
        shown = ""
        while True:
            if self.healthy():
                if self.notifier.watchdog():
                    self.watchdog_fed += 1
            text = self.summary()
            if text != shown:
                self.notifier.status(text)
                shown = text
            await asyncio.sleep(interval)

    async def _panel(self) -> None:
        if self.panel is None:
            return
        failing = False
        while True:
            try:
                self.panel.tick(self.panel_state(), time.monotonic())
                failing = False
            except GpioError as exc:  # the LEDs are not worth a call: log once per spell, keep serving
                if not failing:
                    log.error("front panel: %s", exc)
                failing = True
            await asyncio.sleep(self.settings.tick_s)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_every_s)
            if self.book.backlog:
                self.book.flush()

    def _start_console(self, command: Sequence[str]) -> None:
        if self._console is not None:
            self._console(command)
            return
        asyncio.get_running_loop().create_task(_run_command(command))

    # -- what the daemon says about itself -------------------------------------------------------------------------
    def healthy(self) -> bool:
        now = time.monotonic()
        return all(s.healthy(now) for s in self.supervisors)

    def fault_codes(self) -> tuple[int, ...]:
        codes = set()
        if any(s.state != "up" for s in self.supervisors):
            codes.add(1)
        if not snapshot_path(self.appliance.state_dir).exists():
            codes.add(2)
        if self.book.backlog:
            codes.add(3)
        if self.modem_manager:
            codes.add(4)
        if any(s.wedged for s in self.supervisors):
            codes.add(5)
        return tuple(sorted(codes))

    def panel_state(self) -> PanelState:
        return PanelState(starting=self.phase == "starting", stopping=self.phase in ("stopping", "stopped"),
                          lines=len(self.supervisors), lines_up=sum(s.state == "up" for s in self.supervisors),
                          calls=len(self.book.in_progress), codes=self.fault_codes())

    def summary(self) -> str:
        return summary(self.phase, [s.snapshot() for s in self.supervisors], len(self.book.in_progress),
                       self._backlog(), self.fault_codes())

    def _backlog(self) -> int | None:
        try:
            return self.appliance.journal.outbox_backlog()
        except JournalError as exc:
            self.book.last_error = str(exc)
            return None

    def status(self) -> dict[str, Any]:
        lines = [s.snapshot() for s in self.supervisors]
        snapshot = snapshot_path(self.appliance.state_dir)
        errors = [line["last_error"] for line in lines if line["last_error"]] + [self.book.last_error]
        return {
            "box": self.appliance.config.box.name,
            "phase": self.phase,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "lines": lines,
            "calls_in_progress": self.book.calls(),
            "calls_refused": self.book.refused,
            "snapshot": {"installed": snapshot.exists(), "path": str(snapshot),
                         "modified": snapshot.stat().st_mtime if snapshot.exists() else None},
            "outbox_backlog": self._backlog(),
            "journal": {"records_waiting": len(self.book.backlog), "last_error": self.book.last_error},
            "faults": [{"code": code, "what": FAULTS[code]} for code in self.fault_codes()],
            "watchdog": {"enabled": self.notifier.watchdog_s is not None, "healthy": self.healthy(),
                         "pings": self.watchdog_fed},
            "modem_manager_running": self.modem_manager,
            "last_error": next((e for e in errors if e), None),
        }


async def _run_command(command: Sequence[str]) -> None:
    try:
        process = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.DEVNULL)
        code = await process.wait()
    except OSError as exc:
        log.error("console command %s failed: %s", command[0], exc)
        return
    (log.info if code == 0 else log.error)("console command %s exited %d", " ".join(command), code)


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("run", help="the appliance daemon (systemd runs this)")
    parser.add_argument("--config", type=Path, required=True, help="box configuration (TOML)")
    parser.add_argument("--state-dir", type=Path, help="overrides box.state_dir")
    parser.add_argument("--runtime-dir", type=Path,
                        help="where the control socket goes (default $RUNTIME_DIRECTORY, /run/resetline)")
    parser.set_defaults(func=run, log_level="INFO")


def run(args: argparse.Namespace) -> int:
    try:
        config = configuration.load(args.config)
        appliance = Appliance(config, args.state_dir or config.box.state_dir)
    except (FirmwareError, PromptError, OSError) as exc:
        print(f"resetline run: {exc}", file=sys.stderr)
        return 2
    notifier = Notifier()
    try:
        pins = make_pins(config.gpio)
    except GpioError as exc:
        print(f"resetline run: {exc}", file=sys.stderr)
        appliance.close()
        return 2
    daemon = Daemon(appliance, runtime=runtime_dir(args.runtime_dir, appliance.state_dir), pins=pins,
                    notifier=notifier)
    try:
        asyncio.run(_serve(daemon))
    except (DriverError, ControlError, FirmwareError, OSError) as exc:
        print(f"resetline run: {exc}", file=sys.stderr)
        return 2
    finally:
        appliance.close()
        notifier.close()
        if pins is not None:
            pins.close()
    return 0


async def _serve(daemon: Daemon) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await daemon.serve(stop)
