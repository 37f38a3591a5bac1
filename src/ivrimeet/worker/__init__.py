"""The job queue (Huey: SQLite by default, Redis with ``REDIS_URL``) and the worker."""

from ivrimeet.worker.queue import RETRIES, JobHandler, JobQueue
from ivrimeet.worker.services import Services, build_services

__all__ = ["RETRIES", "JobHandler", "JobQueue", "Services", "build_services"]
