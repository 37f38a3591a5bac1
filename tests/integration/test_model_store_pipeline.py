"""pyannote.audio specifics: two pipelines in one process, and the upstream default-argument bug."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivrimeet.models import load_diarization_pipeline
from ivrimeet.models.layout import BucketLayout
from ivrimeet.objects import LocalStore
from tests.hubrepos import COMMUNITY, PIPELINE, PIPELINE_SPEECHBRAIN
from tests.integration.model_store_support import make_store
from tests.servers.hub import TEST_TOKEN, StandInHub

pytestmark = pytest.mark.slow

LAYOUT = BucketLayout("models/")


def test_second_pipeline_in_a_process_keeps_its_plda_in_its_own_closure(
    hub: StandInHub, tmp_path: Path
) -> None:
    objects = LocalStore(tmp_path / "bucket")
    tmp_dir = tmp_path / "tmp"
    store = make_store(objects, hub, tmp_dir)

    load_diarization_pipeline(store, PIPELINE)
    load_diarization_pipeline(store, PIPELINE_SPEECHBRAIN)

    key = LAYOUT.manifest(PIPELINE_SPEECHBRAIN, hub.commit(PIPELINE_SPEECHBRAIN))
    repos = {f["repo"] for f in json.loads(objects.get_bytes(key))["files"]}
    assert COMMUNITY in repos
    assert list(tmp_dir.iterdir()) == [], "nothing was written into the first load's deleted cache"


def test_pyannote_still_writes_cache_dir_into_its_default_arguments(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    """Fails once pyannote.audio stops mutating its defaults: then delete pyannote_defaults.py."""
    from pyannote.audio import Pipeline
    from pyannote.audio.pipelines import SpeakerDiarization

    from ivrimeet.models.pyannote_defaults import reset_pipeline_defaults

    reset_pipeline_defaults()
    Pipeline.from_pretrained(PIPELINE, token=TEST_TOKEN, cache_dir=tmp_path / "cache")
    polluted = [d for d in SpeakerDiarization.__init__.__defaults__ or () if isinstance(d, dict)]

    assert any(d.get("cache_dir") == tmp_path / "cache" for d in polluted)
    assert reset_pipeline_defaults() > 0
    assert not any("cache_dir" in d or "token" in d for d in polluted)
