"""The console's command table: name, usage, help, whether it needs a login, and its handler."""
from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from provisioning.technician import CredentialError, load_credential

from .context import Context


class Usage(Exception):
    """Wrong arguments; the message is the usage line to show."""


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    handler: Callable[[Context, list[str]], None]
    needs_login: bool = True


def login(ctx: Context, args: list[str]) -> None:
    if ctx.logged_in:
        ctx.say("Already logged in. / Đã đăng nhập.")
        return
    wait = ctx.backoff.wait_s(ctx.clock())
    if wait > 0:
        ctx.say(f"Too many wrong PINs: wait {wait:.0f} s before the next try. / "
                f"Sai mã PIN quá nhiều lần: vui lòng chờ {wait:.0f} giây rồi thử lại.")
        return
    try:
        credential = load_credential(ctx.settings.state_dir)
    except CredentialError as exc:
        ctx.say(f"Cannot log in: {exc}")
        return
    secret = ctx.ask("PIN (mã PIN): ", secret=True)
    if secret is None:
        ctx.say("Login cancelled. / Đã hủy đăng nhập.")
        return
    if credential.matches(secret):
        ctx.logged_in = True
        ctx.backoff.succeeded()
        ctx.audit("login_ok", f"console {ctx.terminal.url}")
        ctx.say("Logged in. Type `help` for the commands. / Đăng nhập thành công. Gõ `help` để xem các lệnh.")
        return
    now = ctx.clock()
    ctx.backoff.failed(now)
    ctx.audit("login_failed", f"console {ctx.terminal.url}, failure {ctx.backoff.failures} in a row")
    ctx.say("Wrong PIN. / Sai mã PIN.")
    wait = ctx.backoff.wait_s(now)
    if wait > 0:
        ctx.say(f"Next try allowed in {wait:.0f} s. / Thử lại sau {wait:.0f} giây.")


def logout(ctx: Context, args: list[str]) -> None:
    ctx.logged_in = False
    ctx.audit("logout", "typed logout")
    ctx.say("Logged out. / Đã đăng xuất.")


def help_command(ctx: Context, args: list[str]) -> None:
    table = all_commands()
    if args:
        command = table.get(args[0])
        if command is None:
            raise Usage(f"help: no command {args[0]!r}; type `help` for the list")
        ctx.say(f"{command.usage}\n  {command.summary}")
        if command.needs_login and not ctx.logged_in:
            ctx.say("  (log in first: type `login`)")
        return
    shown = [c for c in table.values() if ctx.logged_in or not c.needs_login]
    width = max(len(c.usage) for c in shown)
    ctx.say("Commands / Các lệnh:")
    for command in shown:
        ctx.say(f"  {command.usage:<{width}}  {command.summary}")
    if not ctx.logged_in:
        ctx.say("More commands after `login`. / Đăng nhập để dùng thêm lệnh.")
    ctx.say("Keys: Backspace erases, Ctrl-C clears the line, `help NAME` explains one command.")


def all_commands() -> dict[str, Command]:
    from . import admin_commands, info_commands, receive_command  # late: they import this module's types

    base = [Command("help", "help [COMMAND]", "list the commands, or explain one", help_command, needs_login=False),
            Command("login", "login", "log in with the technician PIN", login, needs_login=False)]
    rest = [*info_commands.COMMANDS, *admin_commands.COMMANDS, *receive_command.COMMANDS,
            Command("logout", "logout", "log out (also after idle time or when the cable is pulled)", logout)]
    return {c.name: c for c in base + rest}


def dispatch(ctx: Context, text: str) -> None:
    """Run one typed line; every error ends as a message that says what to do."""
    try:
        words = shlex.split(text)
    except ValueError:
        ctx.say("Unbalanced quotes; type the command again. / Dấu ngoặc không khớp, vui lòng gõ lại.")
        return
    if not words:
        return
    command = all_commands().get(words[0].lower())
    if command is None:
        ctx.say(f"Unknown command {words[0][:40]!r}. Type `help` for the list. / Lệnh không hợp lệ; gõ `help`.")
        return
    if command.needs_login and not ctx.logged_in:
        ctx.say("Log in first: type `login`. / Vui lòng đăng nhập trước: gõ `login`.")
        return
    try:
        command.handler(ctx, words[1:])
    except Usage as exc:
        ctx.say(f"Usage: {exc}")
