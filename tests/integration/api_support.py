"""Helpers for the API tests: recordings of any size, and a stand-in for a finished job."""

from __future__ import annotations

import io
import os
import socket
import wave

from ivrimeet import db
from tests.servers.api import API_TOKEN, ApiServer

MiB = 1024 * 1024


def noise_wav(size: int) -> bytes:
    """A valid 16 kHz mono WAV of about ``size`` bytes (random samples)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(os.urandom(max(2, size - 44) // 2 * 2))
    return out.getvalue()


def upload(api: ApiServer, data: bytes, **params: str) -> dict[str, object]:
    with api.client() as client:
        answer = client.post(
            "/api/meetings", content=data, headers={"Content-Type": "audio/wav"}, params=params
        )
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def fake_results(
    api: ApiServer,
    meeting_id: str,
    labels: tuple[str, ...] = ("A", "B"),
    *,
    warning: str | None = None,
) -> None:
    """Do what a worker does, without models: snippets and results in the store, rows done
    (with the recording ``warning`` a worker reports for a cut-short file)."""
    services = api.services
    claim = db.claim_for_processing(services.database, meeting_id, worker="test")
    assert claim is not None
    speakers = []
    for index, label in enumerate(labels):
        key = f"snippets/{meeting_id}/{label}.wav"
        services.store.put(key, noise_wav(20_000), content_type="audio/wav")
        vector = tuple(1.0 if i == index else 0.0 for i in range(4))
        speakers.append(db.NewSpeaker(label, 3.0 + index, key, vector, None))
    rttm = f"results/{meeting_id}/diarization.rttm"
    services.store.put(rttm, b"SPEAKER x 1 0.000 3.000 <NA> <NA> A <NA> <NA>\n")
    services.store.put(f"results/{meeting_id}/diarization.json", b"{}")
    assert db.record_results(
        services.database,
        claim,
        duration_seconds=6.0,
        speakers=speakers,
        segments=[db.NewSegment(float(i), float(i) + 1, label) for i, label in enumerate(labels)],
        rttm_key=rttm,
        json_key=f"results/{meeting_id}/diarization.json",
        warning=warning,
    )


def send_then_hang_up(api: ApiServer, headers: dict[str, str], body: bytes) -> socket.socket:
    """Start a POST /api/meetings whose body is cut short: the socket stays open until closed."""
    port = int(api.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    lines = [
        "POST /api/meetings HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Authorization: Bearer {API_TOKEN}",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    sock.sendall("\r\n".join(lines).encode() + body)
    return sock


def object_keys(api: ApiServer, prefix: str = "") -> list[str]:
    return [info.key for info in api.services.store.list(prefix)]


def read_response(sock: socket.socket) -> tuple[str, bytes]:
    """The status line and body of the HTTP response on ``sock`` (by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return lines[0], body
