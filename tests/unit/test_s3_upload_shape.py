"""An upload's memory stays within its budget whatever part size and concurrency are set."""

from __future__ import annotations

import pytest

from ivrimeet.errors import ConfigurationError
from ivrimeet.objects import S3Connection, S3Store

MiB = 1024 * 1024
CONNECTION = S3Connection(bucket="b", region="us-east-1", endpoint_url="http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("part_size", "concurrency", "budget"),
    [
        (16 * MiB, 8, 64 * MiB),
        (5 * MiB, 4, 64 * MiB),
        (64 * MiB, 16, 64 * MiB),
        (512 * MiB, 1, 32 * MiB),
        (16 * MiB, 64, 256 * MiB),
    ],
)
def test_parts_in_memory_fit_the_upload_budget(
    part_size: int, concurrency: int, budget: int
) -> None:
    store = S3Store(
        CONNECTION, part_size=part_size, concurrency=concurrency, upload_buffer_bytes=budget
    )

    assert store.upload_part_size >= 5 * MiB
    assert 1 <= store.upload_concurrency <= concurrency
    assert (store.upload_concurrency + 1) * store.upload_part_size <= budget


def test_settings_that_fit_the_budget_are_used_as_given() -> None:
    store = S3Store(CONNECTION, part_size=5 * MiB, concurrency=4, upload_buffer_bytes=64 * MiB)

    assert (store.upload_part_size, store.upload_concurrency) == (5 * MiB, 4)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"part_size": 4 * MiB}, "part_size=4194304"),
        ({"concurrency": 0}, "concurrency=0"),
        ({"list_page_size": 1001}, "list_page_size=1001"),
    ],
)
def test_out_of_range_tunables_are_refused_naming_the_parameter(
    options: dict[str, int], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        S3Store(CONNECTION, **options)
