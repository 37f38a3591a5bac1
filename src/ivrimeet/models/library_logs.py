"""Keep the loaders' own per-file chatter out of INFO logs, where it misleads.

SpeechBrain logs ``Fetch hyperparams.yaml: Fetching from HuggingFace Hub
'org/name' if not cached`` (and "Using symlink found at …") at INFO for every
file of every load, including restores from the bucket that make no request at
all: an operator asking "is it downloading every time?" reads ten such lines
per ``models warm`` and concludes yes. The store's own ``model.loaded`` line
says where the files came from, so these records are demoted to DEBUG (still
there with ``LOG_LEVEL=DEBUG``).
"""

from __future__ import annotations

import logging

__all__ = ["quiet_speechbrain_fetching"]

_FETCH_LOGGER = "speechbrain.utils.fetching"


class _DemoteFetchChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and str(record.msg).startswith("Fetch"):
            record.levelno = logging.DEBUG
            record.levelname = "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_FILTER = _DemoteFetchChatter()


def quiet_speechbrain_fetching() -> None:
    """Demote SpeechBrain's per-file fetch messages to DEBUG (idempotent)."""
    logger = logging.getLogger(_FETCH_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
