"""``ivrimeet setup-bucket BUCKET`` takes its region from S3_REGION when --region is absent."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from ivrimeet.cli.main import app
from tests.servers.s3 import S3Server


@pytest.fixture
def on_moto(moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    monkeypatch.setenv("S3_ENDPOINT_URL", moto_s3.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_s3.secret_key)
    return moto_s3


def test_region_defaults_to_s3_region(on_moto: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_REGION", "eu-west-1")
    bucket = f"region-{uuid.uuid4().hex[:12]}"

    result = CliRunner().invoke(app, ["setup-bucket", bucket])

    assert result.exit_code == 0, result.output
    location = on_moto.admin_client().get_bucket_location(Bucket=bucket)
    assert location["LocationConstraint"] == "eu-west-1"


def test_without_region_or_s3_region_says_what_to_pass(
    on_moto: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S3_REGION", raising=False)

    result = CliRunner().invoke(app, ["setup-bucket", f"region-{uuid.uuid4().hex[:12]}"])

    assert result.exit_code == 2
    assert "pass --region REGION, or set S3_REGION" in result.output
