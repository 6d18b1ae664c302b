"""`resetline`: the one command-line entry point. Each subcommand lives beside what it drives and registers here."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from firmware import daemon, journal_command
from voice_prompts import commands as prompt_commands

from . import config_command, demo, dial, dtmf_command, line_test_command, snapshot_commands, status_command, sync
from . import technician_command
from .central import commands as central_commands
from .console import command as console_command

COMMANDS = (daemon, demo, snapshot_commands, journal_command, prompt_commands, config_command, line_test_command,
            dtmf_command, status_command, technician_command, console_command, dial, central_commands, sync)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resetline",
        description="VssID password-reset line appliance for a BHXH office (firmware, tools and simulators).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    default = os.environ.get("RESETLINE_LOG", getattr(args, "log_level", "WARNING")).upper()
    level = logging.DEBUG if args.verbose else getattr(logging, default, logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
