"""The daemon's control socket: a Unix stream socket in the runtime directory (dir 0700, socket 0600, so only the
service's user and root can ask). One request per connection, one JSON line each way: `{"op": "status"}`.

The runtime directory is `--runtime-dir`, else `$RUNTIME_DIRECTORY` (systemd's RuntimeDirectory=), else
`/run/resetline` when it exists, else `<state dir>/run`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import FirmwareError

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
SYSTEM_RUNTIME_DIR = Path("/run/resetline")
MAX_REQUEST = 4096
CLIENT_TIMEOUT_S = 5.0


class ControlError(FirmwareError):
    """The daemon could not be asked (not running, no permission, no answer)."""


def runtime_dir(explicit: Path | None, state_dir: Path | None, environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if explicit is not None:
        return explicit
    systemd = env.get("RUNTIME_DIRECTORY", "")
    if systemd:
        return Path(systemd.split(":")[0])
    if SYSTEM_RUNTIME_DIR.is_dir() or state_dir is None:
        return SYSTEM_RUNTIME_DIR
    return state_dir / "run"


class ControlServer:
    def __init__(self, directory: Path, status: Callable[[], dict[str, Any]]) -> None:
        self.path = directory / SOCKET_NAME
        self._directory = directory
        self._status = status
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._directory.chmod(0o700)  # systemd makes it 0755 unless RuntimeDirectoryMode= says otherwise
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise ControlError(f"another daemon answers on {self.path}; stop it first")
            self.path.unlink()  # left by a daemon that was killed
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        self.path.chmod(0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(reader.readline(), CLIENT_TIMEOUT_S)
            reply = self._answer(raw[:MAX_REQUEST])
            writer.write(json.dumps(reply, ensure_ascii=False, default=str).encode("utf-8") + b"\n")
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError) as exc:
            log.debug("control client gone: %s", exc)
        finally:
            writer.close()

    def _answer(self, raw: bytes) -> dict[str, Any]:
        try:
            request = json.loads(raw.decode("utf-8") or "{}")
            op = request.get("op", "status") if isinstance(request, dict) else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"error": "not a JSON request; send {\"op\": \"status\"}"}
        if op != "status":
            return {"error": f"unknown op {op!r}; known: status"}
        return {"ok": True, "status": self._status()}


def ask(directory: Path, op: str = "status", timeout: float = CLIENT_TIMEOUT_S) -> dict[str, Any]:
    """One request to the daemon whose socket is in `directory` (blocking; for the command line)."""
    path = directory / SOCKET_NAME
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        try:
            client.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(f"the daemon is not running (no answer on {path}); "
                               "start it with `systemctl start resetline`") from None
        except PermissionError:
            raise ControlError(f"no permission to ask the daemon on {path}; run as the resetline user or root "
                               "(sudo -u resetline resetline status)") from None
        try:
            client.sendall(json.dumps({"op": op}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise ControlError(f"the daemon did not answer on {path}: {exc}") from None
    try:
        reply: dict[str, Any] = json.loads(data)
    except json.JSONDecodeError:
        raise ControlError(f"the daemon's answer on {path} is not JSON") from None
    if "error" in reply:
        raise ControlError(str(reply["error"]))
    return reply


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
