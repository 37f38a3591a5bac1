"""``run_job``: one processing job against real storage, SQLite and the tiny models.

Drives the job function the Huey task calls, with a real ``ModelHolder``
loading the tiny random-weight models from the Hub stand-in through the model
store. Structure is asserted, not diarization quality.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivrimeet import db
from ivrimeet.errors import HubUnavailableError
from ivrimeet.models import HubAccess, ModelStore
from ivrimeet.objects import LocalStore, ObjectInfo
from ivrimeet.processing.models import ModelHolder
from ivrimeet.worker import JobContext, run_job
from tests.audio import TwoVoiceRecording, write_lying_wav
from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.servers.hub import TEST_TOKEN, StandInHub

pytestmark = pytest.mark.slow


def _holder(hub: StandInHub, root: Path) -> ModelHolder:
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    store = ModelStore(
        LocalStore(root / "models-bucket", signing_key=b"k" * 32),
        hub=HubAccess(endpoint=hub.endpoint, token=TEST_TOKEN),
        tmp_dir=root / "tmp",
    )
    return ModelHolder(store, pipeline_repo=PIPELINE_SPEECHBRAIN, encoder_repo=SPEECHBRAIN_ECAPA)


@pytest.fixture(scope="module")
def tiny_holder(
    hub_standin: StandInHub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelHolder]:
    """The tiny pipeline and encoder, loaded once for the module."""
    from huggingface_hub import constants

    root = tmp_path_factory.mktemp("worker-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "ENDPOINT", hub_standin.endpoint)
        patch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            hub_standin.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        )
        patch.setattr(constants, "HF_HUB_CACHE", str(root / "hf-default-cache"))
        holder = _holder(hub_standin, root)
        holder.get()
        yield holder


@pytest.fixture
def database(tmp_path: Path) -> Iterator[db.Database]:
    database = db.Database(db.sqlite_url(tmp_path / "data"))
    db.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects", signing_key=b"k" * 32)


def _context(database: db.Database, store: LocalStore, holder: ModelHolder) -> JobContext:
    return JobContext(
        database=database, store=store, models=holder, snippet_seconds=15.0, worker_name="t"
    )


def _queued(database: db.Database, store: LocalStore, recording: Path) -> str:
    meeting_id = uuid.uuid4().hex
    key = f"audio/{meeting_id}/original.wav"
    with recording.open("rb") as body:
        info = store.put(key, body)
    db.create_meeting(
        database,
        meeting_id=meeting_id,
        title=None,
        audio_key=key,
        audio_bytes=info.size,
        content_type="audio/wav",
    )
    return meeting_id


def _keys(store: LocalStore, meeting_id: str) -> list[str]:
    return sorted(
        info.key
        for prefix in ("snippets", "results")
        for info in store.list(f"{prefix}/{meeting_id}/")
    )


def test_job_records_speakers_once_and_a_duplicate_delivery_is_skipped(
    database: db.Database,
    store: LocalStore,
    tiny_holder: ModelHolder,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    context = _context(database, store, tiny_holder)
    meeting_id = _queued(database, store, two_voice_recordings.short_wav)
    run_job(context, meeting_id, retries_left=3)
    run_job(context, meeting_id, retries_left=3)
    meeting = db.get_meeting(database, meeting_id)
    assert meeting.status == "done", meeting.error
    assert meeting.speakers and meeting.segments
    assert all(s.has_voiceprint for s in meeting.speakers)
    assert {s.snippet_key for s in meeting.speakers} <= set(_keys(store, meeting_id))
    assert meeting.rttm_key is not None and store.exists(meeting.rttm_key)
    assert [r.outcome for r in db.list_runs(database, meeting_id)] == ["done"]


def test_reprocessing_overwrites_the_same_keys_and_keeps_one_result(
    database: db.Database,
    store: LocalStore,
    tiny_holder: ModelHolder,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    context = _context(database, store, tiny_holder)
    meeting_id = _queued(database, store, two_voice_recordings.short_wav)
    run_job(context, meeting_id, retries_left=3)
    first = db.get_meeting(database, meeting_id)
    keys = _keys(store, meeting_id)
    db.request_reprocess(database, meeting_id)
    run_job(context, meeting_id, retries_left=3)
    second = db.get_meeting(database, meeting_id)
    assert second.status == "done"
    assert _keys(store, meeting_id) == keys
    assert [s.label for s in second.speakers] == [s.label for s in first.speakers]
    assert len(second.segments) == len(first.segments)
    assert [r.outcome for r in db.list_runs(database, meeting_id)] == ["done", "done"]


def test_a_voice_named_in_one_meeting_is_suggested_in_the_next(
    database: db.Database,
    store: LocalStore,
    tiny_holder: ModelHolder,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    context = _context(database, store, tiny_holder)
    earlier = _queued(database, store, two_voice_recordings.short_wav)
    run_job(context, earlier, retries_left=3)
    speaker = db.get_meeting(database, earlier).speakers[0]
    db.rename_speaker(database, earlier, speaker.id, "Dana")
    later = _queued(database, store, two_voice_recordings.short_wav)
    run_job(context, later, retries_left=3)
    suggested = {s.label: s.suggested_name for s in db.get_meeting(database, later).speakers}
    assert suggested[speaker.label] == "Dana"


def test_undecodable_recording_fails_with_a_readable_reason(
    database: db.Database, store: LocalStore, tiny_holder: ModelHolder, tmp_path: Path
) -> None:
    context = _context(database, store, tiny_holder)
    meeting_id = _queued(database, store, write_lying_wav(tmp_path / "lying.wav"))
    run_job(context, meeting_id, retries_left=3)
    meeting = db.get_meeting(database, meeting_id)
    assert meeting.status == "failed"
    assert meeting.error and "audio" in meeting.error.lower()
    assert _keys(store, meeting_id) == []


def test_transient_failure_is_retried_then_fails_on_the_last_attempt(
    database: db.Database,
    store: LocalStore,
    hub_client: StandInHub,
    tmp_path: Path,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    # Models neither in this (empty) bucket nor reachable on the Hub: a transient error.
    context = _context(database, store, _holder(hub_client, tmp_path / "cold"))
    meeting_id = _queued(database, store, two_voice_recordings.short_wav)
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
    store = _DeletedWhileProcessing(tmp_path / "objects", signing_key=b"k" * 32)
    store.database = database
    context = _context(database, store, tiny_holder)
    meeting_id = _queued(database, store, two_voice_recordings.short_wav)
    run_job(context, meeting_id, retries_left=3)
    assert not db.meeting_exists(database, meeting_id)
    assert [info.key for info in store.list("")] == []
