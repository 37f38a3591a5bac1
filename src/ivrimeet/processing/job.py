"""``process_recording``: the job that turns a stored recording into speakers, snippets, results.

Steps (each logged as ``job.step meeting=... step=... seconds=...``)::

    decode      audio/<meeting>/original.<ext> ──ffmpeg──▶ 16 kHz mono samples in memory
    diarize     pyannote pipeline ──▶ speech turns per speaker (overlaps kept)
    snippets    per speaker ≤ snippet_seconds of clean speech ──▶ snippets/<meeting>/<label>.ogg
                snippets of speakers no longer present are deleted
    voiceprints per speaker an L2-normalised SpeechBrain embedding; name suggested
                from known voiceprints by cosine similarity
    results     results/<meeting>/diarization.json and diarization.rttm

Idempotent: running it again for the same meeting overwrites the same keys,
so a retried or reprocessed job leaves exactly one set of results. The caller
(the worker, ``ivrimeet process``) owns the database rows and the status.

"Processing overhead" is the share of the job spent on storage I/O: the time
ffmpeg waited for the recording's bytes (its wall time minus its CPU time)
plus every store call the job makes, divided by the job's wall time
(``JobTimings.storage_share``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ivrimeet.errors import InvalidInputError
from ivrimeet.media.decode import SAMPLE_RATE, decode_recording
from ivrimeet.media.snippets import (
    Interval,
    SnippetFormat,
    SnippetPlan,
    Turn,
    clean_speech,
    encode,
    plan_snippets,
    render,
    snippet_format,
    speaking_seconds,
)
from ivrimeet.objects import ObjectStore
from ivrimeet.processing.rttm import RttmTurn, format_rttm
from ivrimeet.processing.voiceprints import (
    DEFAULT_MATCH_THRESHOLD,
    NamedVoiceprint,
    SpeakerEncoder,
    embed_speaker,
    suggest_name,
)

__all__ = [
    "JobTimings",
    "ProcessingResult",
    "Segment",
    "SpeakerResult",
    "process_recording",
    "results_json_key",
    "results_rttm_key",
    "snippet_prefix",
]

logger = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Segment:
    """One speech turn: ``speaker_label`` talks from ``start`` to ``end`` (seconds)."""

    start: float
    end: float
    speaker_label: str


@dataclass(frozen=True)
class SpeakerResult:
    """One speaker found in the recording.

    ``snippet_key`` is None only when the speaker has no audio long enough to
    encode; ``embedding`` is the L2-normalised voiceprint (empty in that case
    too); ``snippet_clean`` is False when the speaker is only heard over others.
    """

    label: str
    seconds: float
    snippet_key: str | None
    snippet_seconds: float
    snippet_clean: bool
    embedding: tuple[float, ...]
    suggested_name: str | None
    suggestion_similarity: float | None
    suggested_voiceprint_id: int | None = None


@dataclass(frozen=True)
class JobTimings:
    """Where the job's time went: seconds per step, in storage I/O, in all."""

    steps: tuple[tuple[str, float], ...]
    storage_seconds: float
    total_seconds: float

    @property
    def storage_share(self) -> float:
        """Processing overhead: storage I/O seconds ÷ total job seconds."""
        return self.storage_seconds / self.total_seconds if self.total_seconds > 0 else 0.0


@dataclass(frozen=True)
class ProcessingResult:
    """Everything the job produced for one meeting."""

    meeting_id: str
    recording_key: str
    duration_seconds: float
    speakers: tuple[SpeakerResult, ...]
    segments: tuple[Segment, ...]
    rttm_key: str
    json_key: str
    timings: JobTimings


def snippet_prefix(meeting_id: str) -> str:
    """Where a meeting's snippets live: ``snippets/<meeting>/``."""
    return f"snippets/{meeting_id}/"


def results_json_key(meeting_id: str) -> str:
    """``results/<meeting>/diarization.json``."""
    return f"results/{meeting_id}/diarization.json"


def results_rttm_key(meeting_id: str) -> str:
    """``results/<meeting>/diarization.rttm``."""
    return f"results/{meeting_id}/diarization.rttm"


@dataclass
class _Clock:
    """Step and storage stopwatches for one job."""

    meeting_id: str
    started: float = field(default_factory=time.monotonic)
    steps: list[tuple[str, float]] = field(default_factory=list)
    storage_seconds: float = 0.0

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        seconds = time.monotonic() - started
        self.steps.append((name, seconds))
        logger.info("job.step meeting=%s step=%s seconds=%.3f", self.meeting_id, name, seconds)

    def storage(self, call: Callable[[], _T]) -> _T:
        started = time.monotonic()
        try:
            return call()
        finally:
            self.storage_seconds += time.monotonic() - started

    def finish(self) -> JobTimings:
        return JobTimings(
            steps=tuple(self.steps),
            storage_seconds=self.storage_seconds,
            total_seconds=time.monotonic() - self.started,
        )


def process_recording(
    store: ObjectStore,
    *,
    meeting_id: str,
    recording_key: str,
    pipeline: Any,
    encoder: SpeakerEncoder,
    snippet_seconds: float,
    known_voiceprints: Sequence[NamedVoiceprint] = (),
    match_threshold: float = DEFAULT_MATCH_THRESHOLD,
    max_recording_seconds: float | None = None,
) -> ProcessingResult:
    """Decode, diarize, cut snippets, compute voiceprints and store results for one meeting.

    ``pipeline`` is a pyannote ``Pipeline`` and ``encoder`` a SpeechBrain
    ``EncoderClassifier`` (``ModelHolder.get()``). Raises ``ObjectNotFoundError``
    (no recording), ``UnsupportedMediaError`` (not decodable), ``SizeLimitError``
    (longer than ``max_recording_seconds``) and storage errors; a model failure
    propagates as the library raised it.
    """
    _check_id(meeting_id)
    clock = _Clock(meeting_id)
    logger.info("processing.start meeting=%s key=%s", meeting_id, recording_key)

    with clock.step("decode"):
        audio = decode_recording(store, recording_key, max_seconds=max_recording_seconds)
        clock.storage_seconds += audio.wait_seconds
    samples = audio.samples

    with clock.step("diarize"):
        turns = _diarize(pipeline, samples)
    labels = list(speaking_seconds(turns))

    with clock.step("snippets"):
        snippet = snippet_format()
        # Planned shorter by the codec's padding, so the snippet *plays* ≤ snippet_seconds.
        budget = max(snippet_seconds - snippet.padding_seconds, 0.0)
        plans = plan_snippets(turns, seconds=budget)
        snippet_keys = _store_snippets(store, clock, meeting_id, samples, plans, snippet)

    with clock.step("voiceprints"):
        speakers = _speakers(
            turns, labels, plans, snippet_keys, samples, encoder, known_voiceprints, match_threshold
        )

    segments = tuple(Segment(t.start, t.end, t.speaker) for t in turns)
    with clock.step("results"):
        json_key, rttm_key = _store_results(
            store, clock, meeting_id, recording_key, audio.duration_seconds, speakers, segments
        )

    timings = clock.finish()
    logger.info(
        "processing.done meeting=%s speakers=%d audio_seconds=%.2f seconds=%.3f "
        "storage_seconds=%.3f storage_share=%.3f",
        meeting_id,
        len(speakers),
        audio.duration_seconds,
        timings.total_seconds,
        timings.storage_seconds,
        timings.storage_share,
    )
    return ProcessingResult(
        meeting_id=meeting_id,
        recording_key=recording_key,
        duration_seconds=audio.duration_seconds,
        speakers=speakers,
        segments=segments,
        rttm_key=rttm_key,
        json_key=json_key,
        timings=timings,
    )


def _check_id(meeting_id: str) -> None:
    if not _SAFE_ID.match(meeting_id):
        raise InvalidInputError(
            f"Meeting id {meeting_id[:80]!r} cannot be used in object keys.",
            hints=[
                "use letters, digits, '-', '_' or '.' (up to 128), starting with a letter/digit"
            ],
        )


# --- diarization ------------------------------------------------------------------------


def _diarize(pipeline: Any, samples: npt.NDArray[np.float32]) -> list[Turn]:
    """Speech turns from the pipeline, sorted by start, with labels safe for object keys."""
    import torch

    waveform = torch.from_numpy(samples)[None, :]
    output = pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE})
    # pyannote.audio 4 returns a DiarizeOutput whose ``speaker_diarization`` keeps
    # overlapping turns (``exclusive_speaker_diarization`` drops them, which would
    # hide overlaps from snippet selection); a pipeline with ``legacy=True`` and
    # pyannote 3 return that Annotation itself.
    annotation = getattr(output, "speaker_diarization", output)
    raw = [
        (float(segment.start), float(segment.end), str(label))
        for segment, _, label in annotation.itertracks(yield_label=True)
    ]
    names = _key_safe_labels(label for _, _, label in raw)
    # pyannote's last sliding window is padded, so turns can run past the audio: clip them.
    duration = len(samples) / SAMPLE_RATE
    clipped = ((max(0.0, start), min(end, duration), label) for start, end, label in raw)
    turns = [Turn(start, end, names[label]) for start, end, label in clipped if end > start]
    turns.sort(key=lambda t: (t.start, t.end, t.speaker))
    return turns


def _key_safe_labels(labels: Iterator[str] | Sequence[str]) -> dict[str, str]:
    """pyannote's labels (``SPEAKER_00``) kept as they are; anything else renamed in order."""
    names: dict[str, str] = {}
    for label in labels:
        if label not in names:
            names[label] = label if _SAFE_ID.match(label) else f"SPEAKER_{len(names):02d}"
    return names


# --- snippets ---------------------------------------------------------------------------


def _store_snippets(
    store: ObjectStore,
    clock: _Clock,
    meeting_id: str,
    samples: npt.NDArray[np.float32],
    plans: dict[str, SnippetPlan],
    snippet: SnippetFormat,
) -> dict[str, str]:
    """Encode and upload each speaker's snippet, then delete snippets of vanished speakers."""
    prefix = snippet_prefix(meeting_id)
    keys: dict[str, str] = {}
    for label, plan in plans.items():
        audio = render(samples, SAMPLE_RATE, plan.pieces)
        if audio.size == 0:
            logger.warning("job.snippet_empty meeting=%s speaker=%s", meeting_id, label)
            continue
        if not plan.clean:
            logger.info("job.snippet_overlapped meeting=%s speaker=%s", meeting_id, label)
        data = encode(audio, SAMPLE_RATE, snippet)
        key = f"{prefix}{label}.{snippet.extension}"
        clock.storage(partial(store.put, key, data, content_type=snippet.content_type))
        keys[label] = key
    stale = [
        info.key
        for info in clock.storage(lambda: list(store.list(prefix)))
        if info.key not in keys.values()
    ]
    for key in stale:
        clock.storage(partial(store.delete, key))
    if stale:
        logger.info("job.snippets_removed meeting=%s count=%d", meeting_id, len(stale))
    return keys


# --- voiceprints ------------------------------------------------------------------------


def _speakers(
    turns: list[Turn],
    labels: list[str],
    plans: dict[str, SnippetPlan],
    snippet_keys: dict[str, str],
    samples: npt.NDArray[np.float32],
    encoder: SpeakerEncoder,
    known: Sequence[NamedVoiceprint],
    threshold: float,
) -> tuple[SpeakerResult, ...]:
    clean = clean_speech(turns)
    seconds = speaking_seconds(turns)
    results: list[SpeakerResult] = []
    for label in labels:
        speech = clean.get(label) or [Interval(t.start, t.end) for t in turns if t.speaker == label]
        embedding = embed_speaker(encoder, samples, SAMPLE_RATE, speech)
        suggestion = suggest_name(embedding, known, threshold)
        plan = plans[label]
        results.append(
            SpeakerResult(
                label=label,
                seconds=round(seconds[label], 3),
                snippet_key=snippet_keys.get(label),
                snippet_seconds=round(plan.seconds, 3) if label in snippet_keys else 0.0,
                snippet_clean=plan.clean,
                embedding=embedding,
                suggested_name=suggestion.name if suggestion else None,
                suggestion_similarity=round(suggestion.similarity, 4) if suggestion else None,
                suggested_voiceprint_id=suggestion.voiceprint_id if suggestion else None,
            )
        )
    return tuple(results)


# --- results ----------------------------------------------------------------------------


def _store_results(
    store: ObjectStore,
    clock: _Clock,
    meeting_id: str,
    recording_key: str,
    duration: float,
    speakers: tuple[SpeakerResult, ...],
    segments: tuple[Segment, ...],
) -> tuple[str, str]:
    document = {
        "format": "ivrimeet.diarization/1",
        "meeting_id": meeting_id,
        "recording_key": recording_key,
        "duration_seconds": round(duration, 3),
        "speakers": [asdict(speaker) for speaker in speakers],
        "segments": [
            {"start": round(s.start, 3), "end": round(s.end, 3), "speaker": s.speaker_label}
            for s in segments
        ],
    }
    rttm = format_rttm(
        RttmTurn(uri=meeting_id, start=s.start, duration=s.end - s.start, speaker=s.speaker_label)
        for s in segments
    )
    json_key, rttm_key = results_json_key(meeting_id), results_rttm_key(meeting_id)
    body = json.dumps(document, indent=1).encode()
    clock.storage(lambda: store.put(json_key, body, content_type="application/json"))
    clock.storage(lambda: store.put(rttm_key, rttm.encode(), content_type="text/plain"))
    return json_key, rttm_key
