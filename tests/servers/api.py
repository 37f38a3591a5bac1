"""The ivrimeet API in a real uvicorn server on a free port, for integration tests.

``run_api(settings)`` starts ``create_app(settings)`` in a thread (lifespan and
all), waits until uvicorn says it started, and stops it afterwards.
``ApiServer`` exposes the app's own services (database, store, queue) so tests
can check rows and objects directly.

Fixtures:

- ``api_settings``: a factory of ``Settings`` for a test (data dir in tmp, token set).
- ``s3_api``: the API with a fresh moto bucket, SQLite and the SQLite queue.
- ``local_api``: the API with the local folder store.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from ivrimeet.api import create_app
from ivrimeet.api.state import ApiState, ModelReadiness
from ivrimeet.settings import Settings
from ivrimeet.worker import Services
from tests.servers.process import free_port
from tests.servers.s3 import S3Server
from tests.waiting import wait_until

API_TOKEN = "test-api-token-0123456789abcdef"


@dataclass
class ApiServer:
    url: str
    settings: Settings
    app: FastAPI

    @property
    def state(self) -> ApiState:
        state: ApiState = self.app.state.api
        return state

    @property
    def services(self) -> Services:
        return self.state.services

    def client(self, token: str | None = API_TOKEN, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


@contextlib.contextmanager
def run_api(
    settings: Settings,
    *,
    services: Services | None = None,
    models: ModelReadiness | None = None,
) -> Iterator[ApiServer]:
    app = create_app(settings, services=services, models=models)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: server.started or not thread.is_alive(),
            timeout=30,
            message="uvicorn started",
        )
        if not server.started:
            raise RuntimeError("the API server did not start; see the log above")
        yield ApiServer(f"http://127.0.0.1:{port}", settings, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def api_settings(tmp_path: Path) -> SettingsFactory:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "ivrimeet_data_dir": tmp_path / "data",
            "ivrimeet_api_token": API_TOKEN,
            "ivrimeet_queue_name": "test",
        }
        values.update(overrides)
        return Settings(**values)

    return make


def s3_overrides(server: S3Server, bucket: str) -> dict[str, Any]:
    return {
        "s3_bucket": bucket,
        "s3_region": server.region,
        "s3_endpoint_url": server.endpoint_url,
        "aws_access_key_id": server.access_key,
        "aws_secret_access_key": server.secret_key,
        "transfer_part_size": 5 * 1024 * 1024,
    }


@pytest.fixture
def s3_api(moto_s3: S3Server, api_settings: SettingsFactory) -> Iterator[ApiServer]:
    bucket = moto_s3.new_bucket().bucket
    with run_api(api_settings(**s3_overrides(moto_s3, bucket), max_upload_bytes=20 * 2**20)) as api:
        yield api


@pytest.fixture
def local_api(api_settings: SettingsFactory) -> Iterator[ApiServer]:
    with run_api(api_settings(max_upload_bytes=20 * 2**20)) as api:
        yield api
