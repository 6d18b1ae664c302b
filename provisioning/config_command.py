"""`resetline config check --config FILE`: validate a configuration and print it as the box will use it."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from firmware import config as configuration


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("config", help="check a configuration file")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate FILE; print the effective settings as JSON")
    check.add_argument("--config", type=Path, required=True)
    check.set_defaults(func=check_command)


def check_command(args: argparse.Namespace) -> int:
    try:
        config = configuration.load(args.config)
    except configuration.ConfigError as exc:
        print(f"resetline config: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(dataclasses.asdict(config), default=str, indent=2, ensure_ascii=False))
    return 0
