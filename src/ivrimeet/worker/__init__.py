"""The job queue (Huey: SQLite by default, Redis with ``REDIS_URL``) and the worker.

The queue and the services are imported eagerly; the job and worker machinery
(``jobs``, ``run``) only on first use, because they pull in the processing
stack (numpy, media, models): an API replica that never runs a job saves
about 15 MiB of memory that way.
"""

from typing import TYPE_CHECKING

from ivrimeet.lazy import lazy_attributes
from ivrimeet.worker.claims import DEFAULT_CLAIM_TTL_SECONDS, ClaimHeartbeat, LostJobSweeper
from ivrimeet.worker.queue import RETRIES, JobHandler, JobQueue
from ivrimeet.worker.services import Services, build_services

if TYPE_CHECKING:
    from ivrimeet.worker.jobs import TRANSIENT_ERRORS, JobContext, run_job
    from ivrimeet.worker.run import EmbeddedWorker, ModelWarmup, job_context, run_worker

__all__ = [
    "DEFAULT_CLAIM_TTL_SECONDS",
    "RETRIES",
    "TRANSIENT_ERRORS",
    "ClaimHeartbeat",
    "EmbeddedWorker",
    "JobContext",
    "JobHandler",
    "JobQueue",
    "LostJobSweeper",
    "ModelWarmup",
    "Services",
    "build_services",
    "job_context",
    "run_job",
    "run_worker",
]

_LAZY = {
    "TRANSIENT_ERRORS": "ivrimeet.worker.jobs",
    "JobContext": "ivrimeet.worker.jobs",
    "run_job": "ivrimeet.worker.jobs",
    "EmbeddedWorker": "ivrimeet.worker.run",
    "ModelWarmup": "ivrimeet.worker.run",
    "job_context": "ivrimeet.worker.run",
    "run_worker": "ivrimeet.worker.run",
}

__getattr__ = lazy_attributes(globals(), _LAZY)
