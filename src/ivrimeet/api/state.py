"""``ApiState``: what the app factory hands to routes (through ``deps.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ivrimeet.api.media_links import MediaLinks
from ivrimeet.api.upload_slots import UploadSlots
from ivrimeet.worker import Services

__all__ = ["ApiState", "ModelReadiness"]

ModelReadiness = Callable[[], tuple[bool, str]]
"""``() -> (ready, state)``: models of this process's in-process worker."""


@dataclass
class ApiState:
    services: Services
    api_token: str | None
    max_upload_bytes: int
    upload_slots: UploadSlots
    links: MediaLinks
    models: ModelReadiness | None = None
    schema: Callable[[], tuple[bool, str]] | None = None
    """``() -> (ready, state)`` of the start-up schema upgrade (``schema_startup``)."""
