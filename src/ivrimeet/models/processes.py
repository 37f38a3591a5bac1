"""Who owns a temporary cache or a lease: host, pid and process start time.

A pid alone is reused (a restarted container's main process is often pid 1 or 7
again), so an owner is identified by pid plus the process's start time; a
leftover whose owner is not running any more can be removed or taken over
without waiting for an expiry.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["ProcessIdentity", "current_process", "is_running"]


@dataclass(frozen=True)
class ProcessIdentity:
    """A process on a host; ``started`` is its start in clock ticks since boot (0: unknown)."""

    host: str
    pid: int
    started: int


def _start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` from ``/proc`` (Linux); None if there is no such live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return 0
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent
        return None
    return int(fields[19]) if len(fields) > 19 else 0


@cache
def _identity(pid: int) -> ProcessIdentity:
    return ProcessIdentity(host=socket.gethostname(), pid=pid, started=_start_ticks(pid) or 0)


def current_process() -> ProcessIdentity:
    """This process (recomputed after a fork, since the pid changes)."""
    return _identity(os.getpid())


def is_running(owner: ProcessIdentity) -> bool:
    """True unless ``owner`` is on this host and certainly not running any more.

    A process on another host is assumed alive (its lease expiry decides).
    """
    if owner.host != current_process().host:
        return True
    if Path("/proc/self/stat").exists():
        ticks = _start_ticks(owner.pid)
        if ticks is None:
            return False
        return owner.started in (0, ticks) or ticks == 0
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
