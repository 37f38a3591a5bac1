"""``ivrimeet.allocator``: the heap keeps streamed chunks' memory; operators' settings win."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from ivrimeet.allocator import tune_for_streaming

glibc_only = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's"
)

# Allocate 24 MiB as 256 KiB bytes objects (an upload's chunks), free them all, and
# report how much of it the process still holds: freed heap kept for the next chunks.
_CHURN = """
import json, os, sys
from ivrimeet.allocator import tune_for_streaming
tuned = tune_for_streaming({}) if sys.argv[1] == "tuned" else False
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
chunks = [os.urandom(256 * 1024) for _ in range(96)]
held = rss()
del chunks
print(json.dumps({"tuned": tuned, "kept": rss() - held + 24 * 1024 * 1024}))
"""


def _churn(mode: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    done = subprocess.run(
        [sys.executable, "-c", _CHURN, mode], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@glibc_only
def test_tuned_heap_keeps_freed_chunks_for_reuse() -> None:
    MiB = 1024 * 1024
    default = _churn("default")
    tuned = _churn("tuned")
    assert tuned["tuned"] is True
    # glibc's defaults give the freed chunks back to the kernel (to be faulted in
    # and zeroed again by the next ones); tuned, the heap keeps them.
    assert int(str(default["kept"])) < 8 * MiB
    assert int(str(tuned["kept"])) > 20 * MiB


@pytest.mark.parametrize(
    "setting",
    ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"],
)
def test_operator_settings_are_left_alone(setting: str) -> None:
    assert tune_for_streaming({setting: "1"}) is False
