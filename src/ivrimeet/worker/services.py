"""``Services``: the running parts every API and worker process builds from ``Settings``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ivrimeet.db import Database, sqlite_url
from ivrimeet.objects import ObjectStore
from ivrimeet.runtime import object_store
from ivrimeet.settings import Settings
from ivrimeet.worker.queue import JobQueue

__all__ = ["Services", "build_services"]

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """The metadata database, the object store and the job queue of one process."""

    database: Database
    store: ObjectStore
    queue: JobQueue

    def close(self) -> None:
        self.queue.close()
        self.database.dispose()


def build_services(settings: Settings) -> Services:
    """Connect nothing yet: engines and clients connect on first use."""
    url = (
        settings.database_url.get_secret_value()
        if settings.database_url is not None
        else sqlite_url(settings.ivrimeet_data_dir)
    )
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
    services = Services(
        database=Database(url),
        store=object_store(settings),
        queue=JobQueue(
            name=settings.ivrimeet_queue_name,
            redis_url=redis_url,
            data_dir=settings.ivrimeet_data_dir,
        ),
    )
    logger.info(
        "services.built database=%s store=%s queue=%s",
        services.database.label,
        services.store.location,
        services.queue.label,
    )
    return services
