"""``process_recording``: the job that turns a stored recording into speakers, snippets, results.

Steps (each logged as ``job.step meeting=... step=... seconds=...``)::

    decode      ffprobe: the duration the container declares, refused over the limit
                before anything is decoded; then audio/<meeting>/original.<ext>
                ──ffmpeg──▶ 16 kHz mono samples in memory (cut short → a warning)
    diarize     pyannote pipeline ──▶ speech turns per speaker (overlaps kept)
    snippets    per speaker ≤ snippet_seconds of clean speech
                ──▶ snippets/<meeting>/<run>/<label>.ogg
    voiceprints per speaker an L2-normalised SpeechBrain embedding; name suggested
                from known voiceprints by cosine similarity
    results     results/<meeting>/<run>/diarization.json and diarization.rttm

Fenced: the job writes only under keys of its own ``run`` (``run_keys``) and
deletes nothing, so a run racing another run of the same meeting cannot
damage it. ``fence`` is called before every write and between steps; the
worker's fence raises ``RunSupersededError`` once the run no longer owns the
meeting, which stops a superseded run early. The caller (the worker,
``ivrimeet process``) owns the database rows, the status, and removing the
objects of runs that lost (``run_keys.remove_run`` / ``remove_other_runs``).

"Processing overhead" is the share of the job spent on storage I/O: the time
ffmpeg waited for the recording's bytes (its wall time minus its CPU time)
plus every store call the job makes, divided by the job's wall time
(``JobTimings.storage_share``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ivrimeet.errors import InvalidInputError
from ivrimeet.media.decode import SAMPLE_RATE, decode_recording
from ivrimeet.media.duration import check_declared_duration, recording_warnings
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
from ivrimeet.processing.job_clock import JobClock, JobTimings
from ivrimeet.processing.progress import JobProgress
from ivrimeet.processing.rttm import RttmTurn, format_rttm
from ivrimeet.processing.run_keys import results_json_key, results_rttm_key, snippet_prefix
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
]

logger = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_T = TypeVar("_T")

Fence = Callable[[], None]
"""Raises (``RunSupersededError``) once the run may no longer write; see the module doc."""


def _unfenced() -> None:
    """``ivrimeet process`` runs alone, with no database to lose the meeting to."""


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
    warnings: tuple[str, ...] = ()
    """What the user should know about the recording (cut short, decoder errors)."""


def process_recording(
    store: ObjectStore,
    *,
    meeting_id: str,
    run: str,
    recording_key: str,
    pipeline: Any,
    encoder: SpeakerEncoder,
    snippet_seconds: float,
    known_voiceprints: Sequence[NamedVoiceprint] = (),
    match_threshold: float = DEFAULT_MATCH_THRESHOLD,
    max_recording_seconds: float | None = None,
    fence: Fence = _unfenced,
    progress: JobProgress | None = None,
) -> ProcessingResult:
    """Decode, diarize, cut snippets, compute voiceprints and store results for one meeting.

    ``pipeline`` is a pyannote ``Pipeline`` and ``encoder`` a SpeechBrain
    ``EncoderClassifier`` (``ModelHolder.get()``). Raises ``ObjectNotFoundError``
    (no recording), ``UnsupportedMediaError`` (not decodable), ``SizeLimitError``
    (longer than ``max_recording_seconds``) and storage errors; a model failure
    propagates as the library raised it, and whatever ``fence`` raises.
    ``progress`` hears each step start and the pipeline's batches (``JobProgress``).
    """
    _check_id(meeting_id)
    _check_id(run)
    clock = JobClock(meeting_id)
    progress = progress if progress is not None else JobProgress()
    logger.info("processing.start meeting=%s run=%s key=%s", meeting_id, run, recording_key)

    progress.enter("decode")
    with clock.step("decode"):
        declared = check_declared_duration(store, recording_key, max_seconds=max_recording_seconds)
        fence()
        audio = decode_recording(store, recording_key, max_seconds=max_recording_seconds)
        clock.storage_seconds += audio.wait_seconds
    samples = audio.samples
    warnings = recording_warnings(declared, audio)
    for warning in warnings:
        logger.warning("job.recording_warning meeting=%s warning=%r", meeting_id, warning)

    fence()
    progress.enter("diarize")
    with clock.step("diarize"):
        turns = _diarize(pipeline, samples, progress.diarization_hook())
    labels = list(speaking_seconds(turns))

    progress.enter("snippets")
    with clock.step("snippets"):
        snippet = snippet_format()
        # Planned shorter by the codec's padding, so the snippet *plays* ≤ snippet_seconds.
        budget = max(snippet_seconds - snippet.padding_seconds, 0.0)
        plans = plan_snippets(turns, seconds=budget)
        prefix = snippet_prefix(meeting_id, run)
        snippet_keys = _store_snippets(store, clock, prefix, fence, samples, plans, snippet)

    progress.enter("voiceprints")
    with clock.step("voiceprints"):
        speakers = _speakers(
            turns, labels, plans, snippet_keys, samples, encoder, known_voiceprints, match_threshold
        )

    segments = tuple(Segment(t.start, t.end, t.speaker) for t in turns)
    progress.enter("results")
    with clock.step("results"):
        document = _results_document(
            meeting_id, recording_key, audio.duration_seconds, speakers, segments, warnings
        )
        json_key, rttm_key = results_json_key(meeting_id, run), results_rttm_key(meeting_id, run)
        fence()
        clock.storage(partial(store.put, json_key, document, content_type="application/json"))
        rttm = _rttm(meeting_id, segments).encode()
        fence()
        clock.storage(partial(store.put, rttm_key, rttm, content_type="text/plain"))

    timings = clock.finish()
    progress.done()
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
        warnings=warnings,
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


def _diarize(
    pipeline: Any, samples: npt.NDArray[np.float32], hook: Callable[..., None]
) -> list[Turn]:
    """Speech turns from the pipeline, sorted by start, with labels safe for object keys."""
    import torch

    waveform = torch.from_numpy(samples)[None, :]
    output = pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, hook=hook)
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
    clock: JobClock,
    prefix: str,
    fence: Fence,
    samples: npt.NDArray[np.float32],
    plans: dict[str, SnippetPlan],
    snippet: SnippetFormat,
) -> dict[str, str]:
    """Encode and upload each speaker's snippet under the run's ``prefix``."""
    keys: dict[str, str] = {}
    for label, plan in plans.items():
        audio = render(samples, SAMPLE_RATE, plan.pieces)
        if audio.size == 0:
            logger.warning("job.snippet_empty prefix=%s speaker=%s", prefix, label)
            continue
        if not plan.clean:
            logger.info("job.snippet_overlapped prefix=%s speaker=%s", prefix, label)
        data = encode(audio, SAMPLE_RATE, snippet)
        key = f"{prefix}{label}.{snippet.extension}"
        fence()
        clock.storage(partial(store.put, key, data, content_type=snippet.content_type))
        keys[label] = key
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


def _results_document(
    meeting_id: str,
    recording_key: str,
    duration: float,
    speakers: tuple[SpeakerResult, ...],
    segments: tuple[Segment, ...],
    warnings: tuple[str, ...],
) -> bytes:
    document = {
        "format": "ivrimeet.diarization/1",
        "meeting_id": meeting_id,
        "recording_key": recording_key,
        "duration_seconds": round(duration, 3),
        "warnings": list(warnings),
        "speakers": [asdict(speaker) for speaker in speakers],
        "segments": [
            {"start": round(s.start, 3), "end": round(s.end, 3), "speaker": s.speaker_label}
            for s in segments
        ],
    }
    return json.dumps(document, indent=1).encode()


def _rttm(meeting_id: str, segments: tuple[Segment, ...]) -> str:
    return format_rttm(
        RttmTurn(uri=meeting_id, start=s.start, duration=s.end - s.start, speaker=s.speaker_label)
        for s in segments
    )
