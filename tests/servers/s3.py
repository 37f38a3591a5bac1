"""Real S3 servers on 127.0.0.1 for tests: moto's server and ``rclone serve s3``.

Fixtures (session-scoped servers, a fresh bucket per test):

- ``moto_s3``: moto_server; honours ``If-None-Match: *``, presigned URLs, and
  can enforce IAM (see ``MotoIam`` in ``tests/servers/moto_iam.py``).
- ``rclone_s3``: ``rclone serve s3`` with an auth key (real SigV4 checking); it
  ignores conditional writes and answers ranged GETs with 200 + Content-Range.

``S3Server.new_bucket()`` creates a uniquely named bucket and returns an
``S3Connection`` for it.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from ivrimeet.objects.s3_client import S3Connection
from ivrimeet.objects.transfer_config import TransferConfig
from tests.servers.process import RunningProcess, free_port, run_server

# Recognisable fake credentials: tests assert they never show up in output.
TEST_ACCESS_KEY = "ivrimeet-test-key-id-0001"
TEST_SECRET_KEY = "ivrimeet-test-secret-do-not-print-0123456789"
TEST_REGION = "us-east-1"


@dataclass
class S3Server:
    """A running S3-compatible server and how to reach it."""

    name: str
    endpoint_url: str
    process: RunningProcess
    access_key: str = TEST_ACCESS_KEY
    secret_key: str = field(default=TEST_SECRET_KEY, repr=False)
    region: str = TEST_REGION
    ca_bundle: str | None = None
    """The CA file to trust (an HTTPS server with a private CA), else None."""

    def admin_client(self):  # type: ignore[no-untyped-def]  # boto3 client, typed by stubs
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
            verify=self.ca_bundle,
        )

    def connection(self, bucket: str, **overrides: object) -> S3Connection:
        """A connection to ``bucket``; overrides name ``S3Connection`` or ``TransferConfig``
        fields (``max_attempts=1``, ``read_timeout=2.0``)."""
        values: dict[str, object] = {
            "bucket": bucket,
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
        }
        tunables = {f.name for f in dataclasses.fields(TransferConfig)}
        transfer = {k: overrides.pop(k) for k in list(overrides) if k in tunables}
        values.update(overrides)
        if transfer:
            values["transfer"] = TransferConfig(**transfer)  # type: ignore[arg-type]
        return S3Connection(**values)  # type: ignore[arg-type]

    def new_bucket(self, prefix: str = "t") -> S3Connection:
        bucket = f"{prefix}-{uuid.uuid4().hex[:20]}"
        self.admin_client().create_bucket(Bucket=bucket)
        return self.connection(bucket)

    def list_multipart_uploads(self, bucket: str) -> list[dict[str, object]]:
        answer = self.admin_client().list_multipart_uploads(Bucket=bucket)
        return list(answer.get("Uploads", []))


def moto_server_argv(port: int) -> list[str]:
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    return [exe, "-H", "127.0.0.1", "-p", str(port)]


def rclone_argv(port: int, root: Path) -> list[str]:
    exe = shutil.which("rclone") or str(Path(sys.executable).with_name("rclone"))
    return [
        exe,
        "serve",
        "s3",
        "--addr",
        f"127.0.0.1:{port}",
        "--auth-key",
        f"{TEST_ACCESS_KEY},{TEST_SECRET_KEY}",
        "--config",
        "/dev/null",
        str(root),
    ]


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Server]:
    port = free_port()
    with run_server(moto_server_argv(port), port, name="moto") as proc:
        yield S3Server("moto", f"http://127.0.0.1:{port}", proc)


@pytest.fixture(scope="session")
def rclone_s3() -> Iterator[S3Server]:
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="rclone-s3-"))
    try:
        with run_server(rclone_argv(port, root), port, name="rclone") as proc:
            yield S3Server("rclone", f"http://127.0.0.1:{port}", proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)
