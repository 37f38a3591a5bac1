"""Inference threads follow the cgroup's CPU quota (v2 and v1 files), not the host's cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ivrimeet.processing.threads import cpu_quota, inference_threads

USABLE = len(os.sched_getaffinity(0))


def _v2(root: Path, text: str) -> Path:
    root.mkdir(exist_ok=True)
    (root / "cpu.max").write_text(text)
    return root


def _v1(root: Path, quota: str, period: str = "100000\n") -> Path:
    (root / "cpu").mkdir(parents=True)
    (root / "cpu" / "cpu.cfs_quota_us").write_text(quota)
    (root / "cpu" / "cpu.cfs_period_us").write_text(period)
    return root


@pytest.mark.parametrize(
    ("text", "expected"),
    [("150000 100000\n", 1.5), ("max 100000\n", None), ("50000 100000\n", 0.5)],
)
def test_cpu_quota_reads_cgroup_v2(tmp_path: Path, text: str, expected: float | None) -> None:
    assert cpu_quota(_v2(tmp_path, text)) == expected


def test_cpu_quota_reads_cgroup_v1_and_minus_one_is_no_limit(tmp_path: Path) -> None:
    assert cpu_quota(_v1(tmp_path / "a", "200000\n")) == 2.0
    assert cpu_quota(_v1(tmp_path / "b", "-1\n")) is None
    assert cpu_quota(tmp_path / "missing") is None


def test_threads_are_the_quota_rounded_up_never_above_usable_cores(tmp_path: Path) -> None:
    assert inference_threads(_v2(tmp_path / "half", "50000 100000")) == 1
    assert inference_threads(_v2(tmp_path / "huge", "6400000 100000")) == USABLE
    assert inference_threads(_v2(tmp_path / "none", "max 100000")) == USABLE
    if USABLE >= 2:
        assert inference_threads(_v2(tmp_path / "one-and-a-bit", "110000 100000")) == 2
