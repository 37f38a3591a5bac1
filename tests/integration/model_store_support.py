"""Helpers for the model store tests: building stores, counting Hub downloads, child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

from ivrimeet.models import HubAccess, ModelStore
from ivrimeet.models.clock import Clock
from ivrimeet.objects.store import ObjectStore
from tests.servers.hub import TEST_TOKEN, StandInHub

__all__ = [
    "FakeClock",
    "RecordedEvents",
    "downloads",
    "make_store",
    "publish_weights_repo",
    "run_child",
]

REPO_ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """A clock that only moves when told to (or when someone sleeps on it)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.wall = start
        self.mono = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def make_store(
    objects: ObjectStore,
    hub: StandInHub,
    tmp_dir: Path,
    *,
    token: str | None = TEST_TOKEN,
    clock: Clock | None = None,
    **options: object,
) -> ModelStore:
    """A model store over ``objects`` using the stand-in Hub, temp caches under ``tmp_dir``."""
    return ModelStore(
        objects,
        hub=HubAccess(endpoint=hub.endpoint, token=token),
        tmp_dir=tmp_dir,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def downloads(hub: StandInHub) -> dict[str, int]:
    """File bodies fetched from the stand-in: ``GET`` path -> count (resolve and blob origin)."""
    counts: dict[str, int] = {}
    for request in hub.requests:
        if request.method == "GET" and (
            "/resolve/" in request.path or request.path.startswith("/blobs/")
        ):
            counts[request.path] = counts.get(request.path, 0) + 1
    return counts


def run_child(
    script: str,
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float = 300.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh Python process with ``env`` added to the environment."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class RecordedEvents:
    """Every phase with the running byte count after each ``advanced`` call."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None, list[int]]] = []
        self._lock = threading.Lock()

    def started(self, phase: str, label: str, files: int, total_bytes: int | None) -> None:
        with self._lock:
            self.phases.append((phase, total_bytes, []))

    def advanced(self, byte_count: int) -> None:
        with self._lock:
            counts = self.phases[-1][2]
            counts.append((counts[-1] if counts else 0) + byte_count)

    def finished(self) -> None:
        return None

    def counts(self, phase: str) -> tuple[int | None, list[int]]:
        return next((total, counts) for name, total, counts in self.phases if name == phase)


def publish_weights_repo(hub: StandInHub, root: Path, size: int, name: str) -> str:
    """Publish a repo with ``size`` random bytes of weights and a config; its id."""
    folder = root / "repo"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(size))
    (folder / "config.json").write_text("{}\n")
    repo = f"ivrimeet-test/{name}-{uuid.uuid4().hex[:8]}"
    hub.publish(repo, folder)
    return repo
