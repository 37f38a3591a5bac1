"""Every error ivrimeet raises, grouped by what the user has to fix.

::

    IvrimeetError
    ├── ConfigurationError (ValueError)          a setting is missing or malformed
    │   └── WrongRegionError                     the bucket lives in another region
    ├── AccessError (PermissionError)            who you are / what you may do
    │   ├── CredentialsError                     no credentials, unknown key, bad secret, expired
    │   ├── PermissionDeniedError                the identity lacks an IAM permission
    │   ├── ApiTokenError                        API request without the right bearer token
    │   └── UrlSignatureError                    signed file URL wrong or expired
    ├── NotFoundError (FileNotFoundError)
    │   ├── BucketNotFoundError
    │   ├── ObjectNotFoundError
    │   ├── ModelNotFoundError
    │   └── MeetingNotFoundError
    ├── ConflictError
    │   └── AlreadyExistsError (FileExistsError)   lost a create-only race
    ├── UnsupportedError                         the server cannot do what was asked
    │   └── CreateOnlyUnsupportedError           server ignores If-None-Match: *
    ├── IntegrityError                           a hash or size does not match
    ├── CapacityError
    │   ├── DiskFullError (OSError)              not enough free local disk
    │   └── SizeLimitError                       an upload is over its limit
    ├── InvalidInputError (ValueError)           hostile or malformed input
    │   ├── InvalidKeyError                      object key fails validation
    │   ├── InvalidRepoIdError                   model repo id / path fails validation
    │   └── UnsupportedMediaError                not audio/video, undecodable
    ├── UnavailableError (ConnectionError)       a dependency cannot be reached
    │   ├── StorageUnavailableError              S3 endpoint down or unreachable
    │   ├── HubUnavailableError                  Hugging Face down or unreachable
    │   ├── DatabaseUnavailableError
    │   └── QueueUnavailableError
    └── LeaseTimeoutError (TimeoutError)         waited too long for another filler

Each class carries ``code`` (stable, used in API bodies), ``http_status`` and
``exit_code``. A message says what failed, on which object, the likely cause and
what to do next; it never contains a secret, a token or a presigned URL.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AccessError",
    "AlreadyExistsError",
    "ApiTokenError",
    "BucketNotFoundError",
    "CapacityError",
    "ConfigurationError",
    "ConflictError",
    "CreateOnlyUnsupportedError",
    "CredentialsError",
    "DatabaseUnavailableError",
    "DiskFullError",
    "HubUnavailableError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidKeyError",
    "InvalidRepoIdError",
    "IvrimeetError",
    "LeaseTimeoutError",
    "MeetingNotFoundError",
    "ModelNotFoundError",
    "NotFoundError",
    "ObjectNotFoundError",
    "PermissionDeniedError",
    "QueueUnavailableError",
    "SizeLimitError",
    "StorageUnavailableError",
    "UnavailableError",
    "UnsupportedError",
    "UnsupportedMediaError",
    "UrlSignatureError",
    "WrongRegionError",
]


class IvrimeetError(Exception):
    """Root of every ivrimeet error.

    ``summary`` is the first line (what failed, on which object); ``details`` are
    indented lines of evidence (server code, request id, where credentials came
    from); ``hints`` are the "What to do" bullet points.
    """

    code: str = "error"
    http_status: int = 500
    exit_code: int = 1

    # Set on errors translated from S3 (objects/s3_errors.py); None elsewhere.
    s3_code: str | None = None
    operation: str | None = None
    bucket: str | None = None
    key: str | None = None
    request_id: str | None = None

    def __init__(
        self,
        summary: str,
        *,
        details: Iterable[str] = (),
        hints: Iterable[str] = (),
    ) -> None:
        self.summary = summary
        self.details = tuple(details)
        self.hints = tuple(hints)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [self.summary]
        lines += [f"  {d}" for d in self.details]
        if self.hints:
            lines.append("What to do:")
            lines += [f"  - {h}" for h in self.hints]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


# --- configuration ----------------------------------------------------------


class ConfigurationError(IvrimeetError, ValueError):
    """A setting is missing, malformed or contradicts another."""

    code = "configuration"
    exit_code = 2


class WrongRegionError(ConfigurationError):
    """The bucket exists but in another region than ``S3_REGION`` says."""

    code = "wrong_region"


# --- access -----------------------------------------------------------------


class AccessError(IvrimeetError, PermissionError):
    """Credentials or permissions stop the operation."""

    code = "access"
    http_status = 503
    exit_code = 3


class CredentialsError(AccessError):
    """No credentials found, or the endpoint rejects them (unknown key, bad secret, expired)."""

    code = "credentials"


class PermissionDeniedError(AccessError):
    """The identity is known but lacks a permission (S3 ``AccessDenied``)."""

    code = "permission_denied"


class ApiTokenError(AccessError):
    """An API request came without the right ``Authorization: Bearer`` token."""

    code = "unauthorized"
    http_status = 401


class UrlSignatureError(AccessError):
    """A signed local-file URL has a wrong signature or has expired."""

    code = "bad_signature"
    http_status = 403


# --- not found --------------------------------------------------------------


class NotFoundError(IvrimeetError, FileNotFoundError):
    """Something named does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 4


class BucketNotFoundError(NotFoundError):
    """``S3_BUCKET`` names a bucket that does not exist on the endpoint."""

    code = "bucket_not_found"
    http_status = 503


class ObjectNotFoundError(NotFoundError):
    """No object at that key."""

    code = "object_not_found"


class ModelNotFoundError(NotFoundError):
    """The model is in neither the bucket nor on Hugging Face."""

    code = "model_not_found"


class MeetingNotFoundError(NotFoundError):
    """No meeting (or speaker of a meeting) with that id."""

    code = "meeting_not_found"


# --- conflict ---------------------------------------------------------------


class ConflictError(IvrimeetError):
    """The operation lost a race or contradicts current state."""

    code = "conflict"
    http_status = 409
    exit_code = 5


class AlreadyExistsError(ConflictError, FileExistsError):
    """A create-only write found the key already there."""

    code = "already_exists"


# --- unsupported ------------------------------------------------------------


class UnsupportedError(IvrimeetError):
    """The storage server cannot do what was asked."""

    code = "unsupported"
    http_status = 501
    exit_code = 6


class CreateOnlyUnsupportedError(UnsupportedError):
    """The server ignores or refuses ``If-None-Match: *`` on PutObject."""

    code = "create_only_unsupported"


# --- integrity --------------------------------------------------------------


class IntegrityError(IvrimeetError):
    """Bytes do not hash or measure to what they should: corrupt or truncated."""

    code = "integrity"
    http_status = 502
    exit_code = 7


# --- capacity ---------------------------------------------------------------


class CapacityError(IvrimeetError):
    """Something is too big for the room it has."""

    code = "capacity"
    http_status = 507
    exit_code = 8


class DiskFullError(CapacityError, OSError):
    """Not enough free local disk for a restore or temporary file."""

    code = "disk_full"


class SizeLimitError(CapacityError):
    """An upload is larger than its configured limit."""

    code = "too_large"
    http_status = 413


# --- invalid input ----------------------------------------------------------


class InvalidInputError(IvrimeetError, ValueError):
    """Input is malformed or hostile."""

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class InvalidKeyError(InvalidInputError):
    """An object key has ``..``, an absolute path, control characters or is too long."""

    code = "invalid_key"


class InvalidRepoIdError(InvalidInputError):
    """A model repo id, revision or file path fails validation."""

    code = "invalid_repo_id"


class UnsupportedMediaError(InvalidInputError):
    """The upload is not audio or video, or cannot be decoded."""

    code = "unsupported_media"
    http_status = 415


# --- unavailable ------------------------------------------------------------


class UnavailableError(IvrimeetError, ConnectionError):
    """A dependency did not answer."""

    code = "unavailable"
    http_status = 503
    exit_code = 9


class StorageUnavailableError(UnavailableError):
    """The S3 endpoint is unreachable, timed out or keeps answering 5xx."""

    code = "storage_unavailable"


class HubUnavailableError(UnavailableError):
    """Hugging Face is unreachable or answering errors."""

    code = "hub_unavailable"


class DatabaseUnavailableError(UnavailableError):
    """The metadata database cannot be reached."""

    code = "database_unavailable"


class QueueUnavailableError(UnavailableError):
    """The job queue (Redis, or the SQLite queue file) cannot be reached."""

    code = "queue_unavailable"


# --- waiting ----------------------------------------------------------------


class LeaseTimeoutError(IvrimeetError, TimeoutError):
    """Waited too long for another process to finish filling a model."""

    code = "lease_timeout"
    http_status = 503
    exit_code = 10
