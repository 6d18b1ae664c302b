"""What the box said: the prompts found in a recording of a call, by matching it against the box's own prompt files.

Sans-I/O: audio (8 kHz, int16 units) in, `Heard` events out; no SIP, no files (`from_catalog` reads the WAVs once).
The dialer (`resetline dial`) uses it after each call; `bench/recognition.py` measures it through G.711 and noise.

How: both the recording and every prompt become log band energies (24 bands, 150-3600 Hz, 10 ms hop). The
recording is cut where sound starts after silence (an onset); at each onset every prompt is tried, its first
sounding frame put on the onset (± a few frames), and scored by the normalised cross-correlation of the two
band-energy matrices. A constant gain is a constant in the log domain, which the correlation removes (level
changes); G.711 and moderate noise barely move log energies of speech. A long prompt is compared in windows that
may slip a frame or two (a jitter buffer dropping or stretching a frame), and it ends where its windows stop
agreeing: a prompt cut short by a key (barge-in) is reported `cut`. The best score wins; the search goes on from
the end of what was matched.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice_prompts.catalog import PromptCatalog
from voice_prompts.formats import read_pcm

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

RATE = 8000
HOP = 80  # 10 ms
WINDOW = 256  # 32 ms
BANDS = 24
BAND_EDGES_HZ = (150.0, 3600.0)
FLOOR_DB = 45.0  # band energies are clipped this far below the signal's own loud level (noise, digital silence)
ACTIVE_DB = 35.0  # a frame sounds when its energy is within this of the loud level (and above the noise floor)
NOISE_MARGIN_DB = 8.0
QUIET_MARGIN_DB = 4.0  # a frame this close to the noise floor is the line's own quiet
SHIFTS = range(-12, 13)  # frames a template may sit away from the detected onset (soft onsets differ)
MATCH_MIN = 0.6  # below this best score a sound is "unknown"
WALK_FRAMES = 30  # window of the extent walk (300 ms), ...
WALK_STEP = 10  # ... moved 100 ms at a time
WALK_OK = 0.4  # a window agrees at this correlation or more
MIN_CUT_S = 0.4  # a prompt cut shorter than this is not claimed
TAIL_FRAMES = 20
MIN_UNKNOWN_FRAMES = 8  # an unknown sound shorter than 80 ms is not reported
LOUD_DB = 20.0  # a prompt frame within this of the prompt's loud level clearly sounds
STAND_OUT_DB = 15.0  # ... and only where it would stand this far above the line's noise
RESUME_FRAMES = 20  # after a quiet run, this much of the prompt is compared to tell a dropout from a stop
RESUME_OK = 0.7
CONTINUES_OK = 0.85  # the rest of a password character after a gap (short: chance agreement is higher)
STOP_RUN = 2  # frames of a quiet line where the prompt sounds: its playback was stopped
CUT_GAP = 4  # frames of quiet that end a short prompt's sound (a stopped playback may be followed 40 ms later
#              by the next prompt)
CUT_MIN_PART = 1 / 3  # a password character cut shorter than this part of it is not claimed, ...
CUT_MIN_FRAMES = 8  # ... nor one heard for less than 80 ms
LONGER_TIE = 0.03  # a prompt that explains more of the sound wins unless another scores this much better
AMBIGUOUS = 0.03  # a character heard in part is named only if no other scores within this
PART_MIN = 0.8  # ... and must score at least this (a scrap at the end of a call matches anything a little)
CUT_MARGIN = 0.05  # a heard part must score this much better than the whole to be called cut


@dataclass(frozen=True)
class Heard:
    """One prompt found in the recording (`prompt` None: a sound that matches none)."""

    prompt: str | None
    start_s: float
    end_s: float
    score: float
    cut: bool = False


@dataclass(frozen=True)
class _Line:
    """The recording being searched."""

    bands: Floats
    active: Mask  # sounding frames (onsets)
    quiet: Mask  # frames at the line's own floor: nothing playing
    stand_out: float  # a prompt frame this loud relative to its loud level would be well above the line's noise


@dataclass(frozen=True)
class _Template:
    id: str
    bands: Floats  # frames x BANDS, dB, floored
    lead: int  # first sounding frame
    frames: int
    level: Floats  # each frame's energy relative to the prompt's loud level, dB


def _band_matrix() -> Floats:
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / RATE)
    low, high = BAND_EDGES_HZ
    edges = np.geomspace(low, high, BANDS + 1)
    matrix = np.zeros((len(freqs), BANDS))
    for band in range(BANDS):
        matrix[(freqs >= edges[band]) & (freqs < edges[band + 1]), band] = 1.0
    return matrix


_BANDS = _band_matrix()
_HANN = np.hanning(WINDOW)


def band_energies(samples: npt.ArrayLike) -> tuple[Floats, Floats]:
    """(frames x BANDS band energies in dB, frame energy in dB) of 8 kHz audio in int16 units."""
    x = np.asarray(samples, dtype=np.float64) / 32768.0
    if len(x) < WINDOW:
        x = np.concatenate([x, np.zeros(WINDOW - len(x))])
    count = 1 + (len(x) - WINDOW) // HOP
    index = np.arange(WINDOW)[None, :] + HOP * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(x[index] * _HANN, axis=1)) ** 2
    bands = 10.0 * np.log10(spectrum @ _BANDS + 1e-12)
    energy = 10.0 * np.log10(spectrum.sum(axis=1) + 1e-12)
    return bands, energy


def _loud_level(energy: Floats) -> float:
    return float(np.percentile(energy, 98)) if len(energy) else 0.0


def _ncc(a: Floats, b: Floats) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0


def _better(rank: float, extent: int, best_rank: float, best_extent: int) -> bool:
    """Whether a candidate beats the best so far: by score, but one that explains more of the sound (a whole
    sentence against a shorter prompt that starts with the same words) wins unless the other is LONGER_TIE better."""
    if extent > best_extent:
        return rank > best_rank - LONGER_TIE
    if extent < best_extent:
        return rank > best_rank + LONGER_TIE
    return rank > best_rank


class Recogniser:
    """Finds prompts of a fixed set in recordings; build it once (`from_catalog`), call `recognise` per call."""

    def __init__(self, prompts: Mapping[str, npt.ArrayLike]) -> None:
        self._templates = [self._template(pid, audio) for pid, audio in prompts.items()]
        if not self._templates:
            raise ValueError("a recogniser needs at least one prompt")

    @classmethod
    def from_catalog(cls, catalog: PromptCatalog, sets: Iterable[str] = ("flow", "units")) -> Recogniser:
        wanted = set(sets)
        audio = {pid: np.frombuffer(read_pcm(catalog.path(pid)), dtype="<i2")
                 for pid in catalog.ids() if catalog.prompt(pid).set in wanted}
        return cls(audio)

    @property
    def prompt_ids(self) -> list[str]:
        return [t.id for t in self._templates]

    @staticmethod
    def _template(prompt_id: str, audio: npt.ArrayLike) -> _Template:
        bands, energy = band_energies(audio)
        loud = _loud_level(energy)
        sounding = np.flatnonzero(energy > loud - ACTIVE_DB)
        lead = int(sounding[0]) if len(sounding) else 0
        return _Template(prompt_id, np.maximum(bands, bands.max() - FLOOR_DB), lead, len(bands), energy - loud)

    def recognise(self, samples: npt.ArrayLike) -> list[Heard]:
        """Every prompt heard in `samples` (8 kHz, int16 units), in order, with start and end in seconds."""
        bands, energy = band_energies(samples)
        if not len(energy):
            return []
        loud = _loud_level(energy)
        noise = float(np.percentile(energy, 10))
        active = energy > max(loud - ACTIVE_DB, noise + NOISE_MARGIN_DB)
        line = _Line(np.maximum(bands, bands.max() - FLOOR_DB), active,
                     energy < max(loud - ACTIVE_DB, noise + QUIET_MARGIN_DB),
                     max(-LOUD_DB, noise + STAND_OUT_DB - loud))
        heard: list[Heard] = []
        position = 0
        while True:
            onsets = np.flatnonzero(active[position:])
            if not len(onsets):
                return heard
            onset = position + int(onsets[0])
            found = self._best(line, onset, position)
            if found is None:  # an unknown sound ends at the first 40 ms of quiet: the next prompt may follow soon
                end = self._sound_end(active, onset) + 1
                if end - onset >= MIN_UNKNOWN_FRAMES:  # shorter: a click, or the last scrap of a stopped prompt
                    heard.append(Heard(None, onset * HOP / RATE, end * HOP / RATE, 0.0))
            else:
                template, start, end, score, part, sure = found
                cut = part or end < start + template.frames - WALK_STEP
                heard.append(Heard(template.id if sure else None, max(start, 0) * HOP / RATE, end * HOP / RATE,
                                   round(score, 3), cut))
                end = max(end, onset + 1)
            position = self._quiet_from(active, end)

    def _best(self, line: _Line, onset: int, earliest: int) -> tuple[_Template, int, int, float, bool, bool] | None:
        """The best prompt at `onset`: (template, start, end, score, a part only, sure). A password character
        heard only in part is not named (not sure) when another character's part scores within AMBIGUOUS of it."""
        sound_end = self._sound_end(line.active, onset)
        found: list[tuple[float, int, _Template, int, int, float, bool]] = []
        best: tuple[float, int, _Template, int, int, float, bool] | None = None
        for template in self._templates:
            match = self._match(template, line, onset, sound_end, earliest)
            if match is None:
                continue
            start, end, score, penalty = match
            covered = int(line.active[start:end].sum())  # sounding frames explained (quiet ones explain nothing)
            candidate = (score - penalty, covered, template, start, end, score, penalty > 0)
            found.append(candidate)
            if best is None or _better(candidate[0], covered, best[0], best[1]):
                best = candidate
        if best is None or best[5] < MATCH_MIN:
            return None
        rank, _, template, start, end, score, part = best
        sure = not part or all(other[2] is template or other[0] < rank - AMBIGUOUS for other in found)
        return template, start, end, score, part, sure

    def _match(self, template: _Template, line: _Line, onset: int, sound_end: int, earliest: int
               ) -> tuple[int, int, float, float] | None:
        """(start frame, end frame, score, penalty) of `template` placed at `onset`, or None when it does not fit.
        A short template whose sound stops early in the recording (`sound_end`: a playback stopped before its last
        frames went out: the line is quiet where the prompt still sounds, and what follows is not the prompt's
        rest) is also scored on the part that was heard, when that part is at least a third of it; such
        a part competes with the other prompts CUT_MARGIN lower (a short part matches by chance more easily)."""
        scored: list[tuple[float, int]] = []
        # the first 300 ms of sound choose the shift, and no more than the line's sound when it stops sooner
        head = min(template.frames, template.lead + WALK_FRAMES,
                   max(CUT_MIN_FRAMES, sound_end - onset + 1 + template.lead))
        for shift in SHIFTS:
            start = onset - template.lead + shift
            if start < earliest or start + head > len(line.bands):  # never back into what was matched before
                continue
            scored.append((_ncc(template.bands[:head], line.bands[start:start + head]), start))
        if not scored:
            return None
        _, start = max(scored)
        if template.frames <= 2 * WALK_FRAMES:
            return self._short(template, line, start, sound_end)
        walked = self._walk(template, line, start)
        return None if walked is None else (*walked, 0.0)

    def _short(self, template: _Template, line: _Line, start: int, sound_end: int
               ) -> tuple[int, int, float, float] | None:
        """A password character (or a short sentence) scored whole, or on the part heard when it was stopped."""
        length = min(template.frames, len(line.bands) - start)
        if length < template.frames and length * HOP / RATE < MIN_CUT_S:
            return None
        whole = _ncc(template.bands[:length], line.bands[start:start + length])
        heard = sound_end - start + 1
        if heard >= max(CUT_MIN_FRAMES, template.frames * CUT_MIN_PART) and heard < length - 1 \
                and self._stopped_at(template, line, start, max(0, heard - 2), CUT_GAP + 3) is not None \
                and not self._continues(template, line, start, heard):
            part = _ncc(template.bands[:heard], line.bands[start:start + heard])
            if part > whole + CUT_MARGIN and part >= PART_MIN:
                return start, start + heard, part, CUT_MARGIN
        return start, start + length, whole, 0.0

    def _walk(self, template: _Template, line: _Line, start: int) -> tuple[int, int, float] | None:
        """Follow a long template window by window (allowing a frame or two of slip) until it stops agreeing, or
        until the line goes quiet where the prompt clearly sounds (its playback was stopped: barge-in)."""
        slip, matched, checked = 0, 0, 0
        scores: list[float] = []
        for offset in range(0, template.frames - WALK_STEP, WALK_STEP):
            size = min(WALK_FRAMES, template.frames - offset)
            first = max(offset, checked)
            stopped = self._stopped_at(template, line, start + slip, first, offset + size - first)
            while stopped is not None and self._resumes(template, line, start + slip, stopped):
                checked = stopped + STOP_RUN  # a dropout (a frame lost on the way), not a stop: look on after it
                stopped = self._stopped_at(template, line, start + slip, checked, offset + size - checked)
            checked = max(checked, offset + size)
            if stopped is not None:
                if stopped > offset:
                    at = start + slip
                    scores.append(_ncc(template.bands[offset:stopped], line.bands[at + offset:at + stopped])
                                  if stopped - offset > 2 else scores[-1] if scores else 0.0)
                    matched = stopped
                break
            mine = template.bands[offset:offset + size]
            tries = []
            for extra in (0, -1, 1, -2, 2):
                at = start + offset + slip + extra
                if 0 <= at and at + size <= len(line.bands):
                    tries.append((_ncc(mine, line.bands[at:at + size]), slip + extra))
            if not tries:
                break
            score, new_slip = max(tries)
            if score < WALK_OK and mine.std() > 1.0:
                break
            slip = new_slip
            scores.append(score)
            matched = offset + size
        if not scores or (matched < template.frames - WALK_STEP and matched * HOP / RATE < MIN_CUT_S):
            return None
        return start, start + matched + slip, float(np.mean(scores))

    @staticmethod
    def _continues(template: _Template, line: _Line, at: int, heard: int) -> bool:
        """Whether the rest of a short prompt follows a quiet gap after its first `heard` frames (a pause inside
        the word, not a stopped playback)."""
        sounding = np.flatnonzero(template.level > -LOUD_DB)
        rest = template.bands[heard + CUT_GAP:int(sounding[-1]) + 1 if len(sounding) else 0]
        if len(rest) < CUT_GAP or rest.std() <= 1.0:
            return False
        for extra in range(-CUT_GAP, CUT_GAP + 1):
            begin = at + heard + CUT_GAP + extra
            if 0 <= begin and begin + len(rest) <= len(line.bands) and \
                    _ncc(rest, line.bands[begin:begin + len(rest)]) >= CONTINUES_OK:
                return True
        return False

    @staticmethod
    def _resumes(template: _Template, line: _Line, at: int, stopped: int) -> bool:
        """Whether the prompt goes on after a quiet run at template frame `stopped` (line frame at + stopped): the
        200 ms after it agree with the template a little later or earlier (frames lost or concealed in transit)."""
        first = stopped + STOP_RUN + 3
        mine = template.bands[first:first + RESUME_FRAMES]
        if len(mine) < RESUME_FRAMES // 2 or mine.std() <= 1.0:
            return False
        for extra in range(-6, 3):
            begin = at + first + extra
            if 0 <= begin and begin + len(mine) <= len(line.bands) and \
                    _ncc(mine, line.bands[begin:begin + len(mine)]) >= RESUME_OK:
                return True
        return False

    @staticmethod
    def _stopped_at(template: _Template, line: _Line, at: int, offset: int, size: int) -> int | None:
        """The first template frame in [offset, offset + size) from which the prompt sounds for STOP_RUN frames
        while the line (template frame k at line frame at + k) is quiet for them; None when there is none."""
        end = min(offset + size, len(line.quiet) - at, template.frames)
        if end <= offset:
            return None
        silenced = (template.level[offset:end] > line.stand_out) & line.quiet[at + offset:at + end]
        run = 0
        for index, value in enumerate(silenced):
            run = run + 1 if value else 0
            if run == STOP_RUN:
                return offset + index - STOP_RUN + 1
        return None

    @staticmethod
    def _quiet_from(active: npt.NDArray[np.bool_], end: int) -> int:
        """The first quiet frame at or after `end` (a prompt's own last frames may still sound: its tail and
        pad), looking at most TAIL_FRAMES on; prompts are always at least 50 ms apart (their pads)."""
        for index in range(end, min(end + TAIL_FRAMES, len(active))):
            if not active[index]:
                return index
        return end

    @staticmethod
    def _sound_end(active: npt.NDArray[np.bool_], onset: int) -> int:
        """The last sounding frame before the first quiet run of CUT_GAP frames after `onset`."""
        quiet = 0
        for index in range(onset, len(active)):
            quiet = 0 if active[index] else quiet + 1
            if quiet >= CUT_GAP:
                return index - CUT_GAP
        return len(active) - 1
