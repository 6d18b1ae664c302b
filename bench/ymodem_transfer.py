"""YMODEM uploads into the console's receiver from lrzsz's `sb`, over a pseudo-terminal cable.

    python bench/ymodem_transfer.py [--mb 20] [--paced-kb 256]

1. Unpaced (as fast as the pty goes): our receiver's throughput and CPU for a --mb file, 128-byte blocks (`sb`,
   picocom's usual --send-cmd) and 1K blocks (`sb -k`).
2. Paced at 115200 8N1 (11520 bytes/s each way, no adapter latency): a --paced-kb file, both block sizes, the rate
   reached and what that means for a 50 MB snapshot (an extrapolation from the measured rate).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import serial  # noqa: E402
from serial_cable import Cable  # noqa: E402

from provisioning.console.incoming import IncomingFiles, incoming_dir  # noqa: E402
from provisioning.console.ymodem_port import pump  # noqa: E402
from provisioning.console.ymodem_receiver import Receiver  # noqa: E402

WIRE_BYTES_PER_S = 115200 / 10  # 8N1: ten bits a byte


def paced(direction: str, chunk: bytes) -> bytes:
    time.sleep(len(chunk) / WIRE_BYTES_PER_S)
    return chunk


def transfer(size: int, extra: list[str], pace: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = os.urandom(size)
        (work / "snap.db").write_bytes(data)
        cable = Cable(work / "tty", tap=paced if pace else None)
        sb = subprocess.Popen(["sb", *extra, "snap.db"], stdin=cable.laptop_fd, stdout=cable.laptop_fd,
                              stderr=subprocess.DEVNULL, cwd=work)
        port = serial.serial_for_url(str(cable.box_path), timeout=0.05)
        sink = IncomingFiles(incoming_dir(work / "state"), time.monotonic)
        cpu, start = time.process_time(), time.monotonic()
        pump(port, Receiver(10**10), sink.handle)
        elapsed, cpu = time.monotonic() - start, time.process_time() - cpu
        sb.wait(30)
        port.close()
        cable.close()
        assert sink.failure is None and (work / "state" / "incoming" / "snap.db").read_bytes() == data
        return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--paced-kb", type=float, default=256.0)
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    print(f"unpaced pty, {args.mb:g} MB (CPU = this process: receiver + the cable's relay thread)")
    for label, extra in (("sb (128-byte blocks)", []), ("sb -k (1K blocks)", ["-k"])):
        elapsed, cpu = transfer(size, extra, pace=False)
        print(f"  {label:<22} {elapsed:6.2f} s  {size / elapsed / 1e6:6.2f} MB/s  CPU {cpu:5.2f} s "
              f"({cpu / (size / 1e6) * 1000:.0f} ms per MB)")
    size = int(args.paced_kb * 1000)
    print(f"paced at 115200 8N1 ({WIRE_BYTES_PER_S:.0f} B/s each way), {args.paced_kb:g} kB")
    for label, extra in (("sb (128-byte blocks)", []), ("sb -k (1K blocks)", ["-k"])):
        elapsed, _ = transfer(size, extra, pace=True)
        rate = size / elapsed
        print(f"  {label:<22} {elapsed:6.2f} s  {rate:7.0f} B/s  ({100 * rate / WIRE_BYTES_PER_S:4.1f} % of the "
              f"wire)  -> a 50 MB snapshot: {50e6 / rate / 60:5.1f} min")


if __name__ == "__main__":
    main()
