"""A filler killed with SIGKILL right after each of its writes (lease, each blob, manifest, ref),
then Hugging Face down: what was committed is used, nothing half-written is, and the dead
filler's lease does not block anyone.

Each write is let through to the server and its answer held by the proxy, then the child is
killed: the object exists, the filler never learns it. Afterwards, with the Hub down:

* lease or a blob: the model was never committed (no manifest), so loading fails with one
  error naming both sources, at once (the dead filler's lease is taken over, not waited for),
  and ``models gc`` removes the dead filler's lease before it expires;
* manifest: the closure is committed but its ref is missing; the manifest is adopted, the
  ref written, the model loads from the bucket;
* ref: the model loads from the bucket.

Then, with the Hub back, every case loads, blobs already stored are not uploaded again,
the bucket verifies and no lease or temporary file is left.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from ivrimeet.errors import IvrimeetError
from ivrimeet.models import collect_garbage, materialize, sweep_stale
from ivrimeet.objects import S3Store
from tests.faults import ledger
from tests.faults.conftest import ProxiedBucket
from tests.faults.leftovers import files_left
from tests.faults.models_support import (
    LAYOUT,
    FaultRepo,
    check_loaded,
    make_model_store,
    publish_fault_repo,
    verify_bucket,
)
from tests.faults.processes import start_python
from tests.faults.test_model_store_processes import LOAD_SCRIPT, _env
from tests.servers.hub import StandInHub
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

# The small repo's four files, by path: each blob is one kill point.
BLOB_PATHS = ["config.json", "extra/a.bin", "extra/b.bin", "tokenizer/vocab.txt"]
KILL_POINTS = ["lease", *(f"blob:{path}" for path in BLOB_PATHS), "manifest", "ref"]


def _write_of(kill_point: str, bucket: str, repo: FaultRepo) -> str:
    """The start of the request line of the write to let through and then hold."""
    if kill_point.startswith("blob:"):
        return f"PUT /{bucket}/{LAYOUT.blob(repo.sha256(kill_point[5:]))}"
    prefix = {
        "lease": LAYOUT.leases_prefix(repo.repo_id),
        "manifest": LAYOUT.manifests_prefix(repo.repo_id),
        "ref": LAYOUT.refs_prefix(repo.repo_id),
    }[kill_point]
    return f"PUT /{bucket}/{prefix}"


def _leases(objects: S3Store, repo: FaultRepo) -> list[str]:
    return [info.key for info in objects.list(LAYOUT.leases_prefix(repo.repo_id))]


@pytest.mark.parametrize("kill_point", KILL_POINTS)
def test_a_filler_killed_after_each_write_leaves_a_bucket_the_next_start_recovers(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    tmp_path: Path,
    tmp_dir: Path,
    caplog: pytest.LogCaptureFixture,
    kill_point: str,
) -> None:
    repo = publish_fault_repo(hub, tmp_path / "repos", big=False)
    objects = S3Store(proxied_moto.server.connection(proxied_moto.bucket))
    proxied_moto.proxy.stall(0, request=_write_of(kill_point, proxied_moto.bucket, repo))
    child = start_python(
        LOAD_SCRIPT.format(repo=repo.repo_id),
        env=_env(proxied_moto, proxied_moto.proxy.url, hub.endpoint, tmp_dir),
        cwd=tmp_path,
    )
    try:
        wait_until(
            lambda: proxied_moto.proxy.faults >= 1 or child.process.poll() is not None,
            timeout=120,
            message=f"the filler's {kill_point} write",
        )
        assert child.process.poll() is None, child.log()[-3000:]
        child.kill9()
    finally:
        child.stop()
    committed = kill_point in ("manifest", "ref")
    assert objects.exists(LAYOUT.manifest(repo.repo_id, repo.commit)) == committed
    assert _leases(objects, repo), "the killed filler's lease is still there"

    hub.reset()
    hub.outage = True
    sweep_stale(tmp_dir)  # what every start does
    store = make_model_store(objects, hub.endpoint, tmp_dir, wait_seconds=30.0)
    ledger.load()
    with caplog.at_level(logging.INFO):
        if committed:
            with materialize(store, repo.repo_id) as model:
                check_loaded(model.snapshot, repo)
            assert hub.requests == [], "a committed model needs no Hugging Face request"
            assert objects.get_bytes(LAYOUT.ref(repo.repo_id, "main")).decode() == repo.commit
            # The load removes it on a thread of its own, without waiting for it.
            wait_until(
                lambda: _leases(objects, repo) == [],
                timeout=30,
                message="the dead filler's lease removed after a good load",
            )
        else:
            with pytest.raises(IvrimeetError) as caught, materialize(store, repo.repo_id):
                pass
            assert "not from the bucket, not from Hugging Face" in caught.value.summary
            assert not objects.exists(LAYOUT.manifest(repo.repo_id, repo.commit))
            dead = _leases(objects, repo)
            assert dead, "a failed load leaves the dead filler's lease to models gc"
            assert collect_garbage(store).leases_removed == tuple(dead)
            assert _leases(objects, repo) == []

    hub.outage = False
    caplog.clear()
    ledger.load()
    with caplog.at_level(logging.INFO), materialize(store, repo.repo_id) as model:
        check_loaded(model.snapshot, repo)

    if kill_point.startswith("blob:"):
        [stored] = [m for m in caplog.messages if m.startswith("model.stored")]
        skipped = int(re.search(r"skipped=(\d+)", stored).group(1))  # type: ignore[union-attr]
        assert skipped >= 1, f"the blob written before the kill was uploaded again: {stored}"
    assert verify_bucket(objects) == []
    assert _leases(objects, repo) == []
    assert files_left(tmp_dir) == []
