"""``create_app(settings)``: the FastAPI application with every router mounted."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool

from ivrimeet.api.auth import require_token
from ivrimeet.api.error_responses import install_error_handlers
from ivrimeet.api.media_links import MediaLinks, link_key
from ivrimeet.api.request_ids import RequestIdMiddleware
from ivrimeet.api.routes import health, media, meetings, ops, web
from ivrimeet.api.schema_startup import SchemaStartup
from ivrimeet.api.state import ApiState, ModelReadiness
from ivrimeet.api.upload_slots import UploadSlots
from ivrimeet.runtime import local_signing_key
from ivrimeet.settings import Settings
from ivrimeet.worker import Services, build_services

if TYPE_CHECKING:
    from ivrimeet.worker import EmbeddedWorker

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    worker: EmbeddedWorker | None = None,
    models: ModelReadiness | None = None,
) -> FastAPI:
    """A ready ASGI app for ``settings``; build one per process.

    The database schema is migrated to head when the app starts; then
    ``worker`` (``ivrimeet serve``'s in-process worker, sharing ``services``)
    starts, and it stops before the app's services close. ``/readyz`` reports
    the worker's model state (or ``models``, when given).
    """
    services = services or build_services(settings)
    if worker is not None and models is None:
        models = worker.warmup
    token = settings.ivrimeet_api_token
    api_token = token.get_secret_value() if token is not None else None
    state = ApiState(
        services=services,
        api_token=api_token,
        max_upload_bytes=settings.max_upload_bytes,
        upload_slots=UploadSlots(settings.max_concurrent_uploads),
        links=MediaLinks(
            link_key(api_token, lambda: local_signing_key(settings.ivrimeet_data_dir))
        ),
        models=models,
    )

    schema = SchemaStartup(services.database, then=worker.start if worker is not None else None)
    state.schema = schema

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The database down at start-up does not stop the server: /readyz says why.
        await run_in_threadpool(schema.start)
        if state.api_token is None:
            logger.warning("api.unauthenticated IVRIMEET_API_TOKEN unset: the API is open")
        try:
            yield
        finally:
            await run_in_threadpool(schema.stop)
            if worker is not None and schema.ready:
                # Graceful: a job in progress finishes before the database closes.
                await run_in_threadpool(worker.stop)
            services.close()

    app = FastAPI(title="ivrimeet", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.api = state
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(ops.router)
    app.include_router(media.router)
    app.include_router(meetings.router, dependencies=[Depends(require_token)])
    app.include_router(web.router)
    return app
