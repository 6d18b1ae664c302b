"""The prompt table in voice_prompts/README.md is the manifest and the shipped files, not a copy that drifts."""
from __future__ import annotations

from voice_prompts.catalog import PromptCatalog
from voice_prompts.table import README, updated


def test_readme_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert text == updated(text, PromptCatalog.load()), "run: python -m voice_prompts.table"
