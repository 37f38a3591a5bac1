"""A gated repo the pipeline reaches into is named in the error, not the pipeline.

The tiny pipeline's config names no PLDA, so pyannote 4 fetches it from
pyannote/speaker-diarization-community-1, which the stand-in gates like the
real Hub. Without HF_TOKEN the error must send the user to that repo's page,
and pyannote's own printed advice must not reach stdout.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ivrimeet.errors import PermissionDeniedError
from ivrimeet.models import load_diarization_pipeline
from ivrimeet.objects import LocalStore
from tests.hubrepos import COMMUNITY, PIPELINE
from tests.integration.model_store_support import make_store
from tests.servers.hub import StandInHub


def test_missing_token_names_the_gated_repo_the_pipeline_needs(
    hub_client: StandInHub,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert hub_client.is_gated(COMMUNITY) and not hub_client.is_gated(PIPELINE)
    (tmp_path / "tmp").mkdir()
    bucket = LocalStore(tmp_path / "bucket")
    store = make_store(bucket, hub_client, tmp_path / "tmp", token=None)

    with (
        caplog.at_level(logging.DEBUG, logger="ivrimeet.models"),
        pytest.raises(PermissionDeniedError) as info,
    ):
        load_diarization_pipeline(store, PIPELINE)

    message = info.value.render()
    assert f"Hugging Face refused {COMMUNITY} (needed by {PIPELINE}" in message
    assert f"{hub_client.endpoint}/{COMMUNITY} " in message
    assert f"{hub_client.endpoint}/{PIPELINE} " not in message
    assert "Could not download" not in capfd.readouterr().out
    assert any("pyannote.printed" in r.getMessage() for r in caplog.records)
