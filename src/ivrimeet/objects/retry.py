"""The one retry loop of ``objects/``: botocore's standard mode, for the requests we send.

Every request ivrimeet sends itself (``s3_http.S3Http.send``, each part of
``ranged_get``, each resume of ``s3_read``) runs through ``RetryPolicy.call``;
the boto3 client (list, delete) runs botocore's own standard mode, configured
with the same ``max_attempts``. One try either returns or raises ``Retryable``
carrying the translated error and what the server said; the policy then asks
botocore's own checkers whether the failure is worth another try:

- transient: a broken, refused, reset or timed-out connection (also TLS and
  proxy failures, as botocore treats them); status 500/502/503/504; codes
  ``RequestTimeout``, ``RequestTimeoutException``, ``PriorRequestNotComplete``;
- throttling: ``SlowDown``, ``Throttling``... and a bare 429;
- anything else (403, 404, a bad signature...) fails at once.

The delay before try ``n + 1`` is botocore's: full jitter,
``random() * min(scale * 2 ** (n - 1), 20 s)`` with ``scale`` 1 s for throttling
and 50 ms otherwise (raised to ``x-amz-retry-after`` when the server sends it).
A retry quota shared by every request of the store (500 tokens; a retry costs
14, a throttled one 5, a success gives back 1) stops a store from piling
retries onto a server that is down for everyone.

botocore's retry modules cost ~70 ms to import: they are loaded on the first
failure, never by a process whose requests all succeed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ivrimeet.errors import IvrimeetError

if TYPE_CHECKING:
    from botocore.retries.standard import RetryContext

__all__ = ["Cancelled", "RetryPolicy", "Retryable"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Retryable(Exception):  # a signal between one try and the policy, inside objects/
    """One try failed; ``error`` is what the caller gets if the policy gives up.

    ``status`` and ``headers`` are the server's answer, ``None`` when none came
    (the connection failed): the policy classifies by them and ``error.s3_code``.
    """

    def __init__(
        self, error: IvrimeetError, *, status: int | None = None, headers: Mapping[str, str] = {}
    ) -> None:
        super().__init__(error.summary)
        self.error = error
        self.status = status
        self.headers = {name.lower(): value for name, value in headers.items()}


class Cancelled(Exception):  # a signal: another thread failed, stop waiting
    """The wait before a retry was interrupted (another part of the transfer failed)."""


@dataclass(frozen=True)
class _HttpAnswer:
    """The part of botocore's ``AWSResponse`` its retry checkers read."""

    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _AllOf:
    """Retryable when every one of botocore's checkers says so."""

    first: Any
    second: Any

    def is_retryable(self, context: RetryContext) -> bool:
        return bool(self.first.is_retryable(context) and self.second.is_retryable(context))


class RetryPolicy:
    """Tries a request up to ``max_attempts`` times (see the module docstring)."""

    def __init__(
        self,
        max_attempts: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._jitter = jitter
        self._lock = threading.Lock()
        self._botocore: tuple[Any, Any, Any] | None = None

    def call(
        self,
        attempt: Callable[[], T],
        *,
        operation: str,
        key: str | None,
        interrupt: threading.Event | None = None,
    ) -> T:
        """``attempt()``'s result; on ``Retryable``, another try after the delay, or its error.

        With ``interrupt``, the wait ends early when it is set, raising ``Cancelled``.
        """
        number = 1
        acquired: int | None = None
        while True:
            try:
                result = attempt()
            except Retryable as failed:
                delay, acquired = self._decide(number, failed)
                if delay is None:
                    raise failed.error from failed.__cause__
                logger.debug(
                    "object.request_retry op=%s key=%s attempt=%d delay=%.3f reason=%s",
                    operation,
                    key,
                    number,
                    delay,
                    failed.error.summary,
                )
                if interrupt is not None:
                    if interrupt.wait(delay):
                        raise Cancelled() from failed
                else:
                    self._sleep(delay)
                number += 1
                continue
            self._succeeded(acquired)
            return result

    # --- botocore's standard mode ------------------------------------------------------

    def _parts(self) -> tuple[Any, Any, Any]:
        """botocore's retry conditions, backoff and quota checker (made on first failure)."""
        with self._lock:
            if self._botocore is None:
                from botocore.retries import quota, standard

                detector = standard.ThrottlingErrorDetector(standard.RetryEventAdapter())
                # StandardRetryConditions without its IDP/DynamoDB special cases,
                # which need a service model (and concern other services).
                self._botocore = (
                    _AllOf(
                        standard.MaxAttemptsChecker(self.max_attempts),
                        standard.OrRetryChecker(
                            [
                                standard.TransientRetryableChecker(),
                                standard.ThrottledRetryableChecker(),
                                # Not in the botocore stubs yet (added in botocore 1.4x).
                                standard.ThrottlingStatusCodeChecker(),  # type: ignore[attr-defined]
                            ]
                        ),
                    ),
                    standard.ExponentialBackoff(random=self._jitter, throttling_detector=detector),
                    standard.RetryQuotaChecker(quota.RetryQuota(), throttling_detector=detector),
                )
            return self._botocore

    def _context(self, number: int, failed: Retryable) -> RetryContext:
        from botocore.exceptions import ConnectionClosedError
        from botocore.retries.standard import RetryContext

        if failed.status is None:
            # No answer: botocore classifies every connection-level failure as
            # transient (its ConnectionError), whatever urllib3 raised.
            return RetryContext(
                attempt_number=number, caught_exception=ConnectionClosedError(endpoint_url="")
            )
        code = failed.error.s3_code
        return RetryContext(
            attempt_number=number,
            parsed_response={
                "Error": {"Code": code} if code else {},
                "ResponseMetadata": {"HTTPStatusCode": failed.status},
            },
            http_response=_HttpAnswer(failed.status, failed.headers),
        )

    def _decide(self, number: int, failed: Retryable) -> tuple[float | None, int | None]:
        """The delay before the next try and the quota it took, or ``(None, None)``: give up."""
        conditions, backoff, quota = self._parts()
        context = self._context(number, failed)
        if not conditions.is_retryable(context):
            return None, None
        if not quota.acquire_retry_quota(context):
            logger.warning(
                "object.retry_quota_exhausted attempt=%d reason=%s", number, failed.error.summary
            )
            return None, None
        delay: float = backoff.delay_amount(context)
        acquired: int = context.request_context["retry_quota_capacity"]
        return delay, acquired

    def _succeeded(self, acquired: int | None) -> None:
        """Give quota back for a success (botocore: the retry's cost, else 1 token)."""
        if self._botocore is None:
            return  # nothing ever failed: the quota is full
        quota = self._botocore[2]
        context = {} if acquired is None else {"retry_quota_capacity": acquired}
        quota.release_retry_quota(context, _HttpAnswer(200))
