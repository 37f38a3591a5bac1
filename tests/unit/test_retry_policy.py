"""The object layer's one retry policy decides as botocore's standard mode does."""

from __future__ import annotations

import pytest

from ivrimeet.errors import IvrimeetError, PermissionDeniedError, StorageUnavailableError
from ivrimeet.objects.retry import Retryable, RetryPolicy
from ivrimeet.objects.transfer_config import TransferConfig


def _answer(status: int | None, code: str | None = None) -> Retryable:
    error: IvrimeetError = (
        PermissionDeniedError("refused") if status == 403 else StorageUnavailableError("down")
    )
    error.s3_code = code
    return Retryable(error, status=status)


class _Failing:
    """Fails with ``failure`` ``times`` times, then returns "ok"; counts the tries."""

    def __init__(self, failure: Retryable, times: int) -> None:
        self.failure, self.left, self.tries = failure, times, 0

    def __call__(self) -> str:
        self.tries += 1
        if self.left:
            self.left -= 1
            raise self.failure
        return "ok"


def _policy(max_attempts: int, delays: list[float]) -> RetryPolicy:
    # jitter 1.0: the delay is the top of botocore's full-jitter range.
    return RetryPolicy(max_attempts, sleep=delays.append, jitter=lambda: 1.0)


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "InternalError"), (503, "ServiceUnavailable"), (400, "RequestTimeout"), (None, None)],
)
def test_transient_failures_are_retried_with_exponential_backoff(
    status: int | None, code: str | None
) -> None:
    delays: list[float] = []
    attempt = _Failing(_answer(status, code), times=3)

    assert _policy(5, delays).call(attempt, operation="GetObject", key="k") == "ok"

    assert attempt.tries == 4
    assert delays == [0.05, 0.1, 0.2]  # 50 ms x 2^n, as botocore for non-throttling errors


def test_throttling_backs_off_from_one_second() -> None:
    delays: list[float] = []
    attempt = _Failing(_answer(503, "SlowDown"), times=2)

    _policy(5, delays).call(attempt, operation="PutObject", key="k")

    assert delays == [1.0, 2.0]


def test_a_refusal_is_not_retried() -> None:
    delays: list[float] = []
    attempt = _Failing(_answer(403, "AccessDenied"), times=1)

    with pytest.raises(PermissionDeniedError):
        _policy(5, delays).call(attempt, operation="GetObject", key="k")

    assert (attempt.tries, delays) == (1, [])


def test_retries_stop_at_max_attempts_with_the_last_error() -> None:
    attempt = _Failing(_answer(500, "InternalError"), times=10)

    with pytest.raises(StorageUnavailableError):
        _policy(3, []).call(attempt, operation="GetObject", key="k")

    assert attempt.tries == 3


def test_the_retry_quota_stops_retries_against_a_server_that_is_down() -> None:
    """500 tokens, 14 per retry: a store stops piling retries onto a dead endpoint."""
    policy = _policy(20, [])
    tries = []
    for _ in range(3):
        attempt = _Failing(_answer(500, "InternalError"), times=100)
        with pytest.raises(StorageUnavailableError):
            policy.call(attempt, operation="GetObject", key="k")
        tries.append(attempt.tries)

    assert tries == [20, 17, 1]  # 19 + 16 retries spend 490 of the 500 tokens


def test_a_success_gives_quota_back() -> None:
    policy = _policy(20, [])
    with pytest.raises(StorageUnavailableError):
        policy.call(_Failing(_answer(500), times=100), operation="GetObject", key="k")
    for _ in range(14):
        policy.call(_Failing(_answer(500), times=0), operation="GetObject", key="k")
    attempt = _Failing(_answer(500), times=100)

    with pytest.raises(StorageUnavailableError):
        policy.call(attempt, operation="GetObject", key="k")

    assert attempt.tries == 18  # one retry more than without the 14 successes


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"part_size": 4 * 1024 * 1024}, "TRANSFER_PART_SIZE: part_size=4194304"),
        ({"concurrency": 0}, "TRANSFER_CONCURRENCY: concurrency=0"),
        ({"connect_timeout": 0}, "S3_CONNECT_TIMEOUT: connect_timeout=0"),
        ({"max_attempts": 0}, "S3_MAX_ATTEMPTS: max_attempts=0"),
    ],
)
def test_transfer_config_names_the_setting_of_a_value_out_of_range(
    values: dict[str, float], named: str
) -> None:
    from ivrimeet.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as error:
        TransferConfig(**values)  # type: ignore[arg-type]

    assert error.value.summary.startswith(named)


def test_smaller_download_parts_cap_the_upload_parts_unless_given() -> None:
    small = TransferConfig().tuned(part_size=5 * 1024 * 1024, concurrency=2)
    given = TransferConfig().tuned(part_size=5 * 1024 * 1024, upload_part_size=32 * 1024 * 1024)

    assert (small.upload_part_size, small.upload_concurrency) == (5 * 1024 * 1024, 2)
    assert given.upload_part_size == 32 * 1024 * 1024
