"""``ivrimeet process FILE``: upload, diarize with the tiny Hub stand-in models, print speakers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ivrimeet.cli.main import app
from ivrimeet.objects import LocalStore, S3Store
from ivrimeet.processing.run_keys import snippet_prefix
from tests.audio import TwoVoiceRecording, ffprobe_audio, write_text_file
from tests.integration.cli_support import process_env
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.s3 import TEST_ACCESS_KEY, TEST_SECRET_KEY, S3Server

pytestmark = pytest.mark.slow


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(app, args, env=env)


def _local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "data" / "objects")


def test_process_json_reports_speakers_whose_snippets_and_results_are_in_the_local_store(
    hub_client: StandInHub, tmp_path: Path, two_voice_recordings: TwoVoiceRecording
) -> None:
    result = _invoke(
        ["process", str(two_voice_recordings.short_wav), "--json"],
        process_env(hub_client, tmp_path),
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    meeting = document["meeting_id"]
    store = _local_store(tmp_path)
    assert document["recording_key"] == f"audio/{meeting}/original.wav"
    assert store.exists(document["recording_key"])
    assert len(document["speakers"]) >= 1
    for speaker in document["speakers"]:
        assert speaker["snippet_key"] == f"{snippet_prefix(meeting, 'cli')}{speaker['label']}.ogg"
        assert 0 < ffprobe_audio(store.get_bytes(speaker["snippet_key"])).duration <= 15
    stored = json.loads(store.get_bytes(document["json_key"]))
    assert [s["label"] for s in stored["speakers"]] == [s["label"] for s in document["speakers"]]
    assert store.exists(document["rttm_key"])
    assert set(document["timings"]["steps"]) == {
        "decode",
        "diarize",
        "snippets",
        "voiceprints",
        "results",
    }


def test_process_prints_a_speakers_table_for_a_recording_stored_in_s3(
    hub_client: StandInHub,
    moto_s3: S3Server,
    tmp_path: Path,
    two_voice_recordings: TwoVoiceRecording,
) -> None:
    bucket = moto_s3.new_bucket("cli").bucket
    env = process_env(
        hub_client,
        tmp_path,
        S3_BUCKET=bucket,
        S3_REGION=moto_s3.region,
        S3_ENDPOINT_URL=moto_s3.endpoint_url,
        AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=TEST_SECRET_KEY,
    )

    result = _invoke(["process", str(two_voice_recordings.short_wav)], env)

    assert result.exit_code == 0, result.output
    assert "speaker" in result.stdout and "snippet" in result.stdout
    assert "SPEAKER_00" in result.stdout
    assert "storage I/O" in result.stdout
    store = S3Store(moto_s3.connection(bucket))
    snippets = [info.key for info in store.list("snippets/")]
    assert snippets
    assert all(key in result.stdout for key in snippets)
    for secret in (TEST_SECRET_KEY, TEST_ACCESS_KEY, TEST_TOKEN, "X-Amz-Signature"):
        assert secret not in result.output


def test_process_refuses_a_text_file_before_uploading_anything(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    notes = write_text_file(tmp_path / "notes.wav")

    result = _invoke(["process", str(notes)], process_env(hub_client, tmp_path))

    assert result.exit_code == 2
    assert "is not an audio or video recording (it looks like text)" in result.output
    assert not (tmp_path / "data" / "objects" / "audio").exists()
    assert hub_client.requests == []
