"""`ivrimeet setup-bucket` (and scripts/setup_s3_models.sh) on real servers.

moto with IAM enforced (``moto_iam``, run as its admin) supports every step;
``rclone serve s3`` supports none of the bucket settings and no IAM, so those
steps must be skipped with a reason, not fail.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ivrimeet.cli import app
from ivrimeet.objects import S3Store
from ivrimeet.objects.bucket_setup import LIFECYCLE_RULE_ID
from tests.servers.moto_iam import IamUser, MotoIam
from tests.servers.s3 import TEST_SECRET_KEY, S3Server

REPO = Path(__file__).resolve().parents[2]


def use_server(monkeypatch: pytest.MonkeyPatch, server: S3Server) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)


def setup_bucket(*args: str) -> Result:
    return CliRunner().invoke(app, ["setup-bucket", *args])


def step_lines(output: str) -> dict[str, str]:
    """``{step: status}`` from the report lines ``<status> <step>  <detail>``."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^(applied|already|skipped)\s+(\S+)\s", line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


def new_name() -> str:
    return f"setup-{uuid.uuid4().hex[:16]}"


STEPS = ["bucket", "public-access-block", "default-encryption", "lifecycle"]


def test_setup_bucket_creates_and_configures_a_missing_bucket(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, moto_iam.server)
    bucket = new_name()

    result = setup_bucket(bucket, "--region", "eu-west-1")

    assert result.exit_code == 0, result.output
    assert step_lines(result.stdout) == dict.fromkeys(STEPS, "applied")
    admin = moto_iam.server.admin_client()
    assert admin.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"
    block = admin.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True
    )
    encryption = admin.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [rule] = admin.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["ID"] == LIFECYCLE_RULE_ID
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_setup_bucket_second_run_says_already_for_every_step(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, moto_iam.server)
    bucket = new_name()
    assert setup_bucket(bucket, "--region", "us-east-1").exit_code == 0

    again = setup_bucket(bucket, "--region", "us-east-1")

    assert again.exit_code == 0, again.output
    assert step_lines(again.stdout) == dict.fromkeys(STEPS, "already")


def test_setup_bucket_keeps_the_owners_other_lifecycle_rules(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, moto_iam.server)
    bucket = moto_iam.new_bucket()
    admin = moto_iam.server.admin_client()
    theirs = {"ID": "expire-scratch", "Status": "Enabled", "Filter": {"Prefix": "scratch/"}}
    admin.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [{**theirs, "Expiration": {"Days": 7}}]}
    )

    result = setup_bucket(bucket, "--region", "us-east-1")

    assert result.exit_code == 0, result.output
    assert step_lines(result.stdout)["bucket"] == "already"
    rules = admin.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert sorted(rule["ID"] for rule in rules) == sorted(["expire-scratch", LIFECYCLE_RULE_ID])


def test_setup_bucket_refuses_an_existing_bucket_in_another_region(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(monkeypatch, moto_iam.server)
    bucket = new_name()
    assert setup_bucket(bucket, "--region", "eu-west-1").exit_code == 0

    result = setup_bucket(bucket, "--region", "us-east-1")

    assert result.exit_code == 2, result.output
    assert "is in region eu-west-1, not us-east-1" in result.output
    assert "S3_REGION=eu-west-1" in result.output


def test_setup_bucket_without_admin_rights_names_the_permission_it_lacks(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_iam.new_bucket()
    # s3:HeadBucket is how moto (not AWS) names HeadBucket; this user can only look.
    look_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:HeadBucket", "s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
            }
        ],
    }
    for name, value in moto_iam.environment(bucket, moto_iam.create_user(look_only)).items():
        monkeypatch.setenv(name, value)

    result = setup_bucket(bucket, "--region", "us-east-1")

    assert result.exit_code == 3, result.output
    # AWS refuses the Get first; moto checks that Get as s3:ListBucket and refuses the Put.
    wanted = rf"allowed s3:(Get|Put)BucketPublicAccessBlock on arn:aws:s3:::{bucket} "
    assert re.search(wanted, result.output), result.output
    assert "Traceback" not in result.output


def created_keys(output: str) -> tuple[str, str]:
    key_id = re.findall(r"^AWS_ACCESS_KEY_ID=(\S+)$", output, re.MULTILINE)
    secret = re.findall(r"^AWS_SECRET_ACCESS_KEY=(\S+)$", output, re.MULTILINE)
    assert len(key_id) == 1 and len(secret) == 1, output
    return key_id[0], secret[0]


def test_created_user_keys_are_printed_once_and_work_with_the_bucket(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    use_server(monkeypatch, moto_iam.server)
    bucket, user_name = new_name(), f"ivrimeet-{uuid.uuid4().hex[:8]}"

    first = setup_bucket(bucket, "--region", "us-east-1", "--create-user", user_name)
    second = setup_bucket(bucket, "--region", "us-east-1", "--create-user", user_name)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    key_id, secret = created_keys(first.stdout)
    assert first.stdout.count(secret) == 1
    assert secret not in first.stderr
    assert step_lines(first.stdout)["iam-user"] == "applied"
    assert step_lines(second.stdout)["iam-user"] == "already"
    assert secret not in second.output and "AWS_SECRET_ACCESS_KEY=" not in second.output
    for text in (caplog.text, first.stderr, second.stderr):
        assert secret not in text
        assert moto_iam.admin.secret_access_key not in text
    # The printed key is the new user's and carries exactly the least-privilege policy.
    user = IamUser(user_name, key_id, secret)
    store = S3Store(moto_iam.connection(bucket, user))
    store.put("models/ok", b"ok")
    assert store.get_bytes("models/ok") == b"ok"


def test_setup_bucket_on_rclone_skips_unsupported_steps_with_reasons(
    rclone_s3: S3Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    use_server(monkeypatch, rclone_s3)
    bucket = new_name()

    result = setup_bucket(bucket, "--region", "us-east-1", "--create-user", "someone")
    again = setup_bucket(bucket, "--region", "us-east-1")

    assert result.exit_code == 0, result.output
    assert step_lines(result.stdout) == {
        "bucket": "applied",
        "public-access-block": "skipped",
        "default-encryption": "skipped",
        "lifecycle": "skipped",
        "iam-user": "skipped",
    }
    assert "does not support PutBucketLifecycleConfiguration" in result.stdout
    assert "has no IAM API" in result.stdout
    assert "4 step(s) skipped" in result.stdout
    assert again.exit_code == 0, again.output
    assert step_lines(again.stdout)["bucket"] == "already"
    assert TEST_SECRET_KEY not in result.output + again.output + caplog.text


def test_setup_script_calls_the_cli_with_bucket_and_region(moto_iam: MotoIam) -> None:
    bucket = new_name()
    env = dict(
        os.environ,
        S3_ENDPOINT_URL=moto_iam.endpoint_url,
        AWS_ACCESS_KEY_ID=moto_iam.admin.access_key_id,
        AWS_SECRET_ACCESS_KEY=moto_iam.admin.secret_access_key,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )

    done = subprocess.run(
        [str(REPO / "scripts" / "setup_s3_models.sh"), bucket, "us-east-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert step_lines(done.stdout) == dict.fromkeys(STEPS, "applied")
    assert moto_iam.admin.secret_access_key not in done.stdout + done.stderr
