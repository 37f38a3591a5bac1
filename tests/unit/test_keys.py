"""Object keys are validated before any I/O: hostile keys never reach a backend."""

from __future__ import annotations

import pytest

from ivrimeet.errors import InvalidKeyError
from ivrimeet.objects import MAX_KEY_BYTES, validate_key, validate_prefix


@pytest.mark.parametrize(
    "key",
    [
        "audio/m1/original.wav",
        "models/blobs/sha256/" + "a" * 64,
        "snippets/m1/speaker 1 (ünïcode).ogg",
        "a" * MAX_KEY_BYTES,
        "trailing/slash/",
        "..dots-in-a-name..",
    ],
)
def test_ordinary_keys_are_accepted_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("../outside", "'..'"),
        ("a/../../outside", "'..'"),
        ("a/./b", "'.'"),
        (".", "'.'"),
        ("a//b", "empty path segment"),
        ("a\\b", "backslash"),
        ("line\nbreak", "control character"),
        ("nul\x00byte", "control character"),
        ("del\x7f", "control character"),
        ("a" * (MAX_KEY_BYTES + 1), "longer than 1024 bytes"),
        ("é" * (MAX_KEY_BYTES // 2 + 1), "longer than 1024 bytes"),
    ],
)
def test_hostile_or_malformed_keys_are_refused_with_the_reason(key: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError, match=reason):
        validate_key(key)


def test_refusal_message_shows_a_bounded_excerpt_of_the_key() -> None:
    with pytest.raises(InvalidKeyError) as caught:
        validate_key("../" + "x" * 5000)

    assert len(caught.value.summary) < 300


def test_empty_prefix_lists_everything_but_hostile_prefixes_are_refused() -> None:
    assert validate_prefix("") == ""
    assert validate_prefix("models/") == "models/"
    with pytest.raises(InvalidKeyError):
        validate_prefix("../")
