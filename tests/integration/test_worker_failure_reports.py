"""How a failed job is reported: a plain reason for the user, one log line per failure.

Real parts: the model store on a local bucket, the Hub stand-in switched off
(the models can be loaded from nowhere), SQLite, and Huey's own executor for
the queue.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ivrimeet import db
from ivrimeet.objects import LocalStore
from ivrimeet.worker import RETRIES, JobContext, JobQueue, run_job
from ivrimeet.worker.run import ModelWarmup
from tests.integration.conftest import HolderFactory
from tests.servers.databases import new_queued_meeting
from tests.servers.hub import StandInHub
from tests.waiting import wait_until


def _queued(database: db.Database, store: LocalStore) -> str:
    return new_queued_meeting(database, store, b"RIFF" + b"\0" * 64)


@pytest.fixture
def cold_context(
    database: db.Database,
    local_store: LocalStore,
    hub_client: StandInHub,
    model_holder_for: HolderFactory,
    tmp_path: Path,
) -> JobContext:
    """A worker whose models are in no bucket and whose Hub is down."""
    hub_client.outage = True
    return JobContext(
        database=database,
        store=local_store,
        models=model_holder_for(hub_client, tmp_path / "cold"),
        snippet_seconds=15.0,
        worker_name="t",
    )


def test_a_model_failure_tells_the_user_what_happened_without_server_details(
    cold_context: JobContext,
    database: db.Database,
    local_store: LocalStore,
    hub_client: StandInHub,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    meeting_id = _queued(database, local_store)
    with caplog.at_level(logging.INFO, logger="ivrimeet"):
        run_job(cold_context, meeting_id, retries_left=0)

    error = db.get_meeting(database, meeting_id).error
    assert error is not None
    assert "speaker models could not be loaded" in error and "Hugging Face" in error
    assert "Process again" in error and meeting_id in error
    for internal in (str(tmp_path), "/tmp", hub_client.endpoint, "127.0.0.1", "http"):
        assert internal not in error, internal
    [logged] = [r.getMessage() for r in caplog.records if "job.error" in r.getMessage()]
    assert f"meeting={meeting_id}" in logged and "code=hub_unavailable" in logged
    assert hub_client.endpoint in logged and "\n" not in logged


def test_retries_of_an_expected_failure_log_no_traceback_but_a_bug_keeps_one(
    cold_context: JobContext,
    database: db.Database,
    local_store: LocalStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = JobQueue(name="reports", redis_url=None, data_dir=tmp_path / "queue")
    try:
        queue.attach(lambda m, retries: run_job(cold_context, m, retries_left=retries))
        meeting_id = _queued(database, local_store)
        queue.enqueue_processing(meeting_id)
        task = queue.huey.dequeue()
        with caplog.at_level(logging.INFO):
            queue.huey.execute(task)
        assert task.retries == RETRIES - 1
        assert queue.waiting_meetings() == {meeting_id}
        assert db.get_meeting(database, meeting_id).status == "queued"
        assert not [r for r in caplog.records if r.exc_info], [
            r.getMessage() for r in caplog.records if r.exc_info
        ]
        assert not [r for r in caplog.records if "Unhandled exception" in r.getMessage()]

        caplog.clear()
        queue.flush()

        def bug(meeting_id: str, retries: int) -> None:
            raise RuntimeError("a bug")

        queue.attach(bug)
        queue.enqueue_processing(meeting_id)
        with caplog.at_level(logging.INFO):
            queue.huey.execute(queue.huey.dequeue())
        [crash] = [r for r in caplog.records if "Unhandled exception" in r.getMessage()]
        assert crash.exc_info is not None
    finally:
        queue.close()


def test_a_failed_model_load_at_start_logs_reasons_and_hints_on_one_line(
    cold_context: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    warmup = ModelWarmup(cold_context.models)
    with caplog.at_level(logging.INFO, logger="ivrimeet"):
        warmup.start()
        wait_until(lambda: warmup()[1].startswith("failed"), timeout=120)
    [logged] = [r.getMessage() for r in caplog.records if "models.failed" in r.getMessage()]
    assert "code=hub_unavailable" in logged and "error='Cannot load" in logged
    assert "details=" in logged and "not stored" in logged
    assert "hints='check the network" in logged and "\n" not in logged
