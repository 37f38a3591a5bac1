"""Wrong credentials, wrong place, missing rights: each its own one-line answer.

Through the CLI (``ivrimeet doctor``: exit code and the one failing line) and
through the objects API (the exception a caller gets), on moto with IAM
enforcement and on rclone (which checks SigV4 itself).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner, Result

from ivrimeet.cli import app
from ivrimeet.errors import CredentialsError, PermissionDeniedError
from ivrimeet.objects import S3Store, least_privilege_policy
from tests.faults import ledger
from tests.faults.leftovers import files_left
from tests.faults.proxy import FaultProxy, port_of
from tests.servers.moto_iam import MotoIam
from tests.servers.s3 import TEST_ACCESS_KEY, TEST_SECRET_KEY, S3Server

WRONG_SECRET = "wrong-secret-ivrimeet-0000000000000000"


def doctor(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Result:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DISK_WARNING_BYTES", "0")
    return CliRunner().invoke(app, ["doctor"])


def failing_lines(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if re.match(r"^FAIL ", line)]


def server_env(server: S3Server, bucket: str, **changes: str) -> dict[str, str]:
    return {
        "S3_BUCKET": bucket,
        "S3_REGION": server.region,
        "S3_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        **changes,
    }


def _session_credentials(moto_iam: MotoIam) -> dict[str, str]:
    """Temporary credentials of a role allowed everything (STS AssumeRole on moto)."""
    iam = moto_iam.iam_client()
    name = f"r-{uuid.uuid4().hex[:10]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(everything))
    sts = boto3.client(
        "sts",
        endpoint_url=moto_iam.endpoint_url,
        aws_access_key_id=moto_iam.admin.access_key_id,
        aws_secret_access_key=moto_iam.admin.secret_access_key,
        region_name="us-east-1",
    )
    found = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="faults")
    return dict(found["Credentials"])


def test_doctor_names_an_unknown_access_key_id(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_iam.new_bucket()
    env = server_env(moto_iam.server, bucket, AWS_ACCESS_KEY_ID="IVRIMEETUNKNOWNKEY01")

    result = doctor(monkeypatch, env)

    assert result.exit_code == 1, result.output
    assert failing_lines(result) == [
        f"FAIL bucket: Cannot list s3://{bucket}: the access key id is unknown to "
        f"{moto_iam.endpoint_url} (S3 answered InvalidAccessKeyId) -> fix: AWS_ACCESS_KEY_ID "
        "is not a key of this account or endpoint (deleted key, or keys for another S3 service)"
    ]


def test_doctor_on_rclone_names_a_wrong_secret(
    rclone_s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = rclone_s3.new_bucket().bucket
    env = server_env(rclone_s3, bucket, AWS_SECRET_ACCESS_KEY=WRONG_SECRET)

    result = doctor(monkeypatch, env)

    assert result.exit_code == 1, result.output
    assert failing_lines(result) == [
        f"FAIL bucket: Cannot list s3://{bucket}: the endpoint rejected the request signature "
        "(S3 answered SignatureDoesNotMatch) -> fix: AWS_SECRET_ACCESS_KEY does not match "
        "AWS_ACCESS_KEY_ID: copy both from the same key pair"
    ]
    assert WRONG_SECRET not in result.output


def test_doctor_accepts_valid_session_credentials(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = moto_iam.new_bucket()
    session = _session_credentials(moto_iam)
    env = server_env(
        moto_iam.server,
        bucket,
        AWS_ACCESS_KEY_ID=session["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=session["SecretAccessKey"],
        AWS_SESSION_TOKEN=session["SessionToken"],
    )

    result = doctor(monkeypatch, env)

    assert result.exit_code == 0, result.output


def test_doctor_names_a_stale_session_token_and_says_to_refresh_it(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A HEAD answer to a bad token is a bare 400: the doctor must look further."""
    bucket = moto_iam.new_bucket()
    session = _session_credentials(moto_iam)
    stale = session["SessionToken"][:-8] + "STALE000"
    env = server_env(
        moto_iam.server,
        bucket,
        AWS_ACCESS_KEY_ID=session["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=session["SecretAccessKey"],
        AWS_SESSION_TOKEN=stale,
    )

    result = doctor(monkeypatch, env)

    assert result.exit_code == 1, result.output
    assert failing_lines(result) == [
        f"FAIL bucket: Cannot list s3://{bucket}: the credentials have expired "
        "(S3 answered InvalidToken) -> fix: refresh the session token (AWS_SESSION_TOKEN) or "
        "log in again (`aws sso login`), then retry"
    ]
    assert stale not in result.output
    assert session["SecretAccessKey"] not in result.output


def test_doctor_names_the_region_the_bucket_is_really_in(
    moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"eu-{uuid.uuid4().hex[:20]}"
    boto3.client(
        "s3",
        endpoint_url=moto_s3.endpoint_url,
        aws_access_key_id=TEST_ACCESS_KEY,
        aws_secret_access_key=TEST_SECRET_KEY,
        region_name="eu-west-1",
    ).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    result = doctor(monkeypatch, server_env(moto_s3, bucket, S3_REGION="us-east-1"))

    assert result.exit_code == 1, result.output
    assert failing_lines(result) == [
        f"FAIL bucket: s3://{bucket} at {moto_s3.endpoint_url} is in region eu-west-1, but "
        "S3_REGION is us-east-1 -> fix: set S3_REGION=eu-west-1"
    ]


def test_doctor_names_a_missing_bucket_and_how_to_create_it(
    moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"missing-{uuid.uuid4().hex[:16]}"

    result = doctor(monkeypatch, server_env(moto_iam.server, bucket))

    assert result.exit_code == 1, result.output
    assert failing_lines(result) == [
        f"FAIL bucket: Cannot reach bucket s3://{bucket}: bucket {bucket} does not exist on "
        f"{moto_iam.endpoint_url} (S3 answered 404) -> fix: create it with "
        f"`ivrimeet setup-bucket {bucket} --region us-east-1`"
    ]


@pytest.mark.slow  # botocore's retries against a dead endpoint: ~15 s
def test_doctor_with_s3_down_names_the_endpoint(
    moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch, fault_proxy: Any
) -> None:
    bucket = moto_s3.new_bucket().bucket
    proxy: FaultProxy = fault_proxy(port_of(moto_s3.endpoint_url))
    proxy.refuse()
    ledger.fault("s3 down")

    result = doctor(monkeypatch, server_env(moto_s3, bucket, S3_ENDPOINT_URL=proxy.url))

    assert result.exit_code == 1, result.output
    assert failing_lines(result) == [
        f"FAIL bucket: Cannot reach bucket s3://{bucket}: cannot connect to the S3 endpoint "
        f"{proxy.url}/{bucket} -> fix: check S3_ENDPOINT_URL (scheme, host and port) and "
        "that the server is running"
    ]


# --- each missing permission, through the objects API ----------------------------------


def _policy_without(bucket: str, action: str) -> dict[str, Any]:
    document = least_privilege_policy(bucket)
    for statement in document["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        statement["Action"] = [a for a in actions if a != action]
    document["Statement"] = [s for s in document["Statement"] if s["Action"]]
    return document


def _store_without(moto_iam: MotoIam, action: str) -> tuple[S3Store, str]:
    bucket = moto_iam.new_bucket()
    moto_iam.server.admin_client().put_object(Bucket=bucket, Key="k/seed", Body=b"seed")
    user = moto_iam.create_user(_policy_without(bucket, action))
    return S3Store(moto_iam.connection(bucket, user, max_attempts=1)), bucket


@pytest.mark.parametrize(
    ("action", "verb", "resource"),
    [
        ("s3:PutObject", "write", "arn:aws:s3:::{bucket}/*"),
        ("s3:GetObject", "read", "arn:aws:s3:::{bucket}/*"),
        ("s3:ListBucket", "list", "arn:aws:s3:::{bucket}"),
        ("s3:DeleteObject", "delete", "arn:aws:s3:::{bucket}/*"),
    ],
)
def test_each_missing_permission_names_the_action_and_resource_to_allow(
    moto_iam: MotoIam, tmp_path: Path, action: str, verb: str, resource: str
) -> None:
    store, bucket = _store_without(moto_iam, action)
    attempt = {
        "s3:PutObject": lambda: store.put("k/new", b"data"),
        "s3:GetObject": lambda: store.get_bytes("k/seed"),
        "s3:ListBucket": lambda: list(store.list("k/")),
        "s3:DeleteObject": lambda: store.delete("k/seed"),
    }[action]

    with pytest.raises(PermissionDeniedError) as caught:
        attempt()

    where = f"s3://{bucket}" if action == "s3:ListBucket" else f"s3://{bucket}/k/"
    assert caught.value.summary.startswith(f"Cannot {verb} {where}")
    assert caught.value.hints[0] == (
        f"allow {action} on {resource.format(bucket=bucket)} "
        "for the IAM user or role behind that key"
    )
    assert not isinstance(caught.value, CredentialsError)


def test_ranged_download_without_get_permission_says_so_and_leaves_no_file(
    moto_iam: MotoIam, tmp_path: Path
) -> None:
    store, bucket = _store_without(moto_iam, "s3:GetObject")
    target = tmp_path / "seed"

    ledger.load()
    with pytest.raises(PermissionDeniedError) as caught:
        store.download_to_file("k/seed", target)

    assert caught.value.summary == f"Cannot read s3://{bucket}/k/seed"
    assert caught.value.hints[0] == (
        f"allow s3:GetObject on arn:aws:s3:::{bucket}/* for the IAM user or role behind that key"
    )
    assert files_left(tmp_path) == []


def test_ranged_download_with_a_wrong_secret_is_a_credentials_error(
    moto_iam: MotoIam, tmp_path: Path
) -> None:
    bucket = moto_iam.new_bucket()
    moto_iam.server.admin_client().put_object(Bucket=bucket, Key="k/seed", Body=b"seed")
    user = moto_iam.create_user(least_privilege_policy(bucket))
    store = S3Store(
        moto_iam.connection(bucket, user, secret_access_key=WRONG_SECRET, max_attempts=1)
    )

    with pytest.raises(CredentialsError) as caught:
        store.download_to_file("k/seed", tmp_path / "seed")

    assert caught.value.summary == (
        f"Cannot read s3://{bucket}/k/seed: the endpoint rejected the request signature."
    )
    rendered = caught.value.render()
    assert WRONG_SECRET not in rendered and user.secret_access_key not in rendered
    assert files_left(tmp_path) == []
