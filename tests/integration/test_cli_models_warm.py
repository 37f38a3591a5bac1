"""``ivrimeet models warm --require-bucket``: a deploy check that fails without the bucket."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivrimeet.cli.main import app
from tests.hubrepos import PIPELINE, SPEECHBRAIN_ECAPA
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.s3 import S3Server


@pytest.fixture
def warm_env(
    hub: StandInHub, moto_s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TEST_TOKEN,
        "IVRIMEET_DATA_DIR": str(tmp_path / "data"),
        "IVRIMEET_TMP_DIR": str(tmp_path / "tmp"),
        "DIARIZATION_PIPELINE": PIPELINE,
        "EMBEDDING_MODEL": SPEECHBRAIN_ECAPA,
        "S3_ENDPOINT_URL": moto_s3.endpoint_url,
        "S3_REGION": moto_s3.region,
        "AWS_ACCESS_KEY_ID": moto_s3.access_key,
        "AWS_SECRET_ACCESS_KEY": moto_s3.secret_key,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)


@pytest.mark.slow
def test_warm_require_bucket_fails_when_the_bucket_is_unreachable(
    warm_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:  # a port nothing listens on: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("S3_BUCKET", f"down-{uuid.uuid4().hex[:12]}")

    lenient = CliRunner().invoke(app, ["models", "warm", "--no-progress"])
    strict = CliRunner().invoke(app, ["models", "warm", "--no-progress", "--require-bucket"])

    assert lenient.exit_code == 0, lenient.output
    assert strict.exit_code == 9, strict.output
    assert "Not every model came from the bucket" in strict.output
    assert TEST_TOKEN not in strict.output


@pytest.mark.slow
def test_warm_require_bucket_passes_once_the_bucket_holds_both_models(
    warm_env: None, moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3_BUCKET", moto_s3.new_bucket("warmreq").bucket)

    filling = CliRunner().invoke(
        app, ["models", "warm", "--no-progress", "--require-bucket"], terminal_width=80
    )
    restored = CliRunner().invoke(app, ["models", "warm", "--json", "--require-bucket"])

    assert filling.exit_code == 9, filling.output  # the first warm fills from Hugging Face
    assert filling.stdout.count("from Hugging Face") == 2
    assert max(len(line) for line in filling.stdout.splitlines()) <= 80
    assert restored.exit_code == 0, restored.output
    assert [m["origin"] for m in json.loads(restored.stdout)] == ["bucket", "bucket"]
