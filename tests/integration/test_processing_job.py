"""The processing job end to end: real tiny pyannote/SpeechBrain models from the model store
(filled from the Hub stand-in), the two-voice espeak-ng recording, moto S3 and the local store.

Random-weight models cannot diarize well, so these tests check structure (keys,
playable snippets within their length, RTTM and JSON that agree with the result,
idempotent reprocessing), not who spoke when.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from ivrimeet.errors import InvalidInputError, UnsupportedMediaError
from ivrimeet.media.snippets import MP3, OPUS, SnippetFormat, encode
from ivrimeet.objects import LocalStore, ObjectStore, S3Store
from ivrimeet.processing.job import ProcessingResult, process_recording
from ivrimeet.processing.models import LoadedModels, ModelHolder
from ivrimeet.processing.rttm import parse_rttm
from ivrimeet.processing.run_keys import remove_other_runs
from ivrimeet.processing.voiceprints import NamedVoiceprint
from tests.audio import TwoVoiceRecording, ffprobe_audio, write_lying_wav
from tests.hubrepos import ECAPA_DIMENSION
from tests.servers.s3 import TEST_SECRET_KEY, S3Server

pytestmark = pytest.mark.slow

SNIPPET_SECONDS = 15.0


@pytest.fixture(scope="module")
def tiny_models(tiny_holder: ModelHolder) -> LoadedModels:
    """The tiny SpeechBrain-embedding pipeline and ECAPA encoder (shared ``tiny_holder``)."""
    return tiny_holder.get()


@pytest.fixture
def moto_store(moto_s3: S3Server) -> S3Store:
    return S3Store(moto_s3.new_bucket("meetings"))


def _run(
    store: ObjectStore,
    models: LoadedModels,
    meeting_id: str = "m1",
    *,
    snippet_seconds: float = SNIPPET_SECONDS,
    known: tuple[NamedVoiceprint, ...] = (),
    run: str = "1",
) -> ProcessingResult:
    return process_recording(
        store,
        meeting_id=meeting_id,
        run=run,
        recording_key=f"audio/{meeting_id}/original.wav",
        pipeline=models.pipeline,
        encoder=models.encoder,
        snippet_seconds=snippet_seconds,
        known_voiceprints=known,
    )


def _upload(store: ObjectStore, path: Path, meeting_id: str = "m1") -> None:
    with path.open("rb") as body:
        store.put(f"audio/{meeting_id}/original.wav", body)


def _keys(store: ObjectStore) -> list[str]:
    return [info.key for info in store.list("")]


def test_recording_on_s3_yields_speakers_with_playable_snippets_and_consistent_results(
    moto_store: S3Store,
    moto_s3: S3Server,
    tiny_models: LoadedModels,
    two_voice_recordings: TwoVoiceRecording,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ivrimeet")
    _upload(moto_store, two_voice_recordings.wav)

    result = _run(moto_store, tiny_models)

    assert result.duration_seconds == pytest.approx(
        ffprobe_audio(two_voice_recordings.wav).duration, abs=0.05
    )
    assert len(result.speakers) >= 1
    for speaker in result.speakers:
        assert speaker.snippet_key == f"snippets/m1/1/{speaker.label}.ogg"
        probed = ffprobe_audio(moto_store.get_bytes(speaker.snippet_key))
        assert (probed.format_name, probed.codec_name) == ("ogg", "opus")
        assert 0 < probed.duration <= SNIPPET_SECONDS
        assert probed.duration == pytest.approx(speaker.snippet_seconds, abs=0.05)
        assert 0 < speaker.seconds <= result.duration_seconds
        assert len(speaker.embedding) == ECAPA_DIMENSION
        assert math.fsum(x * x for x in speaker.embedding) == pytest.approx(1.0)
    labels = {s.label for s in result.speakers}
    assert {s.speaker_label for s in result.segments} == labels
    assert all(0 <= s.start < s.end <= result.duration_seconds for s in result.segments)

    rttm = parse_rttm(moto_store.get_bytes(result.rttm_key).decode())
    assert result.rttm_key == "results/m1/1/diarization.rttm"
    assert [(t.uri, t.speaker) for t in rttm] == [("m1", s.speaker_label) for s in result.segments]
    assert [round(t.start, 2) for t in rttm] == [round(s.start, 2) for s in result.segments]

    document = json.loads(moto_store.get_bytes(result.json_key))
    assert result.json_key == "results/m1/1/diarization.json"
    assert document["meeting_id"] == "m1"
    assert [s["label"] for s in document["speakers"]] == [s.label for s in result.speakers]
    assert [s["snippet_key"] for s in document["speakers"]] == [
        s.snippet_key for s in result.speakers
    ]
    assert len(document["segments"]) == len(result.segments)

    assert [name for name, _ in result.timings.steps] == [
        "decode",
        "diarize",
        "snippets",
        "voiceprints",
        "results",
    ]
    assert 0 < result.timings.storage_seconds < result.timings.total_seconds
    assert 0 < result.timings.storage_share < 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "job.step meeting=m1 step=decode seconds=" in logged
    assert "storage_share=" in logged
    for secret in ("X-Amz-Signature", TEST_SECRET_KEY, moto_s3.endpoint_url):
        assert secret not in logged


def test_each_run_writes_only_its_own_keys_and_the_winner_removes_the_others(
    local_store: LocalStore, tiny_models: LoadedModels, two_voice_recordings: TwoVoiceRecording
) -> None:
    _upload(local_store, two_voice_recordings.short_wav)
    # Objects of the old layout (no run) and another meeting's, which must survive.
    local_store.put("snippets/m1/SPEAKER_09.ogg", b"old snippet")
    local_store.put("snippets/m10/SPEAKER_00.ogg", b"another meeting's snippet")

    first = _run(local_store, tiny_models, run="1")
    keys_after_first = _keys(local_store)
    second = _run(local_store, tiny_models, run="2")

    # The second run deleted nothing: both runs' objects are there side by side.
    assert set(keys_after_first) <= set(_keys(local_store))
    assert {s.snippet_key for s in first.speakers}.isdisjoint(
        {s.snippet_key for s in second.speakers}
    )
    assert [s.embedding for s in second.speakers] == [s.embedding for s in first.speakers]

    removed = remove_other_runs(local_store, "m1", "2")

    snippet_keys = {s.snippet_key for s in second.speakers}
    assert {i.key for i in local_store.list("snippets/m1/")} == snippet_keys
    assert {i.key for i in local_store.list("results/m1/")} == {second.json_key, second.rttm_key}
    assert "snippets/m10/SPEAKER_00.ogg" in _keys(local_store)
    assert removed == len(first.speakers) + 2 + 1  # run 1's snippets and results, the old one


def test_a_voice_named_in_an_earlier_meeting_gets_its_name_suggested(
    local_store: LocalStore, tiny_models: LoadedModels, two_voice_recordings: TwoVoiceRecording
) -> None:
    _upload(local_store, two_voice_recordings.short_wav, "earlier")
    earlier = _run(local_store, tiny_models, "earlier")
    named = earlier.speakers[0]
    stranger = tuple(-x for x in named.embedding)
    known = (NamedVoiceprint("Stranger", stranger), NamedVoiceprint("Ada", named.embedding))

    _upload(local_store, two_voice_recordings.short_wav, "later")
    later = _run(local_store, tiny_models, "later", known=known)

    same = next(s for s in later.speakers if s.label == named.label)
    assert same.suggested_name == "Ada"
    assert same.suggestion_similarity == pytest.approx(1.0, abs=1e-3)
    assert earlier.speakers[0].suggested_name is None


def test_snippets_respect_a_shorter_snippet_length(
    local_store: LocalStore, tiny_models: LoadedModels, two_voice_recordings: TwoVoiceRecording
) -> None:
    _upload(local_store, two_voice_recordings.short_wav)

    result = _run(local_store, tiny_models, snippet_seconds=3.0)

    for speaker in result.speakers:
        assert speaker.snippet_key is not None
        duration = ffprobe_audio(local_store.get_bytes(speaker.snippet_key)).duration
        assert 0 < duration <= 3.0


def test_undecodable_recording_fails_and_writes_no_results(
    local_store: LocalStore, tiny_models: LoadedModels, tmp_path: Path
) -> None:
    _upload(local_store, write_lying_wav(tmp_path / "lying.wav"))

    with pytest.raises(UnsupportedMediaError, match=r"Cannot decode the recording as audio"):
        _run(local_store, tiny_models)

    assert _keys(local_store) == ["audio/m1/original.wav"]


@pytest.mark.parametrize("meeting_id", ["", "../m1", "a/b", "m 1"])
def test_meeting_id_that_is_unsafe_in_keys_is_refused(
    local_store: LocalStore, tiny_models: LoadedModels, meeting_id: str
) -> None:
    with pytest.raises(InvalidInputError, match="cannot be used in object keys"):
        _run(local_store, tiny_models, meeting_id)


@pytest.mark.parametrize("snippet", [OPUS, MP3], ids=["opus", "mp3"])
def test_encoded_snippet_plays_as_long_as_its_samples_plus_at_most_the_codecs_padding(
    snippet: SnippetFormat,
) -> None:
    seconds = 2.5
    samples = np.sin(np.linspace(0, 2000, int(seconds * 16_000))).astype(np.float32) * 0.5

    probed = ffprobe_audio(encode(samples, 16_000, snippet))

    assert probed.format_name == snippet.extension
    assert seconds <= probed.duration <= seconds + snippet.padding_seconds
