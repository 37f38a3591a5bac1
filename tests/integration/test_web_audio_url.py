"""How the web page gets a playable URL for a recording: ``GET .../audio`` as JSON."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.integration.api_support import noise_wav, upload
from tests.servers.api import ApiServer


def test_a_client_asking_for_json_gets_the_signed_url_instead_of_a_redirect(
    local_api: ApiServer,
) -> None:
    recording = noise_wav(64_000)
    meeting = upload(local_api, recording)
    with local_api.client() as client:
        answer = client.get(
            f"/api/meetings/{meeting['id']}/audio",
            headers={"Accept": "application/json, audio/*;q=0.9"},
        )
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        body = answer.json()
        assert body["expires_in"] > 0
        redirect = client.get(f"/api/meetings/{meeting['id']}/audio")
    assert redirect.status_code == 302
    # Signed at different moments, so only the object (the path) is the same.
    assert urlsplit(redirect.headers["location"]).path == urlsplit(body["url"]).path
    with local_api.client(token=None) as anonymous:  # what an <audio> element can do
        played = anonymous.get(body["url"])
    assert played.status_code == 200
    assert played.content == recording
