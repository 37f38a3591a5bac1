"""Voiceprint matching on synthetic embeddings: the closest known voice above the threshold wins."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ivrimeet.processing.voiceprints import (
    NamedVoiceprint,
    cosine_similarity,
    normalise,
    suggest_name,
)

DIM = 16


def _voice(seed: int) -> tuple[float, ...]:
    return normalise(np.random.default_rng(seed).normal(size=DIM))


def _near(voice: tuple[float, ...], noise: float, seed: int) -> tuple[float, ...]:
    jitter = np.random.default_rng(seed).normal(scale=noise, size=DIM)
    return normalise(np.asarray(voice) + jitter)


def test_normalised_embedding_has_unit_length_and_keeps_its_direction() -> None:
    vector = normalise([3.0, 4.0])

    assert vector == pytest.approx((0.6, 0.8))
    assert math.hypot(*vector) == pytest.approx(1.0)


@pytest.mark.parametrize("vector", [[0.0, 0.0], [], [float("nan"), 1.0]])
def test_zero_empty_or_nan_embedding_normalises_to_nothing(vector: list[float]) -> None:
    assert normalise(vector) == ()


def test_cosine_similarity_is_one_for_the_same_direction_and_minus_one_for_opposite() -> None:
    assert cosine_similarity([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert cosine_similarity([1, 0], [-1, 0]) == pytest.approx(-1.0)
    assert cosine_similarity([1, 0], [0, 1]) == pytest.approx(0.0)


def test_cosine_similarity_of_different_sizes_is_an_error() -> None:
    with pytest.raises(ValueError, match="different sizes"):
        cosine_similarity([1, 0], [1, 0, 0])


def test_known_voice_heard_again_gets_its_name_suggested() -> None:
    ada, grace = _voice(1), _voice(2)
    known = [NamedVoiceprint("Ada", ada), NamedVoiceprint("Grace", grace)]

    suggestion = suggest_name(_near(grace, 0.05, seed=9), known, threshold=0.5)

    assert suggestion is not None
    assert suggestion.name == "Grace"
    assert suggestion.similarity > 0.9


def test_unknown_voice_gets_no_suggestion() -> None:
    known = [NamedVoiceprint("Ada", _voice(1)), NamedVoiceprint("Grace", _voice(2))]

    assert suggest_name(_voice(3), known, threshold=0.5) is None


def test_threshold_decides_between_suggesting_and_not() -> None:
    ada = _voice(1)
    heard = _near(ada, 0.3, seed=4)
    similarity = cosine_similarity(heard, ada)

    assert suggest_name(heard, [NamedVoiceprint("Ada", ada)], threshold=similarity - 0.01)
    assert suggest_name(heard, [NamedVoiceprint("Ada", ada)], threshold=similarity + 0.01) is None


def test_closest_of_several_matching_voices_wins() -> None:
    ada = _voice(1)
    close, closer = _near(ada, 0.4, seed=5), _near(ada, 0.05, seed=6)
    known = [NamedVoiceprint("Ada's sister", close), NamedVoiceprint("Ada", closer)]

    suggestion = suggest_name(ada, known, threshold=0.3)

    assert suggestion is not None
    assert suggestion.name == "Ada"
    assert suggestion.similarity == pytest.approx(cosine_similarity(ada, closer))


def test_name_with_several_voiceprints_counts_by_its_best_match() -> None:
    ada = _voice(1)
    known = [
        NamedVoiceprint("Ada", _voice(11)),  # an old, unlike recording
        NamedVoiceprint("Grace", _near(ada, 0.5, seed=7)),
        NamedVoiceprint("Ada", _near(ada, 0.05, seed=8)),
    ]

    assert suggest_name(ada, known, threshold=0.5).name == "Ada"  # type: ignore[union-attr]


def test_voiceprints_from_another_encoder_size_are_ignored() -> None:
    ada = _voice(1)
    known = [NamedVoiceprint("Old model", (*ada, 0.0)), NamedVoiceprint("Ada", ada)]

    assert suggest_name(ada, known, threshold=0.5).name == "Ada"  # type: ignore[union-attr]
    assert suggest_name(ada, known[:1], threshold=0.5) is None


def test_empty_embedding_or_no_known_voices_suggests_nothing() -> None:
    assert suggest_name((), [NamedVoiceprint("Ada", _voice(1))]) is None
    assert suggest_name(_voice(1), []) is None
