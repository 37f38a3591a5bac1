"""``ivrimeet.models.speechbrain_compat`` is still needed, and it makes pyannote load SpeechBrain.

The first two tests fail on purpose once pyannote.audio or speechbrain fixes the
mismatch: then delete ``speechbrain_compat`` and its call sites.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.hubrepos import ECAPA_DIMENSION, SPEECHBRAIN_ECAPA
from tests.servers.hub import TEST_TOKEN, StandInHub

_UPSTREAM_FIXED = (
    "pyannote.audio + speechbrain no longer {what}: the incompatibility is fixed "
    "upstream, delete src/ivrimeet/models/speechbrain_compat.py and its callers."
)


def test_pyannote_still_passes_loose_hub_keywords_speechbrain_rejects(
    hub_client: StandInHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyannote.audio.pipelines import speaker_verification
    from speechbrain.inference import EncoderClassifier

    monkeypatch.setattr(speaker_verification, "SpeechBrain_EncoderClassifier", EncoderClassifier)

    try:
        speaker_verification.SpeechBrainPretrainedSpeakerEmbedding(
            SPEECHBRAIN_ECAPA, token=TEST_TOKEN, cache_dir=tmp_path / "pyannote-cache"
        )
    except TypeError as error:
        assert "unexpected keyword argument 'token'" in str(error)
    else:
        pytest.fail(_UPSTREAM_FIXED.format(what="reject token= in from_hparams"))
    # The loose cache_dir never reached SpeechBrain's fetcher either: before failing,
    # it downloaded into huggingface_hub's default cache (patched by hub_client).
    assert (tmp_path / "hf-default-cache").is_dir()
    assert not (
        tmp_path / "pyannote-cache" / "models--ivrimeet-test--speechbrain-ecapa-tiny"
    ).exists()


def test_speechbrain_still_rejects_a_torch_device_in_run_opts(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from speechbrain.inference import EncoderClassifier
    from speechbrain.utils.fetching import FetchConfig

    try:
        EncoderClassifier.from_hparams(
            source=SPEECHBRAIN_ECAPA,
            savedir=tmp_path / "speechbrain",
            run_opts={"device": torch.device("cpu")},
            fetch_config=FetchConfig(huggingface_cache_dir=str(tmp_path / "hf")),
        )
    except TypeError as error:
        assert "not iterable" in str(error)
    else:
        pytest.fail(_UPSTREAM_FIXED.format(what="reject a torch.device in run_opts"))


def test_compat_lets_pyannote_load_and_move_a_speechbrain_embedding(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from pyannote.audio.pipelines.speaker_verification import (
        SpeechBrainPretrainedSpeakerEmbedding,
    )

    from ivrimeet.models.speechbrain_compat import install_speechbrain_compat

    install_speechbrain_compat()
    install_speechbrain_compat()

    embedding = SpeechBrainPretrainedSpeakerEmbedding(
        SPEECHBRAIN_ECAPA, token=TEST_TOKEN, cache_dir=tmp_path
    )
    embedding.to(torch.device("cpu"))

    assert embedding.dimension == ECAPA_DIMENSION
    assert embedding(torch.randn(2, 1, 16_000)).shape == (2, ECAPA_DIMENSION)
    assert (tmp_path / "speechbrain" / "hyperparams.yaml").exists()
    assert any(r.had_authorization for r in hub_client.requests if "/resolve/" in r.path)


def test_disable_pyannote_telemetry_turns_metrics_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyannote.audio.telemetry.metrics import is_metrics_enabled

    from ivrimeet.models.speechbrain_compat import disable_pyannote_telemetry

    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "true")  # pyannote's installed default
    assert is_metrics_enabled()

    disable_pyannote_telemetry()

    assert not is_metrics_enabled()
