"""Frozen values that cross the db boundary: what callers pass in and get back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "Claim",
    "KnownVoiceprint",
    "MeetingPage",
    "MeetingRecord",
    "NewSegment",
    "NewSpeaker",
    "RunRecord",
    "SegmentRecord",
    "SpeakerRecord",
]


@dataclass(frozen=True)
class SpeakerRecord:
    id: str
    label: str
    name: str | None
    suggested_name: str | None
    seconds: float
    snippet_key: str | None
    has_voiceprint: bool


@dataclass(frozen=True)
class SegmentRecord:
    start: float
    end: float
    speaker_id: str


@dataclass(frozen=True)
class MeetingRecord:
    """One meeting; ``speakers``/``segments`` are empty until processing is done."""

    id: str
    title: str | None
    status: str
    error: str | None
    audio_key: str
    audio_bytes: int
    content_type: str | None
    duration_seconds: float | None
    rttm_key: str | None
    json_key: str | None
    created_at: datetime
    updated_at: datetime
    speakers: tuple[SpeakerRecord, ...] = ()
    warning: str | None = None
    segments: tuple[SegmentRecord, ...] = ()
    # The running job's step and percent (0-100); None before its first report.
    progress_step: str | None = None
    progress_percent: int | None = None


@dataclass(frozen=True)
class MeetingPage:
    """A page of meetings, newest first, without speakers and segments."""

    items: tuple[MeetingRecord, ...]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Claim:
    """A worker's exclusive hold on a meeting for one processing run."""

    meeting_id: str
    run_id: int
    audio_key: str


@dataclass(frozen=True)
class NewSpeaker:
    """A speaker as processing found it, to be stored by ``record_results``."""

    label: str
    seconds: float
    snippet_key: str | None
    embedding: tuple[float, ...] | None
    # The known voice this speaker sounds like (``KnownVoiceprint.id``), if any.
    suggested_voiceprint_id: int | None


@dataclass(frozen=True)
class NewSegment:
    start: float
    end: float
    label: str


@dataclass(frozen=True)
class KnownVoiceprint:
    """A voice a user has named, for suggesting that name in later meetings."""

    id: int
    name: str
    embedding: tuple[float, ...]
    meeting_id: str


@dataclass(frozen=True)
class RunRecord:
    id: int
    meeting_id: str
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: str | None
    heartbeat_at: datetime | None = None
