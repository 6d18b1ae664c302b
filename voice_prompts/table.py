"""Writes the prompt table of voice_prompts/README.md from the manifest and the shipped files.

`python -m voice_prompts.table` rewrites the part between the two markers; a test fails when it is stale, so the
README never shows a text or a duration the box does not play.
"""
from __future__ import annotations

import sys
from pathlib import Path

from voice_prompts.catalog import PromptCatalog

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- prompt-table -->", "<!-- /prompt-table -->"


def markdown(catalog: PromptCatalog) -> str:
    rows = ["| id | set | display text | spoken as (when it differs) | render | s |", "|---|---|---|---|---|---:|"]
    for prompt_id in catalog.ids():
        prompt = catalog.prompt(prompt_id)
        spoken = prompt.tts if prompt.tts != prompt.display else ""
        render = f"{prompt.silence_ms} ms silence" if prompt.set == "pause" else f"{prompt.speed} wpm"
        rows.append(
            f"| `{prompt_id}` | {prompt.set} | {prompt.display} | {spoken} | {render} | {catalog.duration(prompt_id):.2f} |"
        )
    total = sum(catalog.duration(prompt_id) for prompt_id in catalog.ids())
    return "\n".join(rows) + f"\n\n{len(rows) - 2} prompts, {total:.1f} s in total.\n"


def updated(text: str, catalog: PromptCatalog) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{markdown(catalog)}{END}{tail}"


if __name__ == "__main__":
    README.write_text(updated(README.read_text(encoding="utf-8"), PromptCatalog.load()), encoding="utf-8")
    sys.stdout.write(f"wrote {README}\n")
