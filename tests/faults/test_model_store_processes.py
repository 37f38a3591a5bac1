"""The model store across real processes under faults: a filler killed with SIGKILL while it
holds the lease, a fill that outlasts its lease (kept alive), leases of other machines, and
eight cold starts at once through a proxy that cuts a fifth of all connections."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ivrimeet.errors import LeaseTimeoutError
from ivrimeet.models import materialize, sweep_stale
from ivrimeet.models.tempcache import TEMP_CACHE_PREFIX
from ivrimeet.objects import S3Store
from tests.faults import ledger
from tests.faults.conftest import ProxiedBucket
from tests.faults.leftovers import files_left, uploads_left
from tests.faults.models_support import (
    LAYOUT,
    FaultRepo,
    check_loaded,
    make_model_store,
    publish_fault_repo,
    verify_bucket,
)
from tests.faults.processes import Child, start_python
from tests.faults.proxy import FaultProxy, port_of
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.waiting import wait_until

LOAD_SCRIPT = """
    import hashlib, json, sys
    from ivrimeet.errors import IvrimeetError
    from ivrimeet.logs import configure_logging
    from ivrimeet.models import materialize
    from ivrimeet.runtime import model_store
    from ivrimeet.settings import Settings

    configure_logging("INFO")
    try:
        store = model_store(Settings())
        with materialize(store, {repo!r}) as model:
            hashes = {{
                str(p.relative_to(model.snapshot)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in model.snapshot.rglob("*") if p.is_file()
            }}
        print("LOADED", json.dumps(hashes, sort_keys=True), flush=True)
    except IvrimeetError as exc:
        print("FAILED", type(exc).__name__, exc.summary, flush=True)
        sys.exit(3)
"""


SHORT_LEASE_SCRIPT = """
    from ivrimeet.logs import configure_logging
    from ivrimeet.models import HubAccess, ModelStore, materialize
    from ivrimeet.runtime import object_store
    from ivrimeet.settings import Settings

    configure_logging("DEBUG")
    settings = Settings()
    store = ModelStore(
        object_store(settings),
        hub=HubAccess(endpoint=settings.hf_endpoint, token=settings.hf_token.get_secret_value()),
        tmp_dir=settings.tmp_dir,
        lease_seconds={lease_seconds},
    )
    with materialize(store, {repo!r}):
        print("LOADED", flush=True)
"""


def _env(proxied: ProxiedBucket, s3_url: str, hub_url: str, tmp_dir: Path) -> dict[str, str]:
    server = proxied.server
    return {
        "HF_ENDPOINT": hub_url,
        "HF_TOKEN": TEST_TOKEN,
        "S3_BUCKET": proxied.bucket,
        "S3_ENDPOINT_URL": s3_url,
        "S3_REGION": server.region,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "IVRIMEET_TMP_DIR": str(tmp_dir),
        "PYANNOTE_METRICS_ENABLED": "0",
    }


def _direct(proxied: ProxiedBucket) -> S3Store:
    return S3Store(proxied.server.connection(proxied.bucket))


def _leases(proxied: ProxiedBucket, repo: FaultRepo) -> list[str]:
    objects = _direct(proxied)
    return [info.key for info in objects.list(LAYOUT.leases_prefix(repo.repo_id))]


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.mark.slow
def test_filler_killed_while_holding_the_lease_leaves_no_manifest_and_is_taken_over(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    fault_proxy: Callable[[int], FaultProxy],
    tmp_path: Path,
    tmp_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = publish_fault_repo(hub, tmp_path / "repos")
    hub_proxy = fault_proxy(port_of(hub.endpoint))
    hub_proxy.stall(0, request="/resolve/", times=None)  # the filler hangs mid-fill
    child = start_python(
        LOAD_SCRIPT.format(repo=repo.repo_id),
        env=_env(proxied_moto, proxied_moto.server.endpoint_url, hub_proxy.url, tmp_dir),
        cwd=tmp_path,
    )
    try:
        wait_until(lambda: _leases(proxied_moto, repo), timeout=60, message="the child's lease")
        wait_until(lambda: hub_proxy.faults >= 1, timeout=30, message="the child downloading")
        child.kill9()
    finally:
        child.stop()
    hub_proxy.clear()
    objects = _direct(proxied_moto)
    assert list(objects.list(LAYOUT.manifests_prefix(repo.repo_id))) == []
    left_by_child = list(tmp_dir.glob(TEMP_CACHE_PREFIX + "*"))
    assert len(left_by_child) == 1, "the killed filler left its temporary cache"

    swept = _next_start_takes_over(objects, hub, tmp_dir, repo, caplog)
    assert swept == left_by_child


def _next_start_takes_over(
    objects: S3Store,
    hub: StandInHub,
    tmp_dir: Path,
    repo: FaultRepo,
    caplog: pytest.LogCaptureFixture,
) -> list[Path]:
    """A fresh start after the filler's death: sweep, load (taking the lease over), check all.

    Returns what the sweep removed.
    """
    swept = sweep_stale(tmp_dir)  # what every start does
    store = make_model_store(objects, hub.endpoint, tmp_dir)
    ledger.load()
    with caplog.at_level(logging.INFO), materialize(store, repo.repo_id) as model:
        check_loaded(model.snapshot, repo)

    assert any(m.startswith("model.lease_taken_over") for m in caplog.messages), caplog.messages
    assert objects.exists(LAYOUT.manifest(repo.repo_id, repo.commit))
    assert verify_bucket(objects) == []
    assert files_left(tmp_dir) == []
    return swept


def _lease_expiry(proxied: ProxiedBucket, key: str) -> float:
    return float(json.loads(_direct(proxied).get_bytes(key))["expires"])


@pytest.mark.slow
def test_a_fill_longer_than_its_lease_is_kept_alive_and_taken_over_only_once_killed(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    fault_proxy: Callable[[int], FaultProxy],
    tmp_path: Path,
    tmp_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Generous against a loaded CI box: the filler renews every lease/3 = 1.7 s and may be
    # late by up to 3.3 s before a waiter could take over; the waiter watches 2.4 lifetimes.
    lease_seconds, watch_seconds = 5.0, 12.0
    repo = publish_fault_repo(hub, tmp_path / "repos", big=False)
    hub_proxy = fault_proxy(port_of(hub.endpoint))
    hub_proxy.stall(0, request="/resolve/", times=None)  # the fill outlasts its lease
    child = start_python(
        SHORT_LEASE_SCRIPT.format(repo=repo.repo_id, lease_seconds=lease_seconds),
        env=_env(proxied_moto, proxied_moto.server.endpoint_url, hub_proxy.url, tmp_dir),
        cwd=tmp_path,
    )
    objects = _direct(proxied_moto)
    try:
        [lease_key] = wait_until(
            lambda: _leases(proxied_moto, repo), timeout=60, message="the filler's lease"
        )
        wait_until(lambda: hub_proxy.faults >= 1, timeout=30, message="the filler downloading")
        first_expiry = _lease_expiry(proxied_moto, lease_key)

        waiter = make_model_store(
            objects, hub.endpoint, tmp_dir, lease_seconds=lease_seconds, wait_seconds=watch_seconds
        )
        ledger.load()
        with (
            caplog.at_level(logging.INFO),
            pytest.raises(LeaseTimeoutError),
            materialize(waiter, repo.repo_id),
        ):
            pass
        assert not any(m.startswith("model.lease_taken_over") for m in caplog.messages)
        assert _leases(proxied_moto, repo) == [lease_key], "nobody took the live fill over"
        renewed = _lease_expiry(proxied_moto, lease_key)
        assert renewed >= first_expiry + watch_seconds - lease_seconds, "renewed while waited for"
        child.wait_for("model.lease_renewed", timeout=5)

        child.kill9()
    finally:
        child.stop()
    hub_proxy.clear()
    assert list(objects.list(LAYOUT.manifests_prefix(repo.repo_id))) == []

    _next_start_takes_over(objects, hub, tmp_dir, repo, caplog)


def _write_lease(proxied: ProxiedBucket, repo: FaultRepo, expires: float) -> None:
    body = {
        "owner": "other-machine/4242/abcd",
        "host": "other-machine",
        "pid": 4242,
        "started": 1,
        "expires": expires,
    }
    proxied.admin().put_object(
        Bucket=proxied.bucket,
        Key=f"{LAYOUT.leases_prefix(repo.repo_id, 'main')}0",
        Body=json.dumps(body).encode(),
    )


def test_an_expired_lease_of_another_machine_is_taken_over(
    proxied_moto: ProxiedBucket, hub: StandInHub, tmp_path: Path, tmp_dir: Path
) -> None:
    repo = publish_fault_repo(hub, tmp_path / "repos", big=False)
    _write_lease(proxied_moto, repo, expires=time.time() - 1)
    ledger.fault("dead filler lease")
    objects = _direct(proxied_moto)

    ledger.load()
    with materialize(make_model_store(objects, hub.endpoint, tmp_dir), repo.repo_id) as model:
        check_loaded(model.snapshot, repo)

    assert objects.exists(LAYOUT.manifest(repo.repo_id, repo.commit))
    wait_until(
        lambda: _leases(proxied_moto, repo) == [],
        timeout=30,
        message="the successful load removing the expired lease",
    )


def test_a_live_lease_of_another_machine_is_waited_for_then_a_clear_timeout(
    proxied_moto: ProxiedBucket, hub: StandInHub, tmp_path: Path, tmp_dir: Path
) -> None:
    repo = publish_fault_repo(hub, tmp_path / "repos", big=False)
    _write_lease(proxied_moto, repo, expires=time.time() + 3600)
    objects = _direct(proxied_moto)
    store = make_model_store(objects, hub.endpoint, tmp_dir, wait_seconds=1.0)

    ledger.load()
    with pytest.raises(LeaseTimeoutError) as caught, materialize(store, repo.repo_id):
        pass

    assert caught.value.summary == (
        f"Gave up waiting 1 s for another process to store {repo.repo_id}@main in "
        f"s3://{proxied_moto.bucket}/models/."
    )
    assert hub.count("/resolve/") == 0, "a waiter never downloads from Hugging Face"
    assert files_left(tmp_dir) == []


@pytest.mark.slow
def test_eight_cold_starts_through_a_fifth_of_connections_cut_all_load_or_fail_clearly(
    proxied_moto: ProxiedBucket, hub: StandInHub, tmp_path: Path, tmp_dir: Path
) -> None:
    repo = publish_fault_repo(hub, tmp_path / "repos")
    proxied_moto.proxy.cut_randomly(0.2, seed=20261126, max_bytes=256 * 1024)
    env = _env(proxied_moto, proxied_moto.proxy.url, hub.endpoint, tmp_dir)
    children: list[Child] = []
    try:
        children = [
            start_python(LOAD_SCRIPT.format(repo=repo.repo_id), env=env, cwd=tmp_path)
            for _ in range(8)
        ]
        codes = [child.wait(timeout=240) for child in children]
        logs = [child.log() for child in children]
    finally:
        for child in children:
            child.stop()
    ledger.load(len(children))

    expected = {path: repo.sha256(path) for path in repo.files}
    loaded = 0
    for code, log in zip(codes, logs, strict=True):
        lines = [line for line in log.splitlines() if line.startswith(("LOADED", "FAILED"))]
        assert len(lines) == 1 and code in (0, 3), f"exit {code}:\n{log[-3000:]}"
        if code == 0:
            loaded += 1
            if json.loads(lines[0].removeprefix("LOADED ")) != expected:
                ledger.corrupt_load()
                pytest.fail(f"a process loaded other bytes than published:\n{lines[0]}")
    assert proxied_moto.proxy.faults > 0, "the proxy cut nothing: the case proves nothing"
    assert loaded >= 1, logs
    objects = _direct(proxied_moto)
    assert objects.exists(LAYOUT.manifest(repo.repo_id, repo.commit))
    assert verify_bucket(objects) == []
    verify = subprocess.run(
        ["ivrimeet", "models", "verify", "--no-progress"],
        env={
            **os.environ,
            **_env(proxied_moto, proxied_moto.server.endpoint_url, hub.endpoint, tmp_dir),
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert uploads_left(proxied_moto.server, proxied_moto.bucket) == []
    assert files_left(tmp_dir) == []
