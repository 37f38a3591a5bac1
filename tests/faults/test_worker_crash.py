"""A worker killed mid-job: another worker re-runs the meeting; one result, nothing orphaned.

Real processes: ``ivrimeet worker`` children on a shared SQLite database and
queue, moto S3 behind the fault proxy, the tiny SpeechBrain pipeline from the
Hub stand-in. The first worker is held at a known point (the proxy stalls its
upload of ``results/<meeting>/<run>/diarization.json``, after its snippets are
stored), killed with SIGKILL there, and a second worker with the same short
claim TTL finds the expired claim, re-queues the meeting and finishes it under
keys of its own run, removing what the dead run left.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from ivrimeet import db
from ivrimeet.processing.run_keys import results_json_key, results_rttm_key, snippet_prefix
from ivrimeet.worker import JobQueue
from tests.audio import TwoVoiceRecording
from tests.faults.conftest import ProxiedBucket
from tests.faults.leftovers import objects_left, rows_left, uploads_left
from tests.faults.processes import Child, start_python
from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.servers.hub import StandInHub
from tests.servers.ivrimeet import ivrimeet_env
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

# Long enough that a live worker starved of CPU on a loaded 2-core box (heartbeat every
# ttl/3) never looks dead, short enough that the re-run starts within seconds of the kill.
CLAIM_TTL_SECONDS = 10
# Generous but bounded: loading the tiny models and processing take tens of seconds when
# the machine runs other suites at the same time.
SLOW_STEP_SECONDS = 300
WORKER = """
import sys
from ivrimeet.cli.main import main
sys.argv = ["ivrimeet", "worker"]
main()
"""


def _start_worker(env: dict[str, str], cwd: Path) -> Child:
    child = start_python(WORKER, env=env, cwd=cwd)
    child.wait_for("worker.started", timeout=SLOW_STEP_SECONDS)
    child.wait_for("models.ready", timeout=SLOW_STEP_SECONDS)
    return child


def _keys(bucket: ProxiedBucket, prefix: str) -> set[str]:
    listed = bucket.admin().list_objects_v2(Bucket=bucket.bucket, Prefix=prefix)
    return {item["Key"] for item in listed.get("Contents", [])}


def test_worker_killed_mid_job_is_rerun_elsewhere_with_the_same_keys_and_one_result(
    tmp_path: Path,
    proxied_moto: ProxiedBucket,
    hub_standin: StandInHub,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    bucket, proxy = proxied_moto, proxied_moto.proxy
    root = tmp_path / "shared"
    env = ivrimeet_env(
        root,
        token="worker-crash-token-0123456789",
        s3=bucket.server,
        bucket=bucket.bucket,
        hub=hub_standin,
        pipeline=PIPELINE_SPEECHBRAIN,
        encoder=SPEECHBRAIN_ECAPA,
        S3_ENDPOINT_URL=proxy.url,
        WORKER_CLAIM_TTL_SECONDS=str(CLAIM_TTL_SECONDS),
    )
    children: list[Child] = []
    database = db.Database(db.sqlite_url(root / "data"))
    queue: JobQueue | None = None
    try:
        first = _start_worker(env, tmp_path)
        children.append(first)
        queue = JobQueue(name="ivrimeet", redis_url=None, data_dir=root / "data")

        meeting_id = uuid.uuid4().hex
        audio_key = f"audio/{meeting_id}/original.wav"
        recording = two_voice_recordings.short_wav.read_bytes()
        bucket.admin().put_object(Bucket=bucket.bucket, Key=audio_key, Body=recording)
        db.create_meeting(
            database,
            meeting_id=meeting_id,
            title="killed mid-job",
            audio_key=audio_key,
            audio_bytes=len(recording),
            content_type="audio/wav",
        )
        # Every attempt stalls (times=None): a single stall would let botocore's retry
        # through after its 60 s read timeout, and a slow test would see the job finish.
        # The run's number is not known before it starts; this test processes one meeting.
        proxy.stall(request="/diarization.json", direction="up", times=None)
        queue.enqueue_processing(meeting_id)

        # Held after the snippets, before the results; its heartbeat keeps it claimed.
        wait_until(
            lambda: proxy.faults >= 1, timeout=SLOW_STEP_SECONDS, message="results upload stalled"
        )
        wait_until(
            lambda: (
                (run := db.list_runs(database, meeting_id)[0]).heartbeat_at is not None
                and run.heartbeat_at > run.started_at
            ),
            timeout=3 * CLAIM_TTL_SECONDS,
            message="the live worker renewed its claim",
        )
        assert db.get_meeting(database, meeting_id).status == "processing"
        snippets_at_kill = _keys(bucket, f"snippets/{meeting_id}/")
        assert snippets_at_kill, "the first run stored no snippet before the stall"

        first.kill9()
        proxy.clear()
        [dead_run] = db.list_runs(database, meeting_id)
        assert (dead_run.outcome, db.get_meeting(database, meeting_id).status) == (
            None,
            "processing",
        )

        second = _start_worker(env, tmp_path)
        children.append(second)

        def finished() -> bool:
            status = db.get_meeting(database, meeting_id).status
            assert status != "failed", db.get_meeting(database, meeting_id).error
            return status == "done"

        wait_until(finished, timeout=SLOW_STEP_SECONDS, interval=0.5, message="re-run done")
        second.wait_for(f"claim.requeued meeting={meeting_id}", timeout=5)

        meeting = db.get_meeting(database, meeting_id)
        runs = db.list_runs(database, meeting_id)
        assert [r.outcome for r in runs] == ["expired", "done"]
        assert runs[0].worker != runs[1].worker
        labels = Counter(s.label for s in meeting.speakers)
        assert meeting.speakers and max(labels.values()) == 1, labels
        speaker_ids = {s.id for s in meeting.speakers}
        assert (
            rows_left([s.speaker_id for s in meeting.segments if s.speaker_id not in speaker_ids])
            == []
        )

        snippet_keys = {s.snippet_key for s in meeting.speakers}
        live_run = str(runs[1].id)
        assert all(k.startswith(snippet_prefix(meeting_id, live_run)) for k in snippet_keys)
        assert snippet_keys.isdisjoint(snippets_at_kill)  # the dead run's keys were its own
        result_keys = {
            results_json_key(meeting_id, live_run),
            results_rttm_key(meeting_id, live_run),
        }
        assert {meeting.json_key, meeting.rttm_key} == result_keys
        assert (
            objects_left(
                bucket.server,
                bucket.bucket,
                f"snippets/{meeting_id}/",
                expected=frozenset(snippet_keys),
            )
            == []
        )
        assert (
            objects_left(
                bucket.server,
                bucket.bucket,
                f"results/{meeting_id}/",
                expected=frozenset(result_keys),
            )
            == []
        )
        assert _keys(bucket, f"results/{meeting_id}/") == result_keys
        assert uploads_left(bucket.server, bucket.bucket) == []
    finally:
        for child in children:
            child.stop()
        if queue is not None:
            queue.close()
        database.dispose()
