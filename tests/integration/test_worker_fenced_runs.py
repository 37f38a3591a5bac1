"""Fenced runs: two workers on PostgreSQL and Redis never leave a meeting pointing at objects
a superseded run removed, and nothing a superseded run wrote is left behind.

Each round starts a job, waits (polling) until one of the two workers has
claimed it, then supersedes that run while it works: by a reprocess (as the
API route does: ``request_reprocess`` and an enqueue), or by expiring its
claim (a sweeper pass whose clock is past the claim's TTL). The other worker
(or the same one) runs the new job. Afterwards the meeting's rows point only
at the last run's objects, every one of them exists, and no other object is
left under the meeting's prefixes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from huey.consumer import Consumer

from ivrimeet import db
from ivrimeet.errors import StorageUnavailableError
from ivrimeet.objects import LocalStore, ObjectInfo, ObjectStore
from ivrimeet.processing.models import ModelHolder
from ivrimeet.worker import JobContext, JobQueue, LostJobSweeper, run_job
from ivrimeet.worker.claims import utc_clock
from tests.audio import TwoVoiceRecording
from tests.servers.databases import RedisQueue, new_queued_meeting
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ROUNDS = 20
JOB_TIMEOUT = 120.0


class _QuietConsumer(Consumer):  # type: ignore[misc]  # huey is untyped
    """A Huey consumer in this test process: signals stay pytest's."""

    def _set_signal_handlers(self) -> None:
        return None


@contextmanager
def _workers(
    database: db.Database, store: ObjectStore, holder: ModelHolder, redis: RedisQueue, tmp: Path
) -> Iterator[JobQueue]:
    """Two workers (own queue connection, own name) consuming one Redis queue."""
    queues, consumers = [], []
    for name in ("worker-a", "worker-b"):
        queue = JobQueue(name=redis.name, redis_url=redis.url, data_dir=tmp / name)
        context = JobContext(
            database=database, store=store, models=holder, snippet_seconds=15.0, worker_name=name
        )
        queue.attach(
            lambda meeting_id, retries, ctx=context: run_job(ctx, meeting_id, retries_left=retries)
        )
        consumer = _QuietConsumer(queue.huey, workers=1, periodic=False, max_delay=0.2)
        consumer.start()
        queues.append(queue)
        consumers.append(consumer)
    try:
        yield queues[0]
    finally:
        for consumer in consumers:
            consumer.stop(graceful=True)
        for queue in queues:
            queue.close()


def _outputs(store: ObjectStore, meeting_id: str) -> set[str]:
    return {
        info.key
        for prefix in (f"snippets/{meeting_id}/", f"results/{meeting_id}/")
        for info in store.list(prefix)
    }


def _settled_on_last_run(database: db.Database, store: ObjectStore, meeting_id: str) -> bool:
    """Done, by the newest run, and the objects are exactly that run's, all of them there."""
    meeting = db.get_meeting(database, meeting_id)
    runs = db.list_runs(database, meeting_id)
    if meeting.status != "done" or runs[-1].outcome != "done":
        return False
    referenced = {s.snippet_key for s in meeting.speakers if s.snippet_key}
    referenced |= {meeting.json_key, meeting.rttm_key} - {None}  # type: ignore[arg-type]
    last = f"/{meeting_id}/{runs[-1].id}/"
    assert all(last in key for key in referenced), (referenced, runs)
    return _outputs(store, meeting_id) == referenced


def _processing_run(database: db.Database, meeting_id: str) -> int | None:
    runs = db.list_runs(database, meeting_id)
    processing = db.get_meeting(database, meeting_id).status == "processing"
    return runs[-1].id if processing and runs and runs[-1].finished_at is None else None


def _supersede_by_reprocess(database: db.Database, queue: JobQueue, meeting_id: str) -> None:
    db.request_reprocess(database, meeting_id)
    queue.enqueue_processing(meeting_id)


def _supersede_by_expiry(database: db.Database, queue: JobQueue, meeting_id: str) -> None:
    # A sweeper whose clock is an hour ahead sees the running claim as long dead.
    sweeper = LostJobSweeper(
        database, queue, ttl=60.0, clock=lambda: utc_clock() + timedelta(hours=1)
    )
    assert meeting_id in sweeper.sweep()


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[db.Database]:
    database = db.Database(postgres_url)
    db.upgrade(database)
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("supersede", "outcome"),
    [(_supersede_by_reprocess, "superseded"), (_supersede_by_expiry, "expired")],
    ids=["reprocess", "claim-expiry"],
)
def test_a_run_superseded_mid_job_leaves_only_the_last_runs_objects(
    supersede: Callable[[db.Database, JobQueue, str], None],
    outcome: str,
    pg_database: db.Database,
    redis_queue: RedisQueue,
    tiny_holder: ModelHolder,
    tmp_path: Path,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    store = LocalStore(tmp_path / "objects")
    with _workers(pg_database, store, tiny_holder, redis_queue, tmp_path) as queue:
        for round_ in range(ROUNDS):
            meeting_id = new_queued_meeting(pg_database, store, two_voice_recordings.short_wav)
            queue.enqueue_processing(meeting_id)
            first = wait_until(
                partial(_processing_run, pg_database, meeting_id),
                timeout=JOB_TIMEOUT,
                message=f"round {round_}: a worker claims the job",
            )
            supersede(pg_database, queue, meeting_id)

            wait_until(
                partial(_settled_on_last_run, pg_database, store, meeting_id),
                timeout=JOB_TIMEOUT,
                message=f"round {round_}: only the last run's objects are left",
            )
            runs = db.list_runs(pg_database, meeting_id)
            assert runs[0].id == first and runs[0].outcome == outcome, runs
            assert [r.outcome for r in runs[1:]] == ["done"], runs


class _DeletedThenFailing(LocalStore):
    """A real local store: the meeting is deleted (as DELETE does) just before the job's first
    snippet lands, and that write then fails after the object was stored (the answer was lost),
    so the job ends through its failure path with an object the delete did not see."""

    database: db.Database

    def put(self, key: str, body, **kwargs) -> ObjectInfo:  # type: ignore[no-untyped-def]
        if not key.startswith("snippets/"):
            return super().put(key, body, **kwargs)
        meeting_id = key.split("/")[1]
        db.detach_runs(self.database, meeting_id)
        for prefix in ("audio", "snippets", "results"):
            self.delete_prefix(f"{prefix}/{meeting_id}/")
        db.delete_meeting(self.database, meeting_id)
        super().put(key, body, **kwargs)
        raise StorageUnavailableError("The object store stopped answering.")


def test_a_failing_job_of_a_deleted_meeting_leaves_nothing(
    database: db.Database,
    tiny_holder: ModelHolder,
    tmp_path: Path,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    store = _DeletedThenFailing(tmp_path / "objects")
    store.database = database
    context = JobContext(
        database=database, store=store, models=tiny_holder, snippet_seconds=15.0, worker_name="t"
    )
    meeting_id = new_queued_meeting(database, store, two_voice_recordings.short_wav)

    run_job(context, meeting_id, retries_left=0)

    assert not db.meeting_exists(database, meeting_id)
    assert db.list_runs(database, meeting_id) == []
    assert [info.key for info in store.list("")] == []
