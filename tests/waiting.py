"""``wait_until``: poll a condition until a deadline instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | bool | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> T:
    """Return the first truthy value of ``condition()``; ``TimeoutError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value  # type: ignore[return-value]
        except Exception as exc:  # noqa: BLE001  # keep polling; re-raised below at the deadline
            last_exc = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} not met within {timeout}s") from last_exc
        time.sleep(interval)
