"""Where a bucket's requests go: the scheme, host and path prefix of every object URL.

With an endpoint (``S3_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL``: MinIO, R2, B2, a test server) addressing is path-style,
``<endpoint>/<bucket>/<key>``, as the boto3 client is configured
(``S3Connection.botocore_config``): no botocore needed.

Without one, botocore's endpoint rules decide, exactly as for a boto3 client
on the same connection: virtual-hosted or path-style (dotted bucket names),
China (``amazonaws.com.cn``), FIPS and dualstack (``AWS_USE_FIPS_ENDPOINT``,
``AWS_USE_DUALSTACK_ENDPOINT`` or the profile's settings). The rules are asked
once per store: a GET of a placeholder key is built by a boto3 client and
stopped before it is signed or sent (``before-sign``), keeping its URL without
the key. (Not a presigned URL: botocore presigns against the global
``s3.amazonaws.com`` host.) No host name is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ivrimeet.objects.connections import Target
from ivrimeet.objects.s3_client import S3Connection

__all__ = ["BucketEndpoint", "resolve"]

_PLACEHOLDER = "ivrimeet-endpoint-probe"


@dataclass(frozen=True)
class BucketEndpoint:
    """The fixed part of every object URL of one bucket."""

    scheme: str
    host: str
    port: int | None
    prefix: str
    """The path before the key: ``/bucket`` (path-style) or ``""`` (virtual-hosted)."""

    def target(self, key: str = "", query: str = "") -> Target:
        """Where a request about ``key`` goes (the bucket itself for ``key=""``)."""
        path = f"{self.prefix}/{quote(key, safe='/~')}"
        if query:
            path = f"{path}?{query}"
        netloc = f"{self.host}:{self.port}" if self.port else self.host
        return Target(self.scheme, self.host, self.port, path, f"{self.scheme}://{netloc}{path}")


def resolve(connection: S3Connection) -> BucketEndpoint:
    """The bucket's endpoint: path-style under the configured URL, else botocore's rules."""
    if connection.endpoint_url:
        base = urlsplit(connection.endpoint_url)
        prefix = f"{base.path.rstrip('/')}/{connection.bucket}"
        return BucketEndpoint(base.scheme or "http", base.hostname or "", base.port, prefix)
    client = connection.client(unsigned=True)
    client.meta.events.register("before-sign.s3.GetObject", _capture)
    try:
        client.get_object(Bucket=connection.bucket, Key=_PLACEHOLDER)
    except _Captured as captured:
        parts = urlsplit(captured.url)
    else:  # pragma: no cover - before-sign always runs before sending
        raise AssertionError("botocore sent a request it was asked only to address")
    prefix = parts.path.removesuffix(f"/{_PLACEHOLDER}")
    return BucketEndpoint(parts.scheme, parts.hostname or "", parts.port, prefix)


class _Captured(Exception):  # a signal: the URL botocore built, before anything was sent
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def _capture(request: Any, **_: Any) -> None:
    raise _Captured(str(request.url))
