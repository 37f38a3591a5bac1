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


def test_a_download_answered_200_chunked_without_a_range_is_written_whole(
    moto_behind: Behind, tmp_path: Path, payload: Callable[[int], bytes]
) -> None:
    """A proxy that drops Range and Content-Length: the whole body, size learnt at its end."""
    import hashlib

    data = payload(6 * MiB + 7)
    admin = moto_behind.server.admin_client()
    admin.put_object(Bucket=moto_behind.bucket, Key="blob", Body=data)
    whole = admin.get_object(Bucket=moto_behind.bucket, Key="blob")
    headers = {"ETag": whole["ETag"], "Content-Type": "application/octet-stream"}
    # A chunked 200 answer with the whole object, whatever range was asked.
    body = whole["Body"].read()
    moto_behind.proxy.when("GET", "/blob", times=2).answer(
        200, body=body, headers=headers, chunked=True
    )

    boto3_path, ours_path = tmp_path / "boto3", tmp_path / "ivrimeet"
    moto_behind.boto3().download_file(moto_behind.bucket, "blob", str(boto3_path))
    digest = hashlib.sha256()
    moto_behind.store().download_to_file("blob", ours_path, digest=digest)

    assert boto3_path.read_bytes() == ours_path.read_bytes() == data
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
