"""pjsua2 call and player objects of one worker. Every method here runs on the worker's one pjsua2 thread.

The exceptions are `PromptPlayer.onEof2` and `AudioTap.onFrameReceived` (in-band DTMF), which pjmedia calls from
its clock thread: one sets a flag, the other queues a frame, and the worker's thread acts on them (`CallSlot.tick`,
`CallSlot.heard`), so no pjsua2 function is ever called from a thread we do not own.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import pjsua2 as pj

from .dtmf import InbandKeys, InbandPress, KeyDeduper
from .tap import AudioTap, TapPool

log = logging.getLogger(__name__)

#: pjsua2's playlists take at most 64 files; longer playbacks are cut into playlists played one after another
PLAYLIST_MAX = 64
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


class PromptPlayer(pj.AudioMediaPlayer):  # type: ignore[misc]
    """A playlist that raises a flag at its end (PJMEDIA_FILE_NO_LOOP: silence after, never a replay)."""

    def __init__(self) -> None:
        super().__init__()
        self.ended = False

    def onEof2(self) -> None:  # noqa: N802 (pjsua2's name); pjmedia's event thread: a flag only
        self.ended = True


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
        """Called every turn of the worker's loop: move on when the current playlist has ended."""
        if self._player is not None and self._player.ended:
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
        player = PromptPlayer()
        try:
            player.createPlaylist(self._chunks.pop(0), "", pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(self.audio)
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
