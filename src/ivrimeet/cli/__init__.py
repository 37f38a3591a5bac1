"""The ``ivrimeet`` command line."""

from ivrimeet.cli.main import app, main

__all__ = ["app", "main"]
