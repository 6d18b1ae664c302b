"""The technician's serial console: line editor, login, commands and YMODEM uploads over one serial port.

`lineeditor` (bytes in, echo and lines out) · `terminal` (the port: open, reopen, read a line) · `session` (the loop,
idle and port-loss logout) · `context` (what commands get) · `commands` (the table, login, help) with
`info_commands`, `admin_commands`, `receive_command` · `auth` (wrong-PIN back-off) · `delegate` (other `resetline`
commands as bounded subprocesses) · `config_edit` · `incoming` and `atomic` (files whole or not at all) ·
`ymodem`, `ymodem_receiver`, `ymodem_sender` (sans-I/O) with `ymodem_port` (runs them on a port), `ymodem_send`
(a sender tool) and `progress`. The credential lives in `provisioning/technician.py`. See docs/technician.md.
"""
from __future__ import annotations


class ConsoleError(Exception):
    """The console cannot go on (no port, bad arguments); the message says what to do."""
