"""A stand-in for the Hugging Face Hub on 127.0.0.1, driven by the real ``huggingface_hub`` client.

``run_hub(root)`` starts two uvicorn servers in threads and yields a ``StandInHub``:

* the Hub origin (``hub.endpoint``) answers what ``hf_hub_download``,
  ``snapshot_download``, ``model_info``, ``list_repo_files`` and ``list_repo_refs`` ask:

  - ``HEAD``/``GET /{org}/{name}/resolve/{revision}/{path}``: ``X-Repo-Commit``,
    ``ETag`` (git blob sha1), ``Content-Length``, ``Range``; LFS files (big or
    weight files, see ``hub_store``) answer ``302`` to the blob origin with
    ``X-Linked-Etag`` (sha256) and ``X-Linked-Size``;
  - ``GET /api/models/{org}/{name}[/revision/{revision}]``, ``.../tree/{revision}[/{path}]``
    (``?recursive=true``) and ``.../refs``;
  - errors as the Hub sends them, through ``X-Error-Code``: ``RepoNotFound``,
    ``RevisionNotFound``, ``EntryNotFound`` (with ``X-Repo-Commit``), ``GatedRepo`` (401);

* the blob origin (``hub.blob_endpoint``, another port, so another origin: the
  client drops ``Authorization`` on that hop, as it does for the Hub's CDN)
  serves LFS bodies by sha256, with ``Range``.

Test controls on ``StandInHub``: ``publish`` (add a repo or a new commit on
``main`` at runtime), ``gate``/``ungate`` (require ``Authorization: Bearer`` with
one of ``hub.tokens``), ``outage`` (``503`` to everything on both origins),
``requests``/``count`` (every request seen, in order) and ``reset``.

Pointing the client at the stand-in
-----------------------------------
``huggingface_hub`` 2.x reads ``HF_ENDPOINT`` once, when ``huggingface_hub.constants``
is imported, and derives three values from it:

* ``constants.ENDPOINT``: read at call time by ``HfApi()`` (``model_info``,
  ``list_repo_tree``, ``snapshot_download``'s listing) when no ``endpoint=`` is given;
* ``constants.HUGGINGFACE_CO_URL_TEMPLATE``: the ``/resolve/`` URL that
  ``hf_hub_url`` (hence every ``hf_hub_download``) formats; an ``endpoint=`` argument
  only replaces a prefix equal to ``constants.ENDPOINT``;
* ``utils._http._HUB_ORIGINS``: origins whose redirects keep the token.

pyannote.audio and SpeechBrain call ``hf_hub_download`` without ``endpoint=``, so
in-process a test must patch both ``constants.ENDPOINT`` and
``constants.HUGGINGFACE_CO_URL_TEMPLATE`` (the ``hub_client`` fixture of
``hub_fixtures`` does it with ``monkeypatch``; ``_HUB_ORIGINS`` can stay: a redirect
back to the stand-in's own origin is followed anyway, and the blob origin must
not keep the token). A child process gets ``HF_ENDPOINT=hub.endpoint`` in its
environment (``hub.client_env()``).

The first Hub call of a process also sends ``GET /api/agent-harnesses``
(huggingface_hub 2.x fetches a registry for its user agent, then caches it in
``HF_HOME`` for 24 h); the stand-in answers 404, so nothing is cached. Count the
requests you care about by path (``hub.count("/resolve/")``), not the total.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.servers.hub_store import Commit, HubStore, RepoFile
from tests.waiting import wait_until

__all__ = ["TEST_TOKEN", "RecordedRequest", "StandInHub", "run_hub"]

#: The token the stand-in accepts for gated repos (pyannote drops tokens not starting with ``hf_``).
TEST_TOKEN = "hf_ivrimeet_test_token_0000000000000000"

_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 10.0
_CHUNK = 256 * 1024
_LAST_MODIFIED = "2026-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in answered: which origin, what was asked, what it answered."""

    origin: str  # "hub" or "blobs"
    method: str
    path: str
    status: int
    had_authorization: bool


class StandInHub:
    """The running stand-in: its two endpoints, its repos, and the switches tests flip."""

    def __init__(self, store: HubStore) -> None:
        self.store = store
        self.endpoint = ""
        self.blob_endpoint = ""
        self.tokens: frozenset[str] = frozenset({TEST_TOKEN})
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._outage = False
        self._gated: set[str] = set()

    # -- repos -------------------------------------------------------------

    def publish(self, repo_id: str, folder: Path, *, gated: bool = False) -> str:
        """Publish ``folder`` as the new ``main`` of ``repo_id`` (new or not); return its commit."""
        sha = self.store.publish(repo_id, folder)
        if gated:
            self.gate(repo_id)
        return sha

    def commit(self, repo_id: str, revision: str = "main") -> str:
        """The commit sha that ``revision`` of ``repo_id`` points to now."""
        found = self.store.resolve(repo_id, revision)
        if found is None:
            raise KeyError(f"{repo_id} has no revision {revision!r}")
        return found.sha

    def gate(self, repo_id: str) -> None:
        """Require ``Authorization: Bearer <one of self.tokens>`` to download ``repo_id``."""
        with self._lock:
            self._gated.add(repo_id)

    def ungate(self, repo_id: str) -> None:
        """Let anyone download ``repo_id`` again."""
        with self._lock:
            self._gated.discard(repo_id)

    def is_gated(self, repo_id: str) -> bool:
        """Whether downloads of ``repo_id`` need a token."""
        with self._lock:
            return repo_id in self._gated

    # -- outage and counters ----------------------------------------------

    @property
    def outage(self) -> bool:
        """While True, both origins answer ``503 Service Unavailable`` to every request."""
        with self._lock:
            return self._outage

    @outage.setter
    def outage(self, value: bool) -> None:
        with self._lock:
            self._outage = value

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request answered since the last ``reset``, oldest first."""
        with self._lock:
            return list(self._requests)

    def count(self, path_contains: str = "", *, origin: str | None = None) -> int:
        """Requests since the last ``reset`` whose path has ``path_contains`` (to ``origin``)."""
        return sum(
            1
            for r in self.requests
            if path_contains in r.path and (origin is None or r.origin == origin)
        )

    def counts_by_path(self) -> dict[str, int]:
        """Requests per ``METHOD path`` since the last ``reset``."""
        counts: dict[str, int] = {}
        for r in self.requests:
            key = f"{r.method} {r.path}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def reset(self) -> None:
        """Forget recorded requests and end any outage; repos and gates stay as they are."""
        with self._lock:
            self._requests.clear()
            self._outage = False

    def client_env(self) -> dict[str, str]:
        """Environment variables pointing a child process's ``huggingface_hub`` here."""
        return {"HF_ENDPOINT": self.endpoint}

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


@contextmanager
def run_hub(root: Path, *, port: int = 0) -> Iterator[StandInHub]:
    """Serve repos published under ``root`` until the block exits; yield the ``StandInHub``.

    The Hub origin listens on ``port`` (0: a free one); the blob origin always on a free one.
    """
    hub = StandInHub(HubStore(root))
    with _serve(_observed(_blob_app(hub), hub, "blobs"), "hub-blobs") as blob_endpoint:
        hub.blob_endpoint = blob_endpoint
        with _serve(_observed(_hub_app(hub), hub, "hub"), "hub", port=port) as endpoint:
            hub.endpoint = endpoint
            yield hub


# -- serving in a thread ---------------------------------------------------


@contextmanager
def _serve(app: ASGIApp, name: str, *, port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on 127.0.0.1:``port`` (0: a free one); yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: server.started or not thread.is_alive(),
            timeout=_START_TIMEOUT_SECONDS,
            message=f"the {name} server starting",
        )
        if not server.started:
            raise RuntimeError(f"the {name} server thread exited before it started")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_SECONDS)
        sock.close()


def _observed(app: ASGIApp, hub: StandInHub, origin: str) -> ASGIApp:
    """Wrap ``app``: answer 503 during an outage, and record every request with its status.

    A request is recorded when its response starts, before any byte reaches the
    client, so a test that has its response can count it without waiting.
    """

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        had_authorization = any(name.lower() == b"authorization" for name, _ in scope["headers"])

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                hub._record(
                    RecordedRequest(
                        origin=origin,
                        method=scope["method"],
                        path=scope["path"],
                        status=message["status"],
                        had_authorization=had_authorization,
                    )
                )
            await send(message)

        if hub.outage:
            await Response("Service Unavailable", status_code=503)(scope, receive, recording_send)
        else:
            await app(scope, receive, recording_send)

    return observed


# -- the Hub origin --------------------------------------------------------


def _hub_app(hub: StandInHub) -> Starlette:
    async def resolve(request: Request) -> Response:
        repo_id = _repo_id(request)
        found = _find_commit(hub, repo_id, request.path_params["revision"])
        if isinstance(found, Response):
            return found
        path = request.path_params["path"]
        entry = found.files.get(path)
        if entry is None:
            return _error(
                404, "EntryNotFound", f"{path} does not exist on {found.sha}", commit=found.sha
            )
        if hub.is_gated(repo_id) and _bearer(request) not in hub.tokens:
            return _error(
                401,
                "GatedRepo",
                f"Access to model {repo_id} is restricted. You must have access to it "
                "and be authenticated.",
            )
        if entry.lfs:
            headers = {
                "X-Repo-Commit": found.sha,
                "ETag": f'"{entry.sha256}"',
                "X-Linked-Etag": f'"{entry.sha256}"',
                "X-Linked-Size": str(entry.size),
                "Location": f"{hub.blob_endpoint}/blobs/{entry.sha256}",
            }
            return Response(status_code=302, headers=headers)
        headers = {"X-Repo-Commit": found.sha, "ETag": f'"{entry.git_sha1}"'}
        return _file_response(request, entry, headers)

    async def model_info(request: Request) -> Response:
        repo_id = _repo_id(request)
        found = _find_commit(hub, repo_id, request.path_params.get("revision", "main"))
        if isinstance(found, Response):
            return found
        org = repo_id.split("/")[0]
        return JSONResponse(
            {
                "_id": found.sha[:24],
                "id": repo_id,
                "modelId": repo_id,
                "author": org,
                "sha": found.sha,
                "lastModified": _LAST_MODIFIED,
                "createdAt": _LAST_MODIFIED,
                "private": False,
                "gated": "manual" if hub.is_gated(repo_id) else False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": [_sibling(entry) for _, entry in sorted(found.files.items())],
            }
        )

    async def tree(request: Request) -> Response:
        repo_id = _repo_id(request)
        found = _find_commit(hub, repo_id, request.path_params["revision"])
        if isinstance(found, Response):
            return found
        folder = request.path_params.get("path", "").strip("/")
        if folder not in found.directories():
            return _error(
                404, "EntryNotFound", f"{folder} does not exist on {found.sha}", commit=found.sha
            )
        recursive = request.query_params.get("recursive", "false").lower() in {"true", "1"}
        return JSONResponse(_tree_entries(found, folder, recursive=recursive))

    async def refs(request: Request) -> Response:
        repo_id = _repo_id(request)
        if not hub.store.has_repo(repo_id):
            return _error(404, "RepoNotFound", f"Repository {repo_id} not found")
        branches = [
            {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha}
            for name, sha in sorted(hub.store.branches(repo_id).items())
        ]
        return JSONResponse({"branches": branches, "converts": [], "tags": [], "pullRequests": []})

    return Starlette(
        routes=[
            Route("/api/models/{org}/{name}", model_info),
            Route("/api/models/{org}/{name}/revision/{revision:path}", model_info),
            Route("/api/models/{org}/{name}/tree/{revision}", tree),
            Route("/api/models/{org}/{name}/tree/{revision}/{path:path}", tree),
            Route("/api/models/{org}/{name}/refs", refs),
            Route("/{org}/{name}/resolve/{revision}/{path:path}", resolve, methods=["GET", "HEAD"]),
        ]
    )


def _repo_id(request: Request) -> str:
    return f"{request.path_params['org']}/{request.path_params['name']}"


def _find_commit(hub: StandInHub, repo_id: str, revision: str) -> Commit | Response:
    if not hub.store.has_repo(repo_id):
        return _error(404, "RepoNotFound", f"Repository {repo_id} not found")
    found = hub.store.resolve(repo_id, revision)
    if found is None:
        return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
    return found


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def _error(status: int, code: str, message: str, *, commit: str | None = None) -> Response:
    headers = {"X-Error-Code": code, "X-Error-Message": message}
    if commit is not None:
        headers["X-Repo-Commit"] = commit
    return Response(
        json.dumps({"error": message}),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _sibling(entry: RepoFile) -> dict[str, Any]:
    sibling: dict[str, Any] = {
        "rfilename": entry.path,
        "size": entry.size,
        "blobId": entry.git_sha1,
    }
    if entry.lfs:
        sibling["lfs"] = {"sha256": entry.sha256, "size": entry.size, "pointerSize": 134}
    return sibling


def _tree_entries(commit: Commit, folder: str, *, recursive: bool) -> list[dict[str, Any]]:
    prefix = f"{folder}/" if folder else ""
    depth = prefix.count("/")
    entries: list[dict[str, Any]] = []
    for sub in sorted(commit.directories()):
        if sub.startswith(prefix) and sub != folder and (recursive or sub.count("/") == depth):
            entries.append(
                {"type": "directory", "oid": commit.folder_oid(sub), "size": 0, "path": sub}
            )
    for path, entry in sorted(commit.files.items()):
        if path.startswith(prefix) and (recursive or path.count("/") == depth):
            item: dict[str, Any] = {
                "type": "file",
                "oid": entry.git_sha1,
                "size": entry.size,
                "path": path,
            }
            if entry.lfs:
                item["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": 134}
            entries.append(item)
    return entries


# -- the blob origin (the Hub's CDN) ---------------------------------------


def _blob_app(hub: StandInHub) -> Starlette:
    async def blob(request: Request) -> Response:
        entry = hub.store.blob(request.path_params["sha256"])
        if entry is None:
            return Response("NoSuchKey", status_code=404)
        return _file_response(request, entry, {"ETag": f'"{entry.sha256}"'})

    return Starlette(routes=[Route("/blobs/{sha256}", blob, methods=["GET", "HEAD"])])


# -- file bodies with Range ------------------------------------------------


def _file_response(request: Request, entry: RepoFile, headers: dict[str, str]) -> Response:
    """``entry``'s body (or the ``Range`` asked for), streamed from disk; HEAD: headers only."""
    start, end = 0, entry.size - 1
    status = 200
    range_header = request.headers.get("range")
    if range_header is not None:
        parsed = _parse_range(range_header, entry.size)
        if parsed is None:
            return Response(
                status_code=416, headers={**headers, "Content-Range": f"bytes */{entry.size}"}
            )
        start, end = parsed
        status = 206
        headers = {**headers, "Content-Range": f"bytes {start}-{end}/{entry.size}"}
    headers = {
        **headers,
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1),
        "Content-Type": "application/octet-stream",
    }
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    return StreamingResponse(
        _read(entry.local_path, start, end + 1), status_code=status, headers=headers
    )


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range, or None when it cannot be satisfied."""
    unit, _, spec = value.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            start, end = max(size - int(last), 0), size - 1
        else:
            start, end = int(first), (int(last) if last else size - 1)
    except ValueError:
        return None
    end = min(end, size - 1)
    if start > end or start >= size:
        return None
    return start, end


async def _read(path: Path, start: int, stop: int) -> AsyncIterator[bytes]:
    with path.open("rb") as fp:
        fp.seek(start)
        remaining = stop - start
        while remaining > 0:
            chunk = fp.read(min(_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
