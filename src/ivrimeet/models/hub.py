"""Hugging Face access: where the Hub is, the token, and its errors in ivrimeet's terms.

``HubAccess`` carries the endpoint and token (never logged, never stored in the
bucket). ``hub_errors`` is the one place where huggingface_hub and httpx
exceptions become project errors; every Hub call in ``models/`` runs inside it.

``hf_session`` scopes the two process-wide switches huggingface_hub reads at
call time, under one lock:

* ``constants.HF_HUB_OFFLINE``: the environment variable is read once at import,
  but the module attribute is consulted on every call, so a restored cache can be
  loaded with zero requests by setting it for the duration of the load;
* ``constants.ENDPOINT`` and ``constants.HUGGINGFACE_CO_URL_TEMPLATE``: pyannote
  and SpeechBrain call ``hf_hub_download`` without ``endpoint=``, and the
  ``/resolve/`` URL template is frozen from ``HF_ENDPOINT`` at import time, so
  both are pointed at ``HubAccess.endpoint`` while a loader runs.

The lock makes concurrent loads in one process take turns through these switches
instead of seeing each other's values.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ivrimeet.errors import (
    ConfigurationError,
    CredentialsError,
    HubUnavailableError,
    IvrimeetError,
    ModelNotFoundError,
    PermissionDeniedError,
)
from ivrimeet.models.repo_ids import validate_repo_file_path, validate_repo_id, validate_revision

__all__ = [
    "DEFAULT_ENDPOINT",
    "HubAccess",
    "download_file",
    "hf_session",
    "hub_errors",
    "repo_files",
    "resolve_commit",
]

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
_SESSION_LOCK = threading.RLock()


@dataclass(frozen=True)
class HubAccess:
    """Where Hugging Face is and the token for gated repos (``repr`` never shows it)."""

    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", self.endpoint.rstrip("/"))
        if not self.endpoint.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"HF_ENDPOINT {self.endpoint!r} is not an http(s) URL.",
                hints=[f"unset HF_ENDPOINT to use {DEFAULT_ENDPOINT}, or give a full URL"],
            )
        if self.token is not None and not self.token.startswith("hf_"):
            # pyannote.audio silently drops tokens without this prefix (it takes them
            # for pyannoteAI keys), which would surface later as a puzzling "gated" error.
            raise ConfigurationError(
                "HF_TOKEN does not look like a Hugging Face token (it should start with 'hf_').",
                hints=["create a read token at https://huggingface.co/settings/tokens"],
            )

    @property
    def token_state(self) -> str:
        """For messages: whether a token was sent, never the token."""
        return "HF_TOKEN is set" if self.token else "HF_TOKEN is not set"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _refused_repo(exc: BaseException, hub: HubAccess) -> str | None:
    """The repo whose URL the Hub refused (``exc.response``), when it is a Hub repo URL.

    A pipeline's load reaches into other repos (its config's models, pyannote 4's
    PLDA): the error must name the repo that refused, not the pipeline.
    """
    response = getattr(exc, "response", None)
    url = str(getattr(response, "url", "") or "")
    if not url.startswith(hub.endpoint):
        return None
    parts = [unquote(p) for p in urlsplit(url).path.split("/") if p]
    prefix = [p for p in urlsplit(hub.endpoint).path.split("/") if p]
    parts = parts[len(prefix) :]
    if parts[:2] == ["api", "models"]:
        parts = parts[2:]
    elif "resolve" not in parts[2:3]:
        return None
    if len(parts) < 2:
        return None
    try:
        return validate_repo_id("/".join(parts[:2]))
    except IvrimeetError:
        return None


def _unavailable(what: str, hub: HubAccess, exc: BaseException) -> HubUnavailableError:
    return HubUnavailableError(
        f"Cannot reach Hugging Face at {hub.endpoint} for {what}.",
        details=[f"{type(exc).__name__}: {_reason(exc)}"],
        hints=[
            "check the network and HF_ENDPOINT; Hugging Face status: https://status.huggingface.co",
            "a model already in the bucket loads without Hugging Face: run "
            "`ivrimeet models pull REPO` while Hugging Face is reachable (e.g. at deploy time)",
        ],
    )


def _http_errors() -> tuple[type[Exception], ...]:
    """The HTTP client errors huggingface_hub may raise: httpx, and httpx2 (hf_hub >= 2)."""
    import httpx

    errors: list[type[Exception]] = [httpx.HTTPError]
    try:
        import httpx2  # huggingface_hub 2.x talks through httpx2, not httpx
    except ImportError:
        pass
    else:
        errors.append(httpx2.HTTPError)
    return tuple(errors)


@contextmanager
def hub_errors(what: str, hub: HubAccess, *, repo: str | None = None) -> Iterator[None]:
    """Translate huggingface_hub / httpx failures inside the block into ivrimeet errors.

    ``what`` names the object for messages (``"pyannote/segmentation-3.0@main"``).
    """
    from huggingface_hub import errors as hf

    transport_errors = _http_errors()
    page = f"{hub.endpoint}/{repo}" if repo else hub.endpoint
    try:
        yield
    except IvrimeetError:
        raise
    except hf.GatedRepoError as exc:
        refused = _refused_repo(exc, hub)
        if refused is not None and refused != repo:
            page = f"{hub.endpoint}/{refused}"
            what = f"{refused} (needed by {what})"
        raise PermissionDeniedError(
            f"Hugging Face refused {what}: the repo is gated ({hub.token_state}).",
            details=[_reason(exc)],
            hints=[
                f"accept the repo's conditions at {page} with the account the token belongs to",
                "set HF_TOKEN to a read token of that account "
                "(https://huggingface.co/settings/tokens)",
            ],
        ) from exc
    except hf.RevisionNotFoundError as exc:
        raise ModelNotFoundError(
            f"Hugging Face has no such revision: {what}.",
            details=[_reason(exc)],
            hints=[f"check the revision on {page}; use a branch, tag or full commit sha"],
        ) from exc
    except hf.RepositoryNotFoundError as exc:
        raise ModelNotFoundError(
            f"Hugging Face has no model {what} ({hub.token_state}).",
            details=[_reason(exc)],
            hints=[
                "check the repo id (DIARIZATION_PIPELINE / EMBEDDING_MODEL)",
                "a private repo needs HF_TOKEN of an account that can read it",
            ],
        ) from exc
    except hf.RemoteEntryNotFoundError as exc:
        raise ModelNotFoundError(
            f"Hugging Face has no file {what}.",
            details=[_reason(exc)],
            hints=[f"check the files of {page}"],
        ) from exc
    except hf.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status == 401:
            raise CredentialsError(
                f"Hugging Face rejected the token for {what}.",
                details=[_reason(exc)],
                hints=["HF_TOKEN is wrong or revoked: create a new read token and set HF_TOKEN"],
            ) from exc
        if status == 403:
            raise PermissionDeniedError(
                f"Hugging Face refused {what} (403, {hub.token_state}).",
                details=[_reason(exc)],
                hints=[f"check that the token's account has access to {page}"],
            ) from exc
        raise _unavailable(what, hub, exc) from exc
    except (hf.OfflineModeIsEnabled, hf.LocalEntryNotFoundError) as exc:
        # With the Hub down and nothing cached, hf_hub_download raises
        # LocalEntryNotFoundError chained from the real cause.
        cause = exc.__cause__ or exc.__context__ or exc
        raise _unavailable(what, hub, cause) from exc
    except transport_errors as exc:
        # Connection refused, reset or timed out before any answer (model_info, resolve).
        raise _unavailable(what, hub, exc) from exc
    except OSError as exc:
        if isinstance(exc, ConnectionError | TimeoutError):
            raise _unavailable(what, hub, exc) from exc
        raise


@contextmanager
def hf_session(hub: HubAccess, *, offline: bool) -> Iterator[None]:
    """Point this process's huggingface_hub at ``hub`` (and offline or not) for the block.

    Held under a process-wide lock: see the module docstring.
    """
    from huggingface_hub import constants

    with _SESSION_LOCK:
        saved = (
            constants.HF_HUB_OFFLINE,
            constants.ENDPOINT,
            constants.HUGGINGFACE_CO_URL_TEMPLATE,
        )
        constants.HF_HUB_OFFLINE = offline
        constants.ENDPOINT = hub.endpoint
        constants.HUGGINGFACE_CO_URL_TEMPLATE = (
            hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        )
        try:
            yield
        finally:
            (
                constants.HF_HUB_OFFLINE,
                constants.ENDPOINT,
                constants.HUGGINGFACE_CO_URL_TEMPLATE,
            ) = saved


def resolve_commit(hub: HubAccess, repo: str, revision: str) -> str:
    """The commit ``revision`` of ``repo`` points to on the Hub now (one API request)."""
    from huggingface_hub import HfApi

    validate_repo_id(repo)
    validate_revision(revision)
    with hub_errors(f"{repo}@{revision}", hub, repo=repo), hf_session(hub, offline=False):
        info = HfApi(endpoint=hub.endpoint, token=hub.token or False).model_info(
            repo, revision=revision
        )
    if not info.sha:
        raise HubUnavailableError(
            f"Hugging Face did not say which commit {repo}@{revision} is.",
            hints=["retry later; if it persists, pin a full commit sha as the revision"],
        )
    return info.sha


def repo_files(hub: HubAccess, repo: str, revision: str) -> list[str]:
    """The paths of every file of ``repo`` at ``revision`` (one API request)."""
    from huggingface_hub import HfApi

    validate_repo_id(repo)
    validate_revision(revision)
    with hub_errors(f"{repo}@{revision}", hub, repo=repo), hf_session(hub, offline=False):
        info = HfApi(endpoint=hub.endpoint, token=hub.token or False).model_info(
            repo, revision=revision
        )
    return [sibling.rfilename for sibling in info.siblings or ()]


def download_file(hub: HubAccess, repo: str, path: str, revision: str, cache_dir: Path) -> Path:
    """Download one file of ``repo`` at ``revision`` into the cache ``cache_dir``; its path."""
    from huggingface_hub import hf_hub_download

    validate_repo_id(repo)
    validate_repo_file_path(path)
    validate_revision(revision)
    with hub_errors(f"{repo}/{path}@{revision}", hub, repo=repo), hf_session(hub, offline=False):
        return Path(
            hf_hub_download(
                repo,
                path,
                revision=revision,
                cache_dir=cache_dir,
                token=hub.token or False,
                endpoint=hub.endpoint,
            )
        )
