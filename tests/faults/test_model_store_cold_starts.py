"""Eight replicas cold-start at once on an empty bucket, each loading the diarization pipeline
(whose embedding is a SpeechBrain repo) and then EMBEDDING_MODEL (that same repo): every file
is downloaded from Hugging Face exactly once, across both models and all eight processes.

The adversarial run counted each encoder file twice per round: the pipeline's filler stored
the SpeechBrain repo's files inside the pipeline closure, then the encoder's filler downloaded
them again for a manifest of its own (``uploaded=0 skipped=5``). A fill now first restores the
files the bucket already holds for its repo (``models/seeding.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ivrimeet.objects import S3Store
from tests.faults import ledger
from tests.faults.conftest import ProxiedBucket
from tests.faults.models_support import LAYOUT
from tests.faults.processes import REPO_ROOT
from tests.faults.test_model_store_containers import _body_downloads
from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

REPLICAS = 8

REPLICA_SCRIPT = """
    import sys, time
    from pathlib import Path
    from ivrimeet.logs import configure_logging
    from ivrimeet.models import load_diarization_pipeline, load_speaker_encoder
    from ivrimeet.runtime import model_store
    from ivrimeet.settings import Settings
    configure_logging("INFO")
    settings = Settings()
    store = model_store(settings)
    print("READY", flush=True)
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.01)
    load_diarization_pipeline(store, settings.diarization_pipeline)
    load_speaker_encoder(store, settings.embedding_model)
    print("LOADED", flush=True)
"""


def test_eight_cold_starts_download_each_file_of_pipeline_and_encoder_once(
    proxied_moto: ProxiedBucket, hub: StandInHub, tmp_path: Path, tmp_dir: Path
) -> None:
    server = proxied_moto.server
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TEST_TOKEN,
        "S3_BUCKET": proxied_moto.bucket,
        "S3_ENDPOINT_URL": server.endpoint_url,
        "S3_REGION": server.region,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "IVRIMEET_TMP_DIR": str(tmp_dir),
        "DIARIZATION_PIPELINE": PIPELINE_SPEECHBRAIN,
        "EMBEDDING_MODEL": SPEECHBRAIN_ECAPA,
        "PYANNOTE_METRICS_ENABLED": "0",
    }
    go = tmp_path / "go"
    logs = [tmp_path / f"replica-{index}.log" for index in range(REPLICAS)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for log in logs:
            with open(log, "wb") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", textwrap.dedent(REPLICA_SCRIPT), str(go)],
                        env=env,
                        cwd=tmp_path,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        wait_until(
            lambda: all("READY" in log.read_text() for log in logs),
            timeout=180,
            message="every replica importing ivrimeet",
        )
        go.touch()
        codes = [proc.wait(timeout=600) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    ledger.load(REPLICAS * 2)
    texts = [log.read_text(errors="replace") for log in logs]

    for code, text in zip(codes, texts, strict=True):
        assert code == 0 and "LOADED" in text, text[-3000:]
    fetched = _body_downloads(hub)
    assert f"{SPEECHBRAIN_ECAPA}/hyperparams.yaml" in fetched, fetched
    assert max(fetched.values()) == 1, {k: n for k, n in fetched.items() if n > 1}
    loaded = [line for text in texts for line in text.splitlines() if "model.loaded" in line]
    assert len(loaded) == REPLICAS * 2
    assert sum("origin=huggingface" in line for line in loaded) == 2, loaded
    seeded = [line for text in texts for line in text.splitlines() if "model.seeded" in line]
    assert len(seeded) == 1 and SPEECHBRAIN_ECAPA in seeded[0], seeded
    objects = S3Store(server.connection(proxied_moto.bucket))
    assert list(objects.list(LAYOUT.leases_prefix())) == []
    assert list(tmp_dir.iterdir()) == []
