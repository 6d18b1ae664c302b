"""The technician's serial console: line editor, login, commands and YMODEM uploads over one serial port.

Modules: `lineeditor` (bytes in, echo and lines out), `credential` lives in `provisioning/technician.py`,
`auth` (wrong-PIN back-off), `session` (the loop over a port), `commands` (what a technician can type),
`delegate` (other `resetline` commands run as bounded subprocesses), `ymodem*` (the protocol, sans-I/O, and its
port pump), `incoming` (where received files land, atomically).
"""
from __future__ import annotations


class ConsoleError(Exception):
    """The console cannot go on (no port, bad arguments); the message says what to do."""
