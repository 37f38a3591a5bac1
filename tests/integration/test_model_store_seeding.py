"""A repo stored inside another model's closure is not downloaded again for a model of its own,
whichever of the two is loaded first (pipeline then EMBEDDING_MODEL, or the reverse)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivrimeet.models import load_diarization_pipeline, load_speaker_encoder
from ivrimeet.objects import LocalStore
from tests.faults.test_model_store_containers import _body_downloads
from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.integration.model_store_support import make_store
from tests.servers.hub import StandInHub

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("pipeline_first", [True, False], ids=["pipeline-first", "encoder-first"])
def test_the_shared_speechbrain_repo_is_downloaded_once_for_both_models(
    hub: StandInHub, tmp_path: Path, caplog: pytest.LogCaptureFixture, pipeline_first: bool
) -> None:
    store = make_store(LocalStore(tmp_path / "bucket"), hub, tmp_path / "t")
    loads = [
        lambda: load_diarization_pipeline(store, PIPELINE_SPEECHBRAIN),
        lambda: load_speaker_encoder(store, SPEECHBRAIN_ECAPA),
    ]

    with caplog.at_level("INFO"):
        for load in loads if pipeline_first else loads[::-1]:
            load()

    fetched = _body_downloads(hub)
    assert f"{SPEECHBRAIN_ECAPA}/hyperparams.yaml" in fetched
    assert max(fetched.values()) == 1, {key: n for key, n in fetched.items() if n > 1}
    seeded = [m for m in caplog.messages if m.startswith("model.seeded")]
    assert len(seeded) == 1 and f"repo={SPEECHBRAIN_ECAPA} " in seeded[0], seeded
