"""RTTM: what we write parses back, other tools' files parse, malformed lines are named."""

from __future__ import annotations

import pytest

from ivrimeet.errors import InvalidInputError
from ivrimeet.processing.rttm import RttmTurn, format_rttm, parse_rttm


def test_written_turns_parse_back_to_the_same_turns_at_millisecond_precision() -> None:
    turns = [
        RttmTurn("m42", 0.0306, 4.1254, "SPEAKER_00"),
        RttmTurn("m42", 3.5, 10.0, "SPEAKER_01"),
    ]

    parsed = parse_rttm(format_rttm(turns))

    assert [(t.uri, t.speaker) for t in parsed] == [("m42", "SPEAKER_00"), ("m42", "SPEAKER_01")]
    assert parsed[0].start == pytest.approx(0.031, abs=1e-9)
    assert parsed[0].duration == pytest.approx(4.125, abs=1e-9)
    assert parsed[1].end == pytest.approx(13.5)


def test_each_line_has_the_ten_nist_fields() -> None:
    text = format_rttm([RttmTurn("m1", 1.0, 2.5, "A")])

    assert text == "SPEAKER m1 1 1.000 2.500 <NA> <NA> A <NA> <NA>\n"


def test_comments_blank_lines_and_other_line_types_are_skipped() -> None:
    text = (
        ";; written by another tool\n"
        "\n"
        "SPKR-INFO m1 1 <NA> <NA> <NA> unknown A <NA> <NA>\n"
        "SPEAKER m1 1 0.5 1.5 <NA> <NA> A <NA> <NA>\n"
    )

    assert parse_rttm(text) == [RttmTurn("m1", 0.5, 1.5, "A")]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("SPEAKER m1 1 0.5 <NA> <NA> A <NA> <NA>", "has 9 fields"),
        ("SPEAKER m1 1 soon 1.0 <NA> <NA> A <NA> <NA>", "not a number"),
        ("SPEAKER m1 1 -1.0 1.0 <NA> <NA> A <NA> <NA>", "negative"),
    ],
)
def test_malformed_line_is_refused_with_its_line_number(line: str, problem: str) -> None:
    text = "SPEAKER m1 1 0.0 1.0 <NA> <NA> A <NA> <NA>\n" + line + "\n"

    with pytest.raises(InvalidInputError, match=f"RTTM line 2 .*{problem}"):
        parse_rttm(text)


@pytest.mark.parametrize("speaker", ["", "Ada Lovelace"])
def test_speaker_with_whitespace_or_empty_cannot_be_written(speaker: str) -> None:
    with pytest.raises(InvalidInputError, match="contains whitespace"):
        format_rttm([RttmTurn("m1", 0.0, 1.0, speaker)])
