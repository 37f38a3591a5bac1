"""``run_job``: one processing job against real storage, SQLite and the tiny models.

Drives the job function the Huey task calls, with a real ``ModelHolder``
loading the tiny random-weight models from the Hub stand-in through the model
store. Structure is asserted, not diarization quality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from ivrimeet import db
from ivrimeet.db.tables import Voiceprint
from ivrimeet.errors import HubUnavailableError
from ivrimeet.objects import LocalStore, ObjectInfo, ObjectStore
from ivrimeet.processing.models import ModelHolder
from ivrimeet.settings import Settings
from ivrimeet.worker import (
    JobContext,
    JobQueue,
    Services,
    job_context,
    run_job,
)
from tests.audio import TwoVoiceRecording, ffprobe_audio, write_lying_wav
from tests.integration.conftest import HolderFactory
from tests.servers.databases import new_queued_meeting
from tests.servers.hub import StandInHub

pytestmark = pytest.mark.slow


def _context(database: db.Database, store: LocalStore, holder: ModelHolder) -> JobContext:
    return JobContext(
        database=database,
        store=store,
        models=holder,
        snippet_seconds=15.0,
        worker_name="t",
    )


def _queued(database: db.Database, store: ObjectStore, recording: Path) -> str:
    return new_queued_meeting(database, store, recording)


def _keys(store: LocalStore, meeting_id: str) -> list[str]:
    return sorted(
        info.key
        for prefix in ("snippets", "results")
        for info in store.list(f"{prefix}/{meeting_id}/")
    )


def test_job_records_speakers_once_and_a_duplicate_delivery_is_skipped(
    database: db.Database,
    local_store: LocalStore,
    tiny_holder: ModelHolder,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    context = _context(database, local_store, tiny_holder)
    meeting_id = _queued(database, local_store, two_voice_recordings.short_wav)
    run_job(context, meeting_id, retries_left=3)
    run_job(context, meeting_id, retries_left=3)
    meeting = db.get_meeting(database, meeting_id)
    assert meeting.status == "done", meeting.error
    assert meeting.speakers and meeting.segments
    assert all(s.has_voiceprint for s in meeting.speakers)
    assert {s.snippet_key for s in meeting.speakers} <= set(_keys(local_store, meeting_id))
    assert meeting.rttm_key is not None and local_store.exists(meeting.rttm_key)
    assert [r.outcome for r in db.list_runs(database, meeting_id)] == ["done"]


def test_reprocessing_replaces_the_first_runs_objects_and_keeps_one_result(
    database: db.Database,
    local_store: LocalStore,
    tiny_holder: ModelHolder,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    context = _context(database, local_store, tiny_holder)
    meeting_id = _queued(database, local_store, two_voice_recordings.short_wav)
    run_job(context, meeting_id, retries_left=3)
    first = db.get_meeting(database, meeting_id)
    keys = _keys(local_store, meeting_id)
    db.request_reprocess(database, meeting_id)
    run_job(context, meeting_id, retries_left=3)
    second = db.get_meeting(database, meeting_id)
    assert second.status == "done"
    first_run, second_run = (r.id for r in db.list_runs(database, meeting_id))
    # The same objects, now under the second run's keys; nothing of the first run is left.
    assert _keys(local_store, meeting_id) == sorted(
        k.replace(f"/{meeting_id}/{first_run}/", f"/{meeting_id}/{second_run}/") for k in keys
    )
    assert {s.snippet_key for s in second.speakers} <= set(_keys(local_store, meeting_id))
    assert [s.label for s in second.speakers] == [s.label for s in first.speakers]
    assert len(second.segments) == len(first.segments)
    assert [r.outcome for r in db.list_runs(database, meeting_id)] == ["done", "done"]


def test_a_voice_named_in_one_meeting_is_suggested_in_the_next(
    database: db.Database,
    local_store: LocalStore,
    tiny_holder: ModelHolder,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    context = _context(database, local_store, tiny_holder)
    earlier = _queued(database, local_store, two_voice_recordings.short_wav)
    run_job(context, earlier, retries_left=3)
    speaker = db.get_meeting(database, earlier).speakers[0]
    db.rename_speaker(database, earlier, speaker.id, "Dana")
    later = _queued(database, local_store, two_voice_recordings.short_wav)
    run_job(context, later, retries_left=3)
    suggested = {s.label: s.suggested_name for s in db.get_meeting(database, later).speakers}
    assert suggested[speaker.label] == "Dana"


def test_undecodable_recording_fails_with_a_readable_reason(
    database: db.Database, local_store: LocalStore, tiny_holder: ModelHolder, tmp_path: Path
) -> None:
    context = _context(database, local_store, tiny_holder)
    meeting_id = _queued(database, local_store, write_lying_wav(tmp_path / "lying.wav"))
    run_job(context, meeting_id, retries_left=3)
    meeting = db.get_meeting(database, meeting_id)
    assert meeting.status == "failed"
    assert meeting.error and "audio" in meeting.error.lower()
    assert _keys(local_store, meeting_id) == []


def test_transient_failure_is_retried_then_fails_on_the_last_attempt(
    database: db.Database,
    local_store: LocalStore,
    hub_client: StandInHub,
    model_holder_for: HolderFactory,
    tmp_path: Path,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    # Models neither in this (empty) bucket nor reachable on the Hub: a transient error.
    context = _context(database, local_store, model_holder_for(hub_client, tmp_path / "cold"))
    meeting_id = _queued(database, local_store, two_voice_recordings.short_wav)
    hub_client.outage = True
    with pytest.raises(HubUnavailableError):
        run_job(context, meeting_id, retries_left=1)
    retrying = db.get_meeting(database, meeting_id)
    assert retrying.status == "queued"
    assert retrying.error and retrying.error.startswith("will retry: ")
    run_job(context, meeting_id, retries_left=0)
    failed = db.get_meeting(database, meeting_id)
    assert failed.status == "failed"
    assert failed.error and "Hugging Face" in failed.error
    assert [r.outcome for r in db.list_runs(database, meeting_id)] == ["retry", "failed"]


class _DeletedWhileProcessing(LocalStore):
    """A real local store that deletes the meeting (as DELETE does) when results are written."""

    database: db.Database

    def put(self, key: str, body, **kwargs) -> ObjectInfo:  # type: ignore[no-untyped-def]
        info = super().put(key, body, **kwargs)
        if key.endswith("diarization.json"):
            meeting_id = key.split("/")[1]
            db.detach_runs(self.database, meeting_id)
            for prefix in ("audio", "snippets", "results"):
                self.delete_prefix(f"{prefix}/{meeting_id}/")
            db.delete_meeting(self.database, meeting_id)
        return info


def test_meeting_deleted_while_processing_leaves_no_objects_behind(
    database: db.Database,
    tiny_holder: ModelHolder,
    tmp_path: Path,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    store = _DeletedWhileProcessing(tmp_path / "objects")
    store.database = database
    context = _context(database, store, tiny_holder)
    meeting_id = _queued(database, store, two_voice_recordings.short_wav)
    run_job(context, meeting_id, retries_left=3)
    assert not db.meeting_exists(database, meeting_id)
    assert [info.key for info in store.list("")] == []


@pytest.fixture
def services(database: db.Database, local_store: LocalStore, tmp_path: Path) -> Iterator[Services]:
    queue = JobQueue(name="settings", redis_url=None, data_dir=tmp_path / "data")
    yield Services(database=database, store=local_store, queue=queue)
    queue.close()


def _context_from(
    services: Services, holder: ModelHolder, tmp_path: Path, **values: object
) -> JobContext:
    """The worker's own ``job_context`` for settings with ``values``, using ``holder``'s models."""
    settings = Settings(
        ivrimeet_data_dir=tmp_path / "data",
        ivrimeet_tmp_dir=tmp_path / "tmp",
        **values,  # type: ignore[arg-type]
    )
    return replace(job_context(settings, services), models=holder)


def _enroll_orthogonal_voice(database: db.Database, meeting_id: str, name: str) -> None:
    """Name a voice whose voiceprint has cosine similarity 0 with the meeting's first speaker."""
    speaker = db.get_meeting(database, meeting_id).speakers[0]
    db.rename_speaker(database, meeting_id, speaker.id, name)
    heard = np.array(db.known_voiceprints(database)[0].embedding, dtype=np.float64)
    other = np.random.default_rng(7).standard_normal(heard.size)
    other -= other.dot(heard) / heard.dot(heard) * heard
    with database.session() as session:
        session.execute(
            update(Voiceprint).values(
                embedding=db.embedding_to_bytes((other / np.linalg.norm(other)).tolist())
            )
        )


def test_the_worker_takes_snippet_length_and_threshold_from_the_settings(
    services: Services,
    tiny_holder: ModelHolder,
    tmp_path: Path,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    recording = two_voice_recordings.short_wav
    default = _context_from(services, tiny_holder, tmp_path, worker_claim_ttl_seconds=30)
    earlier = _queued(services.database, services.store, recording)
    run_job(default, earlier, retries_left=0)
    _enroll_orthogonal_voice(services.database, earlier, "Dana")  # similarity 0 to every voice

    # From a threshold of -0.5 a voice at similarity 0 is "Dana"; the default (0.5) says no.
    lenient = _context_from(
        services, tiny_holder, tmp_path, voiceprint_match_threshold=-0.5, snippet_seconds=3
    )
    suggested: dict[str, list[str | None]] = {}
    longest: dict[str, float] = {}
    for name, context in (("default", default), ("lenient", lenient)):
        meeting_id = _queued(services.database, services.store, recording)
        run_job(context, meeting_id, retries_left=0)
        meeting = db.get_meeting(services.database, meeting_id)
        assert meeting.status == "done", meeting.error
        suggested[name] = [s.suggested_name for s in meeting.speakers]
        longest[name] = max(
            ffprobe_audio(services.store.get_bytes(s.snippet_key)).duration
            for s in meeting.speakers
            if s.snippet_key is not None
        )

    assert default.claim_ttl_seconds == 30 and lenient.match_threshold == -0.5
    assert set(suggested["default"]) == {None}
    assert set(suggested["lenient"]) == {"Dana"}
    assert longest["default"] > 3.05 and longest["lenient"] <= 3.05, longest


def test_the_worker_refuses_recordings_longer_than_the_settings_allow(
    services: Services,
    tiny_holder: ModelHolder,
    tmp_path: Path,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    context = _context_from(services, tiny_holder, tmp_path, max_recording_seconds=2)
    meeting_id = _queued(services.database, services.store, two_voice_recordings.short_wav)

    run_job(context, meeting_id, retries_left=0)

    meeting = db.get_meeting(services.database, meeting_id)
    assert meeting.status == "failed"
    assert meeting.error is not None and "over the limit of 2 seconds" in meeting.error
    assert "refused before decoding" in meeting.error
