"""`resetline dtmf FILE.wav`: print the DTMF digits heard in a recording, on one line.

A thin layer over `drivers.dtmf`: the file is read (any PCM/float/G.711 WAV, mixed to mono), resampled to
8 kHz when needed and decoded. Only the digits go to stdout, so scripts can compare them; errors go to stderr.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from drivers.dtmf import decode
from drivers.dtmf_wav import WavError, read_wav, resample

log = logging.getLogger(__name__)

RATE = 8000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `dtmf` to the root parser's subparsers."""
    parser = sub.add_parser(
        "dtmf", help="decode the DTMF digits in a WAV file",
        description="Print the DTMF digits (0-9 * # A-D) heard in FILE on one line. Reads PCM (8/16/24/32-bit), "
                    "float, A-law and mu-law WAV files at any rate (resampled to 8 kHz), mixing channels down.")
    parser.add_argument("wav", metavar="FILE.wav", type=Path, help="the recording to decode")
    parser.add_argument("--events", action="store_true",
                        help="print one line per press instead: key, start and end in seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Decode `args.wav`; 0 when the file was read (even with no digits in it), 1 when it could not be."""
    path: Path = args.wav
    try:
        audio = read_wav(path)
    except WavError as err:
        print(f"resetline dtmf: {path}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"resetline dtmf: {path}: {err.strerror or err}", file=sys.stderr)
        return 1
    log.info("%s: %s, %d channel(s), %d Hz, %.2f s", path, audio.coding, audio.channels, audio.rate,
             audio.duration)
    samples = audio.samples
    if audio.rate != RATE:
        if audio.rate < 4000:
            print(f"resetline dtmf: {path}: {audio.rate} Hz is too low a rate to carry DTMF", file=sys.stderr)
            return 1
        samples = resample(samples, audio.rate, RATE)
    events = decode(samples, RATE)
    if args.events:
        for event in events:
            print(f"{event.key} {event.start:.3f} {event.end:.3f}")
    else:
        print("".join(event.key for event in events))
    return 0

