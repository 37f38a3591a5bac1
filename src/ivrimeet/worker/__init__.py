"""The job queue (Huey: SQLite by default, Redis with ``REDIS_URL``) and the worker."""

from ivrimeet.worker.jobs import TRANSIENT_ERRORS, JobContext, run_job
from ivrimeet.worker.queue import RETRIES, JobHandler, JobQueue
from ivrimeet.worker.run import EmbeddedWorker, ModelWarmup, job_context, run_worker
from ivrimeet.worker.services import Services, build_services

__all__ = [
    "RETRIES",
    "TRANSIENT_ERRORS",
    "EmbeddedWorker",
    "JobContext",
    "JobHandler",
    "JobQueue",
    "ModelWarmup",
    "Services",
    "build_services",
    "job_context",
    "run_job",
    "run_worker",
]
