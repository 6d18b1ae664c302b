"""Scores our DTMF receiver and multimon-ng on the corpus of `corpus.py`, side by side.

    .venv/bin/python bench/dtmf/score.py [--seed 1] [--items 40] [--speech-min 60] [--music-min 20]
    .venv/bin/python bench/dtmf/score.py --corpus DIR        # a corpus written by corpus.py
    .venv/bin/python bench/dtmf/score.py --no-peer           # ours only
    .venv/bin/python bench/dtmf/score.py --repeat 3          # time ours 3 times, keep the fastest

Digit error rate = (substitutions + deletions + insertions) / digits sent, from the minimum edit distance
between the sent and the reported digit strings of each item (so digits are aligned by order, not by time),
summed over the items of a condition. Reject conditions send tone bursts that must not be reported: every
reported digit counts, per burst sent. Talk-off counts every digit reported on speech, music and other signals,
per hour of that material. Speed is audio seconds per second of processing: ours in-process per second of CPU
time (whole files, and 20 ms blocks as the drivers feed them; CPU time, because this machine is shared and its
wall clock runs at whatever share the others leave; `--repeat N` keeps the fastest of N passes, as timeit does,
since other work only ever slows a pass down), multimon-ng as the wall time of one process over all the audio
(resampled to its 22050 Hz beforehand).
"""
from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

from drivers.dtmf import DtmfDetector, decode  # noqa: E402

PEER_RATE = 22050
SOX_TO_PEER = ["sox", "-R", "-V1", "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1", "-",
               "-t", "raw", "-r", str(PEER_RATE), "-e", "signed", "-b", "16", "-c", "1", "-"]
PEER = ["multimon-ng", "-q", "-c", "-a", "DTMF", "-t", "raw", "-"]


@dataclass
class Tally:
    sent: int = 0
    subs: int = 0
    dels: int = 0
    ins: int = 0
    items: int = 0
    seconds: float = 0.0
    bursts: int = 0
    wrong: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.subs + self.dels + self.ins

    def add(self, item: corpus.Item, got: str) -> None:
        s, d, i = edit_counts(item.sent, got)
        self.sent += len(item.sent)
        self.subs, self.dels, self.ins = self.subs + s, self.dels + d, self.ins + i
        self.items += 1
        self.seconds += item.seconds
        self.bursts += item.bursts
        if s + d + i:
            self.wrong.append(f"{item.name}: sent {item.sent or '-'} got {got or '-'}")


def edit_counts(sent: str, got: str) -> tuple[int, int, int]:
    """(substitutions, deletions, insertions) of a minimum edit-distance alignment of `got` to `sent`."""
    rows, cols = len(sent) + 1, len(got) + 1
    cost = np.zeros((rows, cols), dtype=np.int64)
    cost[:, 0] = np.arange(rows)
    cost[0, :] = np.arange(cols)
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i, j] = min(cost[i - 1, j - 1] + (sent[i - 1] != got[j - 1]), cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    s = d = n = 0
    i, j = rows - 1, cols - 1
    while i or j:  # walk back, preferring matches and substitutions
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (sent[i - 1] != got[j - 1]):
            s += sent[i - 1] != got[j - 1]
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            d, i = d + 1, i - 1
        else:
            n, j = n + 1, j - 1
    return s, d, n


def ours(items: list[corpus.Item]) -> tuple[list[str], float]:
    """Digits per item and the decoding CPU time (whole items, one `decode` each)."""
    out, spent = [], 0.0
    for item in items:
        start = time.process_time()
        events = decode(item.samples)
        spent += time.process_time() - start
        out.append("".join(e.key for e in events))
    return out, spent


def ours_streaming(items: list[corpus.Item], results: list[str], frame: int = 160) -> float:
    """CPU seconds to feed every item in 20 ms frames (as bytes), as the drivers do; the digits must be those of
    whole items (`results`)."""
    spent = 0.0
    for item, whole in zip(items, results):
        data = item.samples.astype("<i2").tobytes()
        start = time.process_time()
        detector = DtmfDetector()
        events = [e for at in range(0, len(data), 2 * frame) for e in detector.feed(data[at: at + 2 * frame])]
        events += detector.flush()
        spent += time.process_time() - start
        if "".join(e.key for e in events) != whole:
            raise SystemExit(f"{item.name}: 20 ms blocks gave other digits than the whole item")
    return spent


def _peer_one(item: corpus.Item) -> str:
    raw = subprocess.run(SOX_TO_PEER, input=item.samples.astype("<i2").tobytes(), capture_output=True,
                         check=True).stdout
    out = subprocess.run(PEER, input=raw, capture_output=True, check=True).stdout.decode()
    return "".join(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("DTMF:"))


def peer(items: list[corpus.Item], jobs: int) -> tuple[list[str], float]:
    """multimon-ng's digits per item, and its wall time over all the audio in one process."""
    with ThreadPoolExecutor(jobs) as pool:
        digits = list(pool.map(_peer_one, items))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "all.raw"
        audio = np.concatenate([item.samples for item in items]).astype("<i2").tobytes()
        raw.write_bytes(subprocess.run(SOX_TO_PEER, input=audio, capture_output=True, check=True).stdout)
        start = time.perf_counter()
        subprocess.run(["multimon-ng", "-q", "-n", "-c", "-a", "DTMF", "-t", "raw", str(raw)],
                       capture_output=True, check=True)
        spent = time.perf_counter() - start
    return digits, spent


def tally(items: list[corpus.Item], results: list[str]) -> dict[str, Tally]:
    by: dict[str, Tally] = collections.defaultdict(Tally)
    for item, got in zip(items, results):
        by[item.condition].add(item, got)
    return by


def _rate(t: Tally) -> str:
    return f"{100 * t.errors / t.sent:6.2f} % {t.subs:4d} {t.dels:4d} {t.ins:4d}" if t.sent else " " * 23


def report(items: list[corpus.Item], mine: dict[str, Tally], theirs: dict[str, Tally] | None) -> None:
    group = {item.condition: item.group for item in items}
    peer_head = "   multimon-ng err    S    D    I" if theirs else ""
    print(f"\n{'condition':16} {'group':9} {'digits':>6}   ours  err        S    D    I{peer_head}")
    pooled: dict[str, list[Tally]] = collections.defaultdict(lambda: [Tally(), Tally()])
    for name in corpus.CONDITIONS:
        if name not in mine or group[name] in ("reject", "talk-off"):
            continue
        row = f"{name:16} {group[name]:9} {mine[name].sent:6d}   {_rate(mine[name])}"
        print(row + (f"   {_rate(theirs[name])}" if theirs else ""))
        for k, source in enumerate((mine, theirs) if theirs else (mine,)):
            p = pooled[group[name]][k]
            t = source[name]
            p.sent, p.subs, p.dels, p.ins = p.sent + t.sent, p.subs + t.subs, p.dels + t.dels, p.ins + t.ins
    print()
    for g, (a, b) in pooled.items():
        print(f"{'all ' + g:26} {a.sent:6d}   {_rate(a)}" + (f"   {_rate(b)}" if theirs else ""))
    print(f"\n{'must NOT be reported':26} {'bursts':>6}   ours false reports" + ("   multimon-ng" if theirs else ""))
    for name in corpus.CONDITIONS:
        if name in mine and group[name] == "reject":
            line = f"{name:26} {mine[name].bursts:6d}   {mine[name].ins:6d}"
            print(line + (f"               {theirs[name].ins:6d}" if theirs else ""))
    peer_head = "   multimon-ng  per hour" if theirs else ""
    print(f"\n{'talk-off source':26} {'minutes':>7}  ours digits  per hour{peer_head}")
    for name, t in mine.items():
        if group[name] != "talk-off":
            continue
        hours = t.seconds / 3600
        line = f"{name:26} {t.seconds / 60:7.1f}  {t.ins:11d}  {t.ins / hours:8.1f}"
        if theirs:
            line += f"   {theirs[name].ins:11d}  {theirs[name].ins / hours:8.1f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description="DTMF receiver benchmark: ours and multimon-ng side by side")
    parser.add_argument("--corpus", type=Path, help="a corpus directory written by corpus.py (else generated)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--items", type=int, default=40, help="items per digit condition (10 keys each)")
    parser.add_argument("--speech-min", type=float, default=60.0)
    parser.add_argument("--music-min", type=float, default=20.0)
    parser.add_argument("--no-peer", action="store_true", help="skip multimon-ng")
    parser.add_argument("--jobs", type=int, default=2, help="multimon-ng processes in parallel")
    parser.add_argument("--show", action="store_true", help="list every item with an error")
    parser.add_argument("--repeat", type=int, default=1, help="time our receiver N times, keep the fastest")
    args = parser.parse_args()
    started = time.perf_counter()
    items = corpus.load(args.corpus) if args.corpus else corpus.build(
        args.seed, args.items, args.speech_min, args.music_min)
    total = sum(item.seconds for item in items)
    print(f"corpus: {len(items)} items, {total / 60:.1f} min of audio "
          f"({'loaded' if args.corpus else f'seed {args.seed}, built'} in {time.perf_counter() - started:.0f} s)")
    results, spent = ours(items)
    streaming = ours_streaming(items, results)
    for _ in range(args.repeat - 1):
        spent = min(spent, ours(items)[1])
        streaming = min(streaming, ours_streaming(items, results))
    mine = tally(items, results)
    theirs = None
    peer_spent = 0.0
    if not args.no_peer and shutil.which("multimon-ng") and shutil.which("sox"):
        peer_results, peer_spent = peer(items, args.jobs)
        theirs = tally(items, peer_results)
    report(items, mine, theirs)
    print(f"\nspeed over {total / 60:.1f} min: ours {total / spent:.0f}x real time (whole files), "
          f"{total / streaming:.0f}x (20 ms blocks), per CPU second"
          + (f", fastest of {args.repeat}" if args.repeat > 1 else "")
          + (f"; multimon-ng {total / peer_spent:.0f}x (one process, 22050 Hz raw)" if theirs else ""))
    if args.show:
        for name, t in mine.items():
            for line in t.wrong:
                print("ours", line)
        for name, t in (theirs or {}).items():
            for line in t.wrong:
                print("multimon-ng", line)


if __name__ == "__main__":
    main()
