"""Snapshot figures for issue 7: build, size, verify + install (full and delta), lookups, daemon RSS.

`.venv/bin/python bench/snapshot.py [--rows 1000000 10000000] [--build-kdf-n 16] [--dir DIR]`

For each row count: a CSV of synthetic accounts is streamed through `snapshot build` (the command's own code,
`build_from_csv`), then verified and installed on a fresh box directory; a NEW snapshot with a day's changes
(0.1 % of rows removed, 0.1 % added, 0.1 % changed; same salt, re-signed — the content a full build of the changed
CSV gives, since rows are deterministic for a fixed salt) gives the delta's size and install time. Lookups are
timed in a separate process standing in for the daemon (a SnapshotHolder), whose RSS is read from /proc.

The KDF cost: this 2-core machine cannot seal 10 M rows at the production cost (scrypt N=2^14, ~44 ms per row per
core), so the files are built with --build-kdf-n (default 16) and the production build time is extrapolated from
the per-row cost measured at N=2^14 on a small sample (printed). Lookup "with the hash" times one scrypt at
N=2^14 (what the box pays per check) plus the indexed query, whatever N the bench file has.
Each phase runs as a child process so its peak RSS is its own.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PRODUCTION_N = 2**14


def _code(i: int) -> str:
    return f"{1 + i % 96:02d}{i:08d}"  # province prefix 01..96, never "00"


MOBILE = ("090", "091", "093", "094", "096", "097", "098")


def _phone(i: int) -> str:
    return f"{MOBILE[i % 7]}{i // 7 % 10**7:07d}"  # distinct for i < 7 * 10^7


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write("bhxh_code,phone,account_ref\n")
        for start in range(0, rows, 100_000):
            out.write("".join(f"{_code(i)},{_phone(i)},VSS-{i}\n" for i in range(start, min(rows, start + 100_000))))


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(own, 1), round(children, 1)


def phase_build(args: argparse.Namespace) -> dict[str, object]:
    from firmware.keys import load_signing_key
    from firmware.snapshot import KdfParams
    from provisioning.snapshot_central import build_from_csv

    started = time.monotonic()
    key = load_signing_key(Path(args.keys) / "signing.key")
    if args.csv:
        report = build_from_csv(Path(args.csv), Path(args.out), region="BENCH", sequence=1, signing_key=key,
                                params=KdfParams(n=args.build_kdf_n), workers=args.workers)
        rows, bad = report.rows, report.bad_count
    else:  # normalised rows straight from a generator: the sealing, sorting and signing without the CSV parse
        from firmware.snapshot_build import write_snapshot
        generated = ((_code(i), "+84" + _phone(i)[1:], f"VSS-{i}") for i in range(args.rows))
        rows, bad = write_snapshot(generated, Path(args.out), params=KdfParams(n=args.build_kdf_n), region="BENCH",
                                   sequence=1, workers=args.workers, signing_key=key).rows, 0
    own, workers = _peak_mb()
    return {"seconds": round(time.monotonic() - started, 1), "rows": rows, "bad": bad,
            "peak_rss_mb_main": own, "peak_rss_mb_worker": workers}


def phase_new(args: argparse.Namespace) -> dict[str, object]:
    """NEW = OLD with a day's changes, re-signed (rows sealed exactly as a build would seal them)."""
    from firmware.keys import load_signing_key
    from firmware.phone import normalise_phone
    from firmware.snapshot import SIGNED_PREFIX, Snapshot, rows_digest, seal_row, signed_message

    old, new, rows = Path(args.old), Path(args.out), args.rows
    shutil.copyfile(old, new)
    with Snapshot.open(old) as snapshot:
        salt, params = bytes.fromhex(snapshot.meta["salt"]), snapshot.params
    day = max(1, rows // 1000)
    conn = sqlite3.connect(new)
    conn.execute("PRAGMA journal_mode = OFF")
    for i in range(day):  # removed: the first `day` accounts; changed: the next `day`; added: `day` new ones
        lookup, _ = seal_row(_code(i), normalise_phone(_phone(i)), f"VSS-{i}", salt, params)
        conn.execute("DELETE FROM accounts WHERE lookup = ?", (lookup,))
    for i in list(range(day, 2 * day)) + list(range(rows, rows + day)):
        ref = f"VSS-{i}-new"
        conn.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?)",
                     seal_row(_code(i), normalise_phone(_phone(i)), ref, salt, params))
    count = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    meta.update(sequence="2", row_count=str(count))
    meta.pop("signature")
    digest = rows_digest(conn, "accounts", "lookup, sealed_ref")
    key = load_signing_key(Path(args.keys) / "signing.key")
    meta["signature"] = key.sign(signed_message(SIGNED_PREFIX, meta, {"accounts": digest})).signature.hex()
    conn.execute("DELETE FROM meta")
    conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    conn.commit()
    conn.close()
    return {"changed_rows": 3 * day}


def phase_lookups(args: argparse.Namespace) -> dict[str, object]:
    """The daemon's side: a SnapshotHolder on the installed file; lookups with and without the slow hash."""
    from firmware.appliance import SnapshotHolder
    from firmware.phone import normalise_phone
    from firmware.snapshot import LOOKUP_BYTES, KdfParams, unseal_ref, row_key

    def rss_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    base_rss = rss_mb()
    holder = SnapshotHolder(Path(args.state) / "snapshot" / "current.db")
    snapshot = holder()
    salt, params = bytes.fromhex(snapshot.meta["salt"]), snapshot.params
    rows = int(snapshot.meta["row_count"])
    import random
    rng = random.Random(1)
    picks = [rng.randrange(2 * (rows // 1000) + 1, rows) for _ in range(args.lookups)]
    keys = [row_key(_code(i), normalise_phone(_phone(i)), salt, params) for i in picks]
    keys += [row_key(_code(i), normalise_phone(_phone(i)), salt, params) for i in range(7 * 10**7 - 200, 7 * 10**7)]
    without: list[float] = []
    for key in keys[:1000]:  # warm-up, untimed: the daemon is long-running, its inner B-tree pages are cached
        with snapshot.reading() as conn:
            conn.execute("SELECT sealed_ref FROM accounts WHERE lookup = ?", (key[:LOOKUP_BYTES],)).fetchone()
    for key in keys:  # the indexed query and the unseal, as Snapshot.lookup does them after the hash
        started = time.perf_counter()
        with snapshot.reading() as conn:
            found = conn.execute("SELECT sealed_ref FROM accounts WHERE lookup = ?", (key[:LOOKUP_BYTES],)).fetchone()
        if found is not None:
            unseal_ref(key[LOOKUP_BYTES:], found[0])
        without.append(time.perf_counter() - started)
    production = KdfParams(n=PRODUCTION_N)
    with_hash: list[float] = []
    for i, key in zip(range(args.hash_lookups), keys):
        started = time.perf_counter()
        row_key(_code(picks[i % len(picks)]), "+84900000000", salt, production)  # the box's one scrypt per check
        with snapshot.reading() as conn:
            conn.execute("SELECT sealed_ref FROM accounts WHERE lookup = ?", (key[:LOOKUP_BYTES],)).fetchone()
        with_hash.append(time.perf_counter() - started)

    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 3)

    return {"lookups": len(without), "no_hash_p50_ms": pct(without, 0.5), "no_hash_p99_ms": pct(without, 0.99),
            "hash_lookups": len(with_hash), "with_hash_p50_ms": pct(with_hash, 0.5),
            "with_hash_p99_ms": pct(with_hash, 0.99), "rss_mb": rss_mb(), "rss_before_open_mb": base_rss}


def phase_kdf_cost(args: argparse.Namespace) -> dict[str, object]:
    """Seal a small sample at the production cost with every core: rows per second and seconds per row per core."""
    from firmware.snapshot import KdfParams
    from firmware.snapshot_build import write_snapshot

    sample = [(_code(i), "+84" + _phone(i)[1:], f"VSS-{i}") for i in range(args.sample)]
    with tempfile.TemporaryDirectory() as tmp:
        report = write_snapshot(sample, Path(tmp) / "s.db", params=KdfParams(n=PRODUCTION_N), workers=args.workers)
    workers = args.workers or os.cpu_count() or 1
    return {"rows": args.sample, "seconds": report.seconds, "workers": workers,
            "ms_per_row_per_core": round(1000 * report.seconds * workers / args.sample, 1)}


PHASES = {"build": phase_build, "new": phase_new, "lookups": phase_lookups, "kdf_cost": phase_kdf_cost}


def child(phase: str, **options: object) -> dict[str, object]:
    argv = [sys.executable, __file__, "--phase", phase]
    for name, value in options.items():
        if value is None:
            continue
        argv += [f"--{name.replace('_', '-')}", str(value)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def timed(*argv: str) -> float:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "provisioning.cli", *argv], capture_output=True, text=True,
                          cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr}")
    return round(time.monotonic() - started, 1)


def bench(rows: int, work: Path, args: argparse.Namespace) -> None:
    from firmware.keys import write_central_keys

    work.mkdir(parents=True, exist_ok=True)
    keys = work / "keys"
    if not keys.exists():
        write_central_keys(keys)
    csv_path, old, new = work / "accounts.csv", work / "1.snap", work / "2.snap"
    started = time.monotonic()
    if rows <= args.csv_max:
        write_csv(csv_path, rows)
        print(f"\n== {rows:,} rows, built from a CSV ({csv_path.stat().st_size / 1e6:.0f} MB) by `snapshot build`'s "
              "code", flush=True)
    else:
        print(f"\n== {rows:,} rows, built from normalised rows (write_snapshot; the CSV parse, measured above on "
              "the smaller file, is left out)", flush=True)
    built = child("build", csv=csv_path if rows <= args.csv_max else None, rows=rows, out=old, keys=keys,
                  build_kdf_n=args.build_kdf_n, workers=args.workers)
    print(f"build (scrypt N={args.build_kdf_n}, {built['bad']} bad rows): {built['seconds']} s, {rows / float(str(built['seconds'])):,.0f} rows/s; "
          f"peak RSS main {built['peak_rss_mb_main']} MB, per worker {built['peak_rss_mb_worker']} MB", flush=True)
    print(f"file size: {old.stat().st_size / 1e6:.1f} MB ({old.stat().st_size / rows:.0f} bytes/row)", flush=True)
    verify_s = timed("snapshot", "verify", str(old), "--public-key", str(keys / "signing.pub"))
    box = ("--state-dir", str(work / "box"), "--region", "BENCH", "--public-key", str(keys / "signing.pub"))
    shutil.rmtree(work / "box", ignore_errors=True)
    install_s = timed("snapshot", "install", str(old), *box)
    print(f"verify: {verify_s} s; install (copy + verify + swap) of the full file: {install_s} s "
          "(each including ~0.3 s of interpreter start)", flush=True)
    looked = child("lookups", state=work / "box", lookups=args.lookups, hash_lookups=args.hash_lookups)
    print(f"lookup without the hash ({looked['lookups']}): p50 {looked['no_hash_p50_ms']} ms, "
          f"p99 {looked['no_hash_p99_ms']} ms", flush=True)
    print(f"lookup with one scrypt N=2^14 ({looked['hash_lookups']}): p50 {looked['with_hash_p50_ms']} ms, "
          f"p99 {looked['with_hash_p99_ms']} ms", flush=True)
    print(f"daemon-side RSS with the snapshot open after the lookups: {looked['rss_mb']} MB "
          f"({looked['rss_before_open_mb']} MB before opening it)", flush=True)
    daemon = daemon_rss(work, rows)
    print(f"the real daemon (`resetline run`, one SIP line) after one reset call through this snapshot "
          f"({daemon['outcome']}): RSS {daemon['daemon_mb']} MB; its pjsua2 worker process {daemon['workers_mb']} MB",
          flush=True)
    changed = child("new", old=old, out=new, keys=keys, rows=rows)
    started = time.monotonic()
    delta_s = timed("snapshot", "delta", str(old), str(new), "--signing-key", str(keys / "signing.key"),
                    "--out", str(work / "1-2.delta"))
    size = (work / "1-2.delta").stat().st_size
    print(f"delta for {changed['changed_rows']:,} changed rows: {size / 1e6:.2f} MB "
          f"({100 * size / new.stat().st_size:.2f} % of the full file), made in {delta_s} s", flush=True)
    delta_install_s = timed("snapshot", "install", str(work / "1-2.delta"), *box)
    print(f"install of the delta (copy + apply + verify + swap): {delta_install_s} s", flush=True)
    digest = hashlib.sha256()
    with sqlite3.connect(work / "box" / "snapshot" / "current.db") as a:
        signature = dict(a.execute("SELECT key, value FROM meta"))["signature"]
    with sqlite3.connect(new) as b:
        print(f"result carries NEW's signature: {signature == dict(b.execute('SELECT key, value FROM meta'))['signature']}",
              flush=True)
    del digest


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def daemon_rss(work: Path, rows: int) -> dict[str, object]:
    """`resetline run` on the installed box directory with one SIP line on 127.0.0.1; one reset call by the pjsua2
    dialer (the snapshot is opened by the first call's check); then the daemon's RSS and its worker's, from /proc."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = work / "box.toml"
    config.write_text(f'[box]\nname = "bench"\n\n[[line]]\nname = "sip0"\nkind = "sip"\n'
                      f'bind = "127.0.0.1:{port}"\ntrusted_peers = ["127.0.0.1"]\nmax_calls = 4\n', encoding="utf-8")
    box = work / "box"
    proc = subprocess.Popen([sys.executable, "-m", "provisioning.cli", "run", "--config", str(config), "--state-dir",
                             str(box)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (box / "run" / "control.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        i = rows // 2
        done = subprocess.run([sys.executable, "-m", "drivers.sip.dialer", f"sip:bhxh@127.0.0.1:{port}", "--json",
                               "--timeout", "60", "--caller", _phone(i), "--keys", f"8 {_code(i)}"],
                              cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        journal = subprocess.run([sys.executable, "-m", "provisioning.cli", "journal", "--json", "--limit", "1",
                                  "--state-dir", str(box)], cwd=REPO, capture_output=True, text=True, check=False)
        calls = [event for event in map(json.loads, journal.stdout.splitlines()) if event["kind"] == "call"]
        outcome = str(calls[0]["outcome"]) if calls else f"no call journalled (dialer exit {done.returncode})"
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        return {"outcome": outcome, "daemon_mb": _rss_mb(proc.pid),
                "workers_mb": " + ".join(str(_rss_mb(int(c))) for c in children) or "none"}
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--build-kdf-n", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--hash-lookups", type=int, default=200)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--csv-max", type=int, default=1_000_000,
                        help="row counts above this are built from a generator, not a CSV (default 1 M)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    for name in ("csv", "out", "keys", "old", "state"):
        parser.add_argument(f"--{name}")
    args = parser.parse_args()
    if args.phase:
        args.rows = args.rows[0]
        print(json.dumps(PHASES[args.phase](args)))
        return
    cost = child("kdf_cost", sample=args.sample, workers=args.workers or os.cpu_count())
    per_core = float(str(cost["ms_per_row_per_core"]))
    print(f"production KDF (scrypt N=2^14): {cost['rows']} rows in {cost['seconds']} s on {cost['workers']} "
          f"workers = {per_core} ms per row per core; extrapolated full-cost build of 10 M rows: "
          f"{10_000_000 * per_core / 1000 / 3600:.0f} core-hours ({10_000_000 * per_core / 1000 / 3600 / 64:.1f} h "
          "on a 64-core build machine)", flush=True)
    root = args.dir or Path(tempfile.mkdtemp(prefix="snapbench-"))
    try:
        for rows in args.rows:
            bench(rows, root / str(rows), args)
            if args.dir is None:
                shutil.rmtree(root / str(rows), ignore_errors=True)
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
