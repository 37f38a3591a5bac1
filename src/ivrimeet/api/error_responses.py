"""Every error becomes one status and a JSON body ``{"code", "message"}``.

``IvrimeetError`` → its class's ``http_status`` and ``code`` (the message is
the rendered error: what failed, why, what to do; never a secret). FastAPI's
validation errors → 422 ``invalid_input``; Starlette's HTTP errors keep their
status; anything else → 500 ``internal`` with the traceback only in the log.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ivrimeet.errors import ApiTokenError, IvrimeetError
from ivrimeet.metrics import count_s3_error

__all__ = ["error_body", "install_error_handlers"]

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


def error_body(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


async def _ivrimeet_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IvrimeetError)
    count_s3_error(exc)
    level = logging.WARNING if exc.http_status >= 500 else logging.INFO
    logger.log(
        level,
        "api.error method=%s path=%s status=%d code=%s",
        request.method,
        request.url.path,
        exc.http_status,
        exc.code,
    )
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, ApiTokenError) else None
    return JSONResponse(
        error_body(exc.code, exc.render()), status_code=exc.http_status, headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    ]
    return JSONResponse(
        error_body("invalid_input", "The request is not valid: " + "; ".join(problems)),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        error_body(_HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error(
        "api.unexpected method=%s path=%s error=%s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return JSONResponse(
        error_body("internal", "Internal error; the server log has the details."),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IvrimeetError, _ivrimeet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
