"""What the daemon says about itself in one line (systemd's STATUS=), and whether ModemManager runs."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .status_panel import FAULTS


def summary(phase: str, lines: Sequence[dict[str, Any]], calls: int, outbox: int | None,
            codes: Sequence[int]) -> str:
    """e.g. `serving: gsm0 up, sip0 restarting; 1 call; outbox 2; fault 1 (a line is not up)`."""
    parts = ", ".join(f"{line['name']} {line['state']}" for line in lines) or "no lines"
    text = f"{phase}: {parts}; {calls} call{'s' if calls != 1 else ''}; outbox {'?' if outbox is None else outbox}"
    if codes:
        text += f"; fault {codes[0]} ({FAULTS[codes[0]]})"
    return text


def modem_manager_running(proc: Path = Path("/proc")) -> bool:
    """True when a process named ModemManager runs (read from /proc: no D-Bus, no systemctl needed)."""
    try:
        entries = list(proc.iterdir())
    except OSError:
        return False
    for entry in entries:
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text(encoding="utf-8", errors="replace").strip() == "ModemManager":
                    return True
            except OSError:
                continue
    return False
