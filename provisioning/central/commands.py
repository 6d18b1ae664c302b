"""``resetline central keygen|serve``: central's key pairs and the reference central's HTTP server."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from firmware import FirmwareError

from . import CentralError
from .server import CentralServer


def run_keygen(args: argparse.Namespace) -> int:
    from firmware.keys import write_central_keys

    try:
        paths = write_central_keys(args.dir)
    except FirmwareError as exc:
        print(f"central keygen: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    print("copy signing.pub and sealing.pub to each box; keep signing.key and sealing.key on central only",
          file=sys.stderr)
    return 0


def _bind(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"must be HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def run_serve(args: argparse.Namespace) -> int:
    try:
        server = CentralServer(args.bind, args.dir)
    except (CentralError, FirmwareError, OSError) as exc:
        print(f"central serve: {exc}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"central serving {args.dir} on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``central keygen`` and ``central serve``."""
    central = sub.add_parser("central", help="central's keys and a reference central server",
                             description="Tools for the central side (BHXH's integrators build against these).")
    actions = central.add_subparsers(dest="central_action", metavar="ACTION", required=True)
    keygen = actions.add_parser("keygen", help="write signing.key/.pub (Ed25519) and sealing.key/.pub (Curve25519)")
    keygen.add_argument("--dir", type=Path, required=True, metavar="DIR")
    keygen.set_defaults(func=run_keygen)
    serve = actions.add_parser("serve", help="serve snapshots and deltas per region and receive outbox events",
                               description="See docs/central-api.md. Port 0 picks a free port (printed).")
    serve.add_argument("--dir", type=Path, required=True, metavar="DIR")
    serve.add_argument("--bind", type=_bind, required=True, metavar="HOST:PORT")
    serve.set_defaults(func=run_serve)
