"""``/readyz`` (can this process serve?) and ``/metrics`` (Prometheus).

``/readyz`` tries each dependency for real: a ``SELECT 1``, the queue length,
a HEAD on the object store, and, when this process runs the in-process worker,
whether its models are loaded. It answers 503 until all pass. The body names
each check and, for a failure, only the error code: the full message (bucket,
host) goes to the log, since these routes need no token.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ivrimeet.api.deps import StateDep
from ivrimeet.errors import IvrimeetError

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

_PROBE_KEY = "readyz/probe"


@router.get("/readyz", summary="Readiness: database, queue, object store, models")
def readyz(state: StateDep) -> JSONResponse:
    services = state.services
    checks: dict[str, str] = {}
    for name, probe in (
        ("database", services.database.ping),
        ("queue", services.queue.pending),
        ("object_store", lambda: services.store.exists(_PROBE_KEY)),
    ):
        try:
            probe()
            checks[name] = "ok"
        except IvrimeetError as exc:
            checks[name] = exc.code
            logger.warning("readyz.failed check=%s error=%s", name, exc.summary)
    if state.schema is not None:
        checks["schema"] = state.schema()[1]
    ready = all(v == "ok" for v in checks.values())
    if state.models is None:
        checks["models"] = "not used by this process"
    else:
        loaded, description = state.models()
        checks["models"] = description
        ready = ready and loaded
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics of this process")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
