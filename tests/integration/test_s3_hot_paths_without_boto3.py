"""The paths an API server uses all the time never import boto3 nor create its client.

Each costs memory the API's 150 MiB budget does not have (README, Upload
performance): a fresh process puts, heads, reads and presigns, then says
whether ``boto3`` was imported.
"""

from __future__ import annotations

import subprocess
import sys

from tests.servers.s3 import S3Server

_SCRIPT = """
import os, sys
from ivrimeet.objects import S3Connection, S3Store
store = S3Store(S3Connection(
    bucket=sys.argv[1], region="us-east-1", endpoint_url=sys.argv[2],
    access_key_id=sys.argv[3], secret_access_key=sys.argv[4]))
data = os.urandom(20 * 1024 * 1024)
store.put("big", iter([data]))
store.put("small", b"hello")
assert store.head("big").size == len(data)
assert store.exists("small") and not store.exists("missing")
with store.get("big", start=5, end=9) as stream:
    assert stream.read() == data[5:10]
assert store.get_bytes("small") == b"hello"
assert "X-Amz-Signature=" in store.presign_get("small")
print("boto3" in sys.modules)
"""


def test_put_head_get_and_presign_need_no_boto3(moto_s3: S3Server) -> None:
    bucket = moto_s3.new_bucket("noboto").bucket
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            bucket,
            moto_s3.endpoint_url,
            moto_s3.access_key,
            moto_s3.secret_key,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
