"""Apply the Alembic migrations shipped beside this module (``db/migrations``).

Every API and worker process calls ``upgrade`` at start; on PostgreSQL an
advisory lock makes concurrent starts take turns (the second finds the schema
current and does nothing). SQLite serialises writers on its own.

When the database is already at ``HEAD_REVISION`` (every start but the first
after a release), Alembic is not even imported: it would cost each API replica
about 11 MiB of memory for nothing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DatabaseError

from ivrimeet.db.engine import Database, translate_unavailable

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD_REVISION", "current_revision", "head_revision", "upgrade"]

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD_REVISION = "0005"
"""The newest revision in ``db/migrations/versions`` (a unit test keeps the two equal)."""
# Any constant shared by every ivrimeet process: "ivrimeet" as an int64 key.
_ADVISORY_LOCK_KEY = int.from_bytes(b"ivrimeet", "big") & 0x7FFF_FFFF_FFFF_FFFF


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this code ships, as Alembic reads it from the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "db/migrations has no revisions"
    return head


def _revision(connection: Connection) -> str | None:
    # What Alembic's MigrationContext.get_current_revision reads, without importing Alembic.
    try:
        with connection.begin_nested():
            value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DatabaseError:
        return None  # no alembic_version table: an empty database
    return str(value) if value is not None else None


def current_revision(db: Database) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with translate_unavailable(db), db.engine.connect() as connection:
        return _revision(connection)


def upgrade(db: Database) -> str:
    """Bring the schema to the newest revision; returns it."""
    started = time.monotonic()
    with translate_unavailable(db), db.engine.connect() as connection:
        before = _revision(connection)
        connection.commit()
        if before == HEAD_REVISION:
            return HEAD_REVISION
        is_postgres = connection.dialect.name == "postgresql"
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            connection.commit()
        try:
            from alembic import command

            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            if is_postgres:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
                connection.commit()
    logger.info(
        "db.upgraded database=%s from=%s to=%s seconds=%.3f",
        db.label,
        before or "empty",
        HEAD_REVISION,
        time.monotonic() - started,
    )
    return HEAD_REVISION
