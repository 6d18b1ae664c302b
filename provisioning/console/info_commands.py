"""Read-only console commands: `status`, `calls`, `logs`. Numbers and codes appear masked."""
from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from firmware import config as configuration
from firmware.journal import JournalError

from .commands import Command, Usage
from .context import Context
from .delegate import mask_lines, status_argv
from .progress import human_bytes, human_seconds

BACKLOG_SCAN = 1000  # the outbox rows looked at for the backlog count
STATUS_TIMEOUT_S = 10.0


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _count(args: list[str], default: int, usage: str, most: int = 500) -> int:
    if not args:
        return default
    if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= most:
        raise Usage(f"{usage}   (N from 1 to {most})")
    return int(args[0])


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for key, inner in value.items() for pair in flatten(inner, f"{prefix}{key}.")]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [pair for i, inner in enumerate(value) for pair in flatten(inner, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), value)]


def status(ctx: Context, args: list[str]) -> None:
    settings = ctx.settings
    ctx.say("== Box status / Trạng thái hộp ==")
    if settings.config_path is not None:
        try:
            config = configuration.load(settings.config_path)
            ctx.say(f"Box name (tên hộp):        {config.box.name}")
            for i, line in enumerate(config.lines):
                ctx.say(f"Line {i} (đường dây):       {line.name} ({line.kind}) {getattr(line, 'port', '')}".rstrip())
        except configuration.ConfigError as exc:
            ctx.say(f"Configuration (cấu hình):  INVALID: {exc}")
    outcome = ctx.run(status_argv(settings.state_dir), STATUS_TIMEOUT_S)
    report = outcome.parsed_json() if outcome.code in (0, 1) else None  # 1: the daemon reports a fault
    if report is not None:
        ctx.say("Daemon (lines, signal, registration) / Dịch vụ:")
        for key, value in flatten(report):
            ctx.say(mask_lines(f"  {key}: {value}"))
    elif outcome.ok:
        ctx.say(outcome.output)
    else:
        ctx.say("Daemon (lines, signal, registration) / Dịch vụ:")
        ctx.show(outcome)
    _snapshot_line(ctx)
    _journal_lines(ctx)
    disk = shutil.disk_usage(settings.state_dir)
    ctx.say(f"Disk free (bộ nhớ trống):  {human_bytes(disk.free)} of {human_bytes(disk.total)}")
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        ctx.say(f"Uptime (thời gian chạy):   {human_seconds(uptime)}")
    except (OSError, ValueError, IndexError):
        ctx.say("Uptime (thời gian chạy):   unknown")


def _snapshot_line(ctx: Context) -> None:
    current = ctx.settings.state_dir / "snapshot" / "current.db"
    if current.exists():
        info = current.stat()
        ctx.say(f"Snapshot (dữ liệu):        {human_bytes(info.st_size)}, installed {_when(info.st_mtime)}")
    else:
        ctx.say("Snapshot (dữ liệu):        NONE installed / chưa cài — upload one (`receive`), then "
                "`snapshot install NAME`")


def _journal_lines(ctx: Context) -> None:
    try:
        rows = ctx.journal.outbox(BACKLOG_SCAN)
        pending = sum(1 for row in rows if row["sent_at"] is None)
        more = "+" if len(rows) == BACKLOG_SCAN and pending == BACKLOG_SCAN else ""
        ctx.say(f"Outbox (chờ gửi):          {pending}{more} reset(s) waiting for central")
        calls = ctx.journal.calls(3)
    except JournalError as exc:
        ctx.say(f"Journal (nhật ký):         UNREADABLE: {exc}")
        return
    ctx.say("Last calls (cuộc gọi gần nhất):" if calls else "Last calls (cuộc gọi gần nhất): none yet")
    for row in calls:
        ctx.say(f"  {_call_line(row)}")


def _call_line(row: dict[str, Any]) -> str:
    return mask_lines(f"{_when(row['started_at'])}  {row['line']:<8} {row['caller_masked']:<13} "
                      f"{row['outcome']:<13} {row['duration_s']:.0f} s")


def calls(ctx: Context, args: list[str]) -> None:
    limit = _count(args, 20, "calls [N]")
    try:
        rows = ctx.journal.calls(limit)
    except JournalError as exc:
        ctx.say(f"Cannot read the journal: {exc}")
        return
    if not rows:
        ctx.say("No calls yet. / Chưa có cuộc gọi nào.")
    for row in rows:
        ctx.say(_call_line(row))


def logs(ctx: Context, args: list[str]) -> None:
    limit = _count(args, 40, "logs [N]")
    journalctl = shutil.which("journalctl")
    if journalctl:
        try:
            proc = subprocess.run([journalctl, "-u", "resetline", "--no-pager", "-n", str(limit), "-o", "short-iso"],
                                  capture_output=True, text=True, errors="replace", timeout=15,
                                  stdin=subprocess.DEVNULL)
            lines = [ln for ln in proc.stdout.splitlines() if ln.strip() and not ln.startswith("-- ")]
            if proc.returncode == 0 and lines:
                ctx.say(mask_lines("\n".join(lines)))
                return
        except (OSError, subprocess.TimeoutExpired):
            pass
        ctx.say("(no system log for resetline here; showing the journal instead)")
    try:
        events = [(row["started_at"], "call   " + _call_line(row)) for row in ctx.journal.calls(limit)]
        events += [(row["at"], f"audit  {_when(row['at'])}  {row['action']:<14} {row['detail']}")
                   for row in ctx.journal.audit(limit)]
    except JournalError as exc:
        ctx.say(f"Cannot read the journal: {exc}")
        return
    for _, text in sorted(events, key=lambda e: e[0])[-limit:]:
        ctx.say(mask_lines(text))
    if not events:
        ctx.say("Nothing logged yet.")


COMMANDS = [
    Command("status", "status", "lines, signal, registration, snapshot, outbox, last calls, disk, uptime", status),
    Command("calls", "calls [N]", "the last N calls (default 20), numbers masked", calls),
    Command("logs", "logs [N]", "the last N log lines (default 40), masked", logs),
]
