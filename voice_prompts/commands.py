"""`resetline prompts render|check`: the thin command-line layer over render() and check()."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from voice_prompts import PromptError
from voice_prompts.catalog import PromptCatalog, box_recordings
from voice_prompts.check import check
from voice_prompts.render import render

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `prompts` with its `render` and `check` subcommands to the root parser's subparsers."""
    prompts = sub.add_parser("prompts", help="voice prompt pipeline (render, check)",
                             description="Render the Vietnamese voice prompts and check the files.")
    actions = prompts.add_subparsers(dest="prompts_command", metavar="{render,check}", required=True)

    render_parser = actions.add_parser(
        "render", help="render prompts to 8 kHz mono 16-bit WAV",
        description="Render prompts from manifest.toml (or recorded/<id>.wav when present) into wav/.")
    render_parser.add_argument("--only", metavar="ID", nargs="+", action="extend", default=None,
                               help="render only these prompt ids (repeatable)")
    _add_root(render_parser)
    render_parser.set_defaults(func=run_render)

    check_parser = actions.add_parser(
        "check", help="check the rendered files",
        description="Check every rendered file: present, 8 kHz mono 16-bit PCM, level, no clipping, no strays.")
    _add_root(check_parser)
    check_parser.add_argument("--state-dir", metavar="DIR", type=Path, default=None,
                              help="a box's state directory: check the recordings installed in DIR/prompts/recorded "
                                   "(`prompts install` on the console) instead of the shipped files they replace")
    check_parser.set_defaults(func=run_check)


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR", type=Path, default=None,
                        help="catalog directory holding manifest.toml, wav/ and recorded/ "
                             "(default: the installed voice_prompts package)")


def run_render(args: argparse.Namespace) -> int:
    """Render, print one line per file written; 1 on a PromptError."""
    try:
        written = render(args.root, args.only)
    except PromptError as err:
        print(f"prompts render: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(f"rendered {len(written)} file(s)")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Print every fault and return 1, or print a one-line summary and return 0."""
    override_dir = box_recordings(args.state_dir) if args.state_dir is not None else None
    faults = check(args.root, override_dir)
    if faults:
        for fault in faults:
            print(fault)
        print(f"prompts check: {len(faults)} fault(s)", file=sys.stderr)
        return 1
    catalog = PromptCatalog.load(args.root, override_dir)
    total = sum(catalog.duration(prompt_id) for prompt_id in catalog.ids())
    print(f"OK: {len(catalog)} prompt files, {total:.1f} s in total, in {catalog.wav_dir}")
    overrides = catalog.overrides()
    if overrides:
        print(f"{len(overrides)} replaced by the box's own recording in {override_dir}: {', '.join(overrides)}")
    return 0
