"""Every error becomes one status and a JSON body ``{"code", "message", "request_id"}``.

``IvrimeetError`` → its class's ``http_status`` and ``code``. The answer says
what happened and what to do, and never holds an endpoint, bucket, object
key or file path:

- a client error (4xx: the request, the recording, a missing meeting) shows
  the error's summary and hints, with any URL, key or path that slipped into
  them replaced by ``<hidden>``;
- a server-side error (5xx: storage, database or queue down, credentials,
  permissions) shows a fixed message for its kind and the request id.

The log gets the whole error (``api.error``: evidence, hints, the meeting id
when the route has one, and the same request id). FastAPI's validation
errors → 422 ``invalid_input``; Starlette's HTTP errors keep their status;
anything else → 500 ``internal`` with the traceback only in the log.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ivrimeet.api.request_ids import request_id
from ivrimeet.errors import (
    AccessError,
    ApiTokenError,
    BucketNotFoundError,
    DatabaseUnavailableError,
    IvrimeetError,
    QueueUnavailableError,
    ServerBusyError,
    StorageUnavailableError,
)
from ivrimeet.metrics import count_s3_error
from ivrimeet.worker.reasons import log_fields

__all__ = ["error_body", "install_error_handlers", "public_message"]

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media",
    416: "range_not_satisfiable",
}

# What a user may not see: URLs, object keys under our prefixes, file-system paths
# (API routes such as /api/meetings are fine: the user calls them).
_HIDDEN = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://\S+"
    r"|\b(?:audio|snippets|results|models)/[\w./-]+"
    r"|(?<![\w/])/(?!api/|files/|healthz|readyz)(?:[\w.-]+/)+[\w.-]*"
)

_SERVER_SIDE: tuple[tuple[type[IvrimeetError], str], ...] = (
    (StorageUnavailableError, "The object store could not be reached."),
    (DatabaseUnavailableError, "The database could not be reached."),
    (QueueUnavailableError, "The job queue could not be reached."),
    (ServerBusyError, "The server is busy receiving other uploads."),
    (BucketNotFoundError, "The server's storage is not set up (its bucket is missing)."),
    (AccessError, "The server's storage refused its credentials or permissions."),
)


def error_body(code: str, message: str, rid: str = "-") -> dict[str, str]:
    return {"code": code, "message": message, "request_id": rid}


def public_message(exc: IvrimeetError, rid: str) -> str:
    """What the answer says about ``exc``: no endpoint, bucket, key or path."""
    if exc.http_status < 500:
        lines = [exc.summary]
        if exc.hints:
            lines += ["What to do:", *(f"  - {hint}" for hint in exc.hints)]
        return _HIDDEN.sub("<hidden>", "\n".join(lines))
    what = next(
        (text for kind, text in _SERVER_SIDE if isinstance(exc, kind)),
        f"The server could not complete this request ({exc.code}).",
    )
    return (
        f"{what} This is a problem on the server, not with your request: try again in a "
        "minute; if it keeps failing, the operator finds the details in the server log "
        f"under request id {rid}."
    )


def _meeting(request: Request) -> str:
    return str(request.path_params.get("meeting_id", "-"))


async def _ivrimeet_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IvrimeetError)
    count_s3_error(exc)
    rid = request_id(request)
    level = logging.WARNING if exc.http_status >= 500 else logging.INFO
    logger.log(
        level,
        "api.error method=%s path=%s status=%d request_id=%s meeting=%s %s",
        request.method,
        request.url.path,
        exc.http_status,
        rid,
        _meeting(request),
        log_fields(exc),
    )
    headers = None
    if isinstance(exc, ApiTokenError):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, ServerBusyError):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return JSONResponse(
        error_body(exc.code, public_message(exc, rid), rid),
        status_code=exc.http_status,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    ]
    return JSONResponse(
        error_body(
            "invalid_input",
            "The request is not valid: " + "; ".join(problems),
            request_id(request),
        ),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail), request_id(request)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    rid = request_id(request)
    logger.error(
        "api.unexpected method=%s path=%s request_id=%s meeting=%s error=%s",
        request.method,
        request.url.path,
        rid,
        _meeting(request),
        type(exc).__name__,
        exc_info=exc,
    )
    message = f"Internal error; the server log has the details under request id {rid}."
    return JSONResponse(error_body("internal", message, rid), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IvrimeetError, _ivrimeet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
