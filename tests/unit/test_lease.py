"""Fill leases: create-only generations, expiry and takeover on an injected clock (no sleeping)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from ivrimeet.errors import AlreadyExistsError, CreateOnlyUnsupportedError
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.lease import Leases
from ivrimeet.models.processes import current_process
from ivrimeet.objects import LocalStore
from ivrimeet.objects.store import ObjectInfo
from tests.integration.model_store_support import FakeClock
from tests.waiting import wait_until

REPO = "org/model"
LAYOUT = BucketLayout("models/")
PREFIX = LAYOUT.leases_prefix(REPO, "main")


@pytest.fixture
def objects(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _leases(objects: LocalStore, clock: FakeClock, seconds: float = 60.0) -> Leases:
    return Leases(objects, LAYOUT, clock, seconds)


def _foreign_lease(objects: LocalStore, generation: int, expires: float, **holder: object) -> str:
    body = {"owner": "other", "host": "other-host", "pid": 1, "started": 1, "expires": expires}
    body.update(holder)
    key = f"{PREFIX}{generation}"
    objects.put_if_absent(key, json.dumps(body).encode())
    return key


def test_first_caller_gets_generation_zero_and_second_waits(
    objects: LocalStore, clock: FakeClock
) -> None:
    leases = _leases(objects, clock)

    first = leases.acquire(REPO, "main")
    second = leases.acquire(REPO, "main")

    assert first is not None and first.key == f"{PREFIX}0"
    assert second is None


def test_expired_lease_is_taken_over_with_a_new_generation_never_a_delete(
    objects: LocalStore, clock: FakeClock
) -> None:
    old = _foreign_lease(objects, 0, expires=clock.now() + 60)
    leases = _leases(objects, clock)
    assert leases.acquire(REPO, "main") is None

    clock.advance(61)
    taken = leases.acquire(REPO, "main")

    assert taken is not None and taken.key == f"{PREFIX}1"
    assert objects.exists(old), "the previous holder's lease is left alone"


def _here(**changes: object) -> dict[str, object]:
    """A holder in our boot and PID namespace (its pid checkable from here)."""
    me = current_process()
    holder: dict[str, object] = {
        "host": me.host,
        "boot": me.boot,
        "pid_ns": me.pid_ns,
        "instance": "0123456789abcdef",
    }
    holder.update(changes)
    return holder


def test_lease_of_a_dead_process_in_our_pid_namespace_is_free_before_expiry(
    objects: LocalStore, clock: FakeClock
) -> None:
    me = current_process()
    _foreign_lease(objects, 0, expires=clock.now() + 3600, **_here(pid=me.pid, started=1))

    taken = _leases(objects, clock).acquire(REPO, "main")

    assert taken is not None and taken.key == f"{PREFIX}1"


def test_live_process_on_this_host_keeps_its_lease(objects: LocalStore, clock: FakeClock) -> None:
    _foreign_lease(objects, 0, expires=clock.now() + 3600, **_here(pid=os.getppid(), started=0))

    assert _leases(objects, clock).acquire(REPO, "main") is None


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"pid_ns": 1},  # another container on this host (host networking, shared volume)
        {"boot": "0" * 32},  # this host before a reboot, or another machine's clone
        {"boot": "", "pid_ns": 0},  # written without either: nothing to check it by
    ],
)
def test_a_pid_of_another_pid_namespace_is_never_looked_up_here(
    objects: LocalStore, clock: FakeClock, elsewhere: dict[str, object]
) -> None:
    # Our own pid with another start time would be "gone" if it meant anything here.
    me = current_process()
    _foreign_lease(
        objects, 0, expires=clock.now() + 3600, **_here(pid=me.pid, started=1, **elsewhere)
    )

    assert _leases(objects, clock).acquire(REPO, "main") is None
    clock.advance(3601)
    assert _leases(objects, clock).acquire(REPO, "main") is not None


def test_release_removes_only_the_holders_own_key(objects: LocalStore, clock: FakeClock) -> None:
    old = _foreign_lease(objects, 0, expires=clock.now() - 1)
    leases = _leases(objects, clock)
    lease = leases.acquire(REPO, "main")
    assert lease is not None

    leases.release(lease)

    assert not objects.exists(lease.key)
    assert objects.exists(old)


class _RacingStore(LocalStore):
    """A store where a competitor creates the same key just before our create-only put."""

    def put_if_absent(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> ObjectInfo:
        if key.startswith(PREFIX):
            super().put_if_absent(key, b'{"owner": "competitor"}')
        return super().put_if_absent(key, data, content_type=content_type)


def test_losing_the_create_only_race_means_waiting(tmp_path: Path, clock: FakeClock) -> None:
    objects = _RacingStore(tmp_path / "bucket")

    assert _leases(objects, clock).acquire(REPO, "main") is None
    with pytest.raises(AlreadyExistsError):
        objects.put_if_absent(f"{PREFIX}0", b"x")


class _NoCreateOnly(LocalStore):
    def supports_create_only(self) -> bool:
        return False


def test_server_without_create_only_puts_is_reported(tmp_path: Path, clock: FakeClock) -> None:
    objects = _NoCreateOnly(tmp_path / "bucket")

    with pytest.raises(CreateOnlyUnsupportedError):
        _leases(objects, clock).acquire(REPO, "main")


def test_unreadable_lease_counts_as_expired(objects: LocalStore, clock: FakeClock) -> None:
    objects.put_if_absent(f"{PREFIX}0", b"not json")

    taken = _leases(objects, clock).acquire(REPO, "main")

    assert taken is not None and taken.key == f"{PREFIX}1"


def test_gc_removes_expired_leases_only(objects: LocalStore, clock: FakeClock) -> None:
    expired = _foreign_lease(objects, 0, expires=clock.now() - 1)
    live = _foreign_lease(objects, 1, expires=clock.now() + 60)

    removed = _leases(objects, clock).remove_expired()

    assert removed == [expired]
    assert objects.exists(live)


def test_gc_removes_a_dead_fillers_lease_before_it_expires(
    objects: LocalStore, clock: FakeClock
) -> None:
    me = current_process()
    dead = _foreign_lease(objects, 0, expires=clock.now() + 600, **_here(pid=me.pid, started=1))
    other_container = _foreign_lease(
        objects, 1, expires=clock.now() + 600, **_here(pid=me.pid, started=1, pid_ns=1)
    )

    removed = _leases(objects, clock).remove_expired(REPO, "main")

    assert removed == [dead]
    assert objects.exists(other_container), "a pid of another namespace proves nothing"


def test_renewing_pushes_the_expiry_a_full_lifetime_from_now(
    objects: LocalStore, clock: FakeClock
) -> None:
    leases = _leases(objects, clock, seconds=60)
    lease = leases.acquire(REPO, "main")
    assert lease is not None

    clock.advance(50)
    renewed = leases.renew(lease)

    assert renewed is not None and renewed.holder.expires == clock.now() + 60
    assert json.loads(objects.get_bytes(lease.key))["expires"] == clock.now() + 60
    clock.advance(30)  # past the first expiry, within the renewed one
    assert _leases(objects, clock).acquire(REPO, "main") is None


def test_a_lease_taken_over_is_not_renewed(objects: LocalStore, clock: FakeClock) -> None:
    leases = _leases(objects, clock, seconds=60)
    lease = leases.acquire(REPO, "main")
    assert lease is not None
    before = objects.get_bytes(lease.key)
    _foreign_lease(objects, 1, expires=clock.now() + 600)

    assert leases.renew(lease) is None
    assert objects.get_bytes(lease.key) == before


def _keepalive_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lease-keepalive-")]


def test_keep_alive_renews_while_the_block_runs_and_stops_before_release(
    objects: LocalStore, clock: FakeClock
) -> None:
    leases = _leases(objects, clock, seconds=0.3)  # renewed every 0.1 s of real time
    lease = leases.acquire(REPO, "main")
    assert lease is not None

    def stored_expiry() -> float:
        return float(json.loads(objects.get_bytes(lease.key))["expires"])

    with leases.keep_alive(lease):
        clock.advance(1000)
        wait_until(lambda: stored_expiry() == clock.now() + 0.3, message="a renewal")
        assert _keepalive_threads()
    leases.release(lease)

    assert _keepalive_threads() == [], "the renewing thread ended with the block"
    assert not objects.exists(lease.key)
