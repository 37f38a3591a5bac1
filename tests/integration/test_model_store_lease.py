"""Waiting for another filler, taking over its expired lease, giving up: on an injected clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivrimeet.errors import LeaseTimeoutError
from ivrimeet.models import materialize
from ivrimeet.models.layout import BucketLayout
from ivrimeet.objects import LocalStore
from tests.hubrepos import SAFETENSORS
from tests.integration.model_store_support import FakeClock, downloads, make_store
from tests.servers.hub import StandInHub
from tests.waiting import wait_until

LAYOUT = BucketLayout("models/")
PREFIX = LAYOUT.leases_prefix(SAFETENSORS, "main")


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.fixture
def objects(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


def _held_elsewhere(objects: LocalStore, clock: FakeClock, seconds: float) -> None:
    """Another machine holds the fill lease for ``seconds`` more."""
    body = {
        "owner": "replica-2",
        "host": "replica-2.internal",
        "pid": 7,
        "started": 1,
        "expires": clock.now() + seconds,
    }
    objects.put_if_absent(f"{PREFIX}0", json.dumps(body).encode())


def test_waiter_takes_over_an_expired_lease_and_fills_without_real_sleeping(
    objects: LocalStore, hub: StandInHub, tmp_dir: Path
) -> None:
    clock = FakeClock()
    _held_elsewhere(objects, clock, seconds=120)
    store = make_store(objects, hub, tmp_dir, clock=clock, lease_seconds=600)

    with materialize(store, SAFETENSORS) as model:
        assert (model.snapshot / "model.safetensors").is_file()

    assert sum(clock.slept) >= 120, "it waited (on the fake clock) for the lease to expire"
    assert downloads(hub), "then it filled from the Hub itself"
    assert not objects.exists(f"{PREFIX}1"), "our own lease is released after the fill"
    # The load removes it on a thread of its own once its block has ended.
    wait_until(
        lambda: not objects.exists(f"{PREFIX}0"),
        timeout=30,
        message="the successful load removing the expired lease",
    )


def test_second_replica_waits_for_manifest_instead_of_downloading(
    objects: LocalStore, hub: StandInHub, tmp_dir: Path, tmp_path: Path
) -> None:
    filled = LocalStore(tmp_path / "filled")
    with materialize(make_store(filled, hub, tmp_path / "tmp2"), SAFETENSORS):
        pass
    hub.reset()

    class OtherReplicaFinishes(FakeClock):
        """While we wait, the lease holder uploads its result."""

        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if len(self.slept) == 3:
                for info in filled.list("models/"):
                    objects.put(info.key, filled.get_bytes(info.key))

    clock = OtherReplicaFinishes()
    _held_elsewhere(objects, clock, seconds=600)
    store = make_store(objects, hub, tmp_dir, clock=clock)

    with materialize(store, SAFETENSORS) as model:
        assert (model.snapshot / "model.safetensors").is_file()

    assert len(clock.slept) == 3
    assert downloads(hub) == {}


def test_waiting_longer_than_wait_seconds_is_a_lease_timeout(
    objects: LocalStore, hub: StandInHub, tmp_dir: Path
) -> None:
    clock = FakeClock()
    _held_elsewhere(objects, clock, seconds=3600)
    store = make_store(objects, hub, tmp_dir, clock=clock, wait_seconds=60)

    with (
        pytest.raises(LeaseTimeoutError, match="Gave up waiting 60 s"),
        materialize(store, SAFETENSORS),
    ):
        pass

    assert downloads(hub) == {}
    assert list(tmp_dir.iterdir()) == []
