"""Metadata storage: SQLAlchemy tables, the ``Database`` handle, migrations and queries.

SQLite in the data dir by default; PostgreSQL (psycopg 3) via ``DATABASE_URL``.
"""

from ivrimeet.db.engine import Database, normalize_database_url, sqlite_url
from ivrimeet.db.meetings import (
    count_speakers,
    create_meeting,
    delete_meeting,
    detach_runs,
    embedding_from_bytes,
    embedding_to_bytes,
    get_meeting,
    known_voiceprints,
    list_meetings,
    meeting_exists,
    rename_speaker,
    report_progress,
    request_reprocess,
    snippet_key,
)
from ivrimeet.db.migrate import HEAD_REVISION, current_revision, head_revision, upgrade
from ivrimeet.db.records import (
    Claim,
    KnownVoiceprint,
    MeetingPage,
    MeetingRecord,
    NewSegment,
    NewSpeaker,
    RunRecord,
    SegmentRecord,
    SpeakerRecord,
)
from ivrimeet.db.runs import (
    claim_for_processing,
    list_runs,
    mark_failed,
    mark_retrying,
    record_results,
    renew_claim,
    requeue_expired,
    run_is_current,
    touch_stranded,
)
from ivrimeet.db.tables import MeetingStatus

__all__ = [
    "HEAD_REVISION",
    "Claim",
    "Database",
    "KnownVoiceprint",
    "MeetingPage",
    "MeetingRecord",
    "MeetingStatus",
    "NewSegment",
    "NewSpeaker",
    "RunRecord",
    "SegmentRecord",
    "SpeakerRecord",
    "claim_for_processing",
    "count_speakers",
    "create_meeting",
    "current_revision",
    "delete_meeting",
    "detach_runs",
    "embedding_from_bytes",
    "embedding_to_bytes",
    "get_meeting",
    "head_revision",
    "known_voiceprints",
    "list_meetings",
    "list_runs",
    "mark_failed",
    "mark_retrying",
    "meeting_exists",
    "normalize_database_url",
    "record_results",
    "rename_speaker",
    "renew_claim",
    "report_progress",
    "request_reprocess",
    "requeue_expired",
    "run_is_current",
    "snippet_key",
    "sqlite_url",
    "touch_stranded",
    "upgrade",
]
