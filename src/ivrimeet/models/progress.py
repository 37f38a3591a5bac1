"""Progress events of model transfers, so transfer code never knows a progress bar exists.

The CLI passes an implementation that drives Rich bars; everything else passes
nothing (``NO_EVENTS``). ``advanced`` may be called from several threads at once
and with a negative count when a retry rewinds.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NO_EVENTS", "TransferEvents"]


class TransferEvents(Protocol):
    """Callbacks for one transfer phase at a time (restore, upload, verify)."""

    def started(self, phase: str, label: str, files: int, total_bytes: int) -> None:
        """A phase begins: ``phase`` is ``restore``, ``upload`` or ``verify``."""
        ...

    def advanced(self, byte_count: int) -> None:
        """``byte_count`` more bytes moved (negative on a retry rewind)."""
        ...

    def finished(self) -> None:
        """The phase ended (successfully or not)."""
        ...


class _NoEvents:
    def started(self, phase: str, label: str, files: int, total_bytes: int) -> None:
        return None

    def advanced(self, byte_count: int) -> None:
        return None

    def finished(self) -> None:
        return None


NO_EVENTS: TransferEvents = _NoEvents()
