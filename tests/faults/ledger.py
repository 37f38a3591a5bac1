"""The fault suite's own figures: what it injected, attempted and found left behind.

Tools and tests call these as they go (the proxy counts its cuts, ``kill -9``
helpers their kills, leftover checks what they found); the ``plugin`` module
prints the totals at the end of the session and, on request, writes them into
``README.md (Reliability)``. Nothing here is typed by hand.

Figures:

* ``faults``: injected failures by kind (``proxy.cut``, ``kill -9``, ``disk full``...);
* ``loads``/``uploads``: model loads and object/API uploads attempted under faults;
* ``corrupt_loads``: loads that returned bytes differing from what was stored (must be 0);
* ``leaks``: objects, open multipart uploads, rows and temp files found left
  behind after a fault (must be 0).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Totals", "corrupt_load", "fault", "leftovers", "load", "totals", "upload"]

_lock = threading.Lock()


@dataclass
class Totals:
    """Running totals for the session."""

    faults: Counter[str] = field(default_factory=Counter)
    loads: int = 0
    uploads: int = 0
    corrupt_loads: int = 0
    leaks: Counter[str] = field(default_factory=Counter)
    leak_checks: int = 0


_totals = Totals()


def fault(kind: str, count: int = 1) -> None:
    """Record ``count`` injected faults of ``kind``."""
    with _lock:
        _totals.faults[kind] += count


def load(count: int = 1) -> None:
    """Record model loads (or object downloads) attempted under faults."""
    with _lock:
        _totals.loads += count


def upload(count: int = 1) -> None:
    """Record uploads attempted under faults."""
    with _lock:
        _totals.uploads += count


def corrupt_load(count: int = 1) -> None:
    """Record loads that handed out bytes other than the stored ones."""
    with _lock:
        _totals.corrupt_loads += count


def leftovers(kind: str, found: list[str]) -> list[str]:
    """Record one leftover check of ``kind`` (objects, uploads, rows, temp files); return ``found``.

    Use as ``assert leftovers("objects", keys_under(...)) == []`` so the figure
    and the assertion come from the same value.
    """
    with _lock:
        _totals.leak_checks += 1
        _totals.leaks[kind] += len(found)
    return found


def totals() -> Totals:
    """A copy of the figures so far."""
    with _lock:
        return Totals(
            faults=Counter(_totals.faults),
            loads=_totals.loads,
            uploads=_totals.uploads,
            corrupt_loads=_totals.corrupt_loads,
            leaks=Counter(_totals.leaks),
            leak_checks=_totals.leak_checks,
        )
