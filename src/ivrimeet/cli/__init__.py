"""The ``ivrimeet`` command line."""

from __future__ import annotations

from typing import Any

from ivrimeet.cli.main import main

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    # The full app is built on first use (see ivrimeet.cli.main).
    if name == "app":
        from ivrimeet.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
