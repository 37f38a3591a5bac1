"""Logging set-up for entry points: one line per event, secrets redacted.

Only entry points (CLI, API, worker) call ``configure_logging``. Library modules
just do ``logger = logging.getLogger(__name__)``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["FORMAT", "RedactSecrets", "configure_logging"]

# One event per line: time, level, logger, then the event and its key=value pairs.
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_NOISY = (
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "httpx",
    "httpx2",  # huggingface_hub 2.x's HTTP client: one INFO line per Hub request
    "httpcore",
    "filelock",
    "alembic",
)


class RedactSecrets(logging.Filter):
    """Replace any configured secret value with ``****`` in every record.

    Defence in depth: nothing should log a secret in the first place, but a
    third-party message that echoes a URL with a password must not leak it.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "****")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _handler(console: Console | None) -> logging.Handler:
    if console is None:
        return logging.StreamHandler(sys.stderr)
    from rich.logging import RichHandler

    return RichHandler(
        console=console, show_time=False, show_path=False, markup=False, highlighter=None
    )


def configure_logging(
    level: str = "INFO", *, secrets: Iterable[str] = (), console: Console | None = None
) -> None:
    """Send logs to stderr at ``level``; keep chatty HTTP libraries at WARNING.

    With ``console`` (the console of the progress bars being shown), records are
    printed through it, above the bars, instead of into them.
    botocore's DEBUG output contains signed headers, so it never goes below WARNING.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_ivrimeet", False):
            root.removeHandler(old)
    handler = _handler(console)
    handler._ivrimeet = True  # type: ignore[attr-defined]  # marks our own handler for re-configuration
    handler.setFormatter(logging.Formatter(FORMAT if console is None else "%(name)s %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
