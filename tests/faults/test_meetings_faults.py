"""The meetings API when S3 or the database fails under it: a 503 that says what failed,
nothing half-written (no object, no open multipart upload, no row), and recovery without a
restart once the dependency is back."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ivrimeet import db
from tests.faults import ledger
from tests.faults.conftest import ProxiedBucket
from tests.faults.leftovers import objects_left, rows_left, uploads_left
from tests.faults.proxy import FaultProxy
from tests.servers.api import API_TOKEN, ApiServer, SettingsFactory, run_api, s3_overrides

MiB = 1024 * 1024
DB_PASSWORD = "db-password-ivrimeet-do-not-print-42"


def wav(size: int) -> bytes:
    """A RIFF/WAVE header and ``size`` bytes of noise: enough for the upload's sniffing."""
    header = b"RIFF" + (size + 36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += bytes.fromhex("0100 0100 803e0000 007d0000 0200 1000".replace(" ", ""))
    return header + b"data" + size.to_bytes(4, "little") + os.urandom(size)


def _api_through(
    proxied: ProxiedBucket, api_settings: SettingsFactory, **extra: Any
) -> Iterator[ApiServer]:
    overrides = s3_overrides(proxied.server, proxied.bucket)
    overrides["s3_endpoint_url"] = proxied.proxy.url
    with run_api(api_settings(**overrides, max_upload_bytes=64 * MiB, **extra)) as api:
        yield api


@pytest.fixture
def api(proxied_moto: ProxiedBucket, api_settings: SettingsFactory) -> Iterator[ApiServer]:
    yield from _api_through(proxied_moto, api_settings)


# An upload that fails only after botocore's retries (5 attempts, exponential backoff up to
# ~15 s) can take well over the usual 30 s client timeout on a loaded 2-core CI box: the
# answer is what is under test, so wait for it, within a bound.
UPLOAD_ANSWER_SECONDS = 180


def _post(api: ApiServer, body: bytes) -> httpx.Response:
    ledger.upload()
    with httpx.Client(
        base_url=api.url,
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=UPLOAD_ANSWER_SECONDS,
    ) as client:
        return client.post("/api/meetings", content=body, headers={"Content-Type": "audio/wav"})


def _rows(api: ApiServer) -> list[str]:
    page = db.list_meetings(api.services.database, limit=100, offset=0)
    return rows_left([m.id for m in page.items])


@pytest.mark.slow  # botocore's retries against a dead endpoint: ~15 s
def test_upload_while_s3_refuses_connections_is_a_503_and_leaves_nothing(
    api: ApiServer, proxied_moto: ProxiedBucket
) -> None:
    proxied_moto.proxy.refuse()
    ledger.fault("s3 down")

    answer = _post(api, wav(MiB))

    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["code"] == "storage_unavailable"
    assert body["message"].startswith("The object store could not be reached.")
    assert body["request_id"] in body["message"]
    assert answer.headers["X-Request-Id"] == body["request_id"]
    for leak in (proxied_moto.bucket, "127.0.0.1", "audio/", "s3://", "http://"):
        assert leak not in answer.text
    proxied_moto.proxy.accept()
    assert objects_left(proxied_moto.server, proxied_moto.bucket) == []
    assert uploads_left(proxied_moto.server, proxied_moto.bucket) == []
    assert _rows(api) == []


@pytest.mark.slow  # botocore's retries against a dead endpoint: ~15 s
def test_upload_whose_parts_stop_getting_through_is_a_503_with_the_upload_aborted(
    api: ApiServer, proxied_moto: ProxiedBucket
) -> None:
    proxied_moto.proxy.cut(64 * 1024, request="partNumber=2", direction="up", times=None)

    answer = _post(api, wav(12 * MiB))

    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "storage_unavailable"
    assert proxied_moto.proxy.faults >= 2, "the part was retried before giving up"
    assert objects_left(proxied_moto.server, proxied_moto.bucket) == []
    assert uploads_left(proxied_moto.server, proxied_moto.bucket) == []
    assert _rows(api) == []


def test_upload_with_one_part_cut_once_is_retried_and_stored_whole(
    api: ApiServer, proxied_moto: ProxiedBucket
) -> None:
    recording = wav(12 * MiB)
    proxied_moto.proxy.cut(64 * 1024, request="partNumber=2", direction="up", times=1)

    answer = _post(api, recording)

    assert answer.status_code == 201, answer.text
    meeting = answer.json()["id"]
    stored = proxied_moto.admin().get_object(
        Bucket=proxied_moto.bucket, Key=f"audio/{meeting}/original.wav"
    )
    if stored["Body"].read() != recording:
        ledger.corrupt_load()
        pytest.fail("the stored recording differs from the upload")
    assert uploads_left(proxied_moto.server, proxied_moto.bucket) == []


# --- the database going away -------------------------------------------------------------


@pytest.fixture
def db_proxy(postgres_url: str, fault_proxy: Callable[[int], FaultProxy]) -> tuple[FaultProxy, str]:
    """A proxy in front of PostgreSQL and a DATABASE_URL through it (a fresh schema).

    The URL carries a password (the server trusts local connections and ignores it),
    so answers can be checked for it.
    """
    proxy = fault_proxy(5432)
    return proxy, postgres_url.replace(
        "postgres@127.0.0.1:5432", f"postgres:{DB_PASSWORD}@127.0.0.1:{proxy.port}"
    )


def _down_then_back(
    api: ApiServer, take_down: Callable[[], None], bring_back: Callable[[], None]
) -> tuple[list[httpx.Response], list[httpx.Response]]:
    """(list, upload) answers while the database is down, then after it is back."""
    with api.client() as client:
        assert client.get("/api/meetings").status_code == 200
        take_down()
        ledger.fault("database down")
        down = [client.get("/api/meetings"), _post(api, wav(MiB))]
        bring_back()
        up = [client.get("/api/meetings"), _post(api, wav(MiB))]
    return down, up


def _check_down_then_back(
    down: list[httpx.Response],
    up: list[httpx.Response],
    *,
    kind: str,
    server: Any,
    bucket: str,
    hidden: tuple[str, ...],
) -> None:
    for answer in down:
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["code"] == "database_unavailable"
        assert body["message"].startswith("The database could not be reached."), body["message"]
        assert f"request id {body['request_id']}" in body["message"]
        for secret in hidden:  # where the database is and who connects stay in the server log
            assert secret not in answer.text
    list_up, upload_up = up
    assert list_up.status_code == 200, list_up.text
    assert upload_up.status_code == 201, upload_up.text
    meeting = upload_up.json()["id"]
    assert list_up.json()["total"] == 0, "the upload refused while down left no row"
    # ... and no recording behind.
    assert objects_left(server, bucket, expected=frozenset({f"audio/{meeting}/original.wav"})) == []


def test_postgresql_down_is_a_503_and_the_api_recovers_without_a_restart(
    moto_s3: Any,
    api_settings: SettingsFactory,
    db_proxy: tuple[FaultProxy, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy, url = db_proxy
    bucket = moto_s3.new_bucket().bucket
    settings = api_settings(**s3_overrides(moto_s3, bucket), database_url=url)
    with run_api(settings) as api, caplog.at_level(logging.WARNING, logger="ivrimeet.db"):
        # refuse(): every open connection is reset and no new one gets through.
        down, up = _down_then_back(api, proxy.refuse, proxy.accept)

    _check_down_then_back(
        down,
        up,
        kind="PostgreSQL",
        server=moto_s3,
        bucket=bucket,
        hidden=(DB_PASSWORD, "127.0.0.1", str(proxy.port), "postgres"),
    )
    logged = [m for m in caplog.messages if m.startswith("db.unavailable ")]
    assert logged and f"127.0.0.1:{proxy.port}" in logged[0], "operators get the detail"
    assert not any(DB_PASSWORD in m for m in caplog.messages)


def test_sqlite_directory_gone_is_a_503_and_the_api_recovers_without_a_restart(
    moto_s3: Any, api_settings: SettingsFactory, tmp_path: Path
) -> None:
    # A volume unmounted or a data dir removed under a running service. Pooled
    # connections would keep using the unlinked file and lose every write; they must
    # notice instead, answer 503, and work again once the directory is back.
    directory, away = tmp_path / "database", tmp_path / "database-away"
    bucket = moto_s3.new_bucket().bucket
    settings = api_settings(
        **s3_overrides(moto_s3, bucket),
        database_url=f"sqlite:///{directory / 'meetings.sqlite3'}",
    )
    with run_api(settings) as api:
        down, up = _down_then_back(
            api, lambda: directory.rename(away), lambda: away.rename(directory)
        )

    _check_down_then_back(
        down,
        up,
        kind="SQLite",
        server=moto_s3,
        bucket=bucket,
        hidden=(str(tmp_path), "meetings.sqlite3"),
    )


def test_api_without_token_wrong_token_or_token_in_query_is_refused(api: ApiServer) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as anonymous:
        missing = anonymous.get("/api/meetings")
        wrong = anonymous.get("/api/meetings", headers={"Authorization": "Bearer nope"})
        query = anonymous.get("/api/meetings", params={"token": API_TOKEN})
        query_and_header = anonymous.get(
            "/api/meetings",
            params={"access_token": API_TOKEN},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )

    for answer in (missing, wrong, query, query_and_header):
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert API_TOKEN not in answer.text
    assert missing.json()["message"].startswith("This request needs the API token.")
    assert query.json()["message"].startswith("API tokens in the query string are refused.")
    assert query_and_header.json()["message"].startswith("API tokens in the query string")
