"""When does a pjsua2 playlist report its end, against when its last audio passes the conference bridge?

Plays prompt files through an `AudioMediaPlayer` playlist into an `AudioTap` on the bridge (null audio device,
8 kHz, as the SIP worker does) and prints, per playlist: the files' length, when `onEof2` fired, when the last loud
frame reached the tap, and how many loud 20 ms frames arrived after `onEof2` (up to the files' own end). Frames after it are audio a caller
loses when the end callback is taken as "the playback finished" (docs/dialer.md, Findings).

    python bench/playlist_eof.py [PROMPT_ID ...]      (default: a few prompts that end a playback on the box)
"""
from __future__ import annotations

import array
import math
import sys
import time
from pathlib import Path
from typing import Any

import pjsua2 as pj

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.sip.tap import AudioTap  # noqa: E402
from voice_prompts.catalog import PromptCatalog  # noqa: E402

DEFAULT = (["d4"], ["new_password", "d4"], ["repeat", "d2", "pause_char", "d8"], ["goodbye"], ["ask_code"])


class Player(pj.AudioMediaPlayer):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.eof_at: float | None = None

    def onEof2(self) -> None:  # noqa: N802
        if self.eof_at is None:
            self.eof_at = time.monotonic()


def loud(frame: bytes) -> bool:
    samples = array.array("h", frame)
    return bool(samples) and math.sqrt(sum(s * s for s in samples) / len(samples)) > 100


def endpoint() -> Any:
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
    cfg.medConfig.hasIoqueue = False
    cfg.medConfig.threadCnt = 0
    cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = 8000
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    ep.libStart()
    return ep


def measure(ep: Any, catalog: PromptCatalog, ids: list[str]) -> str:
    tap = AudioTap()
    tap.open("probe")
    player = Player()
    files = pj.StringVector()
    for prompt_id in ids:
        files.append(str(catalog.path(prompt_id)))
    player.createPlaylist(files, "probe", pj.PJMEDIA_FILE_NO_LOOP)
    player.startTransmit(tap)
    length = sum(catalog.duration(prompt_id) for prompt_id in ids)
    started, frames = time.monotonic(), []
    while time.monotonic() - started < length + 1.0:
        ep.libHandleEvents(10)
        frames += tap.drain()
    player.stopTransmit(tap)
    # only up to the files' own end (+ 60 ms of bridge latency): past it a NO_LOOP playlist may start over
    end = started + length + 0.06
    last = max((t for t, data in frames if loud(data) and t <= end), default=started)
    eof = player.eof_at or float("nan")
    after = sum(1 for t, data in frames if eof < t <= end and loud(data))
    return (f"{'+'.join(ids):32} {length:7.3f} {eof - started:8.3f} {last - started:10.3f} {after:6d} "
            f"({after * 20} ms)")


def main() -> int:
    catalog = PromptCatalog.load()
    playlists = [arg.split("+") for arg in sys.argv[1:]] or [list(ids) for ids in DEFAULT]
    ep = endpoint()
    print(f"{'playlist':32} {'files s':>7} {'onEof2 s':>8} {'last loud':>10} {'loud frames after onEof2':>26}")
    try:
        for ids in playlists:
            print(measure(ep, catalog, ids), flush=True)
    finally:
        ep.libDestroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
