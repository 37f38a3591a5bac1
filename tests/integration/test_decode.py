"""Decoding recordings from the object store: local folder, moto (presigned URL), pipe fallback."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ivrimeet.errors import ObjectNotFoundError, SizeLimitError, UnsupportedMediaError
from ivrimeet.media.decode import SAMPLE_RATE, decode_recording, probe_duration
from ivrimeet.objects import LocalStore, ObjectStore, S3Connection, S3Store
from tests.audio import (
    TwoVoiceRecording,
    ffprobe_audio,
    write_lying_wav,
    write_text_file,
)
from tests.servers.process import free_port
from tests.servers.s3 import TEST_ACCESS_KEY, TEST_SECRET_KEY, S3Server

KEY = "audio/m1/original.wav"


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


@pytest.fixture
def moto_store(moto_s3: S3Server) -> S3Store:
    return S3Store(moto_s3.new_bucket())


@pytest.fixture
def rclone_store(rclone_s3: S3Server) -> S3Store:
    return S3Store(rclone_s3.new_bucket())


@pytest.fixture(scope="module")
def long_m4a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minute of tone as M4A with the moov atom at the end (as phones write it): 245 kB."""
    path = tmp_path_factory.mktemp("m4a") / "long.m4a"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=f=300:d=60",
            "-ar",
            "16000",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            str(path),
        ],
        check=True,
    )
    assert b"moov" not in path.read_bytes()[:4096]
    return path


def _upload(store: ObjectStore, path: Path, key: str = KEY) -> str:
    with path.open("rb") as body:
        store.put(key, body)
    return key


class _NoUrls(S3Store):
    """A real S3 store that hands out no http(s) URLs, as a store without presigning would."""

    def presign_get(self, key: str, expires_seconds: int = 900) -> str:
        return f"/files/{key}"


class _UnreachableUrls(S3Store):
    """A real S3 store whose URLs point where nothing listens (a proxy or network in the way)."""

    def __init__(self, connection: S3Connection, unreachable: str) -> None:
        super().__init__(connection)
        self.unreachable = unreachable

    def presign_get(self, key: str, expires_seconds: int = 900) -> str:
        return f"{self.unreachable}/{key}?X-Amz-Signature=0123"


def _our_logs(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("ivrimeet"))


def _assert_no_secrets(text: str, server: S3Server | None = None) -> None:
    for secret in ("X-Amz-Signature", "X-Amz-Credential", TEST_ACCESS_KEY, TEST_SECRET_KEY):
        assert secret not in text
    if server is not None:
        assert server.endpoint_url not in text


@pytest.mark.parametrize("variant", ["wav", "mp3", "ogg", "m4a"])
def test_each_container_decodes_to_16khz_mono_of_the_recordings_length(
    local_store: LocalStore, two_voice_recordings: TwoVoiceRecording, variant: str
) -> None:
    path: Path = getattr(two_voice_recordings, variant)
    expected = ffprobe_audio(two_voice_recordings.wav).duration
    key = _upload(local_store, path, f"audio/m1/original.{variant}")

    audio = decode_recording(local_store, key)

    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    # Lossy encoders pad a few frames at the ends.
    assert audio.duration_seconds == pytest.approx(expected, abs=0.1)
    assert 0.05 < float(np.abs(audio.samples).max()) <= 1.0
    assert audio.source == "file"


def test_s3_recording_is_read_through_a_presigned_url_and_matches_the_local_decode(
    local_store: LocalStore,
    moto_store: S3Store,
    moto_s3: S3Server,
    two_voice_recordings: TwoVoiceRecording,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ivrimeet")
    _upload(local_store, two_voice_recordings.mp3)
    _upload(moto_store, two_voice_recordings.mp3)

    from_s3 = decode_recording(moto_store, KEY)
    from_folder = decode_recording(local_store, KEY)

    assert from_s3.source == "url"
    np.testing.assert_array_equal(from_s3.samples, from_folder.samples)
    _assert_no_secrets(_our_logs(caplog), moto_s3)


def test_url_that_ffmpeg_cannot_read_falls_back_to_streaming_through_a_pipe(
    moto_store: S3Store,
    moto_s3: S3Server,
    two_voice_recordings: TwoVoiceRecording,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ivrimeet")
    _upload(moto_store, two_voice_recordings.ogg)
    store = _UnreachableUrls(moto_store.connection, f"http://127.0.0.1:{free_port()}")

    audio = decode_recording(store, KEY)

    assert audio.source == "pipe"
    assert audio.duration_seconds == pytest.approx(
        ffprobe_audio(two_voice_recordings.wav).duration, abs=0.1
    )
    assert "media.decode.fallback" in _our_logs(caplog)
    assert "Connection refused" in _our_logs(caplog)
    _assert_no_secrets(_our_logs(caplog), moto_s3)


def test_store_without_urls_streams_through_a_pipe(
    rclone_store: S3Store, two_voice_recordings: TwoVoiceRecording
) -> None:
    _upload(rclone_store, two_voice_recordings.mp3)

    audio = decode_recording(_NoUrls(rclone_store.connection), KEY)

    assert audio.source == "pipe"
    assert audio.duration_seconds == pytest.approx(
        ffprobe_audio(two_voice_recordings.wav).duration, abs=0.1
    )


def test_m4a_with_its_index_at_the_end_decodes_from_s3_by_seeking_in_the_url(
    moto_store: S3Store, long_m4a: Path
) -> None:
    _upload(moto_store, long_m4a)

    audio = decode_recording(moto_store, KEY)

    assert audio.source == "url"
    assert audio.duration_seconds == pytest.approx(60, abs=0.1)


def test_m4a_with_its_index_at_the_end_through_a_pipe_fails_with_the_faststart_hint(
    rclone_store: S3Store, long_m4a: Path
) -> None:
    _upload(rclone_store, long_m4a)

    with pytest.raises(UnsupportedMediaError) as caught:
        decode_recording(_NoUrls(rclone_store.connection), KEY)

    assert "+faststart" in str(caught.value)


def test_wav_header_over_text_is_refused_with_ffmpegs_reason_and_no_url(
    moto_store: S3Store, moto_s3: S3Server, tmp_path: Path
) -> None:
    _upload(moto_store, write_lying_wav(tmp_path / "lying.wav"))

    with pytest.raises(UnsupportedMediaError) as caught:
        decode_recording(moto_store, KEY)

    message = str(caught.value)
    assert "Cannot decode the recording as audio" in message
    assert f"recording {KEY}" in caught.value.details  # evidence for the log, not the summary
    assert "ffmpeg: " in message
    assert caught.value.http_status == 415
    _assert_no_secrets(message, moto_s3)


def test_text_file_is_refused_as_undecodable(local_store: LocalStore, tmp_path: Path) -> None:
    _upload(local_store, write_text_file(tmp_path / "notes.wav"))

    with pytest.raises(UnsupportedMediaError, match="Cannot decode the recording"):
        decode_recording(local_store, KEY)


def test_missing_recording_raises_object_not_found(moto_store: S3Store) -> None:
    with pytest.raises(ObjectNotFoundError):
        decode_recording(moto_store, "audio/nobody/original.wav")


def test_recording_longer_than_the_limit_is_refused(
    local_store: LocalStore, two_voice_recordings: TwoVoiceRecording
) -> None:
    _upload(local_store, two_voice_recordings.wav)

    with pytest.raises(SizeLimitError, match="longer than the limit of 10 seconds"):
        decode_recording(local_store, KEY, max_seconds=10)


def test_probe_duration_reads_the_containers_duration_from_each_store(
    local_store: LocalStore, moto_store: S3Store, two_voice_recordings: TwoVoiceRecording
) -> None:
    expected = ffprobe_audio(two_voice_recordings.wav).duration
    for store in (local_store, moto_store):
        _upload(store, two_voice_recordings.wav)
        assert probe_duration(store, KEY) == pytest.approx(expected, abs=0.01)


def test_probe_duration_is_none_for_a_live_recorded_webm_without_one(
    local_store: LocalStore, tmp_path: Path
) -> None:
    # A browser's MediaRecorder writes WebM as a stream: no duration in the header.
    produced = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=d=2",
            "-c:a",
            "libopus",
            "-f",
            "webm",
            "-live",
            "1",
            "pipe:1",
        ],
        capture_output=True,
        check=True,
    ).stdout
    local_store.put("audio/m1/original.webm", produced)

    assert probe_duration(local_store, "audio/m1/original.webm") is None
    assert decode_recording(local_store, "audio/m1/original.webm").duration_seconds == (
        pytest.approx(2.0, abs=0.05)
    )
