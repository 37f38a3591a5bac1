"""Hostile input: traversal in ids and paths, oversized heads and bodies, bombs, lying headers,
and a bucket whose model files were rewritten to run code. Each is refused with its own status or
error, before any I/O where possible, and leaves nothing behind."""

from __future__ import annotations

import gzip
import hashlib
import json
import select
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ivrimeet.errors import IntegrityError, InvalidInputError, InvalidRepoIdError
from ivrimeet.media.decode import decode_recording
from ivrimeet.models import load_diarization_pipeline, load_speaker_encoder, materialize
from ivrimeet.objects import LocalStore
from tests.faults import ledger
from tests.faults.leftovers import files_left, rows_left
from tests.faults.models_support import LAYOUT, make_model_store
from tests.faults.test_meetings_faults import wav
from tests.servers.api import API_TOKEN, ApiServer, SettingsFactory, run_api
from tests.servers.hub import StandInHub

MiB = 1024 * 1024
COMMIT = "c0ffee" + "0" * 34


@pytest.fixture
def api(api_settings: SettingsFactory) -> Iterator[ApiServer]:
    with run_api(api_settings(max_upload_bytes=2 * MiB)) as running:
        yield running


def _objects(api: ApiServer) -> list[str]:
    return [info.key for info in api.services.store.list("")]


def _rows(api: ApiServer) -> list[str]:
    from ivrimeet import db

    page = db.list_meetings(api.services.database, limit=100, offset=0)
    return [m.id for m in page.items]


def _raw_request(api: ApiServer, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes as they are (no client normalises the path) and read the answer's head."""
    port = int(api.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


# --- ids and names in the API ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/meetings/..%2F..%2Fetc%2Fpasswd",
        "/api/meetings/%2e%2e",
        "/api/meetings/00000000000000000000000000000000%2F..",
        "/api/meetings/0123456789abcdef0123456789abcdef/speakers/..%2F..%2Fx/snippet",
        "/api/meetings/0123456789ABCDEF0123456789ABCDEF",
        "/api/meetings/" + "a" * 33,
    ],
)
def test_traversal_or_malformed_ids_in_api_paths_are_refused_before_any_lookup(
    api: ApiServer, path: str
) -> None:
    head = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    answer = _raw_request(api, head)

    assert _status(answer) in (404, 422), answer[:300]


def test_renaming_a_speaker_with_a_traversal_id_is_refused(api: ApiServer) -> None:
    meeting = uuid.uuid4().hex
    with api.client() as client:
        answer = client.patch(f"/api/meetings/{meeting}/speakers/..%2F..%2Fetc", json={"name": "x"})

    assert answer.status_code in (404, 422), answer.text


def test_multipart_file_name_with_traversal_never_reaches_a_key_or_path(
    api: ApiServer, tmp_path: Path
) -> None:
    evil = "../../../../tmp/ivrimeet-evil-" + uuid.uuid4().hex + ".wav"
    ledger.upload()
    with api.client() as client:
        answer = client.post("/api/meetings", files={"file": (evil, wav(200_000), "audio/wav")})

    assert answer.status_code == 201, answer.text
    meeting = answer.json()["id"]
    assert _objects(api) == [f"audio/{meeting}/original.wav"]
    assert not Path("/tmp", Path(evil).name).exists()
    assert ".." not in json.dumps(answer.json()).replace(evil, "")


# --- oversized heads, endless bodies, bombs --------------------------------------------


def test_a_huge_header_is_refused_and_the_server_keeps_serving(api: ApiServer) -> None:
    head = (
        "GET /api/meetings HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {API_TOKEN}\r\nX-Junk: {'j' * (2 * MiB)}\r\n\r\n"
    ).encode()

    try:
        answer = _raw_request(api, head)
    except (ConnectionResetError, BrokenPipeError):
        answer = b""  # dropped by the server while we were still sending: refused too

    assert _status(answer) in (0, 400, 413, 431), answer[:200]
    with api.client() as client:
        assert client.get("/api/meetings").status_code == 200


def test_an_endless_chunked_body_is_cut_off_at_the_limit_with_413_and_nothing_kept(
    api: ApiServer,
) -> None:
    """The client never stops sending; the server answers 413 soon after the limit (2 MiB)."""
    port = int(api.url.rsplit(":", 1)[1])
    sent, answer = 0, b""
    ledger.upload()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/meetings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}"
                "\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        data = wav(64 * 1024)
        while sent < 100 * MiB and not answer:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(data)
            data = b"\0" * (256 * 1024)
            if select.select([sock], [], [], 0)[0]:
                answer = sock.recv(65536)
        while b"}" not in answer:  # the rest of the JSON error body
            more = sock.recv(65536)
            if not more:
                break
            answer += more

    assert _status(answer) == 413, answer[:300]
    assert b'"code":"too_large"' in answer
    assert sent < 20 * MiB, f"the server kept reading {sent} bytes"
    assert ledger.leftovers("objects", _objects(api)) == []
    assert rows_left(_rows(api)) == []


def test_a_gzip_bomb_is_not_inflated_but_refused_as_not_audio(api: ApiServer) -> None:
    bomb = gzip.compress(b"\0" * (200 * MiB), compresslevel=9)  # ~200 KB on the wire
    ledger.upload()
    with api.client() as client:
        answer = client.post(
            "/api/meetings",
            content=bomb,
            headers={"Content-Type": "audio/wav", "Content-Encoding": "gzip"},
        )

    assert answer.status_code == 415, answer.text
    assert answer.json()["code"] == "unsupported_media"
    assert ledger.leftovers("objects", _objects(api)) == []
    assert rows_left(_rows(api)) == []


def test_oversized_json_on_patch_is_a_413_before_parsing(api: ApiServer) -> None:
    path = f"/api/meetings/{uuid.uuid4().hex}/speakers/{uuid.uuid4().hex}"
    with api.client() as client:
        declared = client.patch(path, content=json.dumps({"name": "x" * 100_000}))
        chunked = client.patch(
            path,
            content=iter([b'{"name": "', b"y" * 100_000, b'"}']),
            headers={"Content-Type": "application/json"},
        )

    for answer in (declared, chunked):
        assert answer.status_code == 413, answer.text
        assert answer.json()["message"].startswith("The JSON body is larger than 4096 bytes.")


def test_a_wav_whose_header_lies_about_its_length_decodes_what_is_really_there(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path / "bucket")
    real = wav(32_000)  # one second of 16 kHz 16-bit mono
    lying = bytearray(real)
    lying[4:8] = (2**31).to_bytes(4, "little")  # RIFF size: 2 GiB
    lying[40:44] = (2**31 - 100).to_bytes(4, "little")  # data size: 2 GiB
    store.put("audio/x/original.wav", bytes(lying))

    decoded = decode_recording(store, "audio/x/original.wav", max_seconds=60)

    assert 0.9 <= decoded.duration_seconds <= 1.1


# --- the model store: hostile repo ids, manifests and configs -----------------------------


@pytest.fixture
def objects(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


@pytest.mark.parametrize(
    "repo",
    ["../../etc", "org/../../x", "/etc/passwd", "org/name/extra", "org/na me", "org\\name", ""],
)
def test_hostile_repo_ids_are_refused_before_any_request(
    objects: LocalStore, hub: StandInHub, tmp_path: Path, repo: str
) -> None:
    store = make_model_store(objects, hub.endpoint, tmp_path / "tmp")

    with pytest.raises(InvalidRepoIdError), materialize(store, repo):
        pass

    assert hub.requests == []
    assert list(objects.list("")) == []


def _plant(objects: LocalStore, repo: str, kind: str, files: dict[str, bytes]) -> None:
    """Write blobs, a manifest and a ref as an attacker with write access to the bucket would."""
    entries = []
    for path, body in files.items():
        digest = hashlib.sha256(body).hexdigest()
        objects.put(LAYOUT.blob(digest), body)
        entries.append(
            {"repo": repo, "commit": COMMIT, "path": path, "size": len(body), "sha256": digest}
        )
    manifest = {
        "schema": 1,
        "repo": repo,
        "commit": COMMIT,
        "kind": kind,
        "created": "2026-11-26T00:00:00Z",
        "files": entries,
        "refs": [{"repo": repo, "revision": "main", "commit": COMMIT}],
    }
    objects.put(
        f"{LAYOUT.manifests_prefix(repo)}{COMMIT}.json",
        json.dumps(manifest, sort_keys=True).encode(),
    )
    objects.put(LAYOUT.ref(repo, "main"), COMMIT.encode())


@pytest.mark.parametrize(
    "path", ["../../../outside.txt", "/etc/ivrimeet-evil", "a/../../b", "snap/./../../c"]
)
def test_manifest_paths_escaping_the_cache_are_refused_and_nothing_is_written(
    objects: LocalStore, hub: StandInHub, tmp_path: Path, path: str
) -> None:
    repo = "ivrimeet-test/planted"
    _plant(objects, repo, "snapshot", {"config.json": b"{}", path: b"pwned"})
    ledger.fault("tampered manifest")
    store = make_model_store(objects, hub.endpoint, tmp_path / "tmp")

    with pytest.raises((IntegrityError, InvalidRepoIdError)) as caught, materialize(store, repo):
        pass

    assert "manifest" in caught.value.render().lower() or path in caught.value.render()
    assert not (tmp_path / "outside.txt").exists() and not Path("/etc/ivrimeet-evil").exists()
    assert files_left(tmp_path / "tmp") == []


def test_a_planted_pipeline_config_naming_os_system_is_refused_before_any_import(
    objects: LocalStore, hub: StandInHub, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    config = f"pipeline:\n  name: os.system\n  params:\n    command: touch {marker}\n"
    repo = "ivrimeet-test/planted-pipeline"
    _plant(objects, repo, "pipeline", {"config.yaml": config.encode()})
    ledger.fault("tampered config")
    store = make_model_store(objects, hub.endpoint, tmp_path / "tmp")

    with pytest.raises(InvalidInputError) as caught:
        load_diarization_pipeline(store, repo)

    assert "os.system" in caught.value.render()
    assert not marker.exists()
    assert files_left(tmp_path / "tmp") == []


def test_planted_speechbrain_hyperparams_with_apply_os_system_are_refused(
    objects: LocalStore, hub: StandInHub, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    hyperparams = f'run: !apply:os.system ["touch {marker}"]\n'
    repo = "ivrimeet-test/planted-encoder"
    _plant(objects, repo, "encoder", {"hyperparams.yaml": hyperparams.encode()})
    ledger.fault("tampered config")
    store = make_model_store(objects, hub.endpoint, tmp_path / "tmp")

    with pytest.raises(InvalidInputError) as caught:
        load_speaker_encoder(store, repo)

    assert "os.system" in caught.value.render()
    assert not marker.exists()
    assert files_left(tmp_path / "tmp") == []


def test_api_refuses_a_token_in_the_query_even_when_it_is_right(api: ApiServer) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        answer = client.get("/api/meetings", params={"api_key": API_TOKEN})

    assert answer.status_code == 401
    assert API_TOKEN not in answer.text
