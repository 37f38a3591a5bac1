"""What the root command passes to every subcommand, and the settings loader they share."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from ivrimeet.logs import configure_logging
from ivrimeet.runtime import secret_values
from ivrimeet.settings import Settings

__all__ = ["CliState", "load_settings", "log_level"]


@dataclass
class CliState:
    verbose: bool = False
    debug: bool = False


def load_settings(ctx: typer.Context) -> Settings:
    """Build ``Settings`` once for this command and configure logging from it.

    A malformed variable is a ``ConfigurationError`` naming each variable.
    """
    settings = Settings()
    configure_logging(log_level(ctx, settings), secrets=secret_values(settings))
    return settings


def log_level(ctx: typer.Context, settings: Settings) -> str:
    """``DEBUG`` with ``--verbose``, else ``LOG_LEVEL``."""
    state = ctx.find_root().obj
    return "DEBUG" if isinstance(state, CliState) and state.verbose else settings.log_level
