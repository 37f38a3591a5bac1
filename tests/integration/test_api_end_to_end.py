"""The whole service: ``ivrimeet serve`` (API + in-process worker) with moto S3 and tiny models.

A two-voice espeak-ng recording is uploaded, the job runs with the random-weight
models from the Hub stand-in, and the results are checked for structure:
random weights cannot diarize well, so which voice got which label is not asserted.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ivrimeet.objects import S3Store
from tests.audio import TwoVoiceRecording, ffprobe_audio
from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.servers.hub import StandInHub
from tests.servers.ivrimeet import ivrimeet_env, serve
from tests.servers.s3 import S3Server
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

TOKEN = "e2e-token-0123456789abcdef"
# Generous but bounded: on a loaded 2-core CI box a single answer (a snippet from moto,
# /metrics) can take longer than httpx's default 5 s, and the job several minutes.
ANSWER_SECONDS = 60
JOB_SECONDS = 600


def test_upload_is_processed_into_snippets_voiceprints_and_rttm_in_s3(
    tmp_path: Path,
    moto_s3: S3Server,
    hub_standin: StandInHub,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    bucket = moto_s3.new_bucket().bucket
    env = ivrimeet_env(
        tmp_path,
        token=TOKEN,
        s3=moto_s3,
        bucket=bucket,
        hub=hub_standin,
        pipeline=PIPELINE_SPEECHBRAIN,
        encoder=SPEECHBRAIN_ECAPA,
    )
    s3 = S3Store(moto_s3.connection(bucket))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        serve(env, tmp_path) as (url, proc),
        httpx.Client(base_url=url, headers=headers, timeout=ANSWER_SECONDS) as client,
        httpx.Client(timeout=ANSWER_SECONDS) as anonymous,
    ):
        created = client.post(
            "/api/meetings",
            content=two_voice_recordings.wav.read_bytes(),
            headers={"Content-Type": "audio/wav"},
            params={"title": "two voices"},
        )
        assert created.status_code == 201, created.text
        meeting_id = created.json()["id"]
        assert created.json()["status"] == "queued"

        def finished() -> dict[str, object] | None:
            meeting: dict[str, object] = client.get(f"/api/meetings/{meeting_id}").json()
            return meeting if meeting["status"] in ("done", "failed") else None

        try:
            meeting = wait_until(
                finished, timeout=JOB_SECONDS, interval=0.5, message="job finished"
            )
        except TimeoutError as exc:
            raise AssertionError(f"job did not finish:\n{proc.log_tail(80)}") from exc
        assert meeting["status"] == "done", f"{meeting['error']}\n{proc.log_tail(60)}"
        assert wait_until(
            lambda: anonymous.get(f"{url}/readyz").status_code == 200, timeout=ANSWER_SECONDS
        )
        metrics = anonymous.get(f"{url}/metrics").text
        for repo in (PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA):
            # First load in an empty bucket: from the Hub, then stored.
            count = f'ivrimeet_model_load_seconds_count{{model="{repo}",origin="huggingface"}} 1.0'
            assert count in metrics
        assert 'ivrimeet_job_seconds_count{outcome="done"} 1.0' in metrics

        speakers = meeting["speakers"]
        assert isinstance(speakers, list) and speakers
        assert isinstance(meeting["duration_seconds"], float)
        assert 30 < meeting["duration_seconds"] < 60
        speaker_ids = {s["id"] for s in speakers}
        segments = meeting["segments"]
        assert isinstance(segments, list) and segments
        assert {g["speaker_id"] for g in segments} <= speaker_ids
        assert all(0 <= g["start"] < g["end"] for g in segments)

        keys = {info.key for info in s3.list()}
        assert f"audio/{meeting_id}/original.wav" in keys
        results = {k.rsplit("/", 1)[-1] for k in keys if k.startswith(f"results/{meeting_id}/")}
        assert results == {"diarization.rttm", "diarization.json"}  # one run's, no other
        snippet_keys = sorted(k for k in keys if k.startswith(f"snippets/{meeting_id}/"))
        assert len(snippet_keys) == len(speakers)
        for speaker in speakers:
            assert speaker["seconds"] > 0
            played = anonymous.get(f"{url}{speaker['snippet_url']}")
            assert played.status_code == 200
            probed = ffprobe_audio(played.content)
            assert 0 < probed.duration <= 15.05, probed

        rttm = client.get(f"/api/meetings/{meeting_id}/rttm")
        assert rttm.status_code == 200
        lines = rttm.text.splitlines()
        assert lines and all(line.startswith(f"SPEAKER {meeting_id} ") for line in lines)

        deleted = client.delete(f"/api/meetings/{meeting_id}")
        assert deleted.status_code == 204
        assert [info.key for info in s3.list() if meeting_id in info.key] == []
