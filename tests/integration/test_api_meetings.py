"""Reading, renaming, reprocessing and deleting meetings through the real API (moto S3)."""

from __future__ import annotations

import httpx

from ivrimeet import db
from tests.integration.api_support import fake_results, noise_wav, object_keys, upload
from tests.servers.api import ApiServer
from tests.servers.s3 import S3Server


def test_meetings_are_listed_newest_first_in_pages(s3_api: ApiServer) -> None:
    ids = [upload(s3_api, noise_wav(2000), title=f"m{i}")["id"] for i in range(3)]
    with s3_api.client() as client:
        first = client.get("/api/meetings", params={"limit": 2}).json()
        second = client.get("/api/meetings", params={"limit": 2, "offset": 2}).json()
    assert [m["id"] for m in first["items"]] == [ids[2], ids[1]]
    assert [m["id"] for m in second["items"]] == [ids[0]]
    assert first["total"] == 3


def test_list_items_count_each_meetings_speakers_as_the_openapi_says(s3_api: ApiServer) -> None:
    done, queued = (str(upload(s3_api, noise_wav(2000))["id"]) for _ in range(2))
    fake_results(s3_api, done, labels=("A", "B", "C"))
    with s3_api.client() as client:
        items = client.get("/api/meetings").json()["items"]
        openapi = client.get("/openapi.json").json()
    assert {m["id"]: m["speaker_count"] for m in items} == {done: 3, queued: 0}
    page = openapi["paths"]["/api/meetings"]["get"]["responses"]["200"]["content"]
    page_schema = page["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    schemas = openapi["components"]["schemas"]
    item = schemas[page_schema]["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert "speaker_count" in schemas[item]["required"]
    assert schemas[item]["properties"]["speaker_count"]["type"] == "integer"


def test_done_meeting_reads_with_speakers_segments_and_playable_snippets(
    s3_api: ApiServer,
) -> None:
    meeting_id = str(upload(s3_api, noise_wav(2000))["id"])
    fake_results(s3_api, meeting_id)
    with s3_api.client() as client:
        meeting = client.get(f"/api/meetings/{meeting_id}").json()
    assert meeting["status"] == "done"
    assert meeting["duration_seconds"] == 6.0
    assert [s["label"] for s in meeting["speakers"]] == ["A", "B"]
    assert {g["speaker_id"] for g in meeting["segments"]} == {s["id"] for s in meeting["speakers"]}
    for speaker in meeting["speakers"]:
        snippet = httpx.get(f"{s3_api.url}{speaker['snippet_url']}")
        assert snippet.status_code == 200
        assert snippet.content[:4] == b"RIFF"


def test_snippet_and_audio_redirect_to_media_links_streamed_from_s3(s3_api: ApiServer) -> None:
    data = noise_wav(5000)
    meeting_id = str(upload(s3_api, data)["id"])
    fake_results(s3_api, meeting_id)
    with s3_api.client() as client:
        speaker_id = client.get(f"/api/meetings/{meeting_id}").json()["speakers"][0]["id"]
        audio = client.get(f"/api/meetings/{meeting_id}/audio")
        snippet = client.get(f"/api/meetings/{meeting_id}/speakers/{speaker_id}/snippet")
    assert audio.status_code == snippet.status_code == 302
    assert audio.headers["location"].startswith(f"/media/{meeting_id}/recording?")
    assert snippet.headers["location"].startswith(f"/media/{meeting_id}/speakers/{speaker_id}?")
    assert httpx.get(f"{s3_api.url}{audio.headers['location']}").content == data
    assert httpx.get(f"{s3_api.url}{snippet.headers['location']}").content[:4] == b"RIFF"


def test_rttm_is_a_conflict_until_done_then_served(s3_api: ApiServer) -> None:
    meeting_id = str(upload(s3_api, noise_wav(2000))["id"])
    with s3_api.client() as client:
        early = client.get(f"/api/meetings/{meeting_id}/rttm")
        fake_results(s3_api, meeting_id)
        late = client.get(f"/api/meetings/{meeting_id}/rttm")
    assert early.status_code == 409
    assert "status queued" in early.json()["message"]
    assert late.status_code == 200
    assert late.text.startswith("SPEAKER ")


def test_rename_persists_and_enrolls_the_voiceprint(s3_api: ApiServer) -> None:
    meeting_id = str(upload(s3_api, noise_wav(2000))["id"])
    fake_results(s3_api, meeting_id)
    with s3_api.client() as client:
        speaker_id = client.get(f"/api/meetings/{meeting_id}").json()["speakers"][1]["id"]
        renamed = client.patch(
            f"/api/meetings/{meeting_id}/speakers/{speaker_id}", json={"name": "  Dana  "}
        )
        again = client.get(f"/api/meetings/{meeting_id}").json()
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Dana"
    assert again["speakers"][1]["name"] == "Dana"
    [voice] = db.known_voiceprints(s3_api.services.database)
    assert voice.name == "Dana"


def test_rename_refuses_big_bodies_bad_json_and_unknown_speakers(s3_api: ApiServer) -> None:
    meeting_id = str(upload(s3_api, noise_wav(2000))["id"])
    fake_results(s3_api, meeting_id)
    with s3_api.client() as client:
        speaker_id = client.get(f"/api/meetings/{meeting_id}").json()["speakers"][0]["id"]
        path = f"/api/meetings/{meeting_id}/speakers/{speaker_id}"
        huge = client.patch(path, json={"name": "x" * 10_000})
        not_json = client.patch(path, content=b"{name: Dana")
        extra = client.patch(path, json={"name": "Dana", "admin": True})
        nobody = f"/api/meetings/{meeting_id}/speakers/{'0' * 32}"
        unknown = client.patch(nobody, json={"name": "X"})
    assert huge.status_code == 413
    assert not_json.status_code == 422
    assert extra.status_code == 422
    assert unknown.status_code == 404


def test_reprocess_requeues_and_enqueues_again(s3_api: ApiServer) -> None:
    meeting_id = str(upload(s3_api, noise_wav(2000))["id"])
    fake_results(s3_api, meeting_id)
    with s3_api.client() as client:
        answer = client.post(f"/api/meetings/{meeting_id}/reprocess")
    assert answer.status_code == 202
    assert answer.json()["status"] == "queued"
    assert s3_api.services.queue.pending() == 2


def test_delete_removes_every_object_and_row_of_the_meeting_only(
    s3_api: ApiServer, moto_s3: S3Server
) -> None:
    doomed = str(upload(s3_api, noise_wav(2000))["id"])
    kept = str(upload(s3_api, noise_wav(2000))["id"])
    for meeting_id in (doomed, kept):
        fake_results(s3_api, meeting_id)
    with s3_api.client() as client:
        speaker_id = client.get(f"/api/meetings/{doomed}").json()["speakers"][0]["id"]
        client.patch(f"/api/meetings/{doomed}/speakers/{speaker_id}", json={"name": "Ari"})
        assert client.delete(f"/api/meetings/{doomed}").status_code == 204
        assert client.get(f"/api/meetings/{doomed}").status_code == 404
        assert client.delete(f"/api/meetings/{doomed}").status_code == 404
        assert client.get(f"/api/meetings/{kept}").json()["status"] == "done"
    for prefix in ("audio", "snippets", "results"):
        assert object_keys(s3_api, f"{prefix}/{doomed}/") == []
        assert object_keys(s3_api, f"{prefix}/{kept}/") != []
    assert db.known_voiceprints(s3_api.services.database) == []
    assert db.list_runs(s3_api.services.database, doomed) == []


def test_unknown_and_malformed_ids_never_reach_storage(s3_api: ApiServer) -> None:
    with s3_api.client() as client:
        missing = client.get(f"/api/meetings/{'a' * 32}")
        malformed = client.get("/api/meetings/not-a-uuid")
        traversal = client.get("/api/meetings/..%2F..%2Fetc%2Fpasswd")
        dotted = client.delete("/api/meetings/%2E%2E")
        upper = client.get(f"/api/meetings/{'A' * 32}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "meeting_not_found"
    assert malformed.status_code == 422
    assert malformed.json()["code"] == "invalid_input"
    assert traversal.status_code in (404, 422)
    assert dotted.status_code in (404, 405, 422)
    assert upper.status_code == 422
