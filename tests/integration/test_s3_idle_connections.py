"""Pooled keep-alive connections that the server closed while idle are never reused."""

from __future__ import annotations

import os

import pytest

from ivrimeet.objects import S3Store
from tests.faults.proxy import port_of, running_proxy
from tests.servers.s3 import S3Server

MiB = 1024 * 1024


@pytest.mark.parametrize("name", ["moto_s3", "rclone_s3"])
def test_requests_after_the_server_dropped_idle_connections_need_no_retry(
    name: str, request: pytest.FixtureRequest
) -> None:
    server: S3Server = request.getfixturevalue(name)
    bucket = server.new_bucket("idle").bucket
    data = os.urandom(12 * MiB)
    with running_proxy(port_of(server.endpoint_url)) as proxy:
        # One try per request: a request sent on a dead pooled connection would fail.
        store = S3Store(
            server.connection(bucket, endpoint_url=proxy.url, max_attempts=1),
            upload_part_size=5 * MiB,
            upload_concurrency=2,
        )
        store.put("first", data)  # a multipart upload: several connections go to the pool
        connections = proxy.connections

        proxy.refuse()  # resets every open connection, as a server's idle timeout closes them
        proxy.accept()
        store.put("second", data)

        assert store.get_bytes("second") == data
        assert store.head("first").size == len(data)
        assert proxy.connections > connections  # new connections, not the dead ones
