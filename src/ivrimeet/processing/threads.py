"""How many threads inference gets: the container's CPU quota, not the host's core count.

torch sizes its intra-op pool from the cores it can see. In a container
limited to 2 CPUs on a 64-core host it sees 64 (or the affinity mask's count),
starts that many threads, and the kernel throttles all of them to the quota:
every matrix multiply waits on descheduled threads. The quota is in the cgroup
(v2 ``cpu.max``: ``"200000 100000"`` is 2 CPUs, ``"max ..."`` none; v1
``cpu/cpu.cfs_quota_us`` over ``cpu.cfs_period_us``, ``-1`` none), rounded up.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

__all__ = ["CGROUP_ROOT", "cpu_quota", "inference_threads", "set_inference_threads"]

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """CPUs the cgroup may use (1.5 = one and a half), or None without a limit."""
    try:
        fields = (cgroup_root / "cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int((cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup_root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def inference_threads(cgroup_root: Path = CGROUP_ROOT) -> int:
    """Cores this process may run on, capped by the cgroup quota (rounded up); at least 1."""
    usable = len(os.sched_getaffinity(0))
    quota = cpu_quota(cgroup_root)
    if quota is None:
        return max(1, usable)
    return max(1, min(usable, math.ceil(quota)))


def set_inference_threads(cgroup_root: Path = CGROUP_ROOT) -> int:
    """Size torch's intra-op pool with ``inference_threads``; returns the count."""
    import torch

    threads = inference_threads(cgroup_root)
    if torch.get_num_threads() != threads:
        logger.info("torch.threads before=%d after=%d", torch.get_num_threads(), threads)
        torch.set_num_threads(threads)
    return threads
