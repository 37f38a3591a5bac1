"""``create_app(settings)``: the FastAPI application with every router mounted."""

from __future__ import annotations

from fastapi import FastAPI

from ivrimeet.api.routes import health, web
from ivrimeet.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    """A ready ASGI app for ``settings``; build one per process."""
    app = FastAPI(title="ivrimeet", version="0.1.0")
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(web.router)
    return app
