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
    │   ├── AlreadyExistsError (FileExistsError)   lost a create-only race
    │   └── RunSupersededError                   a processing run was replaced by a newer one
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
    │   │   ├── ClockSkewError                   S3 refused the request time (RequestTimeTooSkewed)
    │   │   ├── ProxyError                       the HTTP(S) proxy refused or failed
    │   │   └── TlsError                         the TLS handshake or certificate check failed
    │   ├── HubUnavailableError                  Hugging Face down or unreachable
    │   ├── DatabaseUnavailableError
    │   ├── QueueUnavailableError
    │   └── ServerBusyError                      at capacity now (uploads in flight): retry later
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
    "ClockSkewError",
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
    "ProxyError",
    "QueueUnavailableError",
    "RunSupersededError",
    "ServerBusyError",
    "SizeLimitError",
    "StorageUnavailableError",
    "TlsError",
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

    What to do: read the message: its first line says what failed, the indented lines why,
    and its "What to do" lines the next step; `--debug` shows the traceback.
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
    """A setting is missing, malformed or contradicts another.

    What to do: fix the variables the message names (environment or `.env`), then retry;
    `ivrimeet config` shows every value and where it came from.
    """

    code = "configuration"
    exit_code = 2


class WrongRegionError(ConfigurationError):
    """The bucket exists but in another region than ``S3_REGION`` says.

    What to do: set `S3_REGION` to the region the message names (the bucket's own).
    """

    code = "wrong_region"


# --- access -----------------------------------------------------------------


class AccessError(IvrimeetError, PermissionError):
    """Credentials or permissions stop the operation.

    What to do: run `ivrimeet doctor`: it names the credentials in use and tries every
    permission.
    """

    code = "access"
    http_status = 503
    exit_code = 3


class CredentialsError(AccessError):
    """No credentials found, or the endpoint rejects them (unknown key, bad secret, expired).

    What to do: check `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (or the profile or role
    behind them) against the endpoint, refresh an expired session token, then run `ivrimeet
    doctor`.
    """

    code = "credentials"


class PermissionDeniedError(AccessError):
    """The identity is known but lacks a permission (S3 ``AccessDenied``).

    What to do: allow the IAM action on the resource the message names (`ivrimeet iam-policy
    BUCKET` prints the whole policy), then run `ivrimeet doctor`.
    """

    code = "permission_denied"


class ApiTokenError(AccessError):
    """An API request came without the right ``Authorization: Bearer`` token.

    What to do: send `Authorization: Bearer <IVRIMEET_API_TOKEN>`; never put the token in
    the URL.
    """

    code = "unauthorized"
    http_status = 401


class UrlSignatureError(AccessError):
    """A signed media link (``/media/...``) has a wrong signature or has expired.

    What to do: ask the API for a fresh URL (links expire after 15 minutes).
    """

    code = "bad_signature"
    http_status = 403


# --- not found --------------------------------------------------------------


class NotFoundError(IvrimeetError, FileNotFoundError):
    """Something named does not exist.

    What to do: check the name or id in the message.
    """

    code = "not_found"
    http_status = 404
    exit_code = 4


class BucketNotFoundError(NotFoundError):
    """``S3_BUCKET`` names a bucket that does not exist on the endpoint.

    What to do: check `S3_BUCKET` and `S3_ENDPOINT_URL`, or create the bucket with `ivrimeet
    setup-bucket BUCKET`.
    """

    code = "bucket_not_found"
    http_status = 503


class ObjectNotFoundError(NotFoundError):
    """No object at that key.

    What to do: check the key; it may have been deleted with its meeting.
    """

    code = "object_not_found"


class ModelNotFoundError(NotFoundError):
    """The model is in neither the bucket nor on Hugging Face.

    What to do: check the repo id and revision; for a gated model set `HF_TOKEN` and accept
    its conditions on huggingface.co, or `ivrimeet models pull REPO` from a machine that
    reaches Hugging Face.
    """

    code = "model_not_found"


class MeetingNotFoundError(NotFoundError):
    """No meeting (or speaker of a meeting) with that id.

    What to do: list meetings (`GET /api/meetings`) for the right id; a deleted meeting is
    gone.
    """

    code = "meeting_not_found"


# --- conflict ---------------------------------------------------------------


class ConflictError(IvrimeetError):
    """The operation lost a race or contradicts current state.

    What to do: wait for the current state to change (e.g. the meeting to be `done`) and
    retry.
    """

    code = "conflict"
    http_status = 409
    exit_code = 5


class AlreadyExistsError(ConflictError, FileExistsError):
    """A create-only write found the key already there.

    What to do: nothing: another process wrote the same key first; read what it wrote.
    """

    code = "already_exists"


class RunSupersededError(ConflictError):
    """A processing run no longer owns its meeting (reprocessed, deleted, or its claim expired).

    What to do: nothing: a newer run of the same meeting (or its deletion) took over and
    records the result.
    """

    code = "run_superseded"


# --- unsupported ------------------------------------------------------------


class UnsupportedError(IvrimeetError):
    """The storage server cannot do what was asked.

    What to do: use an S3 server that supports the operation, or skip the step it belongs
    to.
    """

    code = "unsupported"
    http_status = 501
    exit_code = 6


class CreateOnlyUnsupportedError(UnsupportedError):
    """The server ignores or refuses ``If-None-Match: *`` on PutObject.

    What to do: use a server that honours create-only writes (AWS S3, R2, MinIO) when
    several replicas start at once; otherwise identical copies may be uploaded twice, which
    is harmless.
    """

    code = "create_only_unsupported"


# --- integrity --------------------------------------------------------------


class IntegrityError(IvrimeetError):
    """Bytes do not hash or measure to what they should: corrupt or truncated.

    What to do: run `ivrimeet models verify`; remove a corrupt model with `ivrimeet models
    rm REPO@COMMIT` and pull it again, and find out who can write the bucket.
    """

    code = "integrity"
    http_status = 502
    exit_code = 7


# --- capacity ---------------------------------------------------------------


class CapacityError(IvrimeetError):
    """Something is too big for the room it has.

    What to do: free space or raise the limit the message names.
    """

    code = "capacity"
    http_status = 507
    exit_code = 8


class DiskFullError(CapacityError, OSError):
    """Not enough free local disk for a restore or temporary file.

    What to do: point `IVRIMEET_TMP_DIR` at a larger volume or free space there; `ivrimeet
    doctor` shows what is free.
    """

    code = "disk_full"


class SizeLimitError(CapacityError):
    """An upload is larger than its configured limit.

    What to do: send a smaller recording, or raise `MAX_UPLOAD_BYTES` on the server.
    """

    code = "too_large"
    http_status = 413


# --- invalid input ----------------------------------------------------------


class InvalidInputError(IvrimeetError, ValueError):
    """Input is malformed or hostile.

    What to do: fix the input the message names; nothing was stored.
    """

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class InvalidKeyError(InvalidInputError):
    """An object key has ``..``, an absolute path, control characters or is too long.

    What to do: use a key without `..`, absolute paths, control characters or empty
    segments, at most 1024 bytes.
    """

    code = "invalid_key"


class InvalidRepoIdError(InvalidInputError):
    """A model repo id, revision or file path fails validation.

    What to do: use a Hugging Face repo id of the form `org/name` (and a plain branch, tag
    or commit as revision).
    """

    code = "invalid_repo_id"


class UnsupportedMediaError(InvalidInputError):
    """The upload is not audio or video, or cannot be decoded.

    What to do: send an audio or video file that ffmpeg decodes (WAV, MP3, M4A, Ogg, FLAC,
    WebM...).
    """

    code = "unsupported_media"
    http_status = 415


# --- unavailable ------------------------------------------------------------


class UnavailableError(IvrimeetError, ConnectionError):
    """A dependency did not answer.

    What to do: check that the dependency the message names is up and reachable, then retry;
    jobs retry by themselves.
    """

    code = "unavailable"
    http_status = 503
    exit_code = 9


class StorageUnavailableError(UnavailableError):
    """The S3 endpoint is unreachable, timed out or keeps answering 5xx.

    What to do: check `S3_ENDPOINT_URL` and the network to it; retry once the endpoint
    answers.
    """

    code = "storage_unavailable"


class ClockSkewError(StorageUnavailableError):
    """S3 refused the request because this machine's clock is off (``RequestTimeTooSkewed``).

    What to do: synchronise the clock (NTP, ``chronyd``); S3 accepts requests up to 15
    minutes off.
    """

    code = "clock_skew"


class ProxyError(StorageUnavailableError):
    """The proxy in ``HTTPS_PROXY`` / ``HTTP_PROXY`` refused or could not be reached.

    What to do: check the proxy's address and credentials, or add the S3 endpoint's host
    to ``NO_PROXY``.
    """

    code = "proxy_failed"


class TlsError(StorageUnavailableError):
    """The TLS connection to S3 failed: certificate not trusted, wrong host name, handshake.

    What to do: for a private CA set ``AWS_CA_BUNDLE`` (or ``ca_bundle`` in the profile) to
    its PEM file; check that ``S3_ENDPOINT_URL`` names the host the certificate is for.
    """

    code = "tls_failed"


class HubUnavailableError(UnavailableError):
    """Hugging Face is unreachable or answering errors.

    What to do: retry when Hugging Face answers; models already in the bucket load without
    it.
    """

    code = "hub_unavailable"


class DatabaseUnavailableError(UnavailableError):
    """The metadata database cannot be reached.

    What to do: check that the database is up and `DATABASE_URL` is right (or that the
    SQLite file's directory exists); the service recovers without a restart.
    """

    code = "database_unavailable"


class ServerBusyError(UnavailableError):
    """This process is at its bound (concurrent uploads); the answer carries ``Retry-After``.

    What to do: retry after the number of seconds in `Retry-After`; if uploads are
    refused often, run more API instances or raise `MAX_CONCURRENT_UPLOADS` (each
    upload holds its part buffers in memory, so size the container for it).
    """

    code = "busy"
    retry_after_seconds = 5


class QueueUnavailableError(UnavailableError):
    """The job queue (Redis, or the SQLite queue file) cannot be reached.

    What to do: check that Redis is up and `REDIS_URL` is right (or that the data dir is
    writable); stranded meetings are re-queued by themselves.
    """

    code = "queue_unavailable"


# --- waiting ----------------------------------------------------------------


class LeaseTimeoutError(IvrimeetError, TimeoutError):
    """Waited too long for another process to finish filling a model.

    What to do: look at the logs of the process filling the model (its lease is in the
    message); `ivrimeet models gc` removes expired leases.
    """

    code = "lease_timeout"
    http_status = 503
    exit_code = 10
