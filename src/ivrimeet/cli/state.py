"""What the root command passes to every subcommand, and the settings loader they share."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from ivrimeet.logs import configure_logging
from ivrimeet.runtime import secret_values
from ivrimeet.settings import Settings

__all__ = ["CliState", "load_settings"]


@dataclass
class CliState:
    verbose: bool = False
    debug: bool = False


def load_settings(ctx: typer.Context) -> Settings:
    """Build ``Settings`` once for this command and configure logging from it.

    A malformed variable is a ``ConfigurationError`` naming each variable.
    """
    settings = Settings()
    state = ctx.find_root().obj
    level = "DEBUG" if isinstance(state, CliState) and state.verbose else settings.log_level
    configure_logging(level, secrets=secret_values(settings))
    return settings
