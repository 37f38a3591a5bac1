"""Lost jobs: heartbeats keep a run alive, sweepers re-queue a dead one exactly once, and a
meeting left ``queued`` without a job gets one, exactly once.

Real SQLite and PostgreSQL databases and the real SQLite job queue; the clock
is injected, so a claim expires without waiting for it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivrimeet import db
from ivrimeet.worker import ClaimHeartbeat, JobQueue, LostJobSweeper
from tests.servers.databases import new_queued_meeting

TTL = 120.0
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[db.Database]:
    url = (
        db.sqlite_url(tmp_path / "data")
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    database = db.Database(url)
    db.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    queue = JobQueue(name=f"claims-{uuid.uuid4().hex[:8]}", redis_url=None, data_dir=tmp_path)
    yield queue
    queue.close()


def _claimed(database: db.Database, *, at: datetime) -> db.Claim:
    meeting_id = new_queued_meeting(database)
    claim = db.claim_for_processing(database, meeting_id, worker="dead:1", now=at)
    assert claim is not None
    return claim


def test_a_claim_renewed_within_the_ttl_is_left_alone(
    database: db.Database, queue: JobQueue
) -> None:
    claim = _claimed(database, at=T0)
    assert db.renew_claim(database, claim, now=T0 + timedelta(seconds=100))
    sweeper = LostJobSweeper(database, queue, ttl=TTL, clock=lambda: T0 + timedelta(seconds=200))
    assert sweeper.sweep() == []
    assert db.get_meeting(database, claim.meeting_id).status == "processing"
    assert queue.pending() == 0


def test_an_expired_claim_is_requeued_once_and_its_run_can_no_longer_write(
    database: db.Database, queue: JobQueue
) -> None:
    claim = _claimed(database, at=T0)
    later = T0 + timedelta(seconds=TTL + 1)
    results = _racing_sweeps(
        [LostJobSweeper(database, queue, ttl=TTL, clock=lambda: later) for _ in range(8)]
    )

    assert sorted(results, key=len) == [[]] * 7 + [[claim.meeting_id]]
    assert queue.pending() == 1
    meeting = db.get_meeting(database, claim.meeting_id)
    assert (meeting.status, meeting.error) == ("queued", None)
    [run] = db.list_runs(database, claim.meeting_id)
    assert run.outcome == "expired"
    assert run.error is not None and "dead:1" in run.error
    # The dead run, should it wake up: no heartbeat, no results, no failure recorded.
    assert not db.renew_claim(database, claim, now=later)
    assert not db.record_results(
        database,
        claim,
        duration_seconds=1.0,
        speakers=[],
        segments=[],
        rttm_key=None,
        json_key=None,
    )
    assert not db.mark_failed(database, claim, "late")
    assert db.get_meeting(database, claim.meeting_id).status == "queued"
    # The re-run claims it afresh.
    again = db.claim_for_processing(database, claim.meeting_id, worker="alive:2", now=later)
    assert again is not None and again.run_id != claim.run_id


def _racing_sweeps(sweepers: list[LostJobSweeper]) -> list[list[str]]:
    results: list[list[str]] = []
    barrier = threading.Barrier(len(sweepers))

    def sweep(sweeper: LostJobSweeper) -> None:
        barrier.wait()
        results.append(sweeper.sweep())

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_meeting_queued_without_a_job_gets_one_from_exactly_one_sweeper(
    database: db.Database, queue: JobQueue
) -> None:
    stranded = new_queued_meeting(database)  # the enqueue after it never happened
    waiting = new_queued_meeting(database)
    queue.enqueue_processing(waiting)
    later = datetime.now(UTC) + timedelta(seconds=TTL + 1)

    results = _racing_sweeps(
        [LostJobSweeper(database, queue, ttl=TTL, clock=lambda: later) for _ in range(8)]
    )

    assert sorted(results, key=len) == [[]] * 7 + [[stranded]]
    assert queue.waiting_meetings() == {stranded, waiting}
    assert queue.pending() == 2
    assert db.get_meeting(database, stranded).status == "queued"


def test_a_recently_queued_meeting_is_not_taken_for_stranded(
    database: db.Database, queue: JobQueue
) -> None:
    meeting_id = new_queued_meeting(database)
    soon = datetime.now(UTC) + timedelta(seconds=TTL - 5)

    assert LostJobSweeper(database, queue, ttl=TTL, clock=lambda: soon).sweep() == []
    assert queue.pending() == 0
    assert db.get_meeting(database, meeting_id).status == "queued"


def test_the_heartbeat_thread_renews_the_claim_while_the_job_runs(
    database: db.Database,
) -> None:
    claim = _claimed(database, at=T0)
    renewed = threading.Event()
    beats = iter(T0 + timedelta(seconds=10 * n) for n in range(1, 1000))

    def clock() -> datetime:
        renewed.set()
        return next(beats)

    with ClaimHeartbeat(database, claim, ttl=0.3, clock=clock):
        assert renewed.wait(10)
    [run] = db.list_runs(database, claim.meeting_id)
    assert run.heartbeat_at is not None and run.heartbeat_at > T0
