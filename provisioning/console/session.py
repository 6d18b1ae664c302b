"""The console's loop: open the port, greet, read lines, run commands; log out on idle or when the port goes.

One session at a time on one port. Anything the line brings (noise, a huge line, a pulled cable) ends as a message
or a reopen, never as a crash; a failure inside a command is logged and reported, and the console goes on.
"""
from __future__ import annotations

import logging
import threading
import time

from .commands import dispatch
from .context import Context
from .lineeditor import Cancelled, Line, TooLong
from .progress import human_seconds
from .ymodem_port import LinePortLost

log = logging.getLogger(__name__)

BANNER = (
    "\n"
    "resetline — technician console / Bảng điều khiển kỹ thuật viên\n"
    "Type `login` to sign in, `help` for the commands. / Gõ `login` để đăng nhập, `help` để xem các lệnh.\n")


def prompt(ctx: Context) -> str:
    return "resetline# " if ctx.logged_in else "resetline> "


def serve(ctx: Context) -> None:
    """Serve until `ctx.stop` is set: (re)open the port, run sessions, wait for a lost port to come back."""
    while not ctx.stop.is_set():
        if not ctx.terminal.open(ctx.stop):
            break
        try:
            _session(ctx)
        except LinePortLost as exc:
            log.warning("console port lost: %s; waiting for it to come back", exc)
            _drop_login(ctx, "logout_port_lost", str(exc))
        except Exception:  # the thread's top: never die; log, log out, reopen the port
            log.exception("console session failed; reopening the port")
            _drop_login(ctx, "logout_error", "console session failed")
        finally:
            ctx.terminal.close()
        ctx.stop.wait(1.0)
    _drop_login(ctx, "logout_shutdown", "console stopped")


def _drop_login(ctx: Context, action: str, detail: str) -> None:
    if ctx.logged_in:
        ctx.logged_in = False
        ctx.audit_quietly(action, detail[:120])


def _session(ctx: Context) -> None:
    ctx.say(BANNER)
    while not ctx.stop.is_set():
        entry = ctx.terminal.read_entry(prompt(ctx), timeout_s=ctx.settings.idle_s, stop=ctx.stop)
        if entry is None:
            if ctx.logged_in:
                ctx.logged_in = False
                ctx.audit("logout_idle", f"no input for {ctx.settings.idle_s:.0f} s")
                ctx.say(f"\nLogged out after {human_seconds(ctx.settings.idle_s)} without input. / "
                        "Đã tự động đăng xuất do không hoạt động.")
            else:
                ctx.terminal.write("\n")
            continue
        if isinstance(entry, Cancelled):
            continue
        if isinstance(entry, TooLong):
            ctx.say(f"Line too long (more than {entry.limit} characters); nothing done. / Dòng quá dài.")
            continue
        assert isinstance(entry, Line)
        _run(ctx, entry.text)


def _run(ctx: Context, text: str) -> None:
    started = time.monotonic()
    try:
        dispatch(ctx, text)
    except LinePortLost:
        raise
    except Exception:  # a command's top: report, log, keep the console alive for the next technician
        log.exception("console command failed")
        ctx.say("The command failed unexpectedly; it is in the system log. Nothing else was changed.")
    log.debug("console command took %.2f s", time.monotonic() - started)


def start_in_thread(ctx: Context) -> threading.Thread:
    """For tests and tools: `serve` on its own thread; stop with `ctx.stop.set()` and a bounded join."""
    thread = threading.Thread(target=serve, args=(ctx,), name="console", daemon=True)
    thread.start()
    return thread
