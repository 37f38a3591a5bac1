"""The model store across processes: a fresh process restores without Hugging Face,
many processes cold-start at once, a fill killed with SIGKILL leaves nothing half-done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ivrimeet.models.layout import BucketLayout
from tests.hubrepos import PIPELINE, SAFETENSORS, SPEECHBRAIN_ECAPA
from tests.integration.model_store_support import REPO_ROOT, downloads
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.s3 import S3Server
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

LAYOUT = BucketLayout("models/")

LOAD_SCRIPT = """
    import sys, time
    started = time.monotonic()
    from ivrimeet.logs import configure_logging
    from ivrimeet.settings import Settings
    from ivrimeet.runtime import model_store
    from ivrimeet.models import {function}
    configure_logging("INFO")
    settings = Settings()
    store = model_store(settings)
    result = {call}
    print("LOADED", type(result).__name__, round(time.monotonic() - started, 3), flush=True)
"""


def _env(server: S3Server, bucket: str, hub: StandInHub, tmp_dir: Path) -> dict[str, str]:
    return {
        **hub.client_env(),
        "HF_TOKEN": TEST_TOKEN,
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": server.endpoint_url,
        "S3_REGION": server.region,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "IVRIMEET_TMP_DIR": str(tmp_dir),
        "DIARIZATION_PIPELINE": PIPELINE,
        "EMBEDDING_MODEL": SPEECHBRAIN_ECAPA,
        "PYANNOTE_METRICS_ENABLED": "0",
    }


def _script(function: str, call: str) -> str:
    return LOAD_SCRIPT.format(function=function, call=call)


PIPELINE_SCRIPT = _script(
    "load_diarization_pipeline",
    "load_diarization_pipeline(store, settings.diarization_pipeline)",
)


BARRIER_SCRIPT = """
    import sys, time
    from pathlib import Path
    from ivrimeet.logs import configure_logging
    from ivrimeet.settings import Settings
    from ivrimeet.runtime import model_store
    from ivrimeet.models import materialize
    configure_logging("INFO")
    settings = Settings()
    store = model_store(settings)
    print("READY", flush=True)
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.01)
    with materialize(store, REPO) as model:
        files = sorted(p.name for p in model.snapshot.iterdir())
    print("LOADED", ",".join(files), flush=True)
""".replace("REPO", repr(SAFETENSORS))


def _cold_start_many(
    server: S3Server, hub: StandInHub, tmp_path: Path, count: int
) -> list[subprocess.CompletedProcess[str]]:
    """Start ``count`` processes, release them at once, return their results."""
    import textwrap

    bucket = server.new_bucket("cold")
    env = {
        **os.environ,
        **_env(server, bucket.bucket, hub, tmp_path / "tmp"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(BARRIER_SCRIPT), str(go)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        ready: set[int] = set()

        def all_ready() -> bool:
            for index, proc in enumerate(procs):
                if index not in ready and proc.stdout is not None:
                    line = proc.stdout.readline()
                    if line.startswith("READY"):
                        ready.add(index)
            return len(ready) == count

        wait_until(all_ready, timeout=120, message="every process importing ivrimeet")
        go.touch()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_eight_processes_cold_starting_on_moto_fetch_each_file_from_hub_at_most_once(
    moto_s3: S3Server, hub: StandInHub, tmp_path: Path
) -> None:
    results = _cold_start_many(moto_s3, hub, tmp_path, 8)

    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
        assert "LOADED" in result.stdout and "model.safetensors" in result.stdout
    fetched = downloads(hub)
    assert fetched, "someone had to fetch from the Hub"
    assert max(fetched.values()) == 1, fetched
    sources = [line for r in results for line in r.stderr.splitlines() if "model.loaded" in line]
    assert sum("origin=huggingface" in line for line in sources) == 1, sources
    assert list((tmp_path / "tmp").iterdir()) == []


def test_eight_processes_cold_starting_on_rclone_all_load(
    rclone_s3: S3Server, hub: StandInHub, tmp_path: Path
) -> None:
    results = _cold_start_many(rclone_s3, hub, tmp_path, 8)

    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
        assert "LOADED" in result.stdout and "model.safetensors" in result.stdout
    assert list((tmp_path / "tmp").iterdir()) == []


def test_fill_killed_midway_leaves_no_manifest_and_next_start_fills(
    moto_s3: S3Server, hub: StandInHub, tmp_path: Path
) -> None:
    from ivrimeet.models import load_diarization_pipeline, sweep_stale
    from ivrimeet.objects import S3Store
    from tests.integration.model_store_support import make_store

    bucket = moto_s3.new_bucket("killed")
    objects = S3Store(bucket)
    tmp_dir = tmp_path / "tmp"
    env = {
        **os.environ,
        **_env(moto_s3, bucket.bucket, hub, tmp_dir),
        "PYTHONPATH": str(REPO_ROOT),
    }
    import textwrap

    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PIPELINE_SCRIPT)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: any(objects.list(LAYOUT.leases_prefix(PIPELINE))),
            timeout=120,
            message="the child taking the fill lease",
        )
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()

    commit = hub.commit(PIPELINE)
    assert not objects.exists(LAYOUT.manifest(PIPELINE, commit))
    leftovers = list(tmp_dir.iterdir())
    assert len(leftovers) == 1, "the killed fill leaves its temporary cache"

    assert sweep_stale(tmp_dir) == leftovers
    store = make_store(objects, hub, tmp_dir)
    hub.reset()
    load_diarization_pipeline(store, PIPELINE)

    assert objects.exists(LAYOUT.manifest(PIPELINE, commit))
    assert downloads(hub), "the next start fills from the Hub"
    assert list(tmp_dir.iterdir()) == []


def test_sweep_removes_caches_of_dead_processes_and_keeps_live_ones(tmp_path: Path) -> None:
    from ivrimeet.models import sweep_stale
    from ivrimeet.models.tempcache import temp_cache

    tmp_dir = tmp_path / "tmp"
    script = """
        import os, sys
        from pathlib import Path
        from ivrimeet.models.tempcache import temp_cache
        held = temp_cache(Path(sys.argv[1]))
        cache = held.__enter__()
        (cache / "models--org--x").mkdir()
        print(cache, flush=True)
        os._exit(0)  # die without cleaning up, like a kill -9
    """
    import textwrap

    dead = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(tmp_dir)],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert dead.returncode == 0, dead.stderr[-2000:]
    leftover = Path(dead.stdout.strip())
    unrelated = tmp_dir / "someone-elses-dir"
    unrelated.mkdir()

    with temp_cache(tmp_dir) as mine:
        removed = sweep_stale(tmp_dir)
        assert mine.is_dir()

    assert removed == [leftover]
    assert not leftover.exists()
    assert unrelated.is_dir()
