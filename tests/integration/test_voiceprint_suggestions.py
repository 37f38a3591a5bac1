"""Suggested names follow the voiceprint they came from, on SQLite and PostgreSQL.

A suggestion is stored as a reference to the enrolled voiceprint: deleting the
meeting that enrolled it (or un-naming its speaker) removes the suggestion from
every other meeting, and the 0002 → 0003 migration keeps existing suggestions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from ivrimeet import db
from ivrimeet.db.migrate import _config
from tests.servers.databases import new_queued_meeting

DANA = (1.0, 0.0)
OTHER = (0.0, 1.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return db.sqlite_url(tmp_path / "data")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(url: str) -> Iterator[db.Database]:
    database = db.Database(url)
    db.upgrade(database)
    yield database
    database.dispose()


def _processed(database: db.Database, suggested: int | None = None) -> db.MeetingRecord:
    meeting_id = new_queued_meeting(database)
    claim = db.claim_for_processing(database, meeting_id, worker="test")
    assert claim is not None
    assert db.record_results(
        database,
        claim,
        duration_seconds=2.0,
        speakers=[
            db.NewSpeaker("SPEAKER_00", 1.0, None, DANA, suggested),
            db.NewSpeaker("SPEAKER_01", 1.0, None, OTHER, None),
        ],
        segments=[db.NewSegment(0.0, 1.0, "SPEAKER_00"), db.NewSegment(1.0, 2.0, "SPEAKER_01")],
        rttm_key=None,
        json_key=None,
    )
    return db.get_meeting(database, meeting_id)


def _enrolled_dana(database: db.Database) -> tuple[db.MeetingRecord, int]:
    enrolling = _processed(database)
    db.rename_speaker(database, enrolling.id, enrolling.speakers[0].id, "Dana")
    [voice] = db.known_voiceprints(database)
    return enrolling, voice.id


def _suggestions(database: db.Database, meeting_id: str) -> list[str | None]:
    return [s.suggested_name for s in db.get_meeting(database, meeting_id).speakers]


def test_deleting_the_enrolling_meeting_removes_its_suggestions_elsewhere(
    database: db.Database,
) -> None:
    enrolling, dana = _enrolled_dana(database)
    later = _processed(database, suggested=dana)
    assert _suggestions(database, later.id) == ["Dana", None]
    db.delete_meeting(database, enrolling.id)
    assert db.known_voiceprints(database) == []
    assert _suggestions(database, later.id) == [None, None]


def test_unnaming_or_renaming_the_enrolled_speaker_updates_suggestions(
    database: db.Database,
) -> None:
    enrolling, dana = _enrolled_dana(database)
    later = _processed(database, suggested=dana)
    db.rename_speaker(database, enrolling.id, enrolling.speakers[0].id, "Dana Q.")
    assert _suggestions(database, later.id) == ["Dana Q.", None]
    db.rename_speaker(database, enrolling.id, enrolling.speakers[0].id, None)
    assert _suggestions(database, later.id) == [None, None]


def test_a_run_that_matched_a_voiceprint_deleted_meanwhile_stores_no_suggestion(
    database: db.Database,
) -> None:
    enrolling, dana = _enrolled_dana(database)
    db.delete_meeting(database, enrolling.id)
    later = _processed(database, suggested=dana)
    assert _suggestions(database, later.id) == [None, None]


def test_migration_keeps_suggestions_whose_voiceprint_still_exists(url: str) -> None:
    database = db.Database(url)
    try:
        with database.engine.connect() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            connection.commit()
        meeting = uuid.uuid4().hex
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO meetings (id, status, audio_key, audio_bytes, created_at,"
                    " updated_at) VALUES (:id, 'done', 'k', 1, :now, :now)"
                ),
                {"id": meeting, "now": datetime.now(UTC)},
            )
            for position, suggested in enumerate(("Dana", "Gone", None)):
                connection.execute(
                    text(
                        "INSERT INTO speakers (id, meeting_id, position, label, seconds,"
                        " suggested_name) VALUES (:id, :m, :p, 'S', 1.0, :s)"
                    ),
                    {"id": uuid.uuid4().hex, "m": meeting, "p": position, "s": suggested},
                )
            connection.execute(
                text(
                    "INSERT INTO voiceprints (name, embedding, meeting_id, created_at)"
                    " VALUES ('Dana', :e, :m, :now)"
                ),
                {"e": b"\0" * 8, "m": meeting, "now": datetime.now(UTC)},
            )
        assert db.upgrade(database) == db.HEAD_REVISION
        assert [s.suggested_name for s in db.get_meeting(database, meeting).speakers] == [
            "Dana",
            None,
            None,
        ]
        with database.engine.begin() as connection:
            speakers = connection.execute(text("SELECT COUNT(*) FROM speakers")).scalar()
        assert speakers == 3
    finally:
        database.dispose()
