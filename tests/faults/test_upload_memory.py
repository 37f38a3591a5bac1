"""20 concurrent 20 MB uploads keep ``ivrimeet serve``'s memory under the documented bound.

A real ``ivrimeet serve --no-worker`` (local store, and S3 on moto), its RSS
sampled every 10 ms while 20 clients upload 20 MB each at once. With the default
``MAX_CONCURRENT_UPLOADS=4`` the others are refused with 503; with 20 slots all
20 stream at once, which measures what one upload costs. The bound asserted is
the one documented in ``api/upload_slots.py``: ``PER_UPLOAD_MIB`` per slot in
use plus ``MARGIN_MIB`` (allocator and thread-pool slack).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from ivrimeet.api.upload_slots import PER_UPLOAD_MIB
from tests.integration.api_support import noise_wav
from tests.servers.ivrimeet import ivrimeet_env, serve
from tests.servers.s3 import S3Server

pytestmark = pytest.mark.slow

TOKEN = "upload-memory-token-5e21a7"
MiB = 1024 * 1024
CLIENTS = 20
MARGIN_MIB = 40


class PeakRss:
    """The highest RSS of ``pid`` while the ``with`` block runs, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._done = threading.Event()
        self.peak = 0

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def _upload(url: str, body: bytes) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "audio/wav"}
    try:
        return httpx.post(
            f"{url}/api/meetings", content=body, headers=headers, timeout=120
        ).status_code
    except httpx.TransportError:
        return 0  # refused before the body was sent: the server closed while we wrote


@pytest.fixture(params=["local", "moto"])
def store_env(
    request: pytest.FixtureRequest, tmp_path: Path, moto_s3: S3Server
) -> Iterator[dict[str, str]]:
    if request.param == "local":
        yield ivrimeet_env(tmp_path, token=TOKEN)
    else:
        bucket = moto_s3.new_bucket().bucket
        yield ivrimeet_env(tmp_path, token=TOKEN, s3=moto_s3, bucket=bucket)


@pytest.mark.parametrize("slots", [4, CLIENTS])
def test_twenty_concurrent_uploads_stay_under_the_documented_bound(
    store_env: dict[str, str], tmp_path: Path, slots: int
) -> None:
    env = {**store_env, "MAX_CONCURRENT_UPLOADS": str(slots), "MAX_UPLOAD_BYTES": str(64 * MiB)}
    body = noise_wav(20 * MiB)
    with serve(env, tmp_path, "--no-worker") as (url, process):
        assert _upload(url, noise_wav(MiB)) == 201  # imports and pools warmed once
        baseline = psutil.Process(process.process.pid).memory_info().rss
        with PeakRss(process.process.pid) as rss, ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(lambda _: _upload(url, body), range(CLIENTS)))
    growth_mib = (rss.peak - baseline) / MiB
    stored = statuses.count(201)
    print(  # the measurement, for the report (pytest -s)
        f"upload.memory slots={slots} baseline_mib={baseline / MiB:.0f}"
        f" peak_mib={rss.peak / MiB:.0f} growth_mib={growth_mib:.0f} stored={stored}"
        f" refused={CLIENTS - stored}"
    )
    assert stored >= min(slots, CLIENTS), statuses
    assert set(statuses) <= {201, 503, 0}, statuses
    assert growth_mib <= PER_UPLOAD_MIB * min(slots, CLIENTS) + MARGIN_MIB
