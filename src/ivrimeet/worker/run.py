"""Running workers: ``ivrimeet worker`` (a process) and the one inside ``ivrimeet serve``.

Both build a ``JobContext`` (one ``ModelHolder`` per process), attach the job
handler to the queue and start Huey consumer threads. Models are loaded in the
background right away, so the first job does not pay for it and ``/readyz``
can report when they are ready.

Both also run a ``LostJobSweeper``: at start and every half claim TTL it
re-queues meetings left in ``processing`` by a worker that died mid-job, and
enqueues a job for meetings left ``queued`` without one.

Signals: ``ivrimeet worker`` lets Huey own them (SIGTERM finishes the jobs in
progress, then exits; SIGINT stops at once); inside ``serve`` uvicorn owns them
and stops the consumer on shutdown.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from huey.consumer import Consumer

from ivrimeet import db
from ivrimeet.errors import IvrimeetError
from ivrimeet.metrics import MODEL_LOAD_SECONDS
from ivrimeet.models import LoadReport
from ivrimeet.processing.models import ModelHolder
from ivrimeet.runtime import model_store
from ivrimeet.settings import Settings
from ivrimeet.worker.claims import LostJobSweeper
from ivrimeet.worker.jobs import JobContext, run_job
from ivrimeet.worker.reasons import log_fields
from ivrimeet.worker.services import Services, build_services

__all__ = ["EmbeddedWorker", "ModelWarmup", "job_context", "run_worker"]

logger = logging.getLogger(__name__)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _count_model_load(report: LoadReport) -> None:
    MODEL_LOAD_SECONDS.labels(model=report.repo, origin=report.origin).observe(report.seconds)


def job_context(settings: Settings, services: Services) -> JobContext:
    """Everything the jobs of this process share; loads nothing yet."""
    models = model_store(settings, services.store)
    models.on_loaded = _count_model_load
    holder = ModelHolder(
        models,
        pipeline_repo=settings.diarization_pipeline,
        encoder_repo=settings.embedding_model,
    )
    return JobContext(
        database=services.database,
        store=services.store,
        models=holder,
        snippet_seconds=settings.snippet_seconds,
        worker_name=_worker_name(),
        match_threshold=settings.voiceprint_match_threshold,
        max_recording_seconds=settings.max_recording_seconds,
        claim_ttl_seconds=settings.worker_claim_ttl_seconds,
    )


def _sweeper(settings: Settings, services: Services) -> LostJobSweeper:
    return LostJobSweeper(services.database, services.queue, ttl=settings.worker_claim_ttl_seconds)


def _attach(context: JobContext, services: Services) -> None:
    services.queue.attach(
        lambda meeting_id, retries_left: run_job(context, meeting_id, retries_left=retries_left)
    )


class ModelWarmup:
    """Loads the models once in a background thread; reports progress to ``/readyz``."""

    def __init__(self, holder: ModelHolder) -> None:
        self._holder = holder
        self._state = "not loaded"
        self._thread = threading.Thread(target=self._load, name="model-warmup", daemon=True)

    def start(self) -> None:
        self._state = "loading"
        self._thread.start()

    def _load(self) -> None:
        try:
            self._holder.get()
        except IvrimeetError as exc:
            # Jobs retry the load themselves; readiness says why it is not there yet.
            self._state = f"failed: {exc.code}"
            logger.error("models.failed %s", log_fields(exc))
        except Exception as exc:  # a library's own error: same, but say which
            self._state = f"failed: {type(exc).__name__}"
            logger.error("models.failed error=%s", type(exc).__name__, exc_info=exc)
        else:
            self._state = "loaded"

    def __call__(self) -> tuple[bool, str]:
        if self._holder.loaded:
            return True, "loaded"
        return False, self._state


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]  # huey is untyped
    """A consumer that leaves signal handling to its host (uvicorn)."""

    def _set_signal_handlers(self) -> None:
        return None


class EmbeddedWorker:
    """Huey consumer threads inside another process (``ivrimeet serve``)."""

    def __init__(self, settings: Settings, services: Services, *, threads: int = 1) -> None:
        self.context = job_context(settings, services)
        _attach(self.context, services)
        self.warmup = ModelWarmup(self.context.models)
        self.sweeper = _sweeper(settings, services)
        self._consumer = _EmbeddedConsumer(
            services.queue.huey, workers=threads, periodic=False, max_delay=1.0
        )

    def start(self) -> None:
        """Start loading models and consuming jobs (the schema must be current)."""
        self.warmup.start()
        self._consumer.start()
        self.sweeper.start()
        logger.info("worker.started embedded=true name=%s", self.context.worker_name)

    def stop(self) -> None:
        self.sweeper.stop()
        self._consumer.stop(graceful=True)
        logger.info("worker.stopped embedded=true name=%s", self.context.worker_name)


def run_worker(settings: Settings, *, threads: int = 1) -> None:
    """Consume jobs until SIGTERM/SIGINT (``ivrimeet worker``)."""
    services = build_services(settings)
    sweeper = _sweeper(settings, services)
    try:
        db.upgrade(services.database)
        context = job_context(settings, services)
        _attach(context, services)
        ModelWarmup(context.models).start()
        consumer = services.queue.huey.create_consumer(
            workers=threads,
            periodic=False,
            max_delay=1.0,
            graceful_signal="TERM",
        )
        logger.info(
            "worker.started name=%s threads=%d queue=%s",
            context.worker_name,
            threads,
            services.queue.label,
        )
        sweeper.start()
        consumer.run()
    finally:
        sweeper.stop()
        services.close()
