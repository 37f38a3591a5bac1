"""The load log answers "where did the model come from?" honestly, once per model.

A warm from the bucket with Hugging Face unreachable logs no SpeechBrain "Fetching from
HuggingFace Hub" line and exactly one line per model saying "from the bucket"; with the
local folder store (no S3_BUCKET) nothing claims S3 or a bucket.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.integration.model_store_support import run_child
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.s3 import S3Server

pytestmark = pytest.mark.slow

WARM_SCRIPT = """
    from ivrimeet.logs import configure_logging
    from ivrimeet.models import load_diarization_pipeline, load_speaker_encoder
    from ivrimeet.runtime import model_store
    from ivrimeet.settings import Settings
    configure_logging("INFO")
    settings = Settings()
    store = model_store(settings)
    load_diarization_pipeline(store, settings.diarization_pipeline)
    load_speaker_encoder(store, settings.embedding_model)
    print("WARM", flush=True)
"""


def _env(hub: StandInHub, tmp_path: Path) -> dict[str, str]:
    return {
        **hub.client_env(),
        "HF_TOKEN": TEST_TOKEN,
        "IVRIMEET_TMP_DIR": str(tmp_path / "tmp"),
        "IVRIMEET_DATA_DIR": str(tmp_path / "data"),
        "DIARIZATION_PIPELINE": PIPELINE_SPEECHBRAIN,
        "EMBEDDING_MODEL": SPEECHBRAIN_ECAPA,
        "PYANNOTE_METRICS_ENABLED": "0",
    }


def _loaded_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "model.loaded" in line]


def test_a_warm_from_the_bucket_with_the_hub_down_says_from_the_bucket_once_per_model(
    moto_s3: S3Server, hub: StandInHub, tmp_path: Path
) -> None:
    bucket = moto_s3.new_bucket("logs").bucket
    env = {
        **_env(hub, tmp_path),
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": moto_s3.endpoint_url,
        "S3_REGION": moto_s3.region,
        "AWS_ACCESS_KEY_ID": moto_s3.access_key,
        "AWS_SECRET_ACCESS_KEY": moto_s3.secret_key,
    }
    filled = run_child(WARM_SCRIPT, env=env, cwd=tmp_path)
    assert filled.returncode == 0, filled.stderr[-3000:]
    assert [line.count("from Hugging Face") for line in _loaded_lines(filled.stderr)] == [1, 1]
    hub.reset()
    hub.outage = True

    warm = run_child(WARM_SCRIPT, env=env, cwd=tmp_path)

    assert warm.returncode == 0, warm.stderr[-3000:]
    assert hub.requests == []
    assert "Fetching from HuggingFace Hub" not in warm.stderr + warm.stdout
    lines = _loaded_lines(warm.stderr)
    assert len(lines) == 2, warm.stderr[-3000:]
    for line, repo in zip(lines, [PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA], strict=True):
        assert f"from the bucket s3://{bucket}/models/:" in line and f"repo={repo} " in line
        assert "origin=bucket" in line and "temp=deleted" in line
        assert int(line.rsplit("freed_bytes=", 1)[1]) > 0
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_local_folder_store_is_never_called_s3_or_a_bucket(
    hub: StandInHub, tmp_path: Path
) -> None:
    env = _env(hub, tmp_path)
    assert run_child(WARM_SCRIPT, env=env, cwd=tmp_path).returncode == 0
    hub.outage = True

    warm = run_child(WARM_SCRIPT, env=env, cwd=tmp_path)

    assert warm.returncode == 0, warm.stderr[-3000:]
    lines = _loaded_lines(warm.stderr)
    assert len(lines) == 2 and all("from the local model store" in line for line in lines)
    assert all("origin=folder" in line for line in lines), lines
    assert "source=s3" not in warm.stderr and "from the bucket" not in warm.stderr
