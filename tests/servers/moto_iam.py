"""A moto server that enforces IAM, and helpers to create users with given policies.

moto checks nothing by default. Two switches turn real IAM enforcement on:
``INITIAL_NO_AUTH_ACTION_COUNT=N`` in the server's environment (every request
after the first N is checked, and *every* request counts, IAM calls and bucket
creation included), or ``POST /moto-api/reset-auth`` with the new count as the
body, at runtime. The fixture uses the second: it starts a plain server,
creates an ``admin`` user allowed ``*`` on ``*`` while nothing is checked, then
sets the count to 0. From then on every request must be signed by an IAM user's
key, with the right secret, and be allowed by that user's policies;
``admin``'s key does the set-up work (buckets, users) in the tests.

What moto checks under enforcement (5.2): the signature (wrong secret ->
``SignatureDoesNotMatch``), the key id (unknown -> ``InvalidAccessKeyId``) and
the action against the policies' ``Action``/``Resource`` (-> ``AccessDenied``).
Its quirks: the signature check undoes some percent-escapes before hashing
(``ListObjectsV2?prefix=a/`` fails: moto issue #5948), which
``moto_iam_server.py`` fixes before starting moto; HeadBucket is checked as
``s3:HeadBucket`` (AWS uses ``s3:ListBucket``); and a presigned URL fails with
a 500 because moto looks for an ``Authorization`` header, so
``enforcement_paused()`` lets a test fetch one.

This server is separate from ``moto_s3`` (which other tests use without any
auth) and session-scoped: tests share it, each with its own bucket and users.
"""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ivrimeet.objects.s3_client import S3Connection
from tests.servers.process import free_port, run_server
from tests.servers.s3 import TEST_REGION, S3Server

ALLOW_EVERYTHING: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass(frozen=True)
class IamUser:
    """An IAM user on the moto server and its one access key."""

    name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


def moto_iam_server_argv(port: int) -> list[str]:
    """moto_server with its signature check fixed for encoded URLs (see moto_iam_server.py)."""
    launcher = Path(__file__).with_name("moto_iam_server.py")
    return [sys.executable, str(launcher), "-H", "127.0.0.1", "-p", str(port)]


def set_auth_count(endpoint_url: str, count: float) -> None:
    """Check every request after the next ``count`` (``0``: from now on; ``inf``: never)."""
    url = f"{endpoint_url}/moto-api/reset-auth"
    # A form content type (urllib's default) makes moto read an empty body and fail.
    request = urllib.request.Request(  # noqa: S310  # our own loopback server
        url, data=str(count).encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  # same
        answer.read()


def _client(service: str, endpoint_url: str, key_id: str, secret: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]  # service chosen by the caller
        endpoint_url=endpoint_url,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name=TEST_REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def _create_user(iam: Any, name: str, policy: Mapping[str, Any] | str) -> IamUser:
    document = policy if isinstance(policy, str) else json.dumps(policy)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return IamUser(name, key["AccessKeyId"], key["SecretAccessKey"])


@dataclass
class MotoIam:
    """A running moto server with IAM enforced; ``server`` carries the admin's keys."""

    server: S3Server
    admin: IamUser

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def iam_client(self) -> Any:
        """An IAM client signed by the admin user."""
        return _client(
            "iam", self.endpoint_url, self.admin.access_key_id, self.admin.secret_access_key
        )

    def create_user(self, policy: Mapping[str, Any] | str, *, name: str | None = None) -> IamUser:
        """A new IAM user whose only permissions are ``policy`` (a dict or JSON text)."""
        return _create_user(self.iam_client(), name or f"u-{uuid.uuid4().hex[:12]}", policy)

    def new_bucket(self) -> str:
        """A fresh, uniquely named bucket created by the admin."""
        return self.server.new_bucket().bucket

    def connection(self, bucket: str, user: IamUser, **overrides: Any) -> S3Connection:
        """An ``S3Connection`` to ``bucket`` signed with ``user``'s key."""
        values: dict[str, Any] = {
            "access_key_id": user.access_key_id,
            "secret_access_key": user.secret_access_key,
        }
        values.update(overrides)
        return self.server.connection(bucket, **values)

    def environment(self, bucket: str, user: IamUser) -> dict[str, str]:
        """The variables a user of ``bucket`` signed as ``user`` would set (for CLI tests)."""
        return {
            "S3_BUCKET": bucket,
            "S3_REGION": self.server.region,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": user.access_key_id,
            "AWS_SECRET_ACCESS_KEY": user.secret_access_key,
        }

    @contextlib.contextmanager
    def enforcement_paused(self) -> Iterator[None]:
        """Turn IAM checks off inside the block (moto cannot check presigned URLs)."""
        set_auth_count(self.endpoint_url, float("inf"))
        try:
            yield
        finally:
            set_auth_count(self.endpoint_url, 0)


@pytest.fixture(scope="session")
def moto_iam() -> Iterator[MotoIam]:
    """A session-wide moto server enforcing IAM, with an all-powerful ``admin`` user."""
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    with run_server(moto_iam_server_argv(port), port, name="moto-iam") as proc:
        bootstrap = _client("iam", endpoint_url, "bootstrap-key-id", "bootstrap-secret-key")
        admin = _create_user(bootstrap, "admin", ALLOW_EVERYTHING)
        set_auth_count(endpoint_url, 0)
        server = S3Server(
            "moto-iam",
            endpoint_url,
            proc,
            access_key=admin.access_key_id,
            secret_key=admin.secret_access_key,
        )
        yield MotoIam(server, admin)
