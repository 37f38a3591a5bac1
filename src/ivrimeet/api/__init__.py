"""The HTTP API (FastAPI)."""

from ivrimeet.api.app import create_app
from ivrimeet.api.read_timeouts import timed_h11

__all__ = ["create_app", "timed_h11"]
