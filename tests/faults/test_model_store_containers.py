"""Two "containers" on one host: same hostname, same temporary directory, different PID
namespaces (``unshare --pid --fork --mount-proc``, as a container runtime does). A pid of
one means nothing in the other, so neither may judge the other's lease or cache by it:
exactly one fill, and no live cache swept."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ivrimeet.objects import S3Store
from tests.faults.conftest import ProxiedBucket
from tests.faults.models_support import LAYOUT, publish_fault_repo
from tests.faults.processes import REPO_ROOT, Child, start_python
from tests.faults.proxy import FaultProxy, port_of
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

CONTAINER_SCRIPT = """
    import hashlib, json, sys
    from pathlib import Path
    from ivrimeet.logs import configure_logging
    from ivrimeet.models import materialize, sweep_stale
    from ivrimeet.models.processes import current_process
    from ivrimeet.runtime import model_store
    from ivrimeet.settings import Settings

    configure_logging("INFO")
    me = current_process()
    print("IDENTITY", me.pid, me.pid_ns, flush=True)
    settings = Settings()
    print("SWEPT", json.dumps([p.name for p in sweep_stale(settings.tmp_dir)]), flush=True)
    store = model_store(settings)
    with materialize(store, {repo!r}) as model:
        hashes = {{
            str(p.relative_to(model.snapshot)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in model.snapshot.rglob("*") if p.is_file()
        }}
    print("LOADED", json.dumps(hashes, sort_keys=True), flush=True)
"""


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


def _env(proxied: ProxiedBucket, hub_url: str, tmp_dir: Path) -> dict[str, str]:
    server = proxied.server
    return {
        "HF_ENDPOINT": hub_url,
        "HF_TOKEN": TEST_TOKEN,
        "S3_BUCKET": proxied.bucket,
        "S3_ENDPOINT_URL": server.endpoint_url,
        "S3_REGION": server.region,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "IVRIMEET_TMP_DIR": str(tmp_dir),
        "PYANNOTE_METRICS_ENABLED": "0",
    }


def _start_in_new_pid_namespace(script: str, env: dict[str, str], cwd: Path) -> Child:
    """Like ``start_python``, in a PID namespace (and /proc) of its own."""
    log_path = Path(tempfile.mkstemp(prefix="fault-child-", suffix=".log")[1])
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    command = ["unshare", "--pid", "--fork", "--mount-proc"]
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            [*command, sys.executable, "-c", textwrap.dedent(script)],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    return Child(process, log_path)


def _body_downloads(hub: StandInHub) -> dict[str, int]:
    """File bodies served by the stand-in, per file whatever revision named it."""
    counts: dict[str, int] = {}
    for request in hub.requests:
        if request.method != "GET" or request.status not in (200, 206):
            continue
        if "/resolve/" in request.path:
            repo, rest = request.path.lstrip("/").split("/resolve/", 1)
            key = f"{repo}/{rest.split('/', 1)[1]}"
        elif request.path.startswith("/blobs/"):
            key = request.path
        else:
            continue
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.skipif(not _unshare_works(), reason="unshare --pid needs root or user namespaces")
def test_same_hostname_containers_fill_once_and_never_sweep_each_others_cache(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    fault_proxy: Callable[[int], FaultProxy],
    tmp_path: Path,
    tmp_dir: Path,
) -> None:
    repo = publish_fault_repo(hub, tmp_path / "repos", big=False)
    hub_proxy = fault_proxy(port_of(hub.endpoint))
    hub_proxy.latency(0.2)  # the first container's fill lasts until the test lets it finish
    env = _env(proxied_moto, hub_proxy.url, tmp_dir)
    script = CONTAINER_SCRIPT.format(repo=repo.repo_id)
    objects = S3Store(proxied_moto.server.connection(proxied_moto.bucket))
    first = start_python(script, env=env, cwd=tmp_path)
    second: Child | None = None
    try:
        wait_until(
            lambda: (
                list(objects.list(LAYOUT.leases_prefix(repo.repo_id)))
                or first.process.poll() is not None
            ),
            timeout=60,
            message="the first container's lease",
        )
        assert first.process.poll() is None, first.log()[-3000:]
        [first_cache] = wait_until(
            lambda: list(tmp_dir.iterdir()), timeout=30, message="the first container's cache"
        )

        second = _start_in_new_pid_namespace(script, env, tmp_path)
        identity = second.wait_for("IDENTITY").split()
        assert int(identity[2]) != int(first.wait_for("IDENTITY").split()[2])
        assert second.wait_for("SWEPT") == "SWEPT []"
        assert first_cache.is_dir(), "the second container swept a live cache"
        second.wait_for("model.waiting_for_fill")

        hub_proxy.clear()
        assert first.wait(timeout=120) == 0, first.log()[-3000:]
        assert second.wait(timeout=120) == 0, second.log()[-3000:]
        logs = [first.log(), second.log()]
    finally:
        first.stop()
        if second is not None:
            second.stop()

    loaded = [line for log in logs for line in log.splitlines() if line.startswith("LOADED")]
    expected = {path: repo.sha256(path) for path in repo.files}
    assert [line.split(" ", 1)[1] for line in loaded] == [json.dumps(expected, sort_keys=True)] * 2
    assert "model.lease_taken_over" not in logs[1]
    fetched = _body_downloads(hub)
    assert fetched and max(fetched.values()) == 1, fetched
    assert list(tmp_dir.iterdir()) == []
