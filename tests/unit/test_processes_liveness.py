"""Owner identity: a pid is judged only in the boot and PID namespace it belongs to;
temporary caches of owners that cannot be checked go by age."""

from __future__ import annotations

import os
from pathlib import Path

from ivrimeet.models.processes import ProcessIdentity, current_process, provably_gone
from ivrimeet.models.tempcache import TEMP_CACHE_PREFIX, sweep_stale, temp_cache

DAY = 24 * 3600.0


def _other(**changes: object) -> ProcessIdentity:
    me = current_process()
    values: dict[str, object] = {
        "host": me.host,
        "pid": me.pid,
        "started": me.started + 1,  # our pid, another start: a reused pid
        "instance": "feedfacefeedface",
        "boot": me.boot,
        "pid_ns": me.pid_ns,
    }
    values.update(changes)
    return ProcessIdentity(**values)  # type: ignore[arg-type]


def test_each_process_gets_its_own_instance_id_boot_id_and_namespace() -> None:
    me = current_process()

    assert len(me.instance) == 16 and me.boot and me.pid_ns == os.stat("/proc/self/ns/pid").st_ino
    assert not provably_gone(me)


def test_a_reused_pid_in_our_namespace_is_provably_gone() -> None:
    assert provably_gone(_other())


def test_nothing_is_provable_about_another_namespace_boot_or_an_unrecorded_one() -> None:
    assert not provably_gone(_other(pid_ns=1))
    assert not provably_gone(_other(boot="0" * 32))
    assert not provably_gone(_other(boot="", pid_ns=0))


def _cache_of(tmp_dir: Path, owner: str, *, age: float, now: float) -> Path:
    path = tmp_dir / f"{TEMP_CACHE_PREFIX}{owner}"
    path.mkdir(parents=True)
    os.utime(path, (now - age, now - age))
    return path


def test_caches_of_unknown_owners_are_swept_by_age_and_live_ones_never(tmp_path: Path) -> None:
    me = current_process()
    now = 1_900_000_000.0
    other_container = f"{me.boot}-1-{me.pid}-{me.started + 1}-abcd1234"
    young = _cache_of(tmp_path, other_container, age=60, now=now)
    old = _cache_of(tmp_path, other_container.replace("abcd", "ef01"), age=DAY + 1, now=now)
    older_ivrimeet = _cache_of(tmp_path, f"{me.pid}-{me.started}-abcd1234", age=DAY + 1, now=now)
    dead_here = _cache_of(
        tmp_path, f"{me.boot}-{me.pid_ns}-{me.pid}-{me.started + 1}-abcd1234", age=0, now=now
    )

    with temp_cache(tmp_path) as mine:
        os.utime(mine, (now - 2 * DAY, now - 2 * DAY))
        removed = sweep_stale(tmp_path, now=now)
        assert mine.is_dir(), "a live process's cache is never swept, however old"

    assert sorted(removed) == sorted([old, older_ivrimeet, dead_here])
    assert young.is_dir()
