"""Console commands that change or test the box: config, snapshot, prompts check, line test, sync, reboot."""
from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

from firmware import config as configuration

from .commands import Command, Usage
from . import config_install, prompt_install
from .config_edit import RESTART_NOTE, ConfigEditError, edit, is_secret, write_atomically
from .context import Context
from .delegate import line_test_argv, mask_lines, prompts_check_argv, snapshot_argv, sync_argv
from .incoming import check_name, incoming_dir
from .info_commands import flatten



def _config_path(ctx: Context) -> Path | None:
    if ctx.settings.config_path is None:
        ctx.say("This console was started without --config; the configuration cannot be shown or changed here.")
    return ctx.settings.config_path


def config(ctx: Context, args: list[str]) -> None:
    if args[:1] == ["show"] and len(args) == 1:
        path = _config_path(ctx)
        if path is None:
            return
        try:
            loaded = configuration.load(path)
        except configuration.ConfigError as exc:
            ctx.say(f"The configuration is INVALID: {exc}\nFix it with `config set KEY VALUE`.")
            return
        ctx.say(f"# {path}")
        for key, value in flatten(dataclasses.asdict(loaded)):
            hidden = is_secret(key) and value is not None
            ctx.say(mask_lines(f"{key} = {'***' if hidden else value}"))
        return
    if args[:1] == ["set"] and len(args) == 3:
        _config_set(ctx, args[1], args[2])
        return
    if args[:1] == ["install"] and len(args) == 2 or args == ["undo"]:
        path = _config_path(ctx)
        if path is not None and args[0] == "install":
            config_install.install(ctx, path, args[1])
        elif path is not None:
            config_install.undo(ctx, path)
        return
    raise Usage("config show | config set KEY VALUE | config install NAME | config undo   "
                "(e.g. config set call.menu_timeout_s 10)")


def _config_set(ctx: Context, key: str, value: str) -> None:
    path = _config_path(ctx)
    if path is None:
        return
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        new_text, change = edit(text, key, value)
        write_atomically(path, new_text)
    except (ConfigEditError, configuration.ConfigError, OSError, ValueError) as exc:
        ctx.say(f"Not changed: {exc}")
        ctx.audit("config_refused", f"{key}: {str(exc)[:120]}")
        return
    ctx.audit("config_set", change.describe())
    ctx.say(mask_lines(change.describe()))
    ctx.say(RESTART_NOTE)


def snapshot(ctx: Context, args: list[str]) -> None:
    if args == ["info"]:
        ctx.show(ctx.run(snapshot_argv("info", ctx.settings.state_dir, ctx.settings.config_path), 60))
    elif args == ["install"]:
        raise Usage(f"snapshot install NAME   (uploaded files: {_uploaded(ctx)})")
    elif args[:1] == ["install"] and len(args) == 2:
        name = args[1]
        folder = incoming_dir(ctx.settings.state_dir)
        problem = check_name(name)
        if problem is None and not (folder / name).is_file():
            problem = f"no file {name!r} in {folder} (uploaded files: {_uploaded(ctx)}); upload it with `receive`"
        if problem:
            ctx.say(problem)
            return
        ctx.say(f"Installing {name}; this checks the whole file and can take a few minutes… / Đang cài đặt…")
        ok = ctx.show(ctx.run(snapshot_argv("install", ctx.settings.state_dir, ctx.settings.config_path, folder / name), 900))
        ctx.audit("snapshot_install", f"{name}: {'ok' if ok else 'failed'}")
    elif args == ["rollback"]:
        if _confirm(ctx, "Go back to the previous snapshot? Type YES / Quay lại dữ liệu trước? Gõ YES: "):
            ok = ctx.show(ctx.run(snapshot_argv("rollback", ctx.settings.state_dir, ctx.settings.config_path), 120))
            ctx.audit("snapshot_rollback", "ok" if ok else "failed")
    else:
        raise Usage("snapshot info | snapshot install NAME | snapshot rollback")


def _uploaded(ctx: Context) -> str:
    folder = incoming_dir(ctx.settings.state_dir)
    return ", ".join(sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))) or "none yet"


def prompts(ctx: Context, args: list[str]) -> None:
    if args == ["check"]:
        ctx.show(ctx.run(prompts_check_argv(ctx.settings.state_dir), 120))
    elif args[:1] == ["install"] and len(args) in (2, 3):
        prompt_install.install(ctx, args[1], args[2] if len(args) == 3 else None)
    elif args[:1] == ["revert"] and len(args) == 2:
        prompt_install.revert(ctx, args[1])
    else:
        raise Usage("prompts check | prompts install NAME [ID] | prompts revert ID   "
                    "(NAME: an uploaded WAV; ID: the prompt, by default NAME without .wav)")


def line(ctx: Context, args: list[str]) -> None:
    if len(args) != 2 or args[0] != "test" or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", args[1]):
        raise Usage("line test N   (N: the line's index from 0, or its name)")
    path = _config_path(ctx)
    if path is None:
        return
    ctx.say(f"Bringing line {args[1]} up on its own (up to 60 s)… / Đang kiểm tra đường dây…")
    ctx.show(ctx.run(line_test_argv(args[1], path, ctx.settings.state_dir, 60), 90))
    ctx.audit("line_test", f"line {args[1]}")


def sync(ctx: Context, args: list[str]) -> None:
    if args != ["now"]:
        raise Usage("sync now")
    path = _config_path(ctx)
    if path is None:
        return
    ctx.say("Syncing with central… / Đang đồng bộ với trung tâm…")
    ok = ctx.show(ctx.run(sync_argv(path), 300))
    ctx.audit("sync_now", "ok" if ok else "failed")


def _confirm(ctx: Context, question: str) -> bool:
    ctx.terminal.discard_typeahead()  # a YES pasted or typed before the question does not count
    answer = ctx.ask(question, timeout_s=30)
    if answer != "YES":
        ctx.say("Nothing done. / Không thực hiện.")
        return False
    return True


def reboot(ctx: Context, args: list[str]) -> None:
    if args:
        raise Usage("reboot")
    if not _confirm(ctx, "Restart the whole box now? Calls in progress are cut. Type YES / "
                         "Khởi động lại hộp? Gõ YES: "):
        return
    ctx.audit("reboot", " ".join(ctx.settings.reboot_command))
    ctx.say("Rebooting… / Đang khởi động lại…")
    try:
        proc = subprocess.run(list(ctx.settings.reboot_command), capture_output=True, text=True, errors="replace",
                              timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        ctx.say(f"The reboot command failed: {exc}")
        return
    if proc.returncode != 0:
        ctx.say(f"The reboot command failed (exit {proc.returncode}): {mask_lines(proc.stderr.strip())}")


COMMANDS = [
    Command("config", "config show | set KEY VALUE | install NAME | undo",
            "show the settings, change one, install an uploaded file, or undo the last install", config),
    Command("snapshot", "snapshot info | install NAME | rollback",
            "the account snapshot: details, install an uploaded file, go back one", snapshot),
    Command("prompts", "prompts check | install NAME [ID] | revert ID",
            "check the voice prompts; play an uploaded recording for one, or go back to the shipped one", prompts),
    Command("line", "line test N", "bring line N up on its own and report (bring-up report)", line),
    Command("sync", "sync now", "pull a snapshot / push the outbox to central now", sync),
    Command("reboot", "reboot", "restart the box (asks first)", reboot),
]
