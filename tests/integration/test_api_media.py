"""The local store's signed /files URLs: redirects from the API, Range, bad signatures."""

from __future__ import annotations

import httpx
import pytest

from ivrimeet.api.routes.files import RangeNotSatisfiable, parse_range
from tests.integration.api_support import fake_results, noise_wav, upload
from tests.servers.api import ApiServer


def _audio_url(api: ApiServer, meeting_id: str) -> str:
    with api.client() as client:
        answer = client.get(f"/api/meetings/{meeting_id}/audio")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("/files/audio/")
    return f"{api.url}{location}"


def test_audio_redirects_to_a_signed_url_that_streams_the_recording(local_api: ApiServer) -> None:
    data = noise_wav(3 * 1024 * 1024)
    url = _audio_url(local_api, str(upload(local_api, data)["id"]))
    answer = httpx.get(url)
    assert answer.status_code == 200
    assert answer.content == data
    assert answer.headers["content-type"] == "audio/wav"
    assert answer.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-9", 0, 9), ("bytes=100-", 100, None), ("bytes=-16", -16, None)],
)
def test_signed_url_serves_byte_ranges(
    local_api: ApiServer, header: str, first: int, last: int | None
) -> None:
    data = noise_wav(200_000)
    url = _audio_url(local_api, str(upload(local_api, data)["id"]))
    answer = httpx.get(url, headers={"Range": header})
    expected = data[first : (last + 1) if last is not None else None]
    assert answer.status_code == 206
    assert answer.content == expected
    start = first if first >= 0 else len(data) + first
    end = start + len(expected) - 1
    assert answer.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"


def test_range_past_the_end_is_416(local_api: ApiServer) -> None:
    data = noise_wav(1000)
    url = _audio_url(local_api, str(upload(local_api, data)["id"]))
    answer = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{len(data)}"


def test_tampered_or_expired_signatures_are_403(local_api: ApiServer) -> None:
    url = _audio_url(local_api, str(upload(local_api, noise_wav(1000))["id"]))
    base, query = url.split("?", 1)
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    bad_signature = httpx.get(base, params={**params, "signature": "0" * 64})
    later = httpx.get(base, params={**params, "expires": str(int(params["expires"]) + 60)})
    expired = httpx.get(base, params={**params, "expires": "1000"})
    other_key = httpx.get(base.replace("original.wav", "other.wav"), params=params)
    for answer in (bad_signature, later, expired, other_key):
        assert answer.status_code == 403
        assert answer.json()["code"] == "bad_signature"


def test_traversal_in_file_keys_is_refused_before_touching_disk(local_api: ApiServer) -> None:
    answer = httpx.get(
        f"{local_api.url}/files/audio/%2E%2E/%2E%2E/etc/passwd",
        params={"expires": "9999999999", "signature": "0" * 64},
    )
    assert answer.status_code in (404, 422)


def test_snippet_urls_of_the_local_store_play_through_files(local_api: ApiServer) -> None:
    meeting_id = str(upload(local_api, noise_wav(2000))["id"])
    fake_results(local_api, meeting_id)
    with local_api.client() as client:
        speaker = client.get(f"/api/meetings/{meeting_id}").json()["speakers"][0]
    answer = httpx.get(f"{local_api.url}{speaker['snippet_url']}")
    assert answer.status_code == 200
    assert answer.content[:4] == b"RIFF"


def test_parse_range_ignores_what_it_does_not_understand() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-1,5-6", 10) is None
    assert parse_range("items=0-1", 10) is None
    assert parse_range("bytes=2-100", 10) == (2, 9)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=5-2", 10)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 10)
