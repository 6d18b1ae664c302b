"""When does the SIP worker report a playback finished, against when its last audio passes the conference bridge?

Plays prompt files the way the SIP worker does (`drivers.sip.calls.CallSlot.play`, its `tick` every 10 ms turn) into
an `AudioTap` on the bridge (null audio device, 8 kHz) and prints, per playlist: the files' length, when pjmedia's
`onEof2` fired (nan: not before "played"), when the worker reported the playback finished ("played") and stopped
the player, the last loud frame, the milliseconds of the files' audio (all, and in loud 20 ms frames) that never
reached the tap (compared sample by sample) had the playback been cut at `onEof2` and as it was cut at "played", and
loud audio received after the files' own end (a playlist left transmitting replays its last read-ahead buffer).
docs/sip.md, "End of a playback".

    python bench/playlist_eof.py [--before] [PROMPT_ID[+PROMPT_ID...] ...]   (default: prompts that end a playback)

`--before` plays them the way the worker did before the fix (no silence pad, finished at `onEof2`).
"""
from __future__ import annotations

import array
import math
import sys
import time
import wave
from pathlib import Path
from typing import Any

import pjsua2 as pj

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.sip import calls  # noqa: E402
from drivers.sip.tap import AudioTap  # noqa: E402
from voice_prompts.catalog import PromptCatalog  # noqa: E402

DEFAULT = (["d4"], ["new_password", "d4"], ["repeat", "d2", "pause_char", "d8"], ["goodbye"], ["ask_code"])
FRAME_BYTES = 320  # 20 ms at 8 kHz 16-bit
BRIDGE_S = 0.06  # a frame read by the bridge reaches the tap within this (its clock tick and ours)


class Player(calls.PromptPlayer):
    """The worker's player, noting when pjmedia's EOF came."""

    eof_at: float | None = None

    def onEof2(self) -> None:  # noqa: N802
        if self.eof_at is None:
            self.eof_at = time.monotonic()
        super().onEof2()


class OldPlayer(Player):
    """The worker's player before the fix: no silence pad, finished at EOF."""

    def start(self, files: Any, to: Any) -> None:
        self.createPlaylist(list(files), "", pj.PJMEDIA_FILE_NO_LOOP)
        self.startTransmit(to)

    def done(self, now: float) -> bool:
        return self.ended


def loud(frame: bytes) -> bool:
    samples = array.array("h", frame)
    return bool(samples) and math.sqrt(sum(s * s for s in samples) / len(samples)) > 100


def files_audio(paths: list[str]) -> bytes:
    out = b""
    for path in paths:
        with wave.open(path, "rb") as wav:
            out += wav.readframes(wav.getnframes())
    return out


def missing_ms(files: bytes, received: bytes) -> tuple[int, int]:
    """Milliseconds of the files' audio, all and loud only, that did not reach the tap: the bridge passes one source to
    one sink unchanged, so the files' first loud 100 ms are found in what was received and every 20 ms frame of the
    files is compared at that offset."""
    first = next(i for i in range(0, len(files) - FRAME_BYTES, 2) if loud(files[i:i + FRAME_BYTES]))
    at = received.find(files[first:first + 1600]) - first
    if at + first < 0:
        return -1, -1
    lost = lost_loud = 0
    for i in range(0, len(files), FRAME_BYTES):
        want = files[i:i + FRAME_BYTES]
        if at + i < 0 or received[at + i:at + i + len(want)] != want:
            lost += len(want)
            lost_loud += len(want) if loud(want) else 0
    return lost // 16, lost_loud // 16


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


def measure(ep: Any, tap: AudioTap, catalog: PromptCatalog, ids: list[str]) -> str:
    paths = [str(catalog.path(prompt_id)) for prompt_id in ids]
    length = sum(calls.wav_seconds(p) for p in paths)
    slot = calls.CallSlot(None, "probe", "probe")  # type: ignore[arg-type]  # no owner: no tap, no keys
    slot.audio = tap
    played: list[float] = []
    calls.PromptPlayer = OldPlayer if BEFORE else Player  # type: ignore[misc]
    tap.drain()
    slot.play(paths, 1)
    started = time.monotonic()
    player = slot._player
    frames = []
    while not played and time.monotonic() - started < length + 2.0:
        ep.libHandleEvents(calls_turn_ms)
        slot.tick(lambda token: played.append(time.monotonic()))
        frames += tap.drain()
    slot.stop()
    stop = time.monotonic()
    while time.monotonic() - stop < BRIDGE_S:  # frames already on their way to the tap
        ep.libHandleEvents(calls_turn_ms)
    frames += [f for f in tap.drain() if f[0] <= stop + BRIDGE_S]
    eof = getattr(player, "eof_at", None) or float("nan")
    done = played[0] if played else float("nan")
    end = started + length + BRIDGE_S
    last = max((t for t, data in frames if loud(data) and t <= end), default=started)
    files = files_audio(paths)
    heard = missing_ms(files, b"".join(data for _, data in frames))
    before_eof = missing_ms(files, b"".join(data for t, data in frames if t <= eof))
    replay = sum(1 for t, data in frames if t > end and loud(data))
    cut_at_eof = "-" if math.isnan(eof) else f"{before_eof[0]:7d} {before_eof[1]:5d}"  # "-": no EOF before "played"
    return (f"{'+'.join(ids):26} {length:6.3f} {eof - started:7.3f} {done - started:7.3f} {last - started:7.3f} "
            f"{cut_at_eof:>13} {heard[0]:9d} {heard[1]:5d} {replay * 20:9d}")


calls_turn_ms = 10  # drivers/sip/worker.py TURN_MS
BEFORE = "--before" in sys.argv


def main() -> int:
    catalog = PromptCatalog.load()
    playlists = [arg.split("+") for arg in sys.argv[1:] if arg != "--before"] or [list(ids) for ids in DEFAULT]
    ep = endpoint()
    tap = AudioTap()
    tap.open("probe")
    tap.active = True
    print(f"{'playlist':26} {'files':>6} {'onEof2':>7} {'played':>7} {'last':>7} {'if cut at EOF':>13} "
          f"{'lost at played':>14} {'replayed':>9}")
    print(f"{'':26} {'s':>6} {'s':>7} {'s':>7} {'loud s':>7} {'ms, loud ms':>13} {'ms, loud ms':>14} {'loud ms':>9}")
    try:
        for ids in playlists:
            print(measure(ep, tap, catalog, ids), flush=True)
    finally:
        tap.active = False
        ep.audDevManager().setNoDev()  # stop the bridge's clock before the tap goes
        del tap
        ep.libDestroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
