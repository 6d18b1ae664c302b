"""`resetline technician set-pin --state-dir DIR`: set the console's PIN or passphrase, read from stdin.

On a terminal it is asked twice without echo; from a pipe the first line is taken. It is stored only as a scrypt
hash (provisioning.technician), and the change is an audit row in the journal. The PIN never reaches a log.
"""
from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path

from firmware.journal import Journal, JournalError

from .technician import CredentialError, set_credential


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("technician", help="the technician's console credential")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    pin = actions.add_parser("set-pin", help="set the console PIN or passphrase (read from stdin)",
                             description=__doc__)
    pin.add_argument("--state-dir", type=Path, required=True, help="the appliance state directory")
    pin.set_defaults(func=set_pin)


def _read_secret() -> str | None:
    if sys.stdin.isatty():
        first = getpass.getpass("New technician PIN or passphrase: ")
        if getpass.getpass("Again: ") != first:
            print("resetline technician: the two entries differ; nothing changed", file=sys.stderr)
            return None
        return first
    return sys.stdin.readline().rstrip("\r\n")


def set_pin(args: argparse.Namespace) -> int:
    secret = _read_secret()
    if secret is None:
        return 1
    try:
        path = set_credential(args.state_dir, secret)
    except CredentialError as exc:
        print(f"resetline technician: {exc}; nothing changed", file=sys.stderr)
        return 1
    try:
        with Journal.open(args.state_dir / "journal.db") as journal:
            journal.record_audit("pin_set", "technician PIN set from the shell", actor="admin", at=time.time())
    except JournalError as exc:
        print(f"resetline technician: PIN set, but the audit row failed: {exc}", file=sys.stderr)
    print(f"technician PIN set ({path})")
    return 0
