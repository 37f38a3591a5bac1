"""Start serving with the database down: ``/healthz`` answers, ``/readyz`` says why, and the
schema upgrade (then the in-process worker) follows once the database answers.

A platform restarts a process whose start-up crashes; one that serves
``/healthz`` and reports "database unreachable" on ``/readyz`` instead is
kept out of rotation until it is ready, and tells the operator why. Routes
that need the database answer 503 ``database_unavailable`` meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ivrimeet import db
from ivrimeet.errors import DatabaseUnavailableError

__all__ = ["RETRY_SECONDS", "SchemaStartup"]

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
"""How often the upgrade is tried again while the database is unreachable."""


class SchemaStartup:
    """Upgrades the schema now, or in a thread until the database answers; then ``then()``."""

    def __init__(
        self,
        database: db.Database,
        *,
        then: Callable[[], None] | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._database = database
        self._then = then
        self._retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = "not started"
        self.ready = False

    def __call__(self) -> tuple[bool, str]:
        """``(ready, state)`` for ``/readyz``."""
        return self.ready, self._state

    def start(self) -> None:
        """Try once here; when the database is unreachable, keep trying in a thread."""
        if self._try():
            return
        self._thread = threading.Thread(target=self._retry, name="schema-startup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _try(self) -> bool:
        try:
            db.upgrade(self._database)
        except DatabaseUnavailableError as exc:
            self._state = (
                f"database unreachable ({exc.code}); retrying every {self._retry_seconds:g} s"
            )
            logger.warning(
                "api.database_unavailable at_start=true retry_seconds=%.1f error=%r",
                self._retry_seconds,
                exc.summary,
            )
            return False
        self._state = "ok"
        self.ready = True
        if self._then is not None:
            self._then()
        return True

    def _retry(self) -> None:
        while not self._stop.wait(self._retry_seconds):
            if self._try():
                logger.info("api.database_reconnected schema=current")
                return
