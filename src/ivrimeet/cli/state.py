"""What the root command passes to every subcommand, and the settings loader they share."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from pydantic import ValidationError

from ivrimeet.errors import ConfigurationError
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

    A malformed variable becomes a ``ConfigurationError`` naming the variable.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        ]
        raise ConfigurationError(
            "The configuration is not valid.",
            details=problems,
            hints=["fix the variables above in the environment or .env, then retry"],
        ) from None
    state = ctx.find_root().obj
    level = "DEBUG" if isinstance(state, CliState) and state.verbose else settings.log_level
    configure_logging(level, secrets=secret_values(settings))
    return settings
