"""The job queue going away between a meeting's status change and its enqueue: the meeting is
left ``queued`` with no job, and the workers' sweeper gives it one once the queue is back.

Real Redis behind the fault proxy (refusing connections is a real outage: open
connections reset, new ones refused), real SQLite, the real API for reprocess.
The sweeper's clock is injected, so "queued for a whole TTL" needs no waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ivrimeet import db
from ivrimeet.db.tables import utc_now
from ivrimeet.errors import QueueUnavailableError
from ivrimeet.worker import JobQueue, LostJobSweeper
from tests.faults import ledger
from tests.faults.proxy import FaultProxy, port_of
from tests.servers.api import SettingsFactory, run_api
from tests.servers.databases import RedisQueue, new_queued_meeting

TTL = 120.0


@pytest.fixture
def redis_proxy(
    redis_queue: RedisQueue, fault_proxy: Callable[[int], FaultProxy]
) -> tuple[FaultProxy, str]:
    """A proxy in front of Redis and a REDIS_URL through it."""
    proxy = fault_proxy(port_of(redis_queue.url))
    return proxy, redis_queue.url.replace(f":{port_of(redis_queue.url)}/", f":{proxy.port}/")


def _sweeper(database: db.Database, queue: JobQueue, *, after: float) -> LostJobSweeper:
    """A sweeper whose clock reads ``after`` seconds from now."""
    return LostJobSweeper(
        database, queue, ttl=TTL, clock=lambda: utc_now() + timedelta(seconds=after)
    )


def test_reprocess_while_the_queue_is_down_is_a_503_and_the_sweeper_queues_it_later(
    api_settings: SettingsFactory,
    redis_queue: RedisQueue,
    redis_proxy: tuple[FaultProxy, str],
) -> None:
    proxy, url = redis_proxy
    settings = api_settings(redis_url=url, ivrimeet_queue_name=redis_queue.name)
    with run_api(settings) as api, api.client() as client:
        database, queue = api.services.database, api.services.queue
        meeting_id = new_queued_meeting(database)

        proxy.refuse()
        ledger.fault("queue down")
        answer = client.post(f"/api/meetings/{meeting_id}/reprocess")
        proxy.accept()

        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "queue_unavailable"
        body = answer.json()
        assert body["message"].startswith("The job queue could not be reached.")
        assert "try again in a minute" in body["message"]
        assert body["request_id"] in body["message"]
        assert answer.headers["X-Request-Id"] == body["request_id"]
        for where in ("127.0.0.1", str(proxy.port), redis_queue.name):
            assert where not in answer.text
        assert db.get_meeting(database, meeting_id).status == "queued"
        assert queue.waiting_meetings() == set(), "stranded: queued, and no job anywhere"

        assert _sweeper(database, queue, after=TTL / 2).sweep() == [], "not before a TTL"
        assert _sweeper(database, queue, after=TTL + 1).sweep() == [meeting_id]
        assert queue.waiting_meetings() == {meeting_id}
        assert _sweeper(database, queue, after=2 * TTL + 2).sweep() == [], "its job is waiting"
        assert queue.pending() == 1


def test_a_requeue_whose_enqueue_fails_is_queued_again_by_a_later_sweep(
    database: db.Database, redis_queue: RedisQueue, redis_proxy: tuple[FaultProxy, str]
) -> None:
    proxy, url = redis_proxy
    queue = JobQueue(name=redis_queue.name, redis_url=url, data_dir=Path("unused"))
    meeting_id = new_queued_meeting(database)
    dead = db.claim_for_processing(
        database, meeting_id, worker="dead:1", now=utc_now() - timedelta(seconds=2 * TTL)
    )
    assert dead is not None
    try:
        proxy.refuse()
        ledger.fault("queue down")
        with pytest.raises(QueueUnavailableError):
            _sweeper(database, queue, after=0).sweep()
        proxy.accept()
        # The dead run was ended and the meeting re-queued, but its job never got through.
        assert [r.outcome for r in db.list_runs(database, meeting_id)] == ["expired"]
        assert db.get_meeting(database, meeting_id).status == "queued"
        assert queue.waiting_meetings() == set()

        sweepers = [_sweeper(database, queue, after=TTL + 1) for _ in range(4)]
        assert [found for s in sweepers for found in s.sweep()] == [meeting_id], "exactly once"
        assert queue.waiting_meetings() == {meeting_id}
        assert queue.pending() == 1
        claim = db.claim_for_processing(database, meeting_id, worker="alive:2")
        assert claim is not None and claim.run_id != dead.run_id
    finally:
        queue.close()
