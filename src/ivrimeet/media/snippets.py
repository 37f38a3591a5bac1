"""Speaker snippets: up to N seconds of a speaker's clean speech, joined and encoded for browsers.

Selection is pure logic over time intervals (``clean_speech``, ``select_pieces``,
``plan_snippets``); ``render`` cuts the pieces out of the decoded samples and
joins them with short fades; ``encode`` turns samples into Opus-in-Ogg (or MP3
when this ffmpeg has no ``libopus``) through pipes, never a file.

How a snippet is chosen for one speaker::

    turns (any speaker)  ──▶ clean speech: the parts of their turns where nobody else talks
                         ──▶ pieces ≥ min_piece_seconds, longest first (ties: earlier first)
                         ──▶ take whole pieces while they fit; cut the first that does not
                             (from its start) if what is left is ≥ min_piece_seconds
                         ──▶ back into time order

A speaker with only short clean pieces gets those (longest first); one with no
clean speech at all gets their overlapped turns, so every speaker can be heard.
"""

from __future__ import annotations

import logging
import math
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from ivrimeet.errors import UnsupportedMediaError
from ivrimeet.media.decode import find_tool

__all__ = [
    "DEFAULT_FADE_SECONDS",
    "DEFAULT_MIN_PIECE_SECONDS",
    "MP3",
    "OPUS",
    "Interval",
    "SnippetFormat",
    "SnippetPlan",
    "Turn",
    "clean_speech",
    "encode",
    "plan_snippets",
    "render",
    "select_pieces",
    "snippet_format",
    "speaking_seconds",
]

logger = logging.getLogger(__name__)

DEFAULT_FADE_SECONDS = 0.03
"""Fade in and out at each piece's edges, so joins do not click."""

DEFAULT_MIN_PIECE_SECONDS = 0.5
"""Pieces shorter than this are used only when a speaker has nothing longer."""

_EPSILON = 1e-9


@dataclass(frozen=True, order=True)
class Interval:
    """A stretch of time in seconds, ``start`` < ``end``."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Turn:
    """One speaker talking from ``start`` to ``end`` (a diarization segment)."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class SnippetPlan:
    """The pieces of one speaker's audio that make their snippet, in time order."""

    speaker: str
    pieces: tuple[Interval, ...]
    clean: bool
    """False when the speaker has no clean speech and the pieces overlap others."""

    @property
    def seconds(self) -> float:
        return sum(piece.duration for piece in self.pieces)


def clean_speech(turns: Iterable[Turn]) -> dict[str, list[Interval]]:
    """Per speaker, the time they speak while no other speaker does, as sorted disjoint intervals.

    A turn cut by someone else's overlapping turn yields the parts before and
    after the overlap. Adjacent or overlapping turns of the same speaker merge.
    """
    by_speaker: dict[str, list[Interval]] = {}
    for turn in turns:
        if turn.end - turn.start > _EPSILON:
            by_speaker.setdefault(turn.speaker, []).append(Interval(turn.start, turn.end))
    merged = {speaker: _merge(intervals) for speaker, intervals in by_speaker.items()}
    clean: dict[str, list[Interval]] = {}
    for speaker, own in merged.items():
        others = _merge(i for other, ivs in merged.items() if other != speaker for i in ivs)
        clean[speaker] = _subtract(own, others)
    return clean


def select_pieces(
    available: Sequence[Interval],
    *,
    seconds: float,
    min_piece_seconds: float = DEFAULT_MIN_PIECE_SECONDS,
) -> tuple[Interval, ...]:
    """Up to ``seconds`` of ``available``: longest first, the last cut to fit, in time order.

    Pieces under ``min_piece_seconds`` are skipped unless no piece is that long.
    """
    if seconds <= 0:
        return ()
    candidates = [piece for piece in available if piece.duration > _EPSILON]
    long_enough = [piece for piece in candidates if piece.duration >= min_piece_seconds]
    pool = long_enough or candidates
    pool.sort(key=lambda piece: (-piece.duration, piece.start))
    chosen: list[Interval] = []
    left = seconds
    for piece in pool:
        if left <= _EPSILON:
            break
        if piece.duration <= left + _EPSILON:
            chosen.append(piece)
            left -= piece.duration
        elif left >= min_piece_seconds or not chosen:
            chosen.append(Interval(piece.start, piece.start + left))
            left = 0.0
    return tuple(sorted(chosen))


def plan_snippets(
    turns: Sequence[Turn],
    *,
    seconds: float,
    min_piece_seconds: float = DEFAULT_MIN_PIECE_SECONDS,
) -> dict[str, SnippetPlan]:
    """A snippet plan for every speaker in ``turns`` (see the module docstring)."""
    clean = clean_speech(turns)
    plans: dict[str, SnippetPlan] = {}
    for speaker, intervals in clean.items():
        pieces = select_pieces(intervals, seconds=seconds, min_piece_seconds=min_piece_seconds)
        is_clean = bool(pieces)
        if not pieces:
            own = _merge(Interval(t.start, t.end) for t in turns if t.speaker == speaker)
            pieces = select_pieces(own, seconds=seconds, min_piece_seconds=min_piece_seconds)
        plans[speaker] = SnippetPlan(speaker=speaker, pieces=pieces, clean=is_clean)
    return plans


def render(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    pieces: Sequence[Interval],
    *,
    fade_seconds: float = DEFAULT_FADE_SECONDS,
) -> npt.NDArray[np.float32]:
    """The pieces cut out of ``samples`` and joined in order, each faded in and out.

    The result has exactly the pieces' samples (no gaps, no crossfade), so it is
    never longer than the plan. Pieces reaching past the audio are clipped.
    """
    parts: list[npt.NDArray[np.float32]] = []
    fade = max(1, round(fade_seconds * sample_rate))
    for piece in pieces:
        # Inward rounding: a snippet never holds more samples than its plan's seconds.
        first = max(0, math.ceil(piece.start * sample_rate - _EPSILON))
        last = min(len(samples), math.floor(piece.end * sample_rate + _EPSILON))
        if last <= first:
            continue
        part = samples[first:last].astype(np.float32, copy=True)
        ramp_length = min(fade, len(part) // 2)
        if ramp_length > 0:
            ramp = np.linspace(0.0, 1.0, ramp_length, endpoint=False, dtype=np.float32)
            part[:ramp_length] *= ramp
            part[-ramp_length:] *= ramp[::-1]
        parts.append(part)
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(parts)


# --- encoding -------------------------------------------------------------------------


@dataclass(frozen=True)
class SnippetFormat:
    """How snippets are encoded and stored."""

    extension: str
    content_type: str
    codec_args: tuple[str, ...]
    padding_seconds: float
    """What the encoder adds to the audio's length as players report it (pre-skip,
    encoder delay, last-frame padding): plan snippets this much shorter."""


# Measured with ffmpeg 5.1 at 16 kHz, ffprobe's duration minus the input's:
# Opus +6.5 ms (pre-skip), MP3 +84..96 ms (encoder delay and frame padding).
OPUS = SnippetFormat(
    "ogg",
    "audio/ogg",
    ("-c:a", "libopus", "-b:a", "32k", "-application", "voip", "-f", "ogg"),
    padding_seconds=0.01,
)
MP3 = SnippetFormat(
    "mp3", "audio/mpeg", ("-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"), padding_seconds=0.12
)


@cache
def snippet_format(ffmpeg: str = "ffmpeg") -> SnippetFormat:
    """Opus in Ogg when this ffmpeg has ``libopus`` (every current browser plays it), else MP3."""
    listing = subprocess.run(
        [find_tool(ffmpeg), "-hide_banner", "-encoders"], capture_output=True, check=False
    )
    encoders = listing.stdout.decode("utf-8", errors="replace")
    chosen = OPUS if " libopus " in encoders else MP3
    logger.info("media.snippet_format extension=%s", chosen.extension)
    return chosen


def encode(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    snippet: SnippetFormat,
    *,
    ffmpeg: str = "ffmpeg",
) -> bytes:
    """Encode mono float32 ``samples`` to ``snippet``'s format through ffmpeg's stdin/stdout."""
    args = [find_tool(ffmpeg), "-hide_banner", "-loglevel", "error", "-nostats"]
    args += ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0"]
    args += [*snippet.codec_args, "pipe:1"]
    pcm = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    result = subprocess.run(args, input=pcm, capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        reason = result.stderr.decode("utf-8", errors="replace").strip()[-300:]
        raise UnsupportedMediaError(
            f"ffmpeg could not encode a {snippet.extension} snippet.",
            details=[f"ffmpeg: {reason or 'no output'}"],
            hints=["check `ffmpeg -encoders` lists libopus or libmp3lame"],
        )
    return result.stdout


# --- interval arithmetic ----------------------------------------------------------------


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for current in sorted(intervals):
        if merged and current.start <= merged[-1].end + _EPSILON:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return merged


def _subtract(own: Sequence[Interval], others: Sequence[Interval]) -> list[Interval]:
    """``own`` minus ``others``; both sorted and disjoint."""
    result: list[Interval] = []
    index = 0
    for interval in own:
        start = interval.start
        while index < len(others) and others[index].end <= start:
            index += 1
        probe = index
        while probe < len(others) and others[probe].start < interval.end:
            blocker = others[probe]
            if blocker.start - start > _EPSILON:
                result.append(Interval(start, blocker.start))
            start = max(start, blocker.end)
            probe += 1
        if interval.end - start > _EPSILON:
            result.append(Interval(start, interval.end))
    return result


def speaking_seconds(turns: Iterable[Turn]) -> dict[str, float]:
    """Seconds each speaker talks (their own overlapping turns counted once), by speaker."""
    by_speaker: dict[str, list[Interval]] = {}
    for turn in turns:
        by_speaker.setdefault(turn.speaker, []).append(Interval(turn.start, turn.end))
    return {
        speaker: sum(i.duration for i in _merge(intervals))
        for speaker, intervals in by_speaker.items()
    }
