"""Limits before work and answers that leak nothing, against a real API server.

- ``offset`` beyond any database integer, and NUL in a title or a speaker name: 422
  on SQLite and PostgreSQL (a 500 before);
- 20 uploads at once against ``MAX_CONCURRENT_UPLOADS=4``: never more than 4 in
  flight, the others refused at once with 503 and ``Retry-After``;
- PostgreSQL unreachable at start-up: ``/healthz`` answers, ``/readyz`` says why,
  and the server reconnects by itself when the database comes back;
- every error answer is checked for endpoints, buckets, keys and paths.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.faults.proxy import FaultProxy
from tests.integration.api_support import fake_results, noise_wav, upload
from tests.servers.api import API_TOKEN, ApiServer, SettingsFactory, run_api
from tests.waiting import wait_until

DB_PASSWORD = "db-password-ivrimeet-do-not-print-42"
_LEAKS = re.compile(
    r"[a-z][a-z0-9+.-]*://|127\.0\.0\.1|\b(?:audio|snippets|results)/[0-9a-f]{6}|/tmp/|/work/|"
    + re.escape(DB_PASSWORD)
)


def _wav_header() -> bytes:
    size = 1024 * 1024
    header = b"RIFF" + (size + 36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += bytes.fromhex("0100010080" + "3e0000007d00000200" + "1000")
    return header + b"data" + size.to_bytes(4, "little")


def _assert_no_leak(answer: httpx.Response) -> None:
    assert not _LEAKS.search(answer.text), answer.text
    body = answer.json()
    assert body["request_id"] == answer.headers["X-Request-Id"]


@pytest.fixture
def pg_api(api_settings: SettingsFactory, postgres_url: str) -> Iterator[ApiServer]:
    with run_api(api_settings(database_url=postgres_url)) as api:
        yield api


@pytest.fixture
def sqlite_api(api_settings: SettingsFactory) -> Iterator[ApiServer]:
    with run_api(api_settings()) as api:
        yield api


@pytest.mark.parametrize("which", ["sqlite_api", "pg_api"])
def test_out_of_range_offset_and_nul_text_are_422_on_every_database(
    which: str, request: pytest.FixtureRequest
) -> None:
    api: ApiServer = request.getfixturevalue(which)
    some_id = "0" * 32
    with api.client() as client:
        answers = [
            client.get("/api/meetings", params={"offset": "9223372036854775808"}),
            client.get("/api/meetings", params={"offset": str(2**31)}),
            client.get("/api/meetings", params={"limit": "0"}),
            client.post(
                "/api/meetings",
                params={"title": "a\x00b"},
                content=_wav_header() + bytes(1024 * 1024),
                headers={"Content-Type": "audio/wav"},
            ),
            client.patch(f"/api/meetings/{some_id}/speakers/{some_id}", json={"name": "a\x00b"}),
        ]
        assert client.get("/api/meetings").json()["total"] == 0, "nothing was stored"
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_input"
        _assert_no_leak(answer)


@pytest.mark.parametrize("which", ["sqlite_api", "pg_api"])
def test_nul_in_a_real_speakers_name_is_422_and_the_name_is_kept(
    which: str, request: pytest.FixtureRequest
) -> None:
    api: ApiServer = request.getfixturevalue(which)
    meeting_id = str(upload(api, noise_wav(4000))["id"])
    fake_results(api, meeting_id)
    with api.client() as client:
        speaker = client.get(f"/api/meetings/{meeting_id}").json()["speakers"][0]
        path = f"/api/meetings/{meeting_id}/speakers/{speaker['id']}"
        assert client.patch(path, json={"name": "Dana"}).status_code == 200
        refused = client.patch(path, json={"name": "Da\x00na"})
        after = client.get(f"/api/meetings/{meeting_id}").json()["speakers"][0]
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "invalid_input"
    _assert_no_leak(refused)
    assert after["name"] == "Dana"


def test_uploads_beyond_the_bound_get_503_with_retry_after_and_the_rest_succeed(
    api_settings: SettingsFactory,
) -> None:
    limit, total = 4, 20
    release = threading.Event()
    peak = [0]

    def slow_body() -> Iterator[bytes]:
        yield _wav_header()
        release.wait(60)
        yield bytes(1024 * 1024)

    with run_api(api_settings(max_concurrent_uploads=limit)) as api:
        slots = api.state.upload_slots
        answers: list[httpx.Response] = []

        def upload(body: Iterator[bytes] | bytes) -> None:
            with api.client() as client:
                answers.append(
                    client.post(
                        "/api/meetings", content=body, headers={"Content-Type": "audio/wav"}
                    )
                )

        # ``limit`` uploads that hold their slot (their bodies wait), then the rest at once.
        holders = [threading.Thread(target=upload, args=(slow_body(),)) for _ in range(limit)]
        for thread in holders:
            thread.start()
        wait_until(lambda: slots.in_use == limit, timeout=30, message="the slots taken")
        whole = _wav_header() + bytes(1024 * 1024)
        others = [threading.Thread(target=upload, args=(whole,)) for _ in range(total - limit)]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join(60)
        peak[0] = slots.in_use
        release.set()
        for thread in holders:
            thread.join(60)

    assert peak[0] == limit
    assert sorted(a.status_code for a in answers) == [201] * limit + [503] * (total - limit)
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] == "5"
            assert answer.json()["code"] == "busy"
            _assert_no_leak(answer)


def test_database_down_at_start_keeps_healthz_and_readyz_answering_then_reconnects(
    api_settings: SettingsFactory,
    postgres_url: str,
    fault_proxy: Callable[[int], FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ivrimeet.api import schema_startup

    monkeypatch.setattr(schema_startup, "RETRY_SECONDS", 0.5)
    proxy = fault_proxy(5432)
    url = postgres_url.replace(
        "postgres@127.0.0.1:5432", f"postgres:{DB_PASSWORD}@127.0.0.1:{proxy.port}"
    )
    proxy.refuse()
    with run_api(api_settings(database_url=url)) as api, httpx.Client(base_url=api.url) as http:
        assert http.get("/healthz").status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["schema"].startswith("database unreachable")
        assert not _LEAKS.search(ready.text), ready.text
        listed = http.get("/api/meetings", headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert listed.status_code == 503 and listed.json()["code"] == "database_unavailable"
        _assert_no_leak(listed)

        proxy.accept()

        wait_until(lambda: http.get("/readyz").status_code == 200, timeout=30, message="ready")
        listed = http.get("/api/meetings", headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert listed.status_code == 200


def test_error_answers_name_no_endpoint_bucket_key_or_path(sqlite_api: ApiServer) -> None:
    missing = "f" * 32
    with sqlite_api.client() as client, sqlite_api.client(token=None) as anonymous:
        answers: list[Any] = [
            client.get(f"/api/meetings/{missing}"),
            client.get(f"/api/meetings/{missing}/audio"),
            client.get(f"/api/meetings/{missing}/rttm"),
            client.delete(f"/api/meetings/{missing}"),
            client.post(f"/api/meetings/{missing}/reprocess"),
            client.get("/api/meetings/not-an-id"),
            client.post(
                "/api/meetings", content=b"plain text", headers={"Content-Type": "audio/wav"}
            ),
            client.post("/api/meetings", content=b"", headers={"Content-Type": "audio/wav"}),
            client.post("/api/meetings", content=b"x", headers={"Content-Type": "text/plain"}),
            anonymous.get("/api/meetings"),
            client.get(f"/media/{missing}/recording", params={"expires": 1, "signature": "x"}),
        ]
    for answer in answers:
        assert answer.status_code >= 400, answer.text
        _assert_no_leak(answer)
