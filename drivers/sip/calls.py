"""pjsua2 call and player objects of one worker. Every method here runs on the worker's one pjsua2 thread.

The exceptions are `PromptPlayer.onEof2` and `AudioTap.onFrameReceived` (in-band DTMF), which pjmedia calls from
its clock thread: one sets a flag, the other queues a frame, and the worker's thread acts on them (`CallSlot.tick`,
`CallSlot.heard`), so no pjsua2 function is ever called from a thread we do not own.
"""
from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import stat
import tempfile
import time
import wave
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import pjsua2 as pj

from .dtmf import InbandKeys, InbandPress, KeyDeduper
from .tap import AudioTap, TapPool

log = logging.getLogger(__name__)

#: pjsua2's playlists take at most 64 files, one of them our silence pad; longer playbacks are cut into playlists
#: played one after another
PLAYLIST_MAX = 63
#: a playlist is reported finished this long after its audio's end (from `startTransmit`): the bridge reads the
#: player in its next clock tick (up to 20 ms later) and the worker sees the time in its next turn (10 ms); measured
#: with bench/playlist_eof.py (docs/sip.md, "End of a playback")
FINISH_MARGIN_S = 0.03
#: silence after every playlist's files, never played in full: pjmedia's playlist loses the audio around its EOF
#: read (PJMEDIA_FILE_PORT_BUFSIZE = 4000 bytes of read-ahead, plus one 20 ms frame), so that must fall in the pad
PAD_S = 0.3
#: an in-band call's jitter-buffer counters are read this often (seconds)
JITTER_SAMPLE_S = 1.0
_F = TypeVar("_F", bound=Callable[..., None])


def guarded(method: _F) -> _F:
    """For callbacks pjsua2 makes from C++: an exception must not unwind into pjsua2 (a thread's top, in effect)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except Exception:
            log.exception("pjsua2 callback %s failed", method.__name__)

    return wrapper  # type: ignore[return-value]


class CallOwner(Protocol):
    """What a call tells the worker that owns it."""

    def call_state(self, slot: "CallSlot", info: Any) -> None: ...

    def media_ready(self, slot: "CallSlot") -> None: ...

    def key(self, slot: "CallSlot", digit: str, method: int, start: float, end: float) -> None: ...

    @property
    def taps(self) -> TapPool: ...


@functools.lru_cache(maxsize=1024)
def _wav_seconds(path: str, mtime_ns: int, size: int) -> float:
    with wave.open(path, "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def wav_seconds(path: str) -> float:
    """A WAV file's length in seconds, cached per path (and its mtime and size: a re-rendered prompt is read again).
    0.0, logged, when the file cannot be read: pjmedia's own checks then decide whether it plays."""
    try:
        st = os.stat(path)
        return _wav_seconds(path, st.st_mtime_ns, st.st_size)
    except (OSError, EOFError, wave.Error) as exc:
        log.error("cannot read the length of %s: %s", path, exc)
        return 0.0


_pads: dict[int, str] = {}


def silence_pad(rate: int) -> str:
    """A WAV of PAD_S seconds of silence (mono 16-bit at `rate`) in one folder per user under the temporary
    directory, shared by every worker and run (a worker killed by a signal leaves nothing behind), written again if
    it has gone meanwhile (a box runs for weeks; /tmp is cleaned). Written to a temporary name, then renamed."""
    path = _pads.get(rate)
    if path is not None and os.path.exists(path):
        return path
    folder = _pad_folder()
    path = os.path.join(folder, f"silence-{rate}.wav")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with wave.open(tmp, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(b"\0\0" * int(rate * PAD_S))
        os.replace(tmp, path)
    _pads[rate] = path
    return path


def _pad_folder() -> str:
    """`<tmp>/resetline-pad-<uid>`, 0700 and ours; if someone else holds that name, a private folder of our own."""
    folder = os.path.join(tempfile.gettempdir(), f"resetline-pad-{os.getuid()}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700:
        return folder
    private = tempfile.mkdtemp(prefix="resetline-pad-")
    atexit.register(shutil.rmtree, private, True)
    return private


def wav_rate(path: str) -> int:
    try:
        with wave.open(path, "rb") as wav:
            return int(wav.getframerate())
    except (OSError, EOFError, wave.Error):
        return 8000  # pjmedia refuses the playlist itself if the files disagree


class PromptPlayer(pj.AudioMediaPlayer):  # type: ignore[misc]
    """A playlist that is over once its files' audio has been sent to the bridge.

    pjmedia's EOF callback (`onEof2`) cannot say that: the playlist reads ahead (PJMEDIA_FILE_PORT_BUFSIZE, 4000
    bytes = 250 ms at 8 kHz 16-bit) and the callback comes with the read that reaches the last file's end, up to
    250 ms before the bridge has taken the last frame. Worse, the frame that makes that read is dropped, and when
    it straddles the read-ahead buffer's end so is everything after it, and past the end the playlist replays its
    last buffer (pjmedia/src/pjmedia/wav_playlist.c). So every playlist ends with PAD_S of silence, which takes
    all of that, and the playback is over at `due`: the files' own length after `startTransmit`, plus a margin.
    `ended` (EOF) only says so when a file's length could not be read."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.ended = False
        self.seconds = seconds  # the files' length, without the pad
        self.due = 0.0  # monotonic time when the files' last frame has been sent (set at startTransmit)

    def onEof2(self) -> None:  # noqa: N802 (pjsua2's name); pjmedia's event thread: a flag only
        self.ended = True

    def start(self, files: Sequence[str], to: Any) -> None:
        try:
            pad = [silence_pad(wav_rate(files[0]))]
        except OSError as exc:  # no writable temporary folder: the end of the audio may be lost, but it plays
            log.error("cannot write the silence pad: %s", exc)
            pad = []
        self.createPlaylist([*files, *pad], "", pj.PJMEDIA_FILE_NO_LOOP)
        self.startTransmit(to)  # the bridge reads the first frame in its next clock tick
        self.due = time.monotonic() + self.seconds + FINISH_MARGIN_S

    def done(self, now: float) -> bool:
        if self.seconds <= 0:  # the files' length is unknown: pjmedia's EOF is all there is
            return self.ended
        return now >= self.due


class BoxCall(pj.Call):  # type: ignore[misc]
    """The pjsua2 call; forwards its callbacks to the worker through `CallSlot`."""

    def __init__(self, account: Any, call_id: int, slot: "CallSlot") -> None:
        super().__init__(account, call_id)
        self._slot = slot

    @guarded
    def onCallState(self, prm: Any) -> None:  # noqa: N802
        self._slot.owner.call_state(self._slot, self.getInfo())

    @guarded
    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self._slot.audio = self.getAudioMedia(index)
                self._slot.media_index = index
                self._slot.owner.media_ready(self._slot)
                return

    @guarded
    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802 — never onDtmfEvent too: pjsua2 calls both per press
        now = time.monotonic()
        self._slot.owner.key(self._slot, str(prm.digit), int(prm.method), now, now)


class CallSlot:
    """One call in a worker: the pjsua2 call, its audio, its playback queue, its in-band tap and its keys."""

    def __init__(self, owner: CallOwner, name: str, sip_call_id: str, inband: InbandKeys | None = None) -> None:
        self.owner = owner
        self.name = name
        self.sip_call_id = sip_call_id
        self.call: BoxCall | None = None
        self.audio: Any = None
        self.media_index = -1
        self.hung_up_here = False
        self.keys = KeyDeduper()
        self.inband = inband
        self._tap: AudioTap | None = None
        self.jitter_seen = ""  # `jitter()` as last sampled (the stream is gone by the time the call has ended)
        self._frame_s = 0.0  # the received codec's frame length: the jitter buffer counts in frames
        self._jitter_at = 0.0
        self._tapped: Any = None  # the call's AudioMedia that transmits to the tap
        self._player: PromptPlayer | None = None
        self._chunks: list[list[str]] = []
        self._token: int | None = None

    # -- playback ----------------------------------------------------------------------------------------------------
    def play(self, files: Sequence[str], token: int) -> None:
        self.stop()
        self._chunks = [list(files[i:i + PLAYLIST_MAX]) for i in range(0, len(files), PLAYLIST_MAX)]
        self._token = token
        if self.audio is not None:
            self._next(None)

    def media_ready(self) -> None:
        if self._token is not None and self._player is None:
            self._next(None)

    def tick(self, played: Callable[[int], None]) -> None:
        """Called every turn of the worker's loop: move on when the current playlist's audio has been sent."""
        if self._player is not None and self._player.done(time.monotonic()):
            self._drop_player()
            self._next(played)

    def stop(self) -> None:
        """Stop at once; no "played" follows. Stops transmitting before the player is destroyed."""
        self._chunks, self._token = [], None
        self._drop_player()

    def _next(self, played: Callable[[int], None] | None) -> None:
        if not self._chunks:
            token, self._token = self._token, None
            if token is not None and played is not None:
                played(token)
            return
        files = self._chunks.pop(0)
        player = PromptPlayer(sum(wav_seconds(f) for f in files))
        try:
            player.start(files, self.audio)
        except pj.Error as exc:
            log.error("call %s: cannot play prompts: %s", self.name, exc.info())
            self._chunks = []
            self._next(played)  # report the playback as finished: the call flow must not wait forever
            return
        self._player = player

    def _drop_player(self) -> None:
        player, self._player = self._player, None
        if player is None:
            return
        try:
            if self.audio is not None:
                player.stopTransmit(self.audio)
        except pj.Error:
            pass  # the call's media is already gone; the player is destroyed below all the same
        del player  # the last reference: pjsua2 destroys the player here, on this thread

    # -- in-band DTMF ------------------------------------------------------------------------------------------------
    def open_tap(self) -> None:
        """Once media flows (and again if a re-INVITE gives the call another bridge port): the call's audio to a tap
        lent by the worker's pool."""
        audio = self.audio
        if self.inband is None or audio is None:
            return
        if self._tap is not None and self._tapped is not None and self._tapped.getPortId() == audio.getPortId():
            return
        self.close_tap()
        try:
            tap = self.owner.taps.take()
        except pj.Error as exc:
            log.error("call %s: cannot listen for in-band DTMF: %s", self.name, exc.info())
            return
        try:
            audio.startTransmit(tap)
        except pj.Error as exc:
            log.error("call %s: cannot listen for in-band DTMF: %s", self.name, exc.info())
            self.owner.taps.give_back(tap)
            return
        self._tap, self._tapped = tap, audio
        try:
            self._frame_s = self.call.getStreamInfo(self.media_index).audCodecParam.info.frameLen / 1000.0 \
                if self.call is not None and self.media_index >= 0 else 0.0
        except pj.Error:
            self._frame_s = 0.0

    def buffered_s(self) -> float:
        """Seconds of received audio waiting in the call's jitter buffer now (0 when unknown): the audio reaching
        the tap is that much older than its arrival time there."""
        if self.call is None or self.media_index < 0 or not self._frame_s:
            return 0.0
        try:
            return int(self.call.getStreamStat(self.media_index).jbuf.size) * self._frame_s
        except pj.Error:
            return 0.0

    def jitter(self) -> str:
        """The call's receive jitter buffer so far (in-band calls log it: an empty buffer inserts silence into the
        tones, a discard removes audio), or "" when pjsua2 has no stream for the call."""
        if self.call is None or self.media_index < 0:
            return ""
        try:
            jb = self.call.getStreamStat(self.media_index).jbuf
        except pj.Error:
            return ""
        return (f"jitter buffer: prefetch {jb.prefetch} frames ({jb.minPrefetch}-{jb.maxPrefetch}), delay "
                f"{jb.avgDelayMsec}/{jb.maxDelayMsec} ms, {jb.empty} empty, {jb.lost} lost, {jb.discard} discarded")

    def heard(self) -> list[InbandPress]:
        """The in-band presses that ended in the audio received since the last turn (the worker's thread)."""
        if self._tap is None or self.inband is None:
            return []
        if self._tap.failures:
            log.error("call %s: %d in-band audio frame(s) lost in the tap", self.name, self._tap.failures)
            self._tap.failures = 0
        frames = self._tap.drain()
        if frames and frames[-1][0] - self._jitter_at >= JITTER_SAMPLE_S:
            self._jitter_at = frames[-1][0]
            self.jitter_seen = self.jitter() or self.jitter_seen
        presses = self.inband.feed(frames)
        if presses:  # when the tones came off the network: the bridge hears them after the jitter buffer
            late = self.buffered_s()
            presses = [InbandPress(p.key, p.start - late, p.end - late) for p in presses]
        return presses

    def close_tap(self) -> None:
        """Stop transmitting to the tap and give it back to the worker's pool (never destroyed here: see
        drivers/sip/tap.py). After a far-end BYE pjsua has already removed the call's bridge port (and its
        connections) before onCallState(DISCONNECTED): stopTransmit then fails, harmlessly."""
        tap, tapped, self._tap, self._tapped = self._tap, self._tapped, None, None
        if tap is None:
            return
        tap.active = False
        try:
            tapped.stopTransmit(tap)
        except pj.Error:
            pass  # the call's media is already gone
        self.owner.taps.give_back(tap)

    # -- the call ----------------------------------------------------------------------------------------------------
    def answer(self) -> None:
        if self.call is not None:
            op = pj.CallOpParam()
            op.statusCode = 200
            self.call.answer(op)

    def hang_up(self) -> None:
        if self.inband is not None:
            self.jitter_seen = self.jitter() or self.jitter_seen
        self.stop()
        self.close_tap()
        self.hung_up_here = True
        if self.call is not None:
            op = pj.CallOpParam()
            op.statusCode = pj.PJSIP_SC_DECLINE  # used only if it was never answered; a BYE otherwise
            self.call.hangup(op)

    def accept_key(self, digit: str, method: int, start: float, end: float) -> bool:
        return self.keys.accept(digit, method, start, end)
