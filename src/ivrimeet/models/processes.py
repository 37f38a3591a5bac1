"""Who owns a temporary cache or a lease, and whether that owner is provably gone.

An owner is a process, identified by:

* ``instance``: a random id drawn once per process (a restarted container's
  main process is often pid 1 or 7 again; its instance id is new);
* ``host``, ``boot`` (``/proc/sys/kernel/random/boot_id``) and ``pid_ns`` (the
  inode of ``/proc/self/ns/pid``): the PID namespace its ``pid`` means anything in;
* ``pid`` and ``started`` (its start in clock ticks since boot, 0 if unknown).

Containers that share a hostname (host networking) or a temporary-directory
volume do not share PIDs: pid 7 in one is not pid 7 in the other. So a pid is
only looked up when the owner ran on the same boot of the same machine in the
same PID namespace as we do; otherwise nothing about the owner can be checked
here, and the caller waits for a lease's expiry or a cache's age instead.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["ProcessIdentity", "current_process", "provably_gone"]

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_PID_NAMESPACE = Path("/proc/self/ns/pid")


@dataclass(frozen=True)
class ProcessIdentity:
    """A process: its random instance id and where its pid can be checked (see module doc)."""

    host: str
    pid: int
    started: int
    instance: str = ""
    boot: str = ""
    pid_ns: int = 0

    def checkable_from(self, other: ProcessIdentity) -> bool:
        """Whether ``other`` can look this process up by pid (same boot, same PID namespace)."""
        return (
            bool(self.boot)
            and self.pid_ns != 0
            and (self.host, self.boot, self.pid_ns) == (other.host, other.boot, other.pid_ns)
        )


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


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip().replace("-", "")
    except OSError:
        return ""


def _pid_namespace() -> int:
    try:
        return os.stat(_PID_NAMESPACE).st_ino
    except OSError:
        return 0


@cache
def _identity(pid: int) -> ProcessIdentity:
    return ProcessIdentity(
        host=socket.gethostname(),
        pid=pid,
        started=_start_ticks(pid) or 0,
        instance=secrets.token_hex(8),
        boot=_boot_id(),
        pid_ns=_pid_namespace(),
    )


def current_process() -> ProcessIdentity:
    """This process (a new identity after a fork, since the pid changes)."""
    return _identity(os.getpid())


def provably_gone(owner: ProcessIdentity) -> bool:
    """True only when ``owner`` shares our boot and PID namespace and is not running any more.

    Not running: no process has its pid, or the one that has it started at
    another time (the pid was reused). Anything else (another machine, another
    container, an owner recorded without boot id or namespace) is not provable.
    """
    me = current_process()
    if owner.instance and owner.instance == me.instance:
        return False
    if not owner.checkable_from(me):
        return False
    ticks = _start_ticks(owner.pid)
    if ticks is None:
        return True
    return owner.started not in (0, ticks) and ticks != 0
