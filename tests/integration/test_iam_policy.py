"""The policy `ivrimeet iam-policy` prints is enough, and each missing action is named.

Everything runs on moto with IAM enforced (``moto_iam``): the real ``S3Store``
signed as an IAM user whose only permissions are the policy under test.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ivrimeet.cli import app
from ivrimeet.errors import CredentialsError, PermissionDeniedError, SizeLimitError
from ivrimeet.objects import S3Store
from tests.servers.moto_iam import IamUser, MotoIam
from tests.servers.s3 import TEST_SECRET_KEY

MIB = 1024 * 1024
PART = 5 * MIB


def printed_policy(bucket: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["iam-policy", bucket])
    assert result.exit_code == 0, result.output
    policy: dict[str, Any] = json.loads(result.stdout)
    return policy


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """``policy`` with ``action`` removed from every statement (empty statements dropped)."""
    statements = []
    for statement in policy["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        kept = [a for a in actions if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**policy, "Statement": statements}


def store_as(moto_iam: MotoIam, bucket: str, user: IamUser) -> S3Store:
    return S3Store(moto_iam.connection(bucket, user), part_size=PART, concurrency=4)


def chunks(total: int, size: int = MIB) -> list[bytes]:
    """``total`` bytes of non-repeating data in ``size`` chunks (an iterable of unknown length)."""
    data = os.urandom(total)
    return [data[i : i + size] for i in range(0, total, size)]


def test_iam_policy_prints_five_actions_scoped_to_the_bucket() -> None:
    policy = printed_policy("meetings-prod")

    grants = {
        (action, statement["Resource"])
        for statement in policy["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert grants == {
        ("s3:GetObject", "arn:aws:s3:::meetings-prod/*"),
        ("s3:PutObject", "arn:aws:s3:::meetings-prod/*"),
        ("s3:DeleteObject", "arn:aws:s3:::meetings-prod/*"),
        ("s3:AbortMultipartUpload", "arn:aws:s3:::meetings-prod/*"),
        ("s3:ListBucket", "arn:aws:s3:::meetings-prod"),
    }
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])


def exercise_every_operation(moto_iam: MotoIam, store: S3Store, tmp_path: Path) -> None:
    """Every object-store operation ivrimeet uses, checked for its result."""
    parts = chunks(PART + MIB + 123)
    body = b"".join(parts)
    info = store.put("audio/m1/original.wav", iter(parts))  # multipart: more than one part
    assert info.size == len(body)
    store.put("results/m1/diarization.json", b'{"speakers": 2}')
    store.put_if_absent("models/refs/org/repo/main", b"abc123")

    assert store.head("audio/m1/original.wav").size == len(body)
    assert store.exists("results/m1/diarization.json")
    assert store.get_bytes("results/m1/diarization.json") == b'{"speakers": 2}'
    with store.get("audio/m1/original.wav", start=10, end=19) as stream:
        assert stream.read() == body[10:20]
    target = tmp_path / "copy.wav"
    store.download_to_file("audio/m1/original.wav", target)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(body).digest()
    assert [o.key for o in store.list("results/")] == ["results/m1/diarization.json"]

    url = store.presign_get("results/m1/diarization.json", expires_seconds=60)
    # moto cannot check query-string signatures under IAM enforcement (500); the
    # URL is signed locally with the user's key, so fetch it with checks paused.
    with moto_iam.enforcement_paused(), urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310  # loopback moto
        assert answer.read() == b'{"speakers": 2}'

    store.delete("results/m1/diarization.json")
    assert not store.exists("results/m1/diarization.json")
    assert store.delete_prefix("audio/") == 1
    assert list(store.list("audio/")) == []


def test_printed_policy_allows_every_operation_the_project_does(
    moto_iam: MotoIam, tmp_path: Path
) -> None:
    bucket = moto_iam.new_bucket()
    user = moto_iam.create_user(printed_policy(bucket))

    exercise_every_operation(moto_iam, store_as(moto_iam, bucket, user), tmp_path)


def test_printed_policy_lets_an_over_limit_upload_abort_its_multipart_upload(
    moto_iam: MotoIam,
) -> None:
    bucket = moto_iam.new_bucket()
    store = store_as(moto_iam, bucket, moto_iam.create_user(printed_policy(bucket)))

    with pytest.raises(SizeLimitError):
        store.put("audio/m2/original.wav", iter(chunks(3 * PART)), max_bytes=2 * PART)

    assert not store.exists("audio/m2/original.wav")
    assert moto_iam.server.list_multipart_uploads(bucket) == []


def test_four_action_documented_policy_still_runs_every_operation(
    moto_iam: MotoIam, tmp_path: Path
) -> None:
    bucket = moto_iam.new_bucket()
    user = moto_iam.create_user(without(printed_policy(bucket), "s3:AbortMultipartUpload"))

    exercise_every_operation(moto_iam, store_as(moto_iam, bucket, user), tmp_path)


def test_four_action_policy_reports_the_size_limit_not_the_refused_abort(
    moto_iam: MotoIam,
) -> None:
    bucket = moto_iam.new_bucket()
    user = moto_iam.create_user(without(printed_policy(bucket), "s3:AbortMultipartUpload"))
    store = store_as(moto_iam, bucket, user)

    with pytest.raises(SizeLimitError):
        store.put("audio/m3/original.wav", iter(chunks(3 * PART)), max_bytes=2 * PART)

    assert not store.exists("audio/m3/original.wav")


@pytest.mark.parametrize(
    ("action", "operation", "resource"),
    [
        ("s3:PutObject", lambda s: s.put("probe/x", b"x"), "arn:aws:s3:::{bucket}/*"),
        ("s3:GetObject", lambda s: s.get_bytes("probe/existing"), "arn:aws:s3:::{bucket}/*"),
        ("s3:DeleteObject", lambda s: s.delete("probe/existing"), "arn:aws:s3:::{bucket}/*"),
        ("s3:ListBucket", lambda s: list(s.list("probe/")), "arn:aws:s3:::{bucket}"),
    ],
    ids=["PutObject", "GetObject", "DeleteObject", "ListBucket"],
)
def test_policy_missing_an_action_yields_that_actions_hint(
    moto_iam: MotoIam, action: str, operation: Any, resource: str
) -> None:
    bucket = moto_iam.new_bucket()
    moto_iam.server.admin_client().put_object(Bucket=bucket, Key="probe/existing", Body=b"x")
    user = moto_iam.create_user(without(printed_policy(bucket), action))

    with pytest.raises(PermissionDeniedError) as caught:
        operation(store_as(moto_iam, bucket, user))

    message = str(caught.value)
    assert f"allow {action} on {resource.format(bucket=bucket)}" in message


def test_wrong_secret_key_yields_the_signature_message_without_the_secret(
    moto_iam: MotoIam, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bucket = moto_iam.new_bucket()
    user = moto_iam.create_user(printed_policy(bucket))
    store = S3Store(moto_iam.connection(bucket, user, secret_access_key=TEST_SECRET_KEY))

    with pytest.raises(CredentialsError) as caught:
        store.put("probe/x", b"x")

    assert "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID" in str(caught.value)
    for secret in (TEST_SECRET_KEY, user.secret_access_key):
        assert secret not in str(caught.value)
        assert secret not in caplog.text


def test_moto_evaluates_list_objects_as_s3_list_bucket_like_aws(moto_iam: MotoIam) -> None:
    """AWS authorises ListObjects/ListObjectsV2 with ``s3:ListBucket`` on the bucket ARN.

    moto 5.2.6 started evaluating S3 calls by operation name (``s3:ListObjectsV2``,
    ``s3:HeadObject``), so the documented policy looked wrong; the lock pins a moto
    that evaluates the way AWS does. This names the cause if an upgrade brings it back.
    """
    bucket = moto_iam.new_bucket()
    user = moto_iam.create_user(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
            ],
        }
    )
    store = store_as(moto_iam, bucket, user)

    try:
        listed = list(store.list("models/"))
    except PermissionDeniedError as exc:
        pytest.fail(
            "moto refused ListObjectsV2 under s3:ListBucket, which AWS allows: this moto "
            "release authorises by operation name; keep the version pinned in "
            f"requirements.lock ({exc})"
        )
    assert listed == []
