"""The metadata database on SQLite: migrations, URLs, the meeting life cycle."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from ivrimeet import db
from ivrimeet.errors import ConfigurationError, MeetingNotFoundError, ObjectNotFoundError


def _new_meeting(database: db.Database, title: str | None = "standup") -> db.MeetingRecord:
    meeting_id = uuid.uuid4().hex
    return db.create_meeting(
        database,
        meeting_id=meeting_id,
        title=title,
        audio_key=f"audio/{meeting_id}/original.wav",
        audio_bytes=1234,
        content_type="audio/wav",
    )


def _finish(
    database: db.Database,
    meeting: db.MeetingRecord,
    embeddings: dict[str, tuple[float, ...]] | None = None,
) -> db.MeetingRecord:
    claim = db.claim_for_processing(database, meeting.id, worker="test")
    assert claim is not None
    embeddings = embeddings or {"SPEAKER_00": (1.0, 0.0), "SPEAKER_01": (0.0, 1.0)}
    speakers = [
        db.NewSpeaker(label, 2.0, f"snippets/{meeting.id}/{label}.ogg", vector, None)
        for label, vector in embeddings.items()
    ]
    segments = [
        db.NewSegment(float(i), float(i) + 1.0, label) for i, label in enumerate(embeddings)
    ]
    assert db.record_results(
        database,
        claim,
        duration_seconds=2.0,
        speakers=speakers,
        segments=segments,
        rttm_key=f"results/{meeting.id}/diarization.rttm",
        json_key=f"results/{meeting.id}/diarization.json",
    )
    return db.get_meeting(database, meeting.id)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////srv/x.db", "sqlite:////srv/x.db"),
    ],
)
def test_database_urls_are_normalised_to_psycopg3(given: str, expected: str) -> None:
    assert db.normalize_database_url(given) == expected


def test_unsupported_database_url_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        db.normalize_database_url("mysql://user:hunter2-secret@h/d")
    assert "mysql" in str(info.value)
    assert "hunter2-secret" not in str(info.value)


def test_database_label_hides_the_password() -> None:
    database = db.Database("postgres://user:hunter2-secret@127.0.0.1:1/d")
    assert "hunter2-secret" not in database.label
    assert "127.0.0.1" in database.label


def test_upgrade_twice_is_a_no_op_at_head(database: db.Database) -> None:
    assert db.current_revision(database) == db.head_revision()
    assert db.upgrade(database) == db.head_revision()


def test_head_revision_constant_names_the_newest_migration() -> None:
    assert db.head_revision() == db.HEAD_REVISION


def test_empty_database_has_no_revision_until_upgraded(tmp_path: Path) -> None:
    database = db.Database(db.sqlite_url(tmp_path / "empty"))
    try:
        assert db.current_revision(database) is None
        db.upgrade(database)
        assert db.current_revision(database) == db.HEAD_REVISION
    finally:
        database.dispose()


def test_new_meeting_is_queued_and_listed_newest_first(database: db.Database) -> None:
    first = _new_meeting(database, "first")
    second = _new_meeting(database, "second")
    assert first.status == "queued"
    page = db.list_meetings(database, limit=10, offset=0)
    assert [m.id for m in page.items] == [second.id, first.id]
    assert page.total == 2
    assert [m.id for m in db.list_meetings(database, limit=1, offset=1).items] == [first.id]


def test_missing_meeting_raises_not_found(database: db.Database) -> None:
    with pytest.raises(MeetingNotFoundError):
        db.get_meeting(database, uuid.uuid4().hex)
    with pytest.raises(MeetingNotFoundError):
        db.delete_meeting(database, uuid.uuid4().hex)


def test_only_one_of_many_concurrent_claims_wins(database: db.Database) -> None:
    meeting = _new_meeting(database)
    claims: list[db.Claim | None] = []
    lock = threading.Lock()

    def claim(worker: str) -> None:
        result = db.claim_for_processing(database, meeting.id, worker=worker)
        with lock:
            claims.append(result)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(c is not None for c in claims) == 1
    assert db.get_meeting(database, meeting.id).status == "processing"
    assert len(db.list_runs(database, meeting.id)) == 1


def test_results_replace_speakers_and_segments(database: db.Database) -> None:
    done = _finish(database, _new_meeting(database))
    assert done.status == "done"
    assert [s.label for s in done.speakers] == ["SPEAKER_00", "SPEAKER_01"]
    assert {seg.speaker_id for seg in done.segments} == {s.id for s in done.speakers}
    again = _finish(database, db.request_reprocess(database, done.id), {"SPEAKER_00": (1.0, 0.0)})
    assert [s.label for s in again.speakers] == ["SPEAKER_00"]
    assert len(again.segments) == 1
    assert [r.outcome for r in db.list_runs(database, done.id)] == ["done", "done"]


def test_reprocess_makes_the_running_claim_stale(database: db.Database) -> None:
    meeting = _new_meeting(database)
    old = db.claim_for_processing(database, meeting.id, worker="old")
    assert old is not None
    db.request_reprocess(database, meeting.id)
    assert not db.mark_failed(database, old, "too late")
    assert not db.record_results(
        database, old, duration_seconds=1.0, speakers=[], segments=[], rttm_key=None, json_key=None
    )
    assert db.get_meeting(database, meeting.id).status == "queued"
    assert db.claim_for_processing(database, meeting.id, worker="new") is not None


def test_failed_and_retrying_meetings_keep_a_readable_reason(database: db.Database) -> None:
    meeting = _new_meeting(database)
    claim = db.claim_for_processing(database, meeting.id, worker="w")
    assert claim is not None
    assert db.mark_retrying(database, claim, "S3 endpoint unreachable")
    queued = db.get_meeting(database, meeting.id)
    assert queued.status == "queued"
    assert queued.error is not None and "S3 endpoint unreachable" in queued.error
    claim = db.claim_for_processing(database, meeting.id, worker="w")
    assert claim is not None
    assert db.mark_failed(database, claim, "not an audio file")
    failed = db.get_meeting(database, meeting.id)
    assert (failed.status, failed.error) == ("failed", "not an audio file")
    assert [r.outcome for r in db.list_runs(database, meeting.id)] == ["retry", "failed"]


def test_renaming_a_speaker_enrolls_its_voiceprint(database: db.Database) -> None:
    done = _finish(database, _new_meeting(database))
    speaker = done.speakers[1]
    renamed = db.rename_speaker(database, done.id, speaker.id, "Dana")
    assert renamed.name == "Dana"
    assert db.get_meeting(database, done.id).speakers[1].name == "Dana"
    [voice] = db.known_voiceprints(database)
    assert (voice.name, voice.meeting_id) == ("Dana", done.id)
    assert voice.embedding == pytest.approx((0.0, 1.0))
    db.rename_speaker(database, done.id, speaker.id, "Dana Q.")
    assert [v.name for v in db.known_voiceprints(database)] == ["Dana Q."]
    db.rename_speaker(database, done.id, speaker.id, None)
    assert db.known_voiceprints(database) == []


def test_voiceprint_survives_reprocessing_of_its_meeting(database: db.Database) -> None:
    done = _finish(database, _new_meeting(database))
    db.rename_speaker(database, done.id, done.speakers[0].id, "Ari")
    _finish(database, db.request_reprocess(database, done.id))
    assert [v.name for v in db.known_voiceprints(database)] == ["Ari"]


def test_renaming_a_speaker_of_another_meeting_is_not_found(database: db.Database) -> None:
    done = _finish(database, _new_meeting(database))
    other = _new_meeting(database)
    with pytest.raises(MeetingNotFoundError):
        db.rename_speaker(database, other.id, done.speakers[0].id, "Eve")


def test_snippet_key_is_found_only_through_the_speakers_own_meeting(database: db.Database) -> None:
    done = _finish(database, _new_meeting(database))
    other = _new_meeting(database)
    speaker = done.speakers[0]
    assert db.snippet_key(database, done.id, speaker.id) == speaker.snippet_key
    with pytest.raises(MeetingNotFoundError):
        db.snippet_key(database, other.id, speaker.id)


def test_speaker_without_a_snippet_has_no_snippet_key(database: db.Database) -> None:
    meeting = _new_meeting(database)
    claim = db.claim_for_processing(database, meeting.id, worker="test")
    assert claim is not None
    assert db.record_results(
        database,
        claim,
        duration_seconds=2.0,
        speakers=[db.NewSpeaker("SPEAKER_00", 2.0, None, None, None)],
        segments=[],
        rttm_key=None,
        json_key=None,
    )
    speaker_id = db.get_meeting(database, meeting.id).speakers[0].id
    with pytest.raises(ObjectNotFoundError):
        db.snippet_key(database, meeting.id, speaker_id)


def test_deleting_a_meeting_deletes_every_row_of_it(database: db.Database) -> None:
    done = _finish(database, _new_meeting(database))
    kept = _finish(database, _new_meeting(database))
    db.rename_speaker(database, done.id, done.speakers[0].id, "Ari")
    db.delete_meeting(database, done.id)
    with database.engine.connect() as connection:
        for table in ("meetings", "speakers", "segments", "voiceprints", "processing_runs"):
            column = "id" if table == "meetings" else "meeting_id"
            query = f"SELECT COUNT(*) FROM {table} WHERE {column} = ?"  # noqa: S608  # fixed names
            rows = connection.exec_driver_sql(query, (done.id,)).scalar()
            assert rows == 0, table
    assert db.get_meeting(database, kept.id).status == "done"
