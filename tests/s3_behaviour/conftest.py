"""The S3 behaviour suite: each case against ivrimeet's object store and boto3, same server.

A case sets up one answer real S3 gives (``answers.AnswerProxy`` in front of
moto or rclone), then runs boto3 and ivrimeet through it and asserts ivrimeet
does as well as boto3: succeeds where boto3 succeeds, and where boto3 fails,
fails with a typed error that says what to do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ivrimeet.objects import S3Store
from tests.s3_behaviour.answers import AnswerProxy
from tests.servers.s3 import S3Server

MiB = 1024 * 1024


@dataclass
class Behind:
    """A fresh bucket on ``server`` and an ``AnswerProxy`` in front of the server."""

    server: S3Server
    bucket: str
    proxy: AnswerProxy

    def store(self, **overrides: Any) -> S3Store:
        """ivrimeet's store through the proxy (5 MiB parts, quick timeouts)."""
        values: dict[str, Any] = {"endpoint_url": self.proxy.url, "read_timeout": 10.0}
        values.update(overrides)
        return S3Store(self.server.connection(self.bucket, **values), part_size=5 * MiB)

    def boto3(self, **overrides: Any) -> Any:
        """boto3 through the proxy, standard retries with the same budget as ivrimeet."""
        values: dict[str, Any] = {
            "endpoint_url": self.proxy.url,
            "aws_access_key_id": self.server.access_key,
            "aws_secret_access_key": self.server.secret_key,
            "region_name": self.server.region,
            "config": Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "max_attempts": 5},
                read_timeout=10,
            ),
        }
        values.update(overrides)
        return boto3.client("s3", **values)


def _behind(server: S3Server) -> Iterator[Behind]:
    bucket = f"b-{uuid.uuid4().hex[:20]}"
    server.admin_client().create_bucket(Bucket=bucket)
    with AnswerProxy(server.endpoint_url) as proxy:
        yield Behind(server, bucket, proxy)


@pytest.fixture
def moto_behind(moto_s3: S3Server) -> Iterator[Behind]:
    yield from _behind(moto_s3)


@pytest.fixture(params=["moto", "rclone"])
def behind(request: pytest.FixtureRequest) -> Iterator[Behind]:
    """Both servers (for the cases where their answers differ)."""
    yield from _behind(request.getfixturevalue(f"{request.param}_s3"))


@pytest.fixture
def payload() -> Callable[[int], bytes]:
    def make(size: int) -> bytes:
        block = uuid.uuid4().bytes * 4096
        return (block * (size // len(block) + 1))[:size]

    return make
