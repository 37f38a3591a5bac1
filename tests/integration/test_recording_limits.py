"""Limits before work and recordings shorter than they claim, through the worker's job.

- a 10-hour silent Opus file (13.5 MB; its container says 36,000 s) is refused
  before decoding: the worker's memory barely moves;
- the first 20 KB of a 6.3 s MP3 (its Xing header still says 6.3 s) is processed
  and the meeting carries a warning that it was cut short.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import psutil
import pytest

from ivrimeet import db
from ivrimeet.objects import LocalStore
from ivrimeet.processing.models import ModelHolder
from ivrimeet.worker import JobContext, run_job
from tests.audio import TwoVoiceRecording

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def _meeting(database: db.Database, store: LocalStore, data: bytes, extension: str) -> str:
    meeting_id = uuid.uuid4().hex
    key = f"audio/{meeting_id}/original.{extension}"
    store.put(key, data)
    db.create_meeting(
        database,
        meeting_id=meeting_id,
        title=None,
        audio_key=key,
        audio_bytes=len(data),
        content_type=None,
    )
    return meeting_id


def _context(database: db.Database, store: LocalStore, holder: ModelHolder) -> JobContext:
    return JobContext(
        database=database,
        store=store,
        models=holder,
        snippet_seconds=15.0,
        worker_name="t",
        max_recording_seconds=4 * 3600.0,  # the default limit
    )


def test_ten_hour_silent_opus_is_refused_before_decoding_with_little_memory(
    database: db.Database, local_store: LocalStore, tiny_holder: ModelHolder, tmp_path: Path
) -> None:
    minute, ten_hours = tmp_path / "minute.opus", tmp_path / "ten-hours.opus"
    _ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "60",
        "-c:a", "libopus", "-b:a", "6k", str(minute),
    )  # fmt: skip
    # Copying the minute's packets 600 times is fast; encoding 10 hours is not.
    _ffmpeg("-stream_loop", "-1", "-i", str(minute), "-c", "copy", "-t", "36000", str(ten_hours))
    meeting_id = _meeting(database, local_store, ten_hours.read_bytes(), "opus")
    tiny_holder.get()  # models loaded before measuring: only the job's own memory counts
    rss_before = psutil.Process().memory_info().rss

    run_job(_context(database, local_store, tiny_holder), meeting_id, retries_left=0)

    growth = psutil.Process().memory_info().rss - rss_before
    meeting = db.get_meeting(database, meeting_id)
    assert meeting.status == "failed"
    assert meeting.error is not None and "36000 seconds long" in meeting.error
    assert "refused before decoding" in meeting.error
    assert growth < 50 * MiB, f"RSS grew {growth / MiB:.1f} MiB"


def test_truncated_mp3_is_processed_with_a_cut_short_warning(
    database: db.Database,
    local_store: LocalStore,
    tiny_holder: ModelHolder,
    two_voice_recordings: TwoVoiceRecording,
    tmp_path: Path,
) -> None:
    whole = tmp_path / "whole.mp3"
    _ffmpeg("-i", str(two_voice_recordings.short_wav), "-t", "6.3", "-b:a", "128k", str(whole))
    meeting_id = _meeting(database, local_store, whole.read_bytes()[: 20 * 1024], "mp3")

    run_job(_context(database, local_store, tiny_holder), meeting_id, retries_left=0)

    meeting = db.get_meeting(database, meeting_id)
    assert meeting.status == "done", meeting.error
    assert meeting.duration_seconds is not None and meeting.duration_seconds < 2.0
    assert meeting.warning is not None
    assert "cut short: its file says 6." in meeting.warning  # 6.3 s plus the encoder padding
    for leak in ("audio/", meeting_id, str(tmp_path)):
        assert leak not in meeting.warning
