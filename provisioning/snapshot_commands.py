"""``resetline snapshot build|verify|install|info|rollback|delta|import``: the snapshot lifecycle's command line.

A thin layer: each action calls one library function and turns its error into one clear
line on stderr and exit status 1 (2 for usage errors, from argparse). Contract: issue 7,
docs/snapshot-format.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nacl.signing

from firmware import FirmwareError
from firmware.config import ConfigError, load
from firmware.keys import load_signing_key, load_verify_key
from firmware.snapshot import KdfParams, SnapshotError, verify_snapshot
from firmware.snapshot_delta import is_delta, make_delta, verify_delta

from . import ProvisioningError, snapshot_import
from .snapshot_central import BuildError, build_from_csv
from .snapshot_import import DEFAULT_STATE_DIR, count_arg
from .snapshot_install import Trust, install, rollback, status

FAILURES = (ProvisioningError, FirmwareError, OSError)


def _fail(action: str, exc: BaseException) -> int:
    print(f"snapshot {action}: {exc}", file=sys.stderr)
    return 1


def _bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    print(f"\r  [{'#' * filled}{'.' * (width - filled)}] {100 * done // max(total, 1):3d} %",
          end="" if done < total else "\n", file=sys.stderr, flush=True)


def run_build(args: argparse.Namespace) -> int:
    try:
        report = build_from_csv(
            args.csv, args.out, region=args.region, sequence=args.sequence,
            signing_key=load_signing_key(args.signing_key), params=KdfParams(n=args.kdf_n), base=args.base,
            workers=args.workers, strict=args.strict, progress=_bar if sys.stderr.isatty() else None)
    except FAILURES as exc:
        return _fail("build", exc)
    for row in report.bad:
        print(f"  line {row.line}: {row.reason}", file=sys.stderr)
    if report.bad_count:
        shown = f" (first {len(report.bad)} listed)" if report.bad_count > len(report.bad) else ""
        print(f"snapshot build: skipped {report.bad_count} malformed row(s){shown}", file=sys.stderr)
    print(f"built {args.out}: region {args.region}, sequence {args.sequence}, {report.rows} rows, "
          f"{report.duplicates} duplicates dropped, {report.bad_count} malformed skipped, {report.seconds:.1f} s")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    try:
        key = load_verify_key(args.public_key)
        if is_delta(args.snapshot):
            meta, new_meta = verify_delta(args.snapshot, key)
            print(f"OK: delta for region {meta['region']}, sequence {meta['base_sequence']} -> {meta['sequence']}, "
                  f"{meta['upserts']} upserts, {meta['removals']} removals, signed by {meta['signing_key'][:16]}…")
            return 0
        meta = verify_snapshot(args.snapshot, key)
    except FAILURES as exc:
        return _fail("verify", exc)
    print(f"OK: region {meta['region']}, sequence {meta['sequence']}, {meta['row_count']} rows, "
          f"built {meta['built_at']}, signed by {meta['signing_key'][:16]}…")
    return 0


def _box(args: argparse.Namespace, need_trust: bool) -> tuple[Path, Trust | None, nacl.signing.VerifyKey | None]:
    """State dir, trust and verify key from --config and/or the explicit options (explicit wins)."""
    config = load(args.config) if args.config else None
    state_dir = args.state_dir or (config.box.state_dir if config else DEFAULT_STATE_DIR)
    central = config.central if config else None
    region = getattr(args, "region", None) or (central.region if central else None)
    key_path = args.public_key or (central.signing_public_key if central else None)
    key = load_verify_key(key_path) if key_path else None
    if need_trust and (region is None or key is None):
        raise ConfigError("give --config FILE with a [central] table, or both --region and --public-key")
    trust = Trust(region, key) if region is not None and key is not None else None
    return Path(state_dir), trust, key


def run_install(args: argparse.Namespace) -> int:
    try:
        state_dir, trust, _ = _box(args, need_trust=True)
        assert trust is not None
        done = install(args.snapshot, state_dir, trust)
    except FAILURES as exc:
        return _fail("install", exc)
    previous = "none" if done.previous_sequence is None else str(done.previous_sequence)
    print(f"installed sequence {done.sequence} ({'delta' if done.delta else 'full'}, {done.rows} rows) "
          f"in {done.seconds:.1f} s; previous sequence {previous} kept for rollback")
    return 0


def run_info(args: argparse.Namespace) -> int:
    try:
        state_dir, _, key = _box(args, need_trust=False)
        report = status(state_dir, key, time.time())
    except FAILURES as exc:
        return _fail("info", exc)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    for name in ("current", "previous"):
        entry = report[name]
        if entry is None:
            print(f"{name}: none")
        elif "error" in entry:
            print(f"{name}: DAMAGED: {entry['error']}")
        else:
            print(f"{name}: region {entry['region'] or '-'}, sequence {entry['sequence']}, {entry['rows']} rows, "
                  f"built {entry['built_at']} ({entry['age_s'] // 3600} h ago), {entry['kdf']}")
    print(f"verification: {report['verification']}")
    if report["rolled_back_sequence"] is not None:
        print(f"rolled back: sequences up to {report['rolled_back_sequence']} are refused")
    return 0 if report["current"] is not None and not report["verification"].startswith(("FAILED", "damaged")) else 1


def run_rollback(args: argparse.Namespace) -> int:
    try:
        state_dir, _, _ = _box(args, need_trust=False)
        serving, left = rollback(state_dir)
    except FAILURES as exc:
        return _fail("rollback", exc)
    print(f"rolled back: sequence {serving} serving again; sequence {left} kept as previous and refused by sync")
    return 0


def run_delta(args: argparse.Namespace) -> int:
    try:
        meta = make_delta(args.old, args.new, load_signing_key(args.signing_key), args.out)
    except (SnapshotError, *FAILURES) as exc:
        return _fail("delta", exc)
    size, full = args.out.stat().st_size, args.new.stat().st_size
    print(f"delta {args.out}: sequence {meta['base_sequence']} -> {meta['sequence']}, {meta['upserts']} upserts, "
          f"{meta['removals']} removals, {size} bytes ({100 * size / full:.1f} % of the full file)")
    return 0


def _box_options(parser: argparse.ArgumentParser, *, trust: bool) -> None:
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help=f"the box's state directory (default: the config's box.state_dir, else {DEFAULT_STATE_DIR})")
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="the box's resetline.toml: region and central signing key from its [central] table")
    parser.add_argument("--public-key", type=Path, default=None, metavar="PUB", help="central's signing.pub")
    if trust:
        parser.add_argument("--region", default=None, help="the region this box serves")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``snapshot`` and its actions to the root command line."""
    snapshot = sub.add_parser("snapshot", help="snapshot lifecycle",
                              description="Build, sign, verify, install and roll back the sealed account snapshot.")
    actions = snapshot.add_subparsers(dest="snapshot_action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="central: stream a CSV into a signed snapshot",
                               description="Seal bhxh_code,phone[,account_ref] rows into a signed snapshot; "
                                           "malformed rows are skipped and listed by line number.")
    build.add_argument("--csv", type=Path, required=True, metavar="FILE")
    build.add_argument("--region", required=True)
    build.add_argument("--sequence", type=count_arg, required=True, metavar="N")
    build.add_argument("--signing-key", type=Path, required=True, metavar="KEY", help="central's signing.key")
    build.add_argument("--out", type=Path, required=True, metavar="SNAP")
    build.add_argument("--base", type=Path, default=None, metavar="OLD",
                       help="reuse OLD's salt and scrypt cost, so that `snapshot delta OLD SNAP` is small")
    build.add_argument("--kdf-n", type=lambda t: count_arg(t, power_of_two=True), default=KdfParams().n,
                       metavar="N", help=f"scrypt cost N (default {KdfParams().n}; ignored with --base)")
    build.add_argument("--workers", type=count_arg, default=None, metavar="N",
                       help="processes deriving keys (default: one per CPU)")
    build.add_argument("--strict", action="store_true", help="write nothing if any row is malformed")
    build.set_defaults(func=run_build)
    verify = actions.add_parser("verify", help="check a snapshot's or delta's signature and content")
    verify.add_argument("snapshot", type=Path, metavar="SNAP")
    verify.add_argument("--public-key", type=Path, required=True, metavar="PUB", help="central's signing.pub")
    verify.set_defaults(func=run_verify)
    inst = actions.add_parser("install", help="verify and atomically install a snapshot or delta",
                              description="Verify SNAP (full or delta), refuse another region or a sequence not "
                                          "newer than the installed one, and swap it in; the old one is kept.")
    inst.add_argument("snapshot", type=Path, metavar="SNAP")
    _box_options(inst, trust=True)
    inst.set_defaults(func=run_install)
    info = actions.add_parser("info", help="the installed snapshot: region, sequence, rows, age, verification")
    info.add_argument("--json", action="store_true")
    _box_options(info, trust=False)
    info.set_defaults(func=run_info)
    back = actions.add_parser("rollback", help="serve the kept previous snapshot again")
    _box_options(back, trust=False)
    back.set_defaults(func=run_rollback)
    delta = actions.add_parser("delta", help="central: the signed changes from OLD to NEW")
    delta.add_argument("old", type=Path, metavar="OLD")
    delta.add_argument("new", type=Path, metavar="NEW")
    delta.add_argument("--signing-key", type=Path, required=True, metavar="KEY")
    delta.add_argument("--out", type=Path, required=True, metavar="DELTA")
    delta.set_defaults(func=run_delta)
    snapshot_import.add_parser(actions)
