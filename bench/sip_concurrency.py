"""SIP concurrency: sipp against a box at 1, 10, 20 and 40 simultaneous calls, then a soak for leaks.

    .venv/bin/python bench/sip_concurrency.py [--levels 1,10,20,40] [--hold-ms 5000] [--soak 1000] [--max-calls 20]
    .venv/bin/python bench/sip_concurrency.py --inband [--levels 1,10,20]

Starts a box in a subprocess (`--serve`: the daemon's composition — Appliance, Switchboard, SipLine — with the
shipped prompts and examples/accounts.csv), then for each level runs tests/integration/sipp/hangup.xml with that
many calls at once, each held `--hold-ms` while the box speaks, and prints completed and failed calls, the mean
INVITE→200 set-up time, and the box's CPU per call (daemon + pjsua2 workers, idle polling included). The soak
runs `--warmup` then `--soak` short calls 20 at a time and prints RSS and open file descriptors of the whole box
before and after the soak (growth there = a leak; the warm-up is where pjlib's pools grow to their working size).
Calls over `--max-calls` are refused with 486 by design; the 40-call level shows it.

`--inband` runs the line with `inband_dtmf = true` and makes every call a whole reset with in-band keys: sipp
(tests/integration/sipp/inband_code.xml) plays 8 and the code as DTMF tones in G.711 (`keys_pcap.py`) and waits
for the box's BYE; each level then also prints how many calls the box journalled as resets and its CPU per call,
which now includes our DTMF receiver listening to every call's audio. The soak is skipped (calls last ~20 s).
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SIPP_DIR = REPO / "tests" / "integration" / "sipp"
SCENARIO = SIPP_DIR / "hangup.xml"
CALLER, CODE = "0912345678", "0123456789"  # a pair of examples/accounts.csv: an --inband call ends in a reset
TICKS = os.sysconf("SC_CLK_TCK")


# -- the box (runs in its own process) ------------------------------------------------------------------------------
def serve(args: argparse.Namespace) -> int:
    from drivers.clock import AsyncioScheduler
    from drivers.sip import SipLine
    from firmware.appliance import Appliance, Switchboard
    from firmware.call_session import ThreadChecker
    from firmware.config import Config

    app = Appliance(Config(), args.state_dir)

    async def run_box() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        checker = ThreadChecker(app.verifier.check, loop.call_soon_threadsafe)
        line = SipLine("sip0", f"127.0.0.1:{args.port}", prompts=app.prompts, post=loop.call_soon_threadsafe,
                       max_calls=args.max_calls, trusted_peers=["127.0.0.1"], inband_dtmf=args.inband)
        line.attach(Switchboard(app, line, AsyncioScheduler(loop), checker))
        line.start()
        await loop.run_in_executor(None, line.ready.wait, 20)
        print(f"READY {line.address[1]}", flush=True)
        await stop.wait()
        line.close()
        checker.close()

    try:
        asyncio.run(run_box())
    finally:
        app.close()
    return 0


# -- measuring the box from outside ---------------------------------------------------------------------------------
def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (the daemon and its pjsua2 workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError):
            continue
    return total / TICKS


def rss_mb(pids: list[int]) -> float:
    kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kb += int(line.split()[1])
        except OSError:
            continue
    return kb / 1024


def fds(pids: list[int]) -> int:
    count = 0
    for pid in pids:
        try:
            count += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return count


def run_sipp(port: int, calls: int, hold_ms: int, limit: int, rate: int, stats: Path,
             scenario: Path = SCENARIO) -> dict[str, float]:
    """`calls` calls, at most `limit` at once, started at `rate` per second; sipp's own counts and set-up time.
    sipp runs in `stats`' folder (an in-band scenario finds its keys.pcap there)."""
    stats.unlink(missing_ok=True)
    timeout = max(60, calls * (hold_ms + 200) // 1000 // max(1, limit) + 60)
    subprocess.run(
        ["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-i", "127.0.0.1", "-p", "0", "-m", str(calls),
         "-l", str(limit), "-r", str(rate), "-d", str(hold_ms), "-key", "caller", CALLER, "-nostdin",
         "-timeout", f"{timeout}s", "-timeout_error", "-trace_stat", "-stf", str(stats), "-fd", "3600",
         "-max_recv_loops", "10000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=stats.parent,
    )
    rows = list(csv.reader(stats.open(), delimiter=";"))
    last = dict(zip(rows[0], rows[-1]))
    return {"ok": int(last["SuccessfulCall(C)"]), "failed": int(last["FailedCall(C)"]),
            "setup_ms": _ms(last["ResponseTime1(C)"])}


def _ms(value: str) -> float:
    h, m, s, us = (int(part) for part in value.split(":"))
    return ((h * 60 + m) * 60 + s) * 1000 + us / 1000


def measure(args: argparse.Namespace) -> int:
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian package sip-tester)", file=sys.stderr)
        return 2
    from firmware.snapshot import KdfParams
    from provisioning.snapshot_import import import_csv

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        import_csv(REPO / "examples" / "accounts.csv", state, params=KdfParams(n=2**10))
        box = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--state-dir", str(state), "--port", "0",
             "--max-calls", str(args.max_calls)] + (["--inband"] if args.inband else []),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            assert box.stdout is not None
            port = int(box.stdout.readline().split()[1])
            if args.inband:
                sys.path.insert(0, str(SIPP_DIR))
                from keys_pcap import SCENARIO as INBAND_SCENARIO, write_keys_pcap

                write_keys_pcap(Path(tmp), "8" + CODE)
                args.scenario, args.journal = INBAND_SCENARIO, state / "journal.db"
            _levels(args, box.pid, port, Path(tmp) / "stats.csv")
            if args.soak and not args.inband:
                _soak(args, box.pid, port, Path(tmp) / "soak.csv")
        finally:
            box.send_signal(signal.SIGTERM)
            box.wait(30)
    return 0


def _levels(args: argparse.Namespace, pid: int, port: int, stats: Path) -> None:
    what = ("in-band DTMF on, each call a whole reset with its keys as tones" if args.inband
            else f"calls held {args.hold_ms} ms")
    print(f"box: max_calls {args.max_calls}, {what}, pjsua2 workers {len(tree(pid)) - 1}, {os.cpu_count()} CPU(s)")
    print(f"{'calls at once':>13} {'completed':>9} {'failed':>6} {'set-up ms':>9} {'CPU s/call':>10}"
          + (f" {'resets':>6} {'call s':>6}" if args.inband else ""))
    for level in args.levels:
        cpu_before = cpu_s(tree(pid))
        since = time.time()
        if args.inband:  # a call lasts until the box hangs up after the second reading
            result = run_sipp(port, level, 0, level, 200, stats, args.scenario)
        else:
            result = run_sipp(port, level, args.hold_ms, level, 200, stats)
        per_call = (cpu_s(tree(pid)) - cpu_before) / max(1, result["ok"])
        row = f"{level:>13} {result['ok']:>9.0f} {result['failed']:>6.0f} {result['setup_ms']:>9.1f} {per_call:>10.3f}"
        if args.inband:
            outcomes = journalled(args.journal, since, min(level, args.max_calls))
            resets = [row for row in outcomes if row["outcome"] == "reset"]
            mean = sum(r["duration_s"] or 0.0 for r in resets) / max(1, len(resets))
            row += f" {len(resets):>6} {mean:>6.1f}"
        print(row)
        time.sleep(1.0)


def journalled(path: Path, since: float, count: int, timeout: float = 10.0) -> list[dict[str, object]]:
    """The calls the box journalled since `since` (waits up to `timeout` s for `count` of them)."""
    from firmware.journal import Journal

    deadline = time.monotonic() + timeout
    while True:
        with Journal.open(path, read_only=True) as journal:
            rows = [row for row in journal.calls(limit=500) if row["started_at"] >= since]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _soak(args: argparse.Namespace, pid: int, port: int, stats: Path) -> None:
    pids = tree(pid)
    start_rss, start_fds = rss_mb(pids), fds(pids)
    if args.warmup:  # pjlib's caching pools and the allocators grow to their working size, then stay there
        run_sipp(port, args.warmup, args.soak_hold_ms, 20, 50, stats)
        time.sleep(2.0)
    pids = tree(pid)
    rss, open_fds = rss_mb(pids), fds(pids)
    started = time.monotonic()
    result = run_sipp(port, args.soak, args.soak_hold_ms, 20, 50, stats)
    time.sleep(2.0)
    after = tree(pid)
    print(f"soak: {args.soak} calls (20 at once, held {args.soak_hold_ms} ms) in {time.monotonic() - started:.0f} s:"
          f" {result['ok']:.0f} completed, {result['failed']:.0f} failed, set-up {result['setup_ms']:.1f} ms")
    print(f"  before the {args.warmup}-call warm-up: RSS {start_rss:.1f} MB, open fds {start_fds}")
    print(f"  soak: RSS {rss:.1f} MB -> {rss_mb(after):.1f} MB ({rss_mb(after) - rss:+.1f}); "
          f"open fds {open_fds} -> {fds(after)} ({fds(after) - open_fds:+d}); processes {len(pids)} -> {len(after)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", help="calls at once, comma-separated (default 1,10,20,40)")
    parser.add_argument("--hold-ms", type=int, default=5000, help="how long each call listens (default 5000)")
    parser.add_argument("--soak", type=int, default=1000, help="calls in the leak soak (0: skip)")
    parser.add_argument("--soak-hold-ms", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=2000, help="calls before the soak's first reading (default 2000)")
    parser.add_argument("--max-calls", type=int, default=20, help="the line's max_calls (default 20)")
    parser.add_argument("--inband", action="store_true",
                        help="inband_dtmf = true; every call presses 8 and the code as tones (default levels 1,10,20)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    levels = args.levels or ("1,10,20" if args.inband else "1,10,20,40")
    args.levels = [int(level) for level in levels.split(",")]
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
