"""The HTTP API (FastAPI)."""

from ivrimeet.api.app import create_app

__all__ = ["create_app"]
