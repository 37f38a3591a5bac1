"""The web page: ``/`` (index.html) and ``/static/<name>`` from the package's ``web/`` folder.

The assets are a handful of small files shipped inside the wheel
(``ivrimeet/web/``), read once into memory and served from there, so no path
from a request ever reaches the filesystem. Caching works without a build step:

* ``/`` is ``no-cache`` (revalidated every time, ``304`` when unchanged) and
  refers to each asset as ``/static/<name>?v=<digest>``; it also carries
  ``MAX_UPLOAD_BYTES``, so the page refuses a too-large file before sending it;
* ``/static/<name>?v=<current digest>`` is ``immutable`` for a year; any other
  request for an asset is ``no-cache`` with an ``ETag``.

Text assets are also kept gzip-compressed and sent so when the client accepts
it. The page itself gets a Content-Security-Policy that allows nothing outside
this origin: audio streams through the API's ``/media`` links, even from S3.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, HTTPException, Request, Response

from ivrimeet.settings import Settings

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["web"], include_in_schema=False)

_INDEX = "index.html"
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
_COMPRESS_AT_LEAST = 1024
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}


@dataclass(frozen=True)
class Asset:
    """One file of the page, ready to send."""

    name: str
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')[:12]


def _content_type(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _make_asset(name: str, body: bytes) -> Asset:
    content_type = _content_type(name)
    compressible = content_type.startswith("text/") or content_type.endswith(("json", "+xml"))
    gzipped = None
    if compressible and len(body) >= _COMPRESS_AT_LEAST:
        gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(name, body, gzipped, content_type, etag)


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            files.update(_walk(entry, f"{prefix}{entry.name}/"))
        else:
            files[prefix + entry.name] = entry.read_bytes()
    return files


@cache
def _files() -> dict[str, bytes]:
    """Every file under ``ivrimeet/web``, read once."""
    return _walk(resources.files("ivrimeet") / "web")


@cache
def _assets() -> dict[str, Asset]:
    """Every asset but index.html, ready to send."""
    assets = {name: _make_asset(name, body) for name, body in _files().items() if name != _INDEX}
    total_bytes = sum(len(a.body) for a in assets.values())
    logger.info("web.assets_loaded files=%d bytes=%d", len(assets), total_bytes)
    return assets


@cache
def _index(max_upload_bytes: int) -> Asset:
    """index.html with versioned asset URLs and the upload limit the page checks before sending."""
    html = _files()[_INDEX].decode()
    for asset in _assets().values():
        html = html.replace(f'"/static/{asset.name}"', f'"/static/{asset.name}?v={asset.version}"')
    html = html.replace(
        '<meta name="ivrimeet-max-upload-bytes" content="">',
        f'<meta name="ivrimeet-max-upload-bytes" content="{max_upload_bytes}">',
    )
    return _make_asset(_INDEX, html.encode())


def _content_security_policy() -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            # Recordings and snippets stream through this origin's /media links.
            "media-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _accepts_gzip(request: Request) -> bool:
    accepted = request.headers.get("accept-encoding", "")
    return any(part.split(";")[0].strip() == "gzip" for part in accepted.split(","))


def _not_modified(request: Request, etag: str) -> bool:
    candidates = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in candidates.split(",")) or (
        candidates.strip() == "*"
    )


def _send(request: Request, asset: Asset, cache_control: str, **extra: str) -> Response:
    headers = {
        "Cache-Control": cache_control,
        "ETag": asset.etag,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
        **extra,
    }
    if _not_modified(request, asset.etag):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and _accepts_gzip(request):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=asset.content_type)
    return Response(content=body, headers=headers, media_type=asset.content_type)


@router.api_route("/", methods=["GET", "HEAD"])
def index(request: Request) -> Response:
    """The single page: upload, meetings list, meeting view (hash-routed in the browser)."""
    settings: Settings | None = getattr(request.app.state, "settings", None)
    max_upload_bytes = settings.max_upload_bytes if settings is not None else 0
    return _send(
        request,
        _index(max_upload_bytes),
        _REVALIDATE,
        **{
            "Content-Security-Policy": _content_security_policy(),
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        },
    )


@router.api_route("/static/{name:path}", methods=["GET", "HEAD"])
def static(request: Request, name: str) -> Response:
    """One asset of the page; immutable when asked for by its current version."""
    asset = _assets().get(name)
    if asset is None:
        raise HTTPException(404, f"No page asset named {name!r}; reload / for current names.")
    versioned = request.query_params.get("v") == asset.version
    return _send(request, asset, _IMMUTABLE if versioned else _REVALIDATE)
