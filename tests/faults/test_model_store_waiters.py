"""A replica that waits for another's fill imports the loader's libraries while it waits.

The adversarial run saw seven waiters start importing pyannote only once the manifest
appeared, then compete for two cores (filler 18-42 s, waiters 82-195 s). Here a live lease
of another machine keeps the model unfilled; the waiter must have pyannote.audio imported
while it is still waiting, before any manifest exists.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ivrimeet.objects import S3Store
from tests.faults.conftest import ProxiedBucket
from tests.faults.models_support import LAYOUT
from tests.faults.processes import start_python
from tests.hubrepos import PIPELINE
from tests.servers.hub import TEST_TOKEN, StandInHub

pytestmark = pytest.mark.slow

WAITER_SCRIPT = """
    import sys, threading, time
    from ivrimeet.logs import configure_logging
    from ivrimeet.models import load_diarization_pipeline
    from ivrimeet.runtime import model_store
    from ivrimeet.settings import Settings

    configure_logging("INFO")
    if "pyannote.audio" in sys.modules:
        print("ALREADY_IMPORTED", flush=True)

    def watch():
        while "pyannote.audio" not in sys.modules:
            time.sleep(0.01)
        print("IMPORTED", flush=True)

    threading.Thread(target=watch, daemon=True).start()
    load_diarization_pipeline(model_store(Settings()), {repo!r})
"""


def test_a_waiting_replica_imports_pyannote_before_the_fill_it_waits_for_is_done(
    proxied_moto: ProxiedBucket, hub: StandInHub, tmp_path: Path, tmp_dir: Path
) -> None:
    server = proxied_moto.server
    lease = {
        "owner": "other-machine/4242/abcd",
        "host": "other-machine",
        "pid": 4242,
        "started": 1,
        "expires": time.time() + 3600,
    }
    proxied_moto.admin().put_object(
        Bucket=proxied_moto.bucket,
        Key=f"{LAYOUT.leases_prefix(PIPELINE, 'main')}0",
        Body=json.dumps(lease).encode(),
    )
    env = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TEST_TOKEN,
        "S3_BUCKET": proxied_moto.bucket,
        "S3_ENDPOINT_URL": server.endpoint_url,
        "S3_REGION": server.region,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "IVRIMEET_TMP_DIR": str(tmp_dir),
        "PYANNOTE_METRICS_ENABLED": "0",
    }
    child = start_python(WAITER_SCRIPT.format(repo=PIPELINE), env=env, cwd=tmp_path)
    try:
        child.wait_for("model.waiting_for_fill", timeout=60)
        child.wait_for("IMPORTED", timeout=120)
        assert child.process.poll() is None, "the waiter stopped waiting"
        objects = S3Store(server.connection(proxied_moto.bucket))
        assert list(objects.list(LAYOUT.manifests_prefix(PIPELINE))) == []
        assert "ALREADY_IMPORTED" not in child.log()
    finally:
        child.stop()
    assert hub.count("/resolve/") == 0, "a waiter never downloads from Hugging Face"
