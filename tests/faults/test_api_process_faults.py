"""``ivrimeet serve`` killed with SIGKILL in the middle of an upload: no object, no row, and the
one thing a dead process cannot clean up, its open multipart upload, is covered by the bucket's
lifecycle rule from ``ivrimeet setup-bucket``."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivrimeet import db
from ivrimeet.cli import app
from ivrimeet.db import sqlite_url
from ivrimeet.objects.bucket_setup import LIFECYCLE_RULE_ID
from tests.faults import ledger
from tests.faults.leftovers import objects_left, rows_left
from tests.faults.test_meetings_faults import wav
from tests.servers.api import API_TOKEN
from tests.servers.ivrimeet import ivrimeet_env, serve
from tests.servers.s3 import S3Server
from tests.waiting import wait_until

MiB = 1024 * 1024


@pytest.mark.slow
def test_api_killed_mid_upload_leaves_no_object_no_row_and_an_upload_the_rule_removes(
    moto_s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_s3.new_bucket().bucket
    env = ivrimeet_env(
        tmp_path, token=API_TOKEN, s3=moto_s3, bucket=bucket, TRANSFER_PART_SIZE=str(5 * MiB)
    )
    for name in ("S3_BUCKET", "S3_REGION", "S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", env["AWS_SECRET_ACCESS_KEY"])
    setup = CliRunner().invoke(app, ["setup-bucket", bucket, "--region", moto_s3.region])
    assert setup.exit_code == 0, setup.output
    admin = moto_s3.admin_client()
    recording = wav(30 * MiB)

    with serve(env, tmp_path, "--no-worker") as (url, server):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                (
                    f"POST /api/meetings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}"
                    f"\r\nContent-Type: audio/wav\r\nContent-Length: {len(recording)}\r\n\r\n"
                ).encode()
                + recording[: 12 * MiB]
            )
            ledger.upload()
            wait_until(
                lambda: admin.list_multipart_uploads(Bucket=bucket).get("Uploads"),
                timeout=60,
                message="the upload's multipart upload to start",
            )
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=30)
            ledger.fault("kill -9")

    uploads = admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["Key"].split("/")[0] for u in uploads] == ["audio"]
    assert objects_left(moto_s3, bucket, "audio/") == []
    database = db.Database(sqlite_url(tmp_path / "data"))
    try:
        page = db.list_meetings(database, limit=10, offset=0)
        assert rows_left([m.id for m in page.items]) == []
    finally:
        database.dispose()
    rules = admin.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    rule = next(r for r in rules if r["ID"] == LIFECYCLE_RULE_ID)
    assert rule["Status"] == "Enabled"
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert rule.get("Filter", {}).get("Prefix", "") == "", "the rule covers audio/ too"
