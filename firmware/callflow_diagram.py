"""Writes the call flow's state diagram (Mermaid) from `callflow.TRANSITIONS`: `python -m firmware.callflow_diagram`."""
from __future__ import annotations

import sys
from pathlib import Path

from .callflow import TRANSITIONS, State

DOC = Path(__file__).resolve().parent.parent / "docs" / "callflow.md"

HEADER = """# The reset call's state diagram

Generated from `firmware/callflow.py` (`TRANSITIONS`) by `python -m firmware.callflow_diagram`; a test fails when
this file and the table disagree. Edges read `trigger [guard]`. `played` = the prompts asked for have been heard to
the end; `timeout:X` = timer X fired; `checked` = the verifier's verdict; `hangup` = the caller hung up.
Keys pressed during an input prompt (menu, ask_code, invalid_code) stop it (barge-in); keys in any state without
a `key` edge are ignored — the password and the verdict are always heard in full.
"""


def mermaid() -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {State.RINGING.name}"]
    seen_hangup: set[State] = set()
    for row in TRANSITIONS:
        if row.trigger == "hangup":
            seen_hangup.add(row.source)
            continue
        label = row.trigger + (f" [{row.label}]" if row.label else "")
        lines.append(f"    {row.source.name} --> {row.target.name}: {label}")
    lines.append(f"    {State.ENDED.name} --> [*]")
    sources = ", ".join(sorted(state.name for state in seen_hangup))
    return "\n".join(lines) + f"\n    note right of {State.ENDED.name}: hangup from any of {sources}\n"


def document() -> str:
    return f"{HEADER}\n```mermaid\n{mermaid()}```\n"


if __name__ == "__main__":
    DOC.write_text(document(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
