"""The JSON the API reads and writes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MeetingListItemOut",
    "MeetingOut",
    "MeetingPageOut",
    "MeetingSummaryOut",
    "ProgressOut",
    "RenameSpeakerIn",
    "SegmentOut",
    "SpeakerOut",
]


class SpeakerOut(BaseModel):
    id: str
    label: str
    name: str | None
    suggested_name: str | None
    seconds: float
    snippet_url: str | None = Field(
        description="short-lived URL of the speaker's snippet, playable in a browser"
    )


class SegmentOut(BaseModel):
    start: float
    end: float
    speaker_id: str


class ProgressOut(BaseModel):
    step: str = Field(
        description="decode | segmentation | embeddings | clustering | snippets | voiceprints "
        "| results"
    )
    percent: int = Field(ge=0, le=100, description="of the whole job, not of the step")


class MeetingSummaryOut(BaseModel):
    id: str
    title: str | None
    status: str = Field(description="queued | processing | done | failed")
    error: str | None = Field(description="why it failed (or is being retried)")
    warning: str | None = Field(
        default=None,
        description="what to know about a processed recording (cut short, damaged frames)",
    )
    duration_seconds: float | None
    created_at: datetime
    progress: ProgressOut | None = Field(
        default=None, description="while processing: the current step and percent done"
    )


class MeetingOut(MeetingSummaryOut):
    speakers: list[SpeakerOut]
    segments: list[SegmentOut]


class MeetingListItemOut(MeetingSummaryOut):
    speaker_count: int = Field(ge=0, description="speakers found (0 until the meeting is done)")


class MeetingPageOut(BaseModel):
    items: list[MeetingListItemOut]
    total: int
    limit: int
    offset: int


class RenameSpeakerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        max_length=200,
        # NUL cannot be stored by PostgreSQL (a 500 once): refused as 422 on every database.
        pattern=r"^[^\x00]*$",
        description="the speaker's name; null removes it (and its voiceprint)",
    )
