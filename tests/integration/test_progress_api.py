"""The meeting JSON shows a running job's step and percent, written the way the worker writes it."""

from __future__ import annotations

from typing import Any

from ivrimeet import db
from tests.integration.api_support import noise_wav, upload
from tests.servers.api import ApiServer


def _meeting(api: ApiServer, meeting_id: str) -> dict[str, Any]:
    with api.client() as client:
        answer = client.get(f"/api/meetings/{meeting_id}")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def test_progress_appears_while_processing_and_goes_when_done(local_api: ApiServer) -> None:
    meeting_id = str(upload(local_api, noise_wav(64_000))["id"])
    database = local_api.services.database
    assert _meeting(local_api, meeting_id)["progress"] is None  # queued

    claim = db.claim_for_processing(database, meeting_id, worker="test")
    assert claim is not None
    assert _meeting(local_api, meeting_id)["progress"] is None  # no report yet
    before = _meeting(local_api, meeting_id)
    assert db.report_progress(database, claim, "embeddings", 45)

    during = _meeting(local_api, meeting_id)
    assert during["status"] == "processing"
    assert during["progress"] == {"step": "embeddings", "percent": 45}
    with local_api.client() as client:
        listed = client.get("/api/meetings").json()["items"]
    assert [m["progress"] for m in listed if m["id"] == meeting_id] == [during["progress"]]
    assert during == {**before, "progress": during["progress"]}  # nothing else changed

    # A run that lost the meeting (reprocessed) cannot overwrite the new run's progress.
    db.request_reprocess(database, meeting_id)
    fresh = db.claim_for_processing(database, meeting_id, worker="test")
    assert fresh is not None
    assert db.report_progress(database, fresh, "decode", 0)
    assert not db.report_progress(database, claim, "results", 99)
    assert _meeting(local_api, meeting_id)["progress"] == {"step": "decode", "percent": 0}

    # Done: the last report stays in the row, the answer no longer shows it.
    assert db.record_results(
        database,
        fresh,
        duration_seconds=4.0,
        speakers=[],
        segments=[],
        rttm_key=None,
        json_key=None,
    )
    done = _meeting(local_api, meeting_id)
    assert done["status"] == "done"
    assert done["progress"] is None
