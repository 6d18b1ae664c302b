"""systemd's notify protocol, written here (no dependency): one datagram per message to `$NOTIFY_SOCKET`.

`READY=1` once the lines are up, `STATUS=…` a one-line summary, `WATCHDOG=1` while the loop and every line are
healthy, `STOPPING=1` at SIGTERM. Without `$NOTIFY_SOCKET` (not under systemd) every call does nothing. An
abstract socket is written `@name` in the variable (sd_notify(3)).
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self._address: str | None = ("\0" + path[1:]) if path.startswith("@") else (path or None)
        self.watchdog_s = _watchdog_s(env)
        self._sock: socket.socket | None = None
        if self._address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str) -> bool:
        """One message, e.g. `send(READY="1", STATUS="2 lines up")`; False when it could not be delivered."""
        if self._sock is None or self._address is None:
            return False
        text = "\n".join(f"{key}={_one_line(value)}" for key, value in fields.items())
        try:
            self._sock.sendto(text.encode("utf-8"), self._address)
        except OSError as exc:  # systemd gone or the socket full: the daemon keeps serving calls regardless
            log.warning("sd_notify %s failed: %s", ",".join(fields), exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY="1", STATUS=status)

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def stopping(self, status: str) -> bool:
        return self.send(STOPPING="1", STATUS=status)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_s(env: Mapping[str, str]) -> float | None:
    """systemd's watchdog interval from `$WATCHDOG_USEC`, when it is meant for this process (`$WATCHDOG_PID`)."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000


def _one_line(value: str) -> str:
    return " ".join(str(value).split())
