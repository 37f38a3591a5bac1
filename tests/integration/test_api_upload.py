"""POST /api/meetings against a real uvicorn and moto S3: streamed, limited, sniffed, clean."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from ivrimeet import db
from tests.integration.api_support import (
    MiB,
    noise_wav,
    object_keys,
    read_response,
    send_then_hang_up,
    upload,
)
from tests.servers.api import ApiServer
from tests.servers.s3 import S3Server
from tests.waiting import wait_until


def _bucket(api: ApiServer) -> str:
    assert api.settings.s3_bucket is not None
    return api.settings.s3_bucket


def _nothing_left(api: ApiServer, moto_s3: S3Server) -> bool:
    return (
        object_keys(api) == []
        and moto_s3.list_multipart_uploads(_bucket(api)) == []
        and db.list_meetings(api.services.database, limit=10, offset=0).total == 0
    )


def _metric(api: ApiServer, name: str, **labels: str) -> float:
    text = httpx.get(f"{api.url}/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_raw_upload_is_stored_queued_and_enqueued(s3_api: ApiServer) -> None:
    data = noise_wav(7 * MiB)
    meeting = upload(s3_api, data, title="Weekly sync")
    assert meeting["status"] == "queued"
    assert meeting["title"] == "Weekly sync"
    assert meeting["speakers"] == [] and meeting["segments"] == []
    key = f"audio/{meeting['id']}/original.wav"
    assert s3_api.services.store.get_bytes(key) == data
    assert s3_api.services.queue.pending() == 1
    record = db.get_meeting(s3_api.services.database, str(meeting["id"]))
    assert (record.audio_key, record.audio_bytes) == (key, len(data))


def test_multipart_upload_takes_the_file_field_and_title(s3_api: ApiServer) -> None:
    data = noise_wav(6 * MiB)
    with s3_api.client() as client:
        answer = client.post(
            "/api/meetings",
            data={"title": "Planning ✓"},
            files={"file": ("planning.wav", data, "audio/wav")},
        )
    assert answer.status_code == 201, answer.text
    meeting = answer.json()
    assert meeting["title"] == "Planning ✓"
    assert answer.headers["location"] == f"/api/meetings/{meeting['id']}"
    assert s3_api.services.store.get_bytes(f"audio/{meeting['id']}/original.wav") == data


def test_title_after_the_file_field_is_still_read(s3_api: ApiServer) -> None:
    boundary = "b0undary"
    data = noise_wav(100_000)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode() + data
    body += (
        f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nLate title'
        f"\r\n--{boundary}--\r\n"
    ).encode()
    with s3_api.client() as client:
        answer = client.post(
            "/api/meetings",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["title"] == "Late title"


def test_upload_over_the_limit_streamed_without_length_leaves_nothing(
    s3_api: ApiServer, moto_s3: S3Server
) -> None:
    limit = s3_api.settings.max_upload_bytes
    data = noise_wav(limit + 3 * MiB)
    before = _metric(s3_api, "ivrimeet_uploads_total", outcome="too_large")

    def chunks() -> Iterator[bytes]:
        for offset in range(0, len(data), 256 * 1024):
            yield data[offset : offset + 256 * 1024]

    with s3_api.client() as client:
        try:
            answer = client.post(
                "/api/meetings", content=chunks(), headers={"Content-Type": "audio/wav"}
            )
        except httpx.TransportError:
            answer = None  # the server may close before the client finished sending
    if answer is not None:
        assert answer.status_code == 413
        assert answer.json()["code"] == "too_large"
    wait_until(lambda: _nothing_left(s3_api, moto_s3), timeout=20, message="nothing left")
    wait_until(lambda: _metric(s3_api, "ivrimeet_uploads_total", outcome="too_large") == before + 1)


def test_upload_declaring_a_length_over_the_limit_is_refused_before_reading(
    s3_api: ApiServer, moto_s3: S3Server
) -> None:
    sock = send_then_hang_up(
        s3_api,
        {"Content-Type": "audio/wav", "Content-Length": str(s3_api.settings.max_upload_bytes + 1)},
        noise_wav(1024),
    )
    with sock:
        status, body = read_response(sock)
    assert status.startswith("HTTP/1.1 413 ")
    assert b'"code":"too_large"' in body
    assert _nothing_left(s3_api, moto_s3)


@pytest.mark.parametrize("multipart", [False, True], ids=["raw", "multipart"])
def test_client_disconnect_mid_body_leaves_no_object_upload_or_row(
    s3_api: ApiServer, moto_s3: S3Server, multipart: bool
) -> None:
    sent = noise_wav(12 * MiB)
    before = _metric(s3_api, "ivrimeet_uploads_total", outcome="disconnected")
    if multipart:
        prefix = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        headers = {
            "Content-Type": "multipart/form-data; boundary=xyz",
            "Content-Length": str(len(prefix) + 18 * MiB),
        }
        sent = prefix + sent
    else:
        headers = {"Content-Type": "audio/wav", "Content-Length": str(18 * MiB)}
    sock = send_then_hang_up(s3_api, headers, sent)
    with sock:
        # The upload is well under way: S3 already holds a multipart upload for it.
        wait_until(
            lambda: moto_s3.list_multipart_uploads(_bucket(s3_api)),
            timeout=20,
            message="multipart upload started",
        )
    wait_until(lambda: _nothing_left(s3_api, moto_s3), timeout=20, message="nothing left")
    wait_until(
        lambda: _metric(s3_api, "ivrimeet_uploads_total", outcome="disconnected") == before + 1
    )


def test_text_file_is_refused_with_415_and_nothing_stored(
    s3_api: ApiServer, moto_s3: S3Server
) -> None:
    with s3_api.client() as client:
        answer = client.post(
            "/api/meetings",
            files={"file": ("notes.txt", b"Minutes of the meeting\n" * 100, "text/plain")},
        )
    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported_media"
    assert "looks like text" in answer.json()["message"]
    assert _nothing_left(s3_api, moto_s3)


def test_raw_body_with_a_non_audio_content_type_is_refused_with_415(s3_api: ApiServer) -> None:
    with s3_api.client() as client:
        answer = client.post(
            "/api/meetings", content=noise_wav(1000), headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 415


def test_form_without_closing_boundary_is_refused_and_leaves_nothing(
    s3_api: ApiServer, moto_s3: S3Server
) -> None:
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        + noise_wav(7 * MiB)
    )
    with s3_api.client() as client:
        answer = client.post(
            "/api/meetings",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
    assert answer.status_code == 422
    assert "closing boundary" in answer.json()["message"]
    assert _nothing_left(s3_api, moto_s3)


def test_form_without_a_file_field_is_refused(s3_api: ApiServer, moto_s3: S3Server) -> None:
    with s3_api.client() as client:
        answer = client.post("/api/meetings", data={"title": "no file"}, files={"other": b"x"})
    assert answer.status_code == 422
    assert "'file'" in answer.json()["message"]
    assert _nothing_left(s3_api, moto_s3)


def test_empty_upload_is_refused(s3_api: ApiServer) -> None:
    with s3_api.client() as client:
        answer = client.post("/api/meetings", content=b"", headers={"Content-Type": "audio/wav"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_input"


def test_upload_metrics_count_stored_uploads_and_bytes(s3_api: ApiServer) -> None:
    data = noise_wav(300_000)
    stored = _metric(s3_api, "ivrimeet_uploads_total", outcome="stored")
    stored_bytes = _metric(s3_api, "ivrimeet_upload_bytes_total")
    upload(s3_api, data)
    assert _metric(s3_api, "ivrimeet_uploads_total", outcome="stored") == stored + 1
    assert _metric(s3_api, "ivrimeet_upload_bytes_total") == stored_bytes + len(data)
