"""`config set KEY VALUE`: change one setting in the TOML file, validated by firmware.config, written atomically.

The file is edited as text so comments and layout survive; the result is parsed again and must both pass
`firmware.config.parse` and hold exactly the new value, or nothing is written. Keys: `call.menu_timeout_s`,
`box.name`, `line.0.port` (or `line[0].port`, or the line's name: `line.gsm0.port`).
"""
from __future__ import annotations

import json
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware import config as configuration

from firmware.atomic import replace_file

RESTART_NOTE = ("Saved. It takes effect when the resetline service restarts (`reboot`, or `systemctl restart "
                "resetline`). / Đã lưu; có hiệu lực sau khi khởi động lại dịch vụ.")
_KEY = re.compile(r"(?P<table>[a-z_]+)(?:(?:\.|\[)(?P<line>[A-Za-z0-9_-]+)\]?)?\.(?P<name>[a-z_0-9]+)")


def is_secret(key: str) -> bool:
    """Settings whose values are never shown or audited: passwords, the SIM PIN, anything called a secret."""
    name = key.rsplit(".", 1)[-1]
    return name == "pin" or "password" in name or "secret" in name


class ConfigEditError(Exception):
    """The change was refused; the message names the key and what to do. Nothing was written."""


@dataclass(frozen=True)
class Change:
    key: str
    old: Any
    new: Any

    def describe(self) -> str:
        if is_secret(self.key):
            return f"{self.key}: *** -> ***"
        return f"{self.key}: {self.old!r} -> {self.new!r}"


def literal(value_text: str) -> tuple[str, Any]:
    """The TOML text and value for what was typed: a TOML value if it is one (10, true, "x"), else a string."""
    try:
        return value_text, tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        return json.dumps(value_text, ensure_ascii=False), value_text


def _section_bounds(lines: list[str], table: str, line_ref: str | None, raw: dict[str, Any]) -> tuple[int, int]:
    if table == "line":
        entries = raw.get("line", [])
        index = next((i for i, e in enumerate(entries) if str(i) == line_ref or e.get("name") == line_ref), None)
        if index is None:
            names = ", ".join(f"{i} ({e.get('name')})" for i, e in enumerate(entries)) or "none"
            raise ConfigEditError(f"line {line_ref!r}: no such line; lines: {names}")
        headers = [i for i, text in enumerate(lines) if re.match(r"\s*\[\[\s*line\s*\]\]", text)]
        start = headers[index]
    else:
        start = next((i for i, text in enumerate(lines) if re.match(rf"\s*\[\s*{table}\s*\]\s*(#.*)?$", text)), -1)
        if start < 0:
            return -1, -1
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"\s*\[", lines[i])), len(lines))
    return start, end


def edit(text: str, key: str, value_text: str) -> tuple[str, Change]:
    """The new file text with KEY set; raises ConfigEditError when the result would not be a valid config."""
    match = _KEY.fullmatch(key)
    if match is None or (match["table"] == "line") != (match["line"] is not None):
        raise ConfigEditError(f"{key}: write keys as table.name (call.menu_timeout_s) or line.N.name (line.0.port)")
    table, line_ref, name = match["table"], match["line"], match["name"]
    raw = tomllib.loads(text) if text.strip() else {}
    toml_text, value = literal(value_text)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start, end = _section_bounds(lines, table, line_ref, raw)
    new_line = f"{name} = {toml_text}\n"
    if start < 0:
        lines += ["\n", f"[{table}]\n", new_line]
        old = None
    else:
        found = next((i for i in range(start + 1, end) if re.match(rf"\s*{name}\s*=", lines[i])), None)
        if found is None:
            insert_at = end
            while insert_at > start + 1 and not lines[insert_at - 1].strip():
                insert_at -= 1
            lines.insert(insert_at, new_line)
            old = None
        else:
            lines[found] = new_line
            section = raw[table][_line_index(raw, line_ref)] if table == "line" else raw.get(table, {})
            old = section.get(name)
    new_text = "".join(lines)
    _validate(new_text, table, line_ref, name, value, key)
    return new_text, Change(key, old, value)


def _line_index(raw: dict[str, Any], line_ref: str | None) -> int:
    return next(i for i, e in enumerate(raw["line"]) if str(i) == line_ref or e.get("name") == line_ref)


def _validate(new_text: str, table: str, line_ref: str | None, name: str, value: Any, key: str) -> None:
    try:
        raw = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigEditError(f"{key}: the value does not fit in the file ({exc}); nothing written") from None
    try:
        configuration.parse(raw)
    except configuration.ConfigError as exc:
        raise ConfigEditError(f"{exc}; nothing written") from None
    section = raw["line"][_line_index(raw, line_ref)] if table == "line" else raw[table]
    if section.get(name) != value:  # the text edit went wrong: never write a file that says something else
        raise ConfigEditError(f"{key}: could not place the value safely; edit the file by hand")


def write_atomically(path: Path, text: str) -> None:
    """Replace the configuration file whole (keeping its mode), or raise ConfigEditError and change nothing."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o640
        replace_file(path, text.encode("utf-8"), mode)
    except OSError as exc:
        raise ConfigEditError(f"cannot write {path}: {exc.strerror or exc}; nothing changed") from exc
