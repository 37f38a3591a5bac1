"""Scale-out: two API replicas and two workers share one bucket, PostgreSQL and Redis.

Every process is a real ``ivrimeet`` child (``serve --no-worker`` and ``worker``)
configured only through its environment, as on a platform like Koyeb. Six
uploads spread over both APIs must each be processed exactly once, and the
work must be shared by both workers.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import httpx
import pytest

from ivrimeet import db
from ivrimeet.objects import S3Store
from ivrimeet.processing.run_keys import results_rttm_key
from tests.audio import TwoVoiceRecording
from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.servers.databases import RedisQueue
from tests.servers.hub import StandInHub
from tests.servers.ivrimeet import ivrimeet_env, serve, worker
from tests.servers.s3 import S3Server
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

TOKEN = "scale-out-token-0123456789abcdef"
UPLOADS = 6


def _models_ready(log: Path) -> bool:
    return "models.ready" in log.read_text(errors="replace")


def test_two_apis_and_two_workers_process_six_uploads_each_exactly_once(
    tmp_path: Path,
    moto_s3: S3Server,
    hub_standin: StandInHub,
    postgres_url: str,
    redis_queue: RedisQueue,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    bucket = moto_s3.new_bucket().bucket

    def env_for(name: str) -> dict[str, str]:
        return ivrimeet_env(
            tmp_path / name,
            token=TOKEN,
            s3=moto_s3,
            bucket=bucket,
            hub=hub_standin,
            pipeline=PIPELINE_SPEECHBRAIN,
            encoder=SPEECHBRAIN_ECAPA,
            DATABASE_URL=postgres_url,
            REDIS_URL=redis_queue.url,
            IVRIMEET_QUEUE_NAME=redis_queue.name,
        )

    recording = two_voice_recordings.short_wav.read_bytes()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with ExitStack() as stack:
        apis = []
        for name in ("api-1", "api-2"):
            (tmp_path / name).mkdir()
            url, _ = stack.enter_context(serve(env_for(name), tmp_path / name, "--no-worker"))
            apis.append(stack.enter_context(httpx.Client(base_url=url, headers=headers)))
        workers = []
        for name in ("worker-1", "worker-2"):
            (tmp_path / name).mkdir()
            workers.append(stack.enter_context(worker(env_for(name), tmp_path / name)))
        for proc in workers:
            wait_until(
                partial(_models_ready, proc.log_path),
                timeout=180,
                interval=0.5,
                message="worker models loaded",
            )

        ids = []
        for index in range(UPLOADS):
            answer = apis[index % 2].post(
                "/api/meetings",
                content=recording,
                headers={"Content-Type": "audio/wav"},
                params={"title": f"meeting {index}"},
                timeout=60,
            )
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])

        def all_done() -> bool:
            statuses = [apis[1].get(f"/api/meetings/{i}").json()["status"] for i in ids]
            assert "failed" not in statuses, statuses
            return all(s == "done" for s in statuses)

        wait_until(all_done, timeout=420, interval=1.0, message="six meetings done")
        listed = apis[0].get("/api/meetings", params={"limit": 100}).json()
        assert sorted(m["id"] for m in listed["items"]) == sorted(ids)

    database = db.Database(postgres_url)
    try:
        runs = db.list_runs(database)
    finally:
        database.dispose()
    assert Counter(r.meeting_id for r in runs) == dict.fromkeys(ids, 1)
    assert {r.outcome for r in runs} == {"done"}
    assert len({r.worker for r in runs}) == 2, "both workers should have taken jobs"
    store = S3Store(moto_s3.connection(bucket))
    for run in runs:
        assert store.exists(results_rttm_key(run.meeting_id, str(run.id)))
