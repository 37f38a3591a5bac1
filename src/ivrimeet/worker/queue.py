"""``JobQueue``: the Huey queue that carries "process meeting <id>" from the API to workers.

SQLite-backed (``queue.sqlite3`` in the data dir) by default; Redis when
``REDIS_URL`` is set, which is what lets API replicas and workers on other
machines share the work. Redis hands each message to exactly one consumer; a
task that is delivered twice anyway (a retry, a reprocess) is harmless because
the job claims the meeting in the database first (``db.claim_for_processing``).

Both sides register the same task; only a worker process attaches the function
that does the work (``attach``).

A handler asks for a retry by raising an ``IvrimeetError`` (an expected
failure, already logged by the job as one line): it becomes Huey's
``RetryTask``, which Huey logs as one info line, so no "Unhandled exception"
traceback is printed per attempt. Any other exception is a bug: Huey logs it
with its traceback, and retries it too.

A queue that cannot be used raises ``QueueUnavailableError`` whose message
names the kind of queue, not its address (it reaches API clients); the
address and the reason go to the log (``queue.unavailable``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import Task
from huey.exceptions import RetryTask
from redis.exceptions import RedisError

from ivrimeet.errors import IvrimeetError, QueueUnavailableError

__all__ = ["RETRIES", "RETRY_DELAY_SECONDS", "JobHandler", "JobQueue"]

logger = logging.getLogger(__name__)

RETRIES = 3
"""Extra attempts for a job that failed on a transient error (storage, hub, database)."""
RETRY_DELAY_SECONDS = 10
_TASK_NAME = "process_meeting"

JobHandler = Callable[[str, int], None]
"""``handler(meeting_id, retries_left)``: does the work of one job."""


def _redis_label(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class JobQueue:
    """One Huey instance plus the ``process_meeting`` task registered on it."""

    def __init__(self, *, name: str, redis_url: str | None, data_dir: Path) -> None:
        self.huey: Huey
        if redis_url:
            self.huey = RedisHuey(name, url=redis_url, results=False, utc=True)
            self.label = f"redis {_redis_label(redis_url)} queue {name}"
            self.is_redis = True
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            path = (data_dir / "queue.sqlite3").resolve()
            self.huey = SqliteHuey(name, filename=str(path), results=False, utc=True, timeout=30)
            self.label = f"sqlite {path} queue {name}"
            self.is_redis = False
        self._handler: JobHandler | None = None
        self._process = self.huey.task(
            retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS, context=True, name=_TASK_NAME
        )(self._run_process_meeting)

    def _run_process_meeting(self, meeting_id: str, task: Task) -> None:
        if self._handler is None:
            raise RuntimeError("process_meeting ran in a process without a worker attached")
        try:
            self._handler(meeting_id, task.retries)
        except IvrimeetError as exc:
            # Huey adds one attempt back for a RetryTask; take it here so the
            # retry still counts against RETRIES, as any other exception would.
            task.retries -= 1
            raise RetryTask(f"{exc.code}: retrying") from exc

    def attach(self, handler: JobHandler) -> None:
        """Make this process able to run jobs (called by worker start-up only)."""
        self._handler = handler

    def enqueue_processing(self, meeting_id: str) -> None:
        """Ask a worker to process ``meeting_id``."""
        with self._translated("enqueue a job"):
            self._process(meeting_id)
        logger.info("job.enqueued meeting=%s queue=%s", meeting_id, self.huey.name)

    def pending(self) -> int:
        """Jobs waiting in the queue; raises ``QueueUnavailableError`` when unreachable."""
        with self._translated("read the queue length"):
            return int(self.huey.pending_count())

    def waiting_meetings(self) -> set[str]:
        """Meetings whose job is in the queue, or scheduled there for a retry."""
        with self._translated("read the waiting jobs"):
            tasks = [*self.huey.pending(), *self.huey.scheduled()]
        return {str(task.args[0]) for task in tasks if task.name == _TASK_NAME and task.args}

    def flush(self) -> None:
        """Remove every message of this queue (tests, and clean-up of a private queue)."""
        with self._translated("flush the queue"):
            self.huey.flush()

    def close(self) -> None:
        storage: Any = self.huey.storage
        if self.is_redis:
            storage.pool.disconnect()
        else:
            storage.close()

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, sqlite3.Error) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else ""
            logger.warning(
                "queue.unavailable queue=%s action=%s error=%s reason=%s",
                self.label,
                action.replace(" ", "_"),
                type(exc).__name__,
                reason,
            )
            kind = "Redis" if self.is_redis else "SQLite"
            raise QueueUnavailableError(
                f"Cannot {action} on the job queue ({kind}).",
                hints=[
                    "retry in a moment: the service reconnects by itself once the queue is back",
                    (
                        "operators: check that Redis is running and REDIS_URL points at it; "
                        "every API and worker process must use the same REDIS_URL and "
                        "IVRIMEET_QUEUE_NAME"
                        if self.is_redis
                        else "operators: check that the data dir is writable and not on a "
                        "network share"
                    )
                    + "; the server log (queue.unavailable) says which queue and why",
                ],
            ) from exc
