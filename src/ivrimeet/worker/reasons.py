"""What a failed job tells the user (``meeting.error``), and what it tells the server log.

The user reads the meeting's ``error`` in the API and the web page: it says
what happened and what to do, in plain words, and never holds server details
(file paths, bucket locations, endpoints, library messages). The full error
(summary, evidence, hints) goes to the log as one ``key=value`` line
(``log_fields``), where the operator looks.

Errors about the recording itself (it cannot be decoded, it is too long) are
the user's to fix: their summary and hints are shown, their evidence is not.
"""

from __future__ import annotations

from ivrimeet.errors import (
    AccessError,
    CapacityError,
    ConflictError,
    DiskFullError,
    HubUnavailableError,
    IntegrityError,
    InvalidInputError,
    IvrimeetError,
    NotFoundError,
    SizeLimitError,
    StorageUnavailableError,
)

__all__ = ["log_fields", "unexpected_reason", "user_reason"]

_SERVER_SIDE = (
    "This is a problem on the server, not with the recording: the operator finds the "
    "details in the worker log (search for meeting {meeting}); once it is fixed, "
    "use Process again."
)

_MODEL_CAUSES: tuple[tuple[type[IvrimeetError], str], ...] = (
    (
        HubUnavailableError,
        "they are not in the model bucket and Hugging Face could not be reached",
    ),
    (AccessError, "Hugging Face refused the download (a gated model needs an accepted token)"),
    (NotFoundError, "Hugging Face has no such model or revision"),
    (ConflictError, "the model bucket holds them in a form that cannot be loaded"),
    (IntegrityError, "a stored model file failed its checksum"),
    (DiskFullError, "the server is out of disk space for them"),
    (StorageUnavailableError, "the model bucket could not be reached"),
)


def _model_cause(exc: IvrimeetError) -> str:
    for kind, cause in _MODEL_CAUSES:
        if isinstance(exc, kind):
            return cause
    return f"of an error ({exc.code})"


def user_reason(exc: IvrimeetError, *, meeting_id: str, loading_models: bool) -> str:
    """The ``error`` a user sees for ``exc``: what happened and what to do, no server details."""
    if isinstance(exc, InvalidInputError | SizeLimitError):
        hints = "".join(f"\n- {hint}" for hint in exc.hints)
        return f"{exc.summary}{hints}"
    server_side = _SERVER_SIDE.format(meeting=meeting_id)
    if loading_models:
        return (
            "The speaker models could not be loaded, so the recording was not processed: "
            f"{_model_cause(exc)}. {server_side}"
        )
    if isinstance(exc, StorageUnavailableError):
        return f"The object store could not be reached while processing. {server_side}"
    if isinstance(exc, CapacityError):
        return f"The server ran out of space while processing. {server_side}"
    return f"Processing failed ({exc.code}). {server_side}"


def unexpected_reason(exc: BaseException, *, meeting_id: str) -> str:
    """The ``error`` a user sees when processing hit a bug (the traceback is in the log)."""
    return f"Processing failed unexpectedly ({type(exc).__name__}). " + _SERVER_SIDE.format(
        meeting=meeting_id
    )


def _flat(text: str) -> str:
    return " ".join(text.split())


def log_fields(exc: IvrimeetError) -> str:
    """``exc`` in full as ``key=value`` fields on one line: code, error, details, hints.

    Messages hold no secrets (see ``ivrimeet.errors``); values are quoted with ``repr``.
    """
    fields = [f"code={exc.code}", f"error={_flat(exc.summary)!r}"]
    if exc.details:
        fields.append(f"details={' | '.join(_flat(d) for d in exc.details)!r}")
    if exc.hints:
        fields.append(f"hints={' | '.join(_flat(h) for h in exc.hints)!r}")
    return " ".join(fields)
