"""Bodies as servers and proxies really send them: chunked, cut short, reset mid-way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.s3_behaviour.conftest import Behind, MiB


def test_a_200_without_content_length_is_read_whole_like_boto3(behind: Behind) -> None:
    """Chunked answers (compatible servers, proxies) must never read as b""."""
    data = bytes(range(256)) * 4  # 1,024 bytes
    behind.server.admin_client().put_object(Bucket=behind.bucket, Key="small.json", Body=data)
    proxy = behind.proxy
    proxy.when("GET", "/small.json", times=None).chunked()

    got_boto3 = behind.boto3().get_object(Bucket=behind.bucket, Key="small.json")["Body"].read()
    store = behind.store()
    got_bytes = store.get_bytes("small.json")
    with store.get("small.json") as handle:
        got_stream = b"".join(iter(lambda: handle.read(100), b""))

    assert got_boto3 == got_bytes == got_stream == data
    assert proxy.rules[0].used == 3  # every read above came chunked


@pytest.mark.parametrize("fault", ["cut", "reset"])
def test_a_body_broken_mid_way_is_fetched_again_like_boto3s_download_file(
    behind: Behind, fault: str, tmp_path: Path, payload: Callable[[int], bytes]
) -> None:
    data = payload(3 * MiB)
    behind.server.admin_client().put_object(Bucket=behind.bucket, Key="blob", Body=data)
    proxy = behind.proxy

    getattr(proxy.when("GET", "/blob"), fault)()
    behind.boto3().download_file(behind.bucket, "blob", str(tmp_path / "boto3"))
    getattr(proxy.when("GET", "/blob"), fault)()
    got = behind.store().get_bytes("blob")
    getattr(proxy.when("GET", "/blob"), fault)()
    behind.store().download_to_file("blob", tmp_path / "ivrimeet")

    assert proxy.unused() == []
    assert (tmp_path / "boto3").read_bytes() == got == (tmp_path / "ivrimeet").read_bytes() == data
