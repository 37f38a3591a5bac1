"""Apply the Alembic migrations shipped beside this module (``db/migrations``).

Every API and worker process calls ``upgrade`` at start; on PostgreSQL an
advisory lock makes concurrent starts take turns (the second finds the schema
current and does nothing). SQLite serialises writers on its own.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from ivrimeet.db.engine import Database, translate_unavailable

__all__ = ["current_revision", "head_revision", "upgrade"]

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant shared by every ivrimeet process: "ivrimeet" as an int64 key.
_ADVISORY_LOCK_KEY = int.from_bytes(b"ivrimeet", "big") & 0x7FFF_FFFF_FFFF_FFFF


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "db/migrations has no revisions"
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with translate_unavailable(db.label), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(db: Database) -> str:
    """Bring the schema to the newest revision; returns it."""
    started = time.monotonic()
    config = _config()
    with translate_unavailable(db.label), db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            connection.commit()
        try:
            before = MigrationContext.configure(connection).get_current_revision()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
                connection.commit()
    head = head_revision()
    logger.info(
        "db.upgraded database=%s from=%s to=%s seconds=%.3f",
        db.label,
        before or "empty",
        head,
        time.monotonic() - started,
    )
    return head
