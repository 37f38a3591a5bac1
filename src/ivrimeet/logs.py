"""Logging set-up for entry points: one line per event, secrets redacted.

Only entry points (CLI, API, worker) call ``configure_logging``. Library modules
just do ``logger = logging.getLogger(__name__)``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

__all__ = ["RedactSecrets", "configure_logging"]

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


def configure_logging(level: str = "INFO", *, secrets: Iterable[str] = ()) -> None:
    """Send logs to stderr at ``level``; keep chatty HTTP libraries at WARNING.

    botocore's DEBUG output contains signed headers, so it never goes below WARNING.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ivrimeet", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._ivrimeet = True  # type: ignore[attr-defined]  # marks our own handler for re-configuration
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
