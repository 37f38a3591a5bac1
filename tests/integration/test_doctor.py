"""`ivrimeet doctor` on real servers: passes on a good set-up, names what is wrong otherwise."""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ivrimeet.cli import app
from tests.servers.moto_iam import IamUser, MotoIam
from tests.servers.s3 import TEST_SECRET_KEY, S3Server


def doctor() -> Result:
    return CliRunner().invoke(app, ["doctor"])


def lines(result: Result) -> dict[str, tuple[str, str]]:
    """``{check name: (status, rest of line)}`` from ``<STATUS> <name>: <message>`` lines."""
    found = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^(OK|WARN|FAIL)\s+(.+?): (.*)$", line)
        if match:
            found[match.group(2)] = (match.group(1), match.group(3))
    return found


def statuses(result: Result) -> dict[str, str]:
    return {name: status for name, (status, _) in lines(result).items()}


def policy(bucket: str, *, drop: str | None = None) -> dict[str, Any]:
    printed = CliRunner().invoke(app, ["iam-policy", bucket])
    document: dict[str, Any] = json.loads(printed.stdout)
    for statement in document["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        statement["Action"] = [a for a in actions if a != drop]
    document["Statement"] = [s for s in document["Statement"] if s["Action"]]
    return document


def use(monkeypatch: pytest.MonkeyPatch, moto_iam: MotoIam, bucket: str, user: IamUser) -> None:
    for name, value in moto_iam.environment(bucket, user).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DISK_WARNING_BYTES", "0")


ALL_CHECKS = [
    "settings",
    "credentials",
    "bucket",
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "create-only",
    "free disk",
]


def test_doctor_passes_on_a_good_setup_and_removes_its_probe(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_iam.new_bucket()
    user = moto_iam.create_user(policy(bucket))
    use(monkeypatch, moto_iam, bucket, user)

    result = doctor()

    assert result.exit_code == 0, result.output
    assert statuses(result) == dict.fromkeys(ALL_CHECKS, "OK")
    assert f"ending in {user.access_key_id[-4:]}" in lines(result)["credentials"][1]
    assert user.access_key_id not in result.output  # the tail only
    listed = moto_iam.server.admin_client().list_objects_v2(Bucket=bucket, Prefix="_doctor/")
    assert listed.get("KeyCount", 0) == 0


def test_doctor_warns_but_passes_with_the_four_action_policy(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_iam.new_bucket()
    use(
        monkeypatch,
        moto_iam,
        bucket,
        moto_iam.create_user(policy(bucket, drop="s3:AbortMultipartUpload")),
    )

    result = doctor()

    assert result.exit_code == 0, result.output
    status, text = lines(result)["s3:AbortMultipartUpload"]
    assert status == "WARN"
    assert "lifecycle rule" in text
    assert f"allow s3:AbortMultipartUpload on arn:aws:s3:::{bucket}/*" in text
    assert [name for name, s in statuses(result).items() if s != "OK"] == [
        "s3:AbortMultipartUpload"
    ]


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:PutObject", "arn:aws:s3:::{bucket}/*"),
        ("s3:GetObject", "arn:aws:s3:::{bucket}/*"),
        ("s3:ListBucket", "arn:aws:s3:::{bucket}"),
        ("s3:DeleteObject", "arn:aws:s3:::{bucket}/*"),
    ],
)
def test_doctor_fails_and_names_the_missing_permission(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch, action: str, resource: str
) -> None:
    bucket = moto_iam.new_bucket()
    use(monkeypatch, moto_iam, bucket, moto_iam.create_user(policy(bucket, drop=action)))

    result = doctor()

    assert result.exit_code == 1, result.output
    failed = [name for name, s in statuses(result).items() if s == "FAIL"]
    assert failed == [action]
    assert f"allow {action} on {resource.format(bucket=bucket)}" in lines(result)[action][1]


def test_doctor_with_a_wrong_secret_gives_the_signature_message(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bucket = moto_iam.new_bucket()
    user = moto_iam.create_user(policy(bucket))
    use(monkeypatch, moto_iam, bucket, user)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)

    result = doctor()

    assert result.exit_code == 1, result.output
    status, text = lines(result)["bucket"]
    assert status == "FAIL"
    assert "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID" in text
    for secret in (TEST_SECRET_KEY, user.secret_access_key):
        assert secret not in result.output
        assert secret not in caplog.text


def test_doctor_names_a_missing_bucket_and_how_to_create_it(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, moto_iam, "no-such-bucket-here", moto_iam.admin)

    result = doctor()

    assert result.exit_code == 1, result.output
    status, text = lines(result)["bucket"]
    assert status == "FAIL"
    assert "ivrimeet setup-bucket no-such-bucket-here" in text


def test_doctor_names_the_region_the_bucket_is_really_in(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"eu-{uuid.uuid4().hex[:16]}"
    moto_iam.server.admin_client().create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    use(monkeypatch, moto_iam, bucket, moto_iam.admin)  # S3_REGION=us-east-1

    result = doctor()

    assert result.exit_code == 1, result.output
    status, text = lines(result)["bucket"]
    assert status == "FAIL"
    assert "in region eu-west-1" in text and "S3_REGION=eu-west-1" in text


def test_doctor_warns_that_rclone_cannot_do_create_only(
    rclone_s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = rclone_s3.new_bucket().bucket
    monkeypatch.setenv("S3_BUCKET", bucket)
    monkeypatch.setenv("S3_REGION", rclone_s3.region)
    monkeypatch.setenv("S3_ENDPOINT_URL", rclone_s3.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", rclone_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", rclone_s3.secret_key)
    monkeypatch.setenv("DISK_WARNING_BYTES", "0")

    result = doctor()

    assert result.exit_code == 0, result.output
    assert statuses(result)["create-only"] == "WARN"
    assert "If-None-Match" in lines(result)["create-only"][1]
    assert TEST_SECRET_KEY not in result.output


def test_doctor_checks_the_local_data_dir_when_no_bucket_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IVRIMEET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DISK_WARNING_BYTES", "0")

    result = doctor()

    assert result.exit_code == 0, result.output
    assert statuses(result) == {"settings": "OK", "data dir": "OK", "free disk": "OK"}


def test_doctor_fails_when_the_data_dir_cannot_be_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("IVRIMEET_DATA_DIR", str(blocker / "data"))

    result = doctor()

    assert result.exit_code == 1, result.output
    status, text = lines(result)["data dir"]
    assert status == "FAIL"
    assert "IVRIMEET_DATA_DIR" in text


def test_doctor_warns_when_free_disk_is_under_the_threshold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IVRIMEET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IVRIMEET_TMP_DIR", str(tmp_path))
    monkeypatch.setenv("DISK_WARNING_BYTES", str(1 << 60))

    result = doctor()

    assert result.exit_code == 0, result.output
    status, text = lines(result)["free disk"]
    assert status == "WARN"
    assert str(tmp_path) in text and "IVRIMEET_TMP_DIR" in text


def test_doctor_reports_invalid_settings_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRANSFER_CONCURRENCY", "0")

    result = doctor()

    assert result.exit_code == 1, result.output
    status, text = lines(result)["settings"]
    assert status == "FAIL"
    assert "TRANSFER_CONCURRENCY" in text
