"""Route dependencies as named ``Annotated`` aliases, so signatures read as sentences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from ivrimeet.api.state import ApiState
from ivrimeet.db import Database
from ivrimeet.objects import ObjectStore
from ivrimeet.worker import JobQueue

__all__ = [
    "ID_PATTERN",
    "DatabaseDep",
    "MeetingId",
    "QueueDep",
    "SpeakerId",
    "StateDep",
    "StoreDep",
]

ID_PATTERN = r"^[0-9a-f]{32}$"
"""UUID4 hex: anything else (``..``, slashes, other ids) is refused before any I/O."""


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def _database(state: Annotated[ApiState, Depends(_state)]) -> Database:
    return state.services.database


def _store(state: Annotated[ApiState, Depends(_state)]) -> ObjectStore:
    return state.services.store


def _queue(state: Annotated[ApiState, Depends(_state)]) -> JobQueue:
    return state.services.queue


StateDep = Annotated[ApiState, Depends(_state)]
DatabaseDep = Annotated[Database, Depends(_database)]
StoreDep = Annotated[ObjectStore, Depends(_store)]
QueueDep = Annotated[JobQueue, Depends(_queue)]
MeetingId = Annotated[str, Path(pattern=ID_PATTERN, description="meeting id (32 hex digits)")]
SpeakerId = Annotated[str, Path(pattern=ID_PATTERN, description="speaker id (32 hex digits)")]
