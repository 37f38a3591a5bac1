"""Prometheus metrics for the API and the worker (served at ``GET /metrics``).

Module-level collectors in prometheus_client's default registry, as the
library intends: each process (API replica, worker) exports its own counts and
Prometheus sums them across instances.

Like ``errors.py``, this module sits outside the layers: any layer may record.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "JOB_SECONDS",
    "MODEL_LOAD_SECONDS",
    "S3_ERRORS",
    "UPLOADS",
    "UPLOAD_BYTES",
    "count_s3_error",
]

UPLOADS = Counter(
    "ivrimeet_uploads",
    "Recording uploads by outcome (stored, too_large, unsupported_media, invalid, "
    "disconnected, error).",
    ["outcome"],
)
UPLOAD_BYTES = Counter("ivrimeet_upload_bytes", "Bytes of recordings stored.")
JOB_SECONDS = Histogram(
    "ivrimeet_job_seconds",
    "Wall time of processing jobs by outcome (done, failed, retry, stale).",
    ["outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600, float("inf")),
)
MODEL_LOAD_SECONDS = Histogram(
    "ivrimeet_model_load_seconds",
    "Time to make a model loadable, by model and origin "
    "(bucket, folder, local-cache, huggingface).",
    ["model", "origin"],
    buckets=(0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320, float("inf")),
)
S3_ERRORS = Counter(
    "ivrimeet_s3_errors",
    "S3 errors that reached an API response or failed a job, by S3 error code.",
    ["code"],
)


def count_s3_error(exc: BaseException) -> None:
    """Count ``exc`` under its S3 error code when it came from S3."""
    code = getattr(exc, "s3_code", None)
    operation = getattr(exc, "operation", None)
    if code or operation:
        S3_ERRORS.labels(code=code or "unreachable").inc()
