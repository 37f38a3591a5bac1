"""Validation of what names a model: repo ids, revisions, commits and file paths.

Everything here comes from users, settings, pipeline configs, Hugging Face
responses or a manifest read back from the bucket, and ends up in object keys
and local paths. A value is accepted only in the narrow form Hugging Face itself
allows; anything else raises ``InvalidRepoIdError`` before any I/O happens.
"""

from __future__ import annotations

import re

from ivrimeet.errors import InvalidRepoIdError

__all__ = [
    "is_commit",
    "validate_commit",
    "validate_repo_file_path",
    "validate_repo_id",
    "validate_revision",
]

# Hugging Face: "org/name", each part letters, digits, "-", "_", "."; no "--" or ".."
# (the cache folder name models--org--name relies on "--" being free), at most 96 chars.
_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
# Branch and tag names as git allows them, narrowed: no "..", "//", "@{", spaces or controls.
_REVISION = re.compile(r"[A-Za-z0-9._/-]{1,200}")
_PATH_SEGMENT = re.compile(r"[^\x00-\x1f\x7f\\/:*?\"<>|]+")
_MAX_PATH_BYTES = 600


def _refuse(kind: str, value: object, problem: str, example: str) -> InvalidRepoIdError:
    shown = repr(value)[:200]
    return InvalidRepoIdError(
        f"Refusing {kind} {shown}: {problem}.",
        hints=[f"a valid {kind} looks like {example}"],
    )


def validate_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it is a Hugging Face model id ``org/name``; else raise."""
    example = "'pyannote/speaker-diarization-3.1'"
    if not isinstance(repo_id, str) or not repo_id:
        raise _refuse("repo id", repo_id, "it is empty", example)
    parts = repo_id.split("/")
    if len(parts) != 2:
        raise _refuse("repo id", repo_id, "it must be exactly 'org/name'", example)
    for part in parts:
        if not _REPO_PART.fullmatch(part):
            raise _refuse(
                "repo id",
                repo_id,
                "each part must start with a letter or digit and hold only letters, "
                "digits, '-', '_' and '.'",
                example,
            )
        if "--" in part or ".." in part or part.endswith("."):
            raise _refuse(
                "repo id", repo_id, "'--', '..' and a trailing '.' are not allowed", example
            )
    return repo_id


def is_commit(revision: str) -> bool:
    """True if ``revision`` is a full 40-hex-digit commit sha."""
    return bool(_COMMIT.fullmatch(revision))


def validate_commit(commit: str) -> str:
    """Return ``commit`` if it is a full lowercase 40-hex-digit sha; else raise."""
    if not isinstance(commit, str) or not is_commit(commit):
        raise _refuse(
            "commit", commit, "it must be 40 lowercase hex digits", "'84fd5d0e…' (40 chars)"
        )
    return commit


def validate_revision(revision: str) -> str:
    """Return ``revision`` (branch, tag or commit) if it is safe in keys and paths; else raise."""
    example = "'main', 'v1.0' or a 40-hex commit"
    if not isinstance(revision, str) or not revision:
        raise _refuse("revision", revision, "it is empty", example)
    if not _REVISION.fullmatch(revision):
        raise _refuse(
            "revision", revision, "only letters, digits, '.', '_', '-' and '/' are allowed", example
        )
    segments = revision.split("/")
    if any(s in ("", ".", "..") for s in segments) or revision.endswith(".lock"):
        raise _refuse("revision", revision, "empty, '.' or '..' segments are not allowed", example)
    return revision


def validate_repo_file_path(path: str) -> str:
    """Return ``path`` if it is a safe relative file path inside a repo; else raise.

    Refused: empty, absolute, ``.``/``..``/empty segments, backslashes, control
    characters, Windows-reserved characters and paths over 600 UTF-8 bytes.
    """
    example = "'config.yaml' or 'plda/plda.npz'"
    if not isinstance(path, str) or not path:
        raise _refuse("file path", path, "it is empty", example)
    if len(path.encode("utf-8", "surrogatepass")) > _MAX_PATH_BYTES:
        raise _refuse("file path", path, f"it is longer than {_MAX_PATH_BYTES} bytes", example)
    if path.startswith("/"):
        raise _refuse("file path", path, "it is absolute", example)
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise _refuse("file path", path, "empty, '.' or '..' segments are not allowed", example)
        if not _PATH_SEGMENT.fullmatch(segment):
            raise _refuse(
                "file path",
                path,
                'it contains a control character, a backslash or one of : * ? " < > |',
                example,
            )
    return path
