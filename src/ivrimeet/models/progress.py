"""Progress events of model transfers, so transfer code never knows a progress bar exists.

The CLI passes an implementation that drives Rich bars; everything else passes
nothing (``NO_EVENTS``). ``advanced`` may be called from several threads at once
and with a negative count when a retry rewinds.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NO_EVENTS", "TransferEvents"]


class TransferEvents(Protocol):
    """Callbacks for one transfer phase at a time (download, restore, upload, verify)."""

    def started(self, phase: str, label: str, files: int, total_bytes: int | None) -> None:
        """A phase begins: ``phase`` is ``download``, ``restore``, ``upload`` or ``verify``.

        ``total_bytes`` is None when it is not known in advance: a download from
        Hugging Face, whose loader decides which files it needs as it goes
        (``files`` is then 0).
        """
        ...

    def advanced(self, byte_count: int) -> None:
        """``byte_count`` more bytes moved (negative on a retry rewind)."""
        ...

    def finished(self) -> None:
        """The phase ended (successfully or not)."""
        ...


class _NoEvents:
    def started(self, phase: str, label: str, files: int, total_bytes: int | None) -> None:
        return None

    def advanced(self, byte_count: int) -> None:
        return None

    def finished(self) -> None:
        return None


NO_EVENTS: TransferEvents = _NoEvents()
