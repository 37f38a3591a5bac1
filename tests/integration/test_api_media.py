"""Media links: answers carry no credential, and the links play with Range, on S3 and locally.

With temporary credentials (``AWS_SESSION_TOKEN``) a presigned S3 URL carried the
session token and the full key id (issue 17); answers now hold ``/media`` links
signed by the API, and the API streams the object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ivrimeet.api.media_links import MediaLinks
from ivrimeet.api.routes.media import RangeNotSatisfiable, parse_range
from tests.integration.api_support import fake_results, noise_wav, upload
from tests.servers.api import ApiServer, SettingsFactory, run_api, s3_overrides
from tests.servers.s3 import S3Server

SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE-session-token-do-not-print-7f3a9c"


@pytest.fixture
def session_api(moto_s3: S3Server, api_settings: SettingsFactory) -> Iterator[ApiServer]:
    """The API on moto with temporary credentials: key id, secret and a session token."""
    bucket = moto_s3.new_bucket().bucket
    settings = api_settings(**s3_overrides(moto_s3, bucket), aws_session_token=SESSION_TOKEN)
    with run_api(settings) as api:
        yield api


@pytest.fixture(params=["session_api", "local_api"])
def api(request: pytest.FixtureRequest) -> ApiServer:
    server: ApiServer = request.getfixturevalue(request.param)
    return server


def _credentials(api: ApiServer) -> list[str]:
    settings = api.settings
    secrets = [settings.aws_access_key_id, settings.aws_secret_access_key]
    secrets.append(settings.aws_session_token)
    return [s.get_secret_value() for s in secrets if s is not None]


def _link(api: ApiServer, path: str) -> str:
    with api.client() as client:
        answer = client.get(path, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    assert url.startswith("/media/")
    return f"{api.url}{url}"


def test_no_answer_holds_the_session_token_secret_or_key_id(session_api: ApiServer) -> None:
    api = session_api
    assert len(_credentials(api)) == 3, "the server runs on temporary credentials"
    with api.client() as client:
        created = client.post(
            "/api/meetings", content=noise_wav(4000), headers={"Content-Type": "audio/wav"}
        )
        meeting_id = created.json()["id"]
        fake_results(api, meeting_id)
        meeting = client.get(f"/api/meetings/{meeting_id}")
        speaker_id = meeting.json()["speakers"][0]["id"]
        answers: list[Any] = [
            created,
            meeting,
            client.get("/api/meetings"),
            client.get(f"/api/meetings/{meeting_id}/audio"),
            client.get(f"/api/meetings/{meeting_id}/audio", headers={"Accept": "application/json"}),
            client.get(f"/api/meetings/{meeting_id}/speakers/{speaker_id}/snippet"),
            client.get(
                f"/api/meetings/{meeting_id}/speakers/{speaker_id}/snippet",
                headers={"Accept": "application/json"},
            ),
            client.patch(
                f"/api/meetings/{meeting_id}/speakers/{speaker_id}", json={"name": "Dana"}
            ),
            client.post(f"/api/meetings/{meeting_id}/reprocess"),
        ]
    assert meeting.json()["speakers"][0]["snippet_url"].startswith("/media/")
    bucket = str(api.settings.s3_bucket)
    for answer in answers:
        assert answer.status_code < 400, answer.text
        seen = answer.text + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
        for secret in [*_credentials(api), bucket, "X-Amz-", str(api.settings.s3_endpoint_url)]:
            assert secret not in seen, f"{secret[:6]}... in {answer.request.url.path}"


def test_recording_link_plays_whole_and_by_range(api: ApiServer) -> None:
    data = noise_wav(300_000)
    url = _link(api, f"/api/meetings/{upload(api, data)['id']}/audio")
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["content-length"] == str(len(data))
    assert whole.headers["accept-ranges"] == "bytes"
    for header, first, last in [
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=-16", len(data) - 16, None),
    ]:
        part = httpx.get(url, headers={"Range": header})
        expected = data[first : (last + 1) if last is not None else None]
        assert part.status_code == 206
        assert part.content == expected
        assert part.headers["content-length"] == str(len(expected))
        end = first + len(expected) - 1
        assert part.headers["content-range"] == f"bytes {first}-{end}/{len(data)}"


def test_snippet_link_in_the_meeting_plays_by_range_without_the_api_token(api: ApiServer) -> None:
    meeting_id = str(upload(api, noise_wav(2000))["id"])
    fake_results(api, meeting_id)
    with api.client() as client:
        speakers = client.get(f"/api/meetings/{meeting_id}").json()["speakers"]
    snippet = api.services.store.get_bytes(f"snippets/{meeting_id}/{speakers[1]['label']}.wav")
    answer = httpx.get(f"{api.url}{speakers[1]['snippet_url']}", headers={"Range": "bytes=0-99"})
    assert answer.status_code == 206
    assert answer.content == snippet[:100]
    assert answer.headers["content-range"] == f"bytes 0-99/{len(snippet)}"


def test_range_past_the_end_is_416(local_api: ApiServer) -> None:
    data = noise_wav(1000)
    url = _link(local_api, f"/api/meetings/{upload(local_api, data)['id']}/audio")
    answer = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{len(data)}"


def test_audio_route_redirects_to_the_media_link(local_api: ApiServer) -> None:
    data = noise_wav(5000)
    meeting_id = upload(local_api, data)["id"]
    with local_api.client() as client:
        answer = client.get(f"/api/meetings/{meeting_id}/audio")
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"/media/{meeting_id}/recording?expires=")
    assert httpx.get(f"{local_api.url}{answer.headers['location']}").content == data


def test_tampered_expired_or_moved_links_are_403(local_api: ApiServer) -> None:
    first = str(upload(local_api, noise_wav(1000))["id"])
    other = str(upload(local_api, noise_wav(1000))["id"])
    url = _link(local_api, f"/api/meetings/{first}/audio")
    base, query = url.split("?", 1)
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    answers = [
        httpx.get(base, params={**params, "signature": "0" * 64}),
        httpx.get(base, params={**params, "expires": str(int(params["expires"]) + 60)}),
        httpx.get(base, params={**params, "expires": "1000"}),
        httpx.get(base.replace(first, other), params=params),
    ]
    for answer in answers:
        assert answer.status_code == 403
        assert answer.json()["code"] == "bad_signature"


def test_links_expire_by_the_clock_and_bind_their_path() -> None:
    now = [1_000_000.0]
    links = MediaLinks(b"k" * 32, expires_seconds=60, clock=lambda: now[0])
    path, query = links.recording("a" * 32).split("?")
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    expires, signature = int(params["expires"]), params["signature"]
    assert links.verify(path, expires, signature)
    assert not links.verify(path.replace("a", "b"), expires, signature)
    assert not MediaLinks(b"x" * 32, clock=lambda: now[0]).verify(path, expires, signature)
    now[0] += 61
    assert not links.verify(path, expires, signature)


def test_parse_range_ignores_what_it_does_not_understand() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-1,5-6", 10) is None
    assert parse_range("items=0-1", 10) is None
    assert parse_range("bytes=2-100", 10) == (2, 9)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=5-2", 10)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 10)
