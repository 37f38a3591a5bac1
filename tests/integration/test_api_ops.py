"""/readyz tries every dependency for real; /metrics speaks Prometheus."""

from __future__ import annotations

import httpx

from tests.servers.api import ApiServer, SettingsFactory, run_api
from tests.servers.databases import RedisQueue
from tests.servers.process import free_port


def test_readyz_is_ready_when_database_queue_and_store_answer(s3_api: ApiServer) -> None:
    answer = httpx.get(f"{s3_api.url}/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {
        "database": "ok",
        "queue": "ok",
        "object_store": "ok",
        "models": "not used by this process",
        "schema": "ok",
    }


def test_readyz_on_postgres_and_redis(
    api_settings: SettingsFactory, postgres_url: str, redis_queue: RedisQueue
) -> None:
    settings = api_settings(
        database_url=postgres_url, redis_url=redis_queue.url, ivrimeet_queue_name=redis_queue.name
    )
    with run_api(settings) as api:
        answer = httpx.get(f"{api.url}/readyz")
    assert answer.status_code == 200, answer.text
    assert api.services.database.url.get_backend_name() == "postgresql"
    assert api.services.queue.is_redis


def test_readyz_names_the_dependency_that_is_down(api_settings: SettingsFactory) -> None:
    dead = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    with run_api(api_settings(redis_url=dead)) as api:
        answer = httpx.get(f"{api.url}/readyz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "not ready"
    assert answer.json()["checks"]["queue"] == "queue_unavailable"
    assert answer.json()["checks"]["database"] == "ok"
    assert "hunter2-secret" not in answer.text


def test_readyz_waits_for_the_in_process_worker_models(api_settings: SettingsFactory) -> None:
    state = {"loaded": False}

    def models() -> tuple[bool, str]:
        return state["loaded"], "loaded" if state["loaded"] else "loading"

    with run_api(api_settings(), models=models) as api:
        loading = httpx.get(f"{api.url}/readyz")
        state["loaded"] = True
        loaded = httpx.get(f"{api.url}/readyz")
    assert (loading.status_code, loading.json()["checks"]["models"]) == (503, "loading")
    assert (loaded.status_code, loaded.json()["checks"]["models"]) == (200, "loaded")


def test_enqueue_failure_leaves_no_meeting_behind(api_settings: SettingsFactory) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with run_api(api_settings(redis_url=dead)) as api, api.client() as client:
        answer = client.post(
            "/api/meetings",
            content=b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(2000),
            headers={"Content-Type": "audio/wav"},
        )
        assert answer.status_code == 503
        assert answer.json()["code"] == "queue_unavailable"
        assert dead.split("//")[1] not in answer.text, "where the queue is goes to the log only"
        assert client.get("/api/meetings").json()["total"] == 0
        assert list(api.services.store.list("audio/")) == []


def test_metrics_are_prometheus_text(local_api: ApiServer) -> None:
    answer = httpx.get(f"{local_api.url}/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    for name in (
        "ivrimeet_uploads_total",
        "ivrimeet_upload_bytes_total",
        "ivrimeet_job_seconds",
        "ivrimeet_model_load_seconds",
        "ivrimeet_s3_errors_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in answer.text, name
