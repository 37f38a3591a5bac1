"""Voiceprints: one speaker embedding per speaker, and names suggested by cosine similarity.

A voiceprint is the SpeechBrain encoder's embedding of up to
``VOICEPRINT_SECONDS`` of the speaker's clean speech (longest turns first,
the same choice as for snippets), L2-normalised so that cosine similarity is a
dot product. When a user names a speaker, the meeting layer keeps that
voiceprint with the name (``NamedVoiceprint``); in later meetings
``suggest_name`` offers the name of the most similar known voice if it is
similar enough.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ivrimeet.media.snippets import Interval, render, select_pieces

__all__ = [
    "DEFAULT_MATCH_THRESHOLD",
    "MIN_EMBEDDING_SECONDS",
    "VOICEPRINT_SECONDS",
    "NamedVoiceprint",
    "SpeakerEncoder",
    "Suggestion",
    "cosine_similarity",
    "embed_speaker",
    "normalise",
    "suggest_name",
]

logger = logging.getLogger(__name__)

DEFAULT_MATCH_THRESHOLD = 0.5
"""Cosine similarity from which a known voice's name is suggested (ECAPA: same-speaker
pairs mostly score above 0.5, different speakers mostly below 0.3)."""

VOICEPRINT_SECONDS = 60.0
"""At most this much clean speech goes into one embedding (more adds compute, not accuracy)."""

MIN_EMBEDDING_SECONDS = 1.0
"""Shorter speech is repeated up to this length: the encoder's convolutions need frames."""


class SpeakerEncoder(Protocol):
    """What is used of ``speechbrain.inference.speaker.EncoderClassifier``."""

    def encode_batch(self, wavs: object, wav_lens: object = None) -> object:
        """Embeddings of a (batch, time) float tensor of 16 kHz audio: (batch, 1, dimension)."""
        ...


@dataclass(frozen=True)
class NamedVoiceprint:
    """A voiceprint a user put a name on (in an earlier meeting)."""

    name: str
    embedding: tuple[float, ...]
    # Its row in the database, so a suggestion can point at it (None outside the service).
    voiceprint_id: int | None = None


@dataclass(frozen=True)
class Suggestion:
    """The name of the most similar known voice and how similar it is (cosine, -1..1)."""

    name: str
    similarity: float
    voiceprint_id: int | None = None


def normalise(vector: Sequence[float] | npt.NDArray[np.floating]) -> tuple[float, ...]:
    """``vector`` scaled to length 1; an all-zero or non-finite vector becomes ``()``."""
    array = np.asarray(vector, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(array))
    if array.size == 0 or not math.isfinite(norm) or norm == 0.0:
        return ()
    return tuple(float(x) for x in array / norm)


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of the angle between ``a`` and ``b``; ``ValueError`` if their sizes differ."""
    left = np.asarray(a, dtype=np.float64)
    right = np.asarray(b, dtype=np.float64)
    if left.shape != right.shape:
        raise ValueError(f"embeddings of different sizes: {left.size} and {right.size}")
    denominator = float(np.linalg.norm(left) * np.linalg.norm(right))
    if denominator == 0.0:
        return 0.0
    return float(np.dot(left, right) / denominator)


def suggest_name(
    embedding: Sequence[float],
    known: Sequence[NamedVoiceprint],
    threshold: float = DEFAULT_MATCH_THRESHOLD,
) -> Suggestion | None:
    """The name of the known voiceprint most similar to ``embedding``, if at least ``threshold``.

    Voiceprints of another size (made by a different encoder model) are
    ignored, as are empty ones. Several voiceprints with the same name count by
    their best match.
    """
    if not embedding:
        return None
    best: Suggestion | None = None
    skipped = 0
    for voiceprint in known:
        if len(voiceprint.embedding) != len(embedding):
            skipped += 1
            continue
        similarity = cosine_similarity(embedding, voiceprint.embedding)
        if best is None or similarity > best.similarity:
            best = Suggestion(voiceprint.name, similarity, voiceprint.voiceprint_id)
    if skipped:
        logger.debug("voiceprint.skipped count=%d reason=dimension", skipped)
    if best is None or best.similarity < threshold:
        return None
    return best


def embed_speaker(
    encoder: SpeakerEncoder,
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    speech: Sequence[Interval],
    *,
    seconds: float = VOICEPRINT_SECONDS,
) -> tuple[float, ...]:
    """The L2-normalised embedding of up to ``seconds`` of ``speech`` (longest pieces first).

    The pieces are joined into one waveform and encoded at once; ``()`` when
    there is no audio in ``speech``.
    """
    import torch

    audio = render(samples, sample_rate, select_pieces(speech, seconds=seconds), fade_seconds=0.01)
    if audio.size == 0:
        return ()
    minimum = int(MIN_EMBEDDING_SECONDS * sample_rate)
    if audio.size < minimum:
        audio = np.resize(audio, minimum)
    with torch.inference_mode():
        output = encoder.encode_batch(torch.from_numpy(np.ascontiguousarray(audio))[None, :])
    assert isinstance(output, torch.Tensor)
    return normalise(output.detach().cpu().numpy())
