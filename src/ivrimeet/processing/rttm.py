"""RTTM, the plain-text diarization format NIST defined and every diarization tool reads.

One line per speech turn, ten space-separated fields::

    SPEAKER <uri> <channel> <start> <duration> <NA> <NA> <speaker> <NA> <NA>
    SPEAKER m42 1 3.250 4.125 <NA> <NA> SPEAKER_00 <NA> <NA>

``<uri>`` names the recording (the meeting id here); times are seconds. Lines
of other types (``SPKR-INFO``...) and ``;;`` comments are skipped when parsing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ivrimeet.errors import InvalidInputError

__all__ = ["RttmTurn", "format_rttm", "parse_rttm"]

_FIELDS = 10


@dataclass(frozen=True)
class RttmTurn:
    """One ``SPEAKER`` line: who spoke in which recording, from ``start`` for ``duration`` s."""

    uri: str
    start: float
    duration: float
    speaker: str

    @property
    def end(self) -> float:
        return self.start + self.duration


def format_rttm(turns: Iterable[RttmTurn]) -> str:
    """RTTM text for ``turns`` (times to the millisecond), one line each, newline-terminated."""
    lines = []
    for turn in turns:
        for name, value in (("uri", turn.uri), ("speaker", turn.speaker)):
            if not value or any(c.isspace() for c in value):
                raise InvalidInputError(
                    f"RTTM {name} {value!r} is empty or contains whitespace.",
                    hints=["use identifiers without spaces for recordings and speakers"],
                )
        lines.append(
            f"SPEAKER {turn.uri} 1 {turn.start:.3f} {turn.duration:.3f} "
            f"<NA> <NA> {turn.speaker} <NA> <NA>\n"
        )
    return "".join(lines)


def parse_rttm(text: str) -> list[RttmTurn]:
    """The ``SPEAKER`` lines of ``text``; ``InvalidInputError`` naming the first bad line."""
    turns: list[RttmTurn] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith(";;") or fields[0] != "SPEAKER":
            continue
        if len(fields) != _FIELDS:
            raise _bad_line(number, line, f"has {len(fields)} fields, expected {_FIELDS}")
        try:
            start, duration = float(fields[3]), float(fields[4])
        except ValueError:
            raise _bad_line(number, line, "start or duration is not a number") from None
        if start < 0 or duration < 0:
            raise _bad_line(number, line, "start or duration is negative")
        turns.append(RttmTurn(uri=fields[1], start=start, duration=duration, speaker=fields[7]))
    return turns


def _bad_line(number: int, line: str, problem: str) -> InvalidInputError:
    return InvalidInputError(
        f"RTTM line {number} {problem}: {line[:120]!r}.",
        hints=[
            "each SPEAKER line has 10 fields: SPEAKER uri 1 start duration <NA> <NA> "
            "speaker <NA> <NA>"
        ],
    )
