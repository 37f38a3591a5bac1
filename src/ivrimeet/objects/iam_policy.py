"""The least-privilege IAM policy ivrimeet needs on its bucket, and nothing more.

::

    {"Version": "2012-10-17",
     "Statement": [
       {"Sid": "IvrimeetObjects", "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                   "s3:AbortMultipartUpload"],
        "Resource": "arn:aws:s3:::BUCKET/*"},
       {"Sid": "IvrimeetList", "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::BUCKET"}]}

The product documentation has long promised a four-action policy (no
``s3:AbortMultipartUpload``). Everything works with it too: a failed upload
then cannot be aborted by ivrimeet, and the bucket's lifecycle rule (set by
``ivrimeet setup-bucket``) removes the leftover parts after a day.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "DOCUMENTED_ACTIONS",
    "OBJECT_ACTIONS",
    "bucket_arn",
    "least_privilege_policy",
    "objects_arn",
    "policy_json",
]

OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
)
"""Actions on ``arn:aws:s3:::BUCKET/*`` (``GetObject`` also covers HeadObject and ranged GETs;
``PutObject`` covers every multipart step except the abort)."""

DOCUMENTED_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
)
"""The four actions of the product's historical documentation; still a working set-up."""


def bucket_arn(bucket: str) -> str:
    """``arn:aws:s3:::BUCKET``: the resource for bucket-level actions such as ListBucket."""
    return f"arn:aws:s3:::{bucket}"


def objects_arn(bucket: str) -> str:
    """``arn:aws:s3:::BUCKET/*``: the resource for object-level actions."""
    return f"arn:aws:s3:::{bucket}/*"


def least_privilege_policy(bucket: str) -> dict[str, Any]:
    """The IAM policy document granting ivrimeet exactly what it uses on ``bucket``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "IvrimeetObjects",
                "Effect": "Allow",
                "Action": list(OBJECT_ACTIONS),
                "Resource": objects_arn(bucket),
            },
            {
                "Sid": "IvrimeetList",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn(bucket),
            },
        ],
    }


def policy_json(bucket: str) -> str:
    """``least_privilege_policy(bucket)`` as indented JSON, ready to paste into the IAM console."""
    return json.dumps(least_privilege_policy(bucket), indent=2)
