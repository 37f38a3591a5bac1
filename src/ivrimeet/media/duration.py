"""Limits before work, and recordings that are shorter than they claim.

``check_declared_duration`` asks ffprobe for the duration the container
declares (it reads headers, and for Ogg the last page: a few kilobytes) and
refuses a recording over the limit *before* anything is decoded: a 10-hour
silent Opus file is 13.5 MB to upload but 2.3 GB of decoded samples.
Containers that declare nothing (a browser's live WebM) are still bounded
while decoding (``decode_recording(max_seconds=...)``).

``recording_warnings`` compares what was decoded with what was declared: a
file cut short in transfer (the first 20 KB of an MP3 whose header says
6.3 s) decodes without an error into fewer seconds. The meeting is still
processed (what is there is worth diarizing) and carries the warning, which
the API and the web page show.
"""

from __future__ import annotations

import logging

from ivrimeet.errors import SizeLimitError
from ivrimeet.media.decode import DecodedAudio, probe_duration
from ivrimeet.objects import ObjectStore

__all__ = ["SHORTFALL_TOLERANCE_SECONDS", "check_declared_duration", "recording_warnings"]

logger = logging.getLogger(__name__)

SHORTFALL_TOLERANCE_SECONDS = 0.5
"""Decoded audio this much shorter than declared is still whole: encoder padding and
container rounding differ by tens of milliseconds, a cut file by seconds."""

_MAX_DECODER_MESSAGES = 3


def check_declared_duration(
    store: ObjectStore, key: str, *, max_seconds: float | None
) -> float | None:
    """The duration the container of ``key`` declares (None: it declares none).

    Raises ``SizeLimitError`` when it is over ``max_seconds``, and whatever
    ``probe_duration`` raises (not decodable, not found, storage errors).
    """
    declared = probe_duration(store, key)
    logger.info("media.probed key=%s declared_seconds=%s", key, declared)
    if max_seconds is not None and declared is not None and declared > max_seconds:
        raise SizeLimitError(
            f"The recording is {declared:.0f} seconds long, over the limit of "
            f"{max_seconds:.0f} seconds; it was refused before decoding.",
            details=[f"recording {key}"],
            hints=["split the recording, or raise MAX_RECORDING_SECONDS"],
        )
    return declared


def recording_warnings(declared: float | None, audio: DecodedAudio) -> tuple[str, ...]:
    """What the user should know about a recording that decoded: cut short, damaged frames."""
    warnings: list[str] = []
    decoded = audio.duration_seconds
    if declared is not None and decoded < declared - SHORTFALL_TOLERANCE_SECONDS:
        warnings.append(
            f"The recording seems cut short: its file says {declared:.1f} s but only "
            f"{decoded:.1f} s could be decoded, so the rest is missing. Upload the complete "
            "file again if it was interrupted."
        )
    if audio.decoder_messages:
        shown = "; ".join(audio.decoder_messages[:_MAX_DECODER_MESSAGES])
        warnings.append(
            f"The recording is damaged: the decoder reported errors ({shown}). Parts of it "
            "may be silent or missing; re-export it from the original if you can."
        )
    return tuple(warnings)
