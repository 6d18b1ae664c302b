"""`config install NAME` / `config undo`: replace the box's whole configuration file with an uploaded one.

The uploaded TOML (from `<state>/incoming/`) must be UTF-8, at most MAX_CONFIG_BYTES and pass `firmware.config.parse`
(its errors name the key); otherwise nothing changes. The current file is kept as `<config>.previous`, then the new
text replaces the config atomically (`config_edit.write_atomically`: temporary file, fsync, rename, fsync the
directory). `config undo` puts `<config>.previous` back the same way (so a second undo redoes).
"""
from __future__ import annotations

import stat
import tomllib
from pathlib import Path

from firmware import config as configuration

from firmware.atomic import replace_file
from .config_edit import RESTART_NOTE, ConfigEditError, write_atomically
from .context import Context
from .incoming import check_name, incoming_dir

MAX_CONFIG_BYTES = 256 * 1024


def previous_path(config: Path) -> Path:
    return config.with_name(config.name + ".previous")


def validated_text(source: Path) -> str:
    """The file's text when it is a valid configuration; ConfigEditError saying why not otherwise."""
    try:
        size = source.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigEditError(f"{source.name} is {size} bytes; a configuration is at most {MAX_CONFIG_BYTES}")
        text = source.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigEditError(f"{source.name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 TOML") from None
    except OSError as exc:
        raise ConfigEditError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        configuration.parse(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigEditError(f"{source.name} is not valid TOML: {exc}") from None
    except configuration.ConfigError as exc:
        raise ConfigEditError(f"{source.name}: {exc}") from None
    return text


def replace_config(config: Path, text: str) -> None:
    """Keep the current file as `<config>.previous`, then write `text` over the config; both atomic."""
    if config.exists():
        try:
            replace_file(previous_path(config), config.read_bytes(), stat.S_IMODE(config.stat().st_mode))
        except OSError as exc:
            raise ConfigEditError(f"cannot keep the old file as {previous_path(config)}: {exc.strerror or exc}") from exc
    write_atomically(config, text)


def install(ctx: Context, config: Path, name: str) -> None:
    problem = check_name(name)
    source = incoming_dir(ctx.settings.state_dir) / name
    if problem is None and not source.is_file():
        problem = f"no file {name!r} in {source.parent}; upload it with `receive`"
    _apply(ctx, config, name, source, problem, "config_install")


def undo(ctx: Context, config: Path) -> None:
    source = previous_path(config)
    problem = None if source.is_file() else f"no {source.name}: nothing installed here to undo"
    _apply(ctx, config, source.name, source, problem, "config_undo")


def _apply(ctx: Context, config: Path, name: str, source: Path, problem: str | None, action: str) -> None:
    try:
        if problem:
            raise ConfigEditError(problem)
        text = validated_text(source)
        replace_config(config, text)
    except ConfigEditError as exc:
        ctx.say(f"Not changed / Không thay đổi: {exc}")
        ctx.audit(f"{action}_refused", f"{name}: {str(exc)[:160]}")
        return
    ctx.audit(action, f"{name} -> {config} (old kept as {previous_path(config).name})")
    ctx.say(f"Installed {name} as {config}; the old file is {previous_path(config).name} (`config undo` puts it back).")
    ctx.say(RESTART_NOTE)
