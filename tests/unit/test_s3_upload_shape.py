"""An upload's shape (part size, parts in flight) and how its body is cut into parts."""

from __future__ import annotations

import io

import pytest

from ivrimeet.errors import ConfigurationError
from ivrimeet.objects import S3Connection, S3Store
from ivrimeet.objects.chunks import OverLimit, PartReader

MiB = 1024 * 1024
CONNECTION = S3Connection(bucket="b", region="us-east-1", endpoint_url="http://127.0.0.1:9")


def test_uploads_default_to_the_measured_shape_within_the_transfer_limits() -> None:
    default = S3Store(CONNECTION)
    small = S3Store(CONNECTION, part_size=5 * MiB, concurrency=2)

    assert (default.upload_part_size, default.upload_concurrency) == (8 * MiB, 3)
    assert (small.upload_part_size, small.upload_concurrency) == (5 * MiB, 2)


def test_an_explicit_upload_shape_is_used_as_given() -> None:
    store = S3Store(CONNECTION, upload_part_size=32 * MiB, upload_concurrency=16)

    assert (store.upload_part_size, store.upload_concurrency) == (32 * MiB, 16)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"part_size": 4 * MiB}, "part_size=4194304"),
        ({"upload_part_size": 4 * MiB}, "upload_part_size=4194304"),
        ({"concurrency": 0}, "concurrency=0"),
        ({"upload_concurrency": 65}, "upload_concurrency=65"),
        ({"list_page_size": 1001}, "list_page_size=1001"),
    ],
)
def test_out_of_range_tunables_are_refused_naming_the_parameter(
    options: dict[str, int], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        S3Store(CONNECTION, **options)


def _parts(reader: PartReader, size: int) -> list[bytes]:
    buffer = memoryview(bytearray(size))
    parts = []
    while filled := reader.fill(buffer):
        parts.append(bytes(buffer[:filled]))
    return parts


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(bytes(range(256)) * 40, id="bytes"),
        pytest.param(io.BytesIO(bytes(range(256)) * 40), id="readinto"),
        pytest.param([bytes(range(256)) * 7, b"", bytes(range(256)) * 33], id="uneven chunks"),
        pytest.param(iter([bytes(range(256)) * 40]), id="one chunk larger than a part"),
    ],
)
def test_every_kind_of_body_fills_whole_parts_and_a_short_last_one(body: object) -> None:
    parts = _parts(PartReader(body, None), 3000)  # type: ignore[arg-type]  # each kind of Body

    assert [len(p) for p in parts] == [3000, 3000, 3000, 1240]
    assert b"".join(parts) == bytes(range(256)) * 40


@pytest.mark.parametrize("limit", [0, 2999, 3000, 10239])
def test_a_body_over_max_bytes_stops_as_soon_as_the_limit_is_passed(limit: int) -> None:
    reader = PartReader(iter([b"x" * 1000] * 11), limit)

    with pytest.raises(OverLimit) as caught:
        _parts(reader, 3000)

    assert caught.value.max_bytes == limit
    assert reader.total <= limit + 3000
