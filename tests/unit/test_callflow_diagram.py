"""The state diagram in the docs is the transition table, not a drawing that can drift from it."""
from __future__ import annotations

from firmware.callflow import TRANSITIONS, State
from firmware.callflow_diagram import DOC, document


def test_docs_diagram_is_generated_from_the_table() -> None:
    assert DOC.read_text(encoding="utf-8") == document(), "run: python -m firmware.callflow_diagram"


def test_every_state_is_reachable_and_every_non_final_state_has_a_way_out() -> None:
    targets = {row.target for row in TRANSITIONS}
    sources = {row.source for row in TRANSITIONS}
    assert set(State) - {State.RINGING} <= targets
    assert set(State) - {State.ENDED} <= sources
