"""The chunk-once embedding step gives pyannote's own embeddings and diarization.

Both sides are real pyannote.audio 4.0.7 pipelines loaded through the Hub
stand-in: one as a user gets it from ``Pipeline.from_pretrained``, one with
``install_chunk_embeddings``. Audio is pyannote's own ``sample.wav`` (real
speech, two speakers).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ivrimeet.models import HubAccess, ModelStore
from ivrimeet.objects import LocalStore
from ivrimeet.processing.embeddings import install_chunk_embeddings
from ivrimeet.processing.models import ModelHolder
from tests.hubrepos import (
    PIPELINE,
    PUBLISHED_PIPELINE,
    SPEECHBRAIN_ECAPA,
    build_real_size_repos,
    publish_repos,
)
from tests.servers.hub import TEST_TOKEN, StandInHub, run_hub

# One float32 rounding apart: batches of chunks instead of (chunk, speaker) items.
TOLERANCE = 1e-5


def _sample() -> dict[str, Any]:
    import pyannote.audio
    import soundfile
    import torch

    path = Path(os.path.dirname(pyannote.audio.__file__)) / "sample" / "sample.wav"
    samples, rate = soundfile.read(path, dtype="float32")
    return {"waveform": torch.from_numpy(samples)[None], "sample_rate": rate}


@pytest.fixture(scope="module")
def real_size_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandInHub]:
    """A stand-in Hub of its own serving the published ids at the published sizes."""
    folders = build_real_size_repos(tmp_path_factory.mktemp("real-size-repos"))
    with run_hub(tmp_path_factory.mktemp("real-size-hub")) as hub:
        publish_repos(hub, folders)
        yield hub


def _load(hub: StandInHub, repo_id: str, cache: Path) -> Any:
    from huggingface_hub import constants
    from pyannote.audio import Pipeline

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "ENDPOINT", hub.endpoint)
        patch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        )
        return Pipeline.from_pretrained(repo_id, token=TEST_TOKEN, cache_dir=cache)


class _Recorder:
    """A pyannote hook keeping each step's final artefact and the embedding progress calls."""

    def __init__(self) -> None:
        self.artefacts: dict[str, Any] = {}
        self.progress: list[tuple[int, int]] = []

    def __call__(
        self,
        step: str,
        artefact: Any,
        file: Any = None,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        if total is None:
            self.artefacts[step] = artefact
        elif step == "embeddings" and completed is not None:
            self.progress.append((completed, total))


def _run(pipeline: Any, file: dict[str, Any]) -> tuple[str, _Recorder]:
    recorder = _Recorder()
    output = pipeline(dict(file), hook=recorder)
    return output.speaker_diarization.to_rttm(), recorder


@pytest.mark.slow
def test_real_size_embeddings_and_rttm_match_pyannote_on_sample_wav(
    real_size_hub: StandInHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = _load(real_size_hub, PUBLISHED_PIPELINE, tmp_path / "cache")
    ours = _load(real_size_hub, PUBLISHED_PIPELINE, tmp_path / "cache")
    assert install_chunk_embeddings(ours)
    file = _sample()

    with caplog.at_level(logging.DEBUG, logger="ivrimeet.processing.embeddings"):
        rttm, recorder = _run(ours, file)
    expected_rttm, expected = _run(plain, file)

    got, want = recorder.artefacts["embeddings"], expected.artefacts["embeddings"]
    assert got.shape == want.shape == (21, 3, 256)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)
    assert rttm == expected_rttm
    assert len({line.split()[7] for line in rttm.splitlines()}) >= 2, rttm
    # Progress ran from 0 to its total, as pyannote's own does.
    assert recorder.progress[0][0] == 0
    assert recorder.progress[-1][0] == recorder.progress[-1][1] > 0
    # One trunk per chunk where pyannote runs one per (chunk, speaker): the saving.
    assert _counts(caplog) == {"chunks": 21, "trunks": 21, "embeddings": 63}


def _counts(caplog: pytest.LogCaptureFixture) -> dict[str, int]:
    done = next(r.getMessage() for r in caplog.records if "embeddings.done" in r.getMessage())
    return {name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", done)}


@pytest.mark.slow
def test_model_holder_installs_it_for_wespeaker_and_diarization_is_unchanged(
    hub_standin: StandInHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "tmp").mkdir()
    store = ModelStore(
        LocalStore(tmp_path / "bucket"),
        hub=HubAccess(endpoint=hub_standin.endpoint, token=TEST_TOKEN),
        tmp_dir=tmp_path / "tmp",
    )
    holder = ModelHolder(store, pipeline_repo=PIPELINE, encoder_repo=SPEECHBRAIN_ECAPA)
    ours = holder.get().pipeline
    plain = _load(hub_standin, PIPELINE, tmp_path / "plain-cache")
    assert "get_embeddings" in vars(ours)
    assert "get_embeddings" not in vars(plain)
    file = _sample()
    # 12 s: 3 chunks, enough for pyannote's path to stay short (the tiny segmentation
    # hears one speaker, so ours runs 3 trunks and pyannote 9).
    file["waveform"] = file["waveform"][:, : 12 * file["sample_rate"]]

    with caplog.at_level(logging.DEBUG, logger="ivrimeet.processing.embeddings"):
        rttm, recorder = _run(ours, file)
    expected_rttm, expected = _run(plain, file)

    # Speakers 2 and 3 are never heard: no trunk, no pooling for them.
    assert _counts(caplog) == {"chunks": 3, "trunks": 3, "embeddings": 3}
    np.testing.assert_allclose(
        recorder.artefacts["embeddings"],
        expected.artefacts["embeddings"],
        rtol=0,
        atol=TOLERANCE,
    )
    assert rttm == expected_rttm != ""


def test_speechbrain_embedding_keeps_pyannote_path(tiny_holder: ModelHolder) -> None:
    pipeline = tiny_holder.get().pipeline

    assert install_chunk_embeddings(pipeline) is False
    assert "get_embeddings" not in vars(pipeline)
