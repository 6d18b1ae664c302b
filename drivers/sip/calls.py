"""pjsua2 call and player objects of one worker. Every method here runs on the worker's one pjsua2 thread.

The exception is `PromptPlayer.onEof2`, which pjmedia calls from its event thread: it only sets a flag, and the
worker's thread acts on it (`CallSlot.tick`), so no pjsua2 function is ever called from a thread we do not own.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import pjsua2 as pj

from .dtmf import KeyDeduper

log = logging.getLogger(__name__)

#: pjsua2's playlists take at most 64 files; longer playbacks are cut into playlists played one after another
PLAYLIST_MAX = 64
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

    def key(self, slot: "CallSlot", digit: str, method: int) -> None: ...


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
                self._slot.owner.media_ready(self._slot)
                return

    @guarded
    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802 — never onDtmfEvent too: pjsua2 calls both per press
        self._slot.owner.key(self._slot, str(prm.digit), int(prm.method))


class CallSlot:
    """One call in a worker: the pjsua2 call, its audio, its playback queue and its key de-duplication."""

    def __init__(self, owner: CallOwner, name: str, sip_call_id: str) -> None:
        self.owner = owner
        self.name = name
        self.sip_call_id = sip_call_id
        self.call: BoxCall | None = None
        self.audio: Any = None
        self.hung_up_here = False
        self.keys = KeyDeduper()
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

    # -- the call ----------------------------------------------------------------------------------------------------
    def answer(self) -> None:
        if self.call is not None:
            op = pj.CallOpParam()
            op.statusCode = 200
            self.call.answer(op)

    def hang_up(self) -> None:
        self.stop()
        self.hung_up_here = True
        if self.call is not None:
            op = pj.CallOpParam()
            op.statusCode = pj.PJSIP_SC_DECLINE  # used only if it was never answered; a BYE otherwise
            self.call.hangup(op)

    def accept_key(self, digit: str, method: int) -> bool:
        return self.keys.accept(digit, method, time.monotonic())
