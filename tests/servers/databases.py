"""PostgreSQL (127.0.0.1:5432, db ``test``) and Redis (127.0.0.1:6379), isolated per test,
and the default SQLite metadata database.

- ``postgres_url``: a URL whose ``search_path`` is a fresh schema, dropped afterwards.
- ``redis_queue``: the Redis URL plus a unique queue name; its keys are removed afterwards.
- ``database``: a migrated SQLite ``db.Database`` in the test's temporary folder.
- ``new_queued_meeting(database)``: a meeting row as an upload leaves it (``queued``).

The first two skip the test when the server is not running.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from ivrimeet import db
from ivrimeet.objects.store import ObjectStore

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not available: {exc}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{POSTGRES_ADMIN}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@dataclass(frozen=True)
class RedisQueue:
    url: str
    name: str


@pytest.fixture
def redis_queue() -> Iterator[RedisQueue]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at 127.0.0.1:6379 is not available: {exc}")
    name = f"ivrimeet-test-{uuid.uuid4().hex[:12]}"
    try:
        yield RedisQueue(REDIS_URL, name)
    finally:
        for key in client.scan_iter(match=f"*{name}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[db.Database]:
    database = db.Database(db.sqlite_url(tmp_path / "data"))
    db.upgrade(database)
    yield database
    database.dispose()


def new_queued_meeting(
    database: db.Database, store: ObjectStore | None = None, recording: bytes | Path = b""
) -> str:
    """A ``queued`` meeting; returns its id.

    With a ``store``, ``recording`` (bytes, or a file to read) is stored at the
    meeting's audio key first; without one the key is never read.
    """
    meeting_id = uuid.uuid4().hex
    key = f"audio/{meeting_id}/original.wav"
    size = 1
    if store is not None:
        if isinstance(recording, Path):
            with recording.open("rb") as body:
                size = store.put(key, body).size
        else:
            size = store.put(key, recording).size
    db.create_meeting(
        database,
        meeting_id=meeting_id,
        title=None,
        audio_key=key,
        audio_bytes=size,
        content_type="audio/wav",
    )
    return meeting_id
