"""Run ``moto_server`` with two IAM-enforcement bugs fixed, so it judges requests as AWS does.

Usage: ``python tests/servers/moto_iam_server.py -H 127.0.0.1 -p PORT``

1. Signatures. Under IAM enforcement moto recomputes each request's signature
   from the URL as werkzeug hands it over, with some percent-escapes undone
   (``%2F`` in a query value, ``%2B`` in a key). Clients sign the encoded form,
   as AWS expects, so moto answers ``SignatureDoesNotMatch`` to valid requests
   such as ``ListObjectsV2?prefix=audio/`` (moto issue #5948, open in 5.2).
   Fix: re-encode path and query per the SigV4 rules before moto's check.
2. DeleteObjects. AWS checks ``s3:DeleteObject`` on each key of the batch; moto
   checks it on the bucket ARN (``arn:aws:s3:::BUCKET``), which a correct policy
   (``arn:aws:s3:::BUCKET/*``) does not match, so every batch delete is refused.
   Fix: check each key of the batch as its own resource.

Everything else (users, keys, policy evaluation, error answers) is moto's own.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

import xmltodict  # type: ignore[import-untyped]  # moto's own dependency, no stubs
from moto.iam import access_control
from moto.s3.responses import S3Response
from moto.server import main

_original_create_aws_request = access_control.IAMRequestBase._create_aws_request


def sigv4_canonical_target(path_and_query: str) -> str:
    """``path?query`` with every component percent-encoded as a SigV4 client signs it."""
    parts = urlsplit(path_and_query)
    path = quote(unquote(parts.path), safe="/~")
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        key, _, value = pair.partition("=")
        pairs.append(f"{quote(unquote(key), safe='-_.~')}={quote(unquote(value), safe='-_.~')}")
    return f"{path}?{'&'.join(pairs)}" if pairs else path


def _create_aws_request(self: access_control.IAMRequestBase) -> object:
    self._path = sigv4_canonical_target(self._path)
    return _original_create_aws_request(self)


_original_authorize_s3 = S3Response._authenticate_and_authorize_s3_action


def _authorize_each_deleted_key(
    self: S3Response, bucket_name: str | None = None, key_name: str | None = None
) -> None:
    if key_name is None and self.data.get("Action") == "DeleteObject" and self.is_delete_keys():
        objects = xmltodict.parse(self.body)["Delete"].get("Object", [])
        for obj in objects if isinstance(objects, list) else [objects]:
            _original_authorize_s3(self, bucket_name=bucket_name, key_name=obj["Key"])
        return
    _original_authorize_s3(self, bucket_name=bucket_name, key_name=key_name)


if __name__ == "__main__":
    access_control.IAMRequestBase._create_aws_request = _create_aws_request  # type: ignore[method-assign,assignment]  # fix 1
    S3Response._authenticate_and_authorize_s3_action = _authorize_each_deleted_key  # type: ignore[method-assign,assignment]  # fix 2
    main()
