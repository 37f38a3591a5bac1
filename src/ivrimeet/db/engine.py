"""``Database``: one engine and session factory per process, from a URL.

URLs: ``sqlite:///path`` (the default, a file in the data dir) or PostgreSQL in
any of the spellings hosting providers hand out (``postgres://``,
``postgresql://``), normalised to the psycopg 3 driver. SQLite runs with foreign
keys on (deletes cascade), WAL and a busy timeout so an API and an in-process
worker can share one file.

A database that cannot be used raises ``DatabaseUnavailableError`` whose
message says what happened and what to do, without the URL, host or user
(it reaches API clients); the database and the driver's reason go to the
log (``db.unavailable``), password hidden. Once the database is back, the
next request works: no restart. For SQLite that includes the file's
directory being removed or replaced: a pooled connection would go on
reading and writing the old, unlinked file, so every checkout first checks
that the path still names the file the connection opened.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ivrimeet.errors import ConfigurationError, DatabaseUnavailableError

__all__ = ["Database", "normalize_database_url", "sqlite_url"]

logger = logging.getLogger(__name__)

_POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2")


def sqlite_url(data_dir: Path) -> str:
    """The default database: ``ivrimeet.sqlite3`` in the data dir."""
    return f"sqlite:///{(data_dir / 'ivrimeet.sqlite3').resolve()}"


def normalize_database_url(url: str) -> str:
    """``url`` with PostgreSQL spellings mapped to ``postgresql+psycopg://``.

    Raises ``ConfigurationError`` for a URL SQLAlchemy cannot parse or a
    database other than SQLite and PostgreSQL. The message never repeats the URL
    (it may carry a password).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(
            "DATABASE_URL is not a URL.",
            hints=["use postgresql://USER:PASSWORD@HOST:5432/DB or sqlite:///path/to/file"],
        )
    scheme = scheme.lower()
    if scheme in _POSTGRES_SCHEMES:
        url = f"postgresql+psycopg://{rest}"
    elif scheme != "sqlite":
        raise ConfigurationError(
            f"DATABASE_URL uses {scheme!r}; ivrimeet supports PostgreSQL and SQLite.",
            hints=["use postgresql://USER:PASSWORD@HOST:5432/DB or leave it unset for SQLite"],
        )
    try:
        make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            "DATABASE_URL cannot be parsed.",
            hints=["check for unescaped '@', ':' or '/' in the password (percent-encode them)"],
        ) from exc
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class _SqliteFileGuard:
    """Refuses pooled SQLite connections whose file is no longer the one at ``path``."""

    def __init__(self, path: str) -> None:
        self._path = path

    def remember(self, _dbapi_connection: Any, record: Any) -> None:
        record.info["file_id"] = _file_id(self._path)

    def check(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _file_id(self._path) != record.info.get("file_id"):
            # The pool drops this connection and opens a new one, which fails while
            # the file is gone (DatabaseUnavailableError) and works once it is back.
            raise DisconnectionError(f"{self._path} was removed or replaced")


class Database:
    """An engine plus a session factory; share one per process, ``dispose()`` at exit."""

    def __init__(self, url: str) -> None:
        self.url = make_url(normalize_database_url(url))
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if self.url.database and self.url.database != ":memory:":
                guard = _SqliteFileGuard(self.url.database)
                event.listen(self.engine, "connect", guard.remember)
                event.listen(self.engine, "checkout", guard.check)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def label(self) -> str:
        """The URL for logs, password hidden (never for API answers: it names host and user)."""
        return self.url.render_as_string(hide_password=True)

    @property
    def kind(self) -> str:
        """``SQLite`` or ``PostgreSQL``, for messages."""
        return "SQLite" if self.is_sqlite else "PostgreSQL"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        A database that cannot be reached raises ``DatabaseUnavailableError``.
        """
        with translate_unavailable(self), self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Run ``SELECT 1``; ``DatabaseUnavailableError`` when that fails."""
        with translate_unavailable(self), self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def translate_unavailable(database: Database) -> Iterator[None]:
    """Turn driver connection failures into ``DatabaseUnavailableError``; log the detail."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        logger.warning("db.unavailable database=%s reason=%s", database.label, reason)
        where = (
            "the SQLite file (DATABASE_URL, or ivrimeet.sqlite3 in IVRIMEET_DATA_DIR) must "
            "exist and be readable and writable, on a local disk"
            if database.is_sqlite
            else "the PostgreSQL server must be running and reachable from this machine, "
            "and DATABASE_URL must name it"
        )
        raise DatabaseUnavailableError(
            f"The metadata database ({database.kind}) cannot be used right now.",
            hints=[
                "retry in a moment: the service reconnects by itself once the database is back",
                f"operators: {where}; the server log (db.unavailable) says which database and why",
            ],
        ) from exc
