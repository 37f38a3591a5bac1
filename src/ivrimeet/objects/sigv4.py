"""AWS Signature Version 4 for S3 requests, with the standard library only.

``sign_headers`` adds the ``Authorization``, ``X-Amz-Date``,
``X-Amz-Content-SHA256`` (and with a session token ``X-Amz-Security-Token``)
headers to a request; ``presign_url`` makes a query-string signed URL. Both
produce exactly what botocore's ``S3SigV4Auth`` and ``S3SigV4QueryAuth`` do
(``tests/unit/test_sigv4.py`` compares them byte for byte), without importing
``botocore.auth``, which pulls ``botocore.compat`` and urllib3: about 90 ms of
start-up that a small model restore in a fresh process pays for nothing.

As in S3 (unlike other services), the URL path is signed as sent: callers
percent-encode keys once (``quote(key, safe="/~")``) and the canonical path is
that string, not normalized. The query string is signed as given, too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from botocore.credentials import Credentials

    from ivrimeet.objects.s3_client import S3Connection

__all__ = [
    "EMPTY_SHA256",
    "UNSIGNED_PAYLOAD",
    "SigningKeys",
    "chain_keys",
    "explicit_keys",
    "presign_url",
    "sign_headers",
]

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_ALGORITHM = "AWS4-HMAC-SHA256"
_SERVICE = "s3"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Hop-by-hop, client-identifying and tracing headers that proxies may change or
# add: never signed (botocore's list; a tracing proxy rewrites traceparent).
_UNSIGNED_HEADERS = frozenset(
    {
        "baggage",
        "traceparent",
        "tracestate",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
_REPLACED = frozenset(
    {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}
)


@dataclass(frozen=True)
class SigningKeys:
    """The keys a request is signed with."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


def explicit_keys(connection: S3Connection) -> SigningKeys | None:
    """The connection's explicit keys, if it has them (then no botocore credential chain)."""
    if connection.access_key_id and connection.secret_access_key:
        return SigningKeys(
            connection.access_key_id, connection.secret_access_key, connection.session_token
        )
    return None


def chain_keys(credentials: Credentials) -> SigningKeys | None:
    """The current keys of botocore credentials (refreshable ones renew themselves here);
    ``None`` if they are incomplete."""
    frozen = credentials.get_frozen_credentials()
    if not (frozen.access_key and frozen.secret_key):
        return None
    return SigningKeys(frozen.access_key, frozen.secret_key, frozen.token)


def sign_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    keys: SigningKeys,
    region: str,
    *,
    payload: str = UNSIGNED_PAYLOAD,
    now: datetime | None = None,
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones for ``method`` on ``url``.

    ``payload`` is the body's hex SHA-256 or ``UNSIGNED-PAYLOAD``; ``now`` (UTC)
    defaults to the current time. ``Date`` must not be among ``headers``.
    """
    timestamp = _timestamp(now)
    signed = {name: value for name, value in headers.items() if name.lower() not in _REPLACED}
    signed["X-Amz-Date"] = timestamp
    if keys.token:
        signed["X-Amz-Security-Token"] = keys.token
    signed["X-Amz-Content-SHA256"] = payload
    parts = urlsplit(url)
    to_sign = _headers_to_sign(signed, url)
    names = ";".join(sorted(to_sign))
    canonical = _canonical_request(method, parts.path, parts.query, to_sign, names, payload)
    signature = _signature(keys, region, timestamp, canonical)
    signed["Authorization"] = (
        f"{_ALGORITHM} Credential={keys.access_key}/{_scope(timestamp, region)}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return signed


def presign_url(
    method: str,
    url: str,
    keys: SigningKeys,
    region: str,
    expires_seconds: int,
    *,
    now: datetime | None = None,
) -> str:
    """``url`` signed in its query string, valid for ``expires_seconds`` from ``now``."""
    timestamp = _timestamp(now)
    parts = urlsplit(url)
    auth_params: dict[str, str] = {
        "X-Amz-Algorithm": _ALGORITHM,
        "X-Amz-Credential": f"{keys.access_key}/{_scope(timestamp, region)}",
        "X-Amz-Date": timestamp,
        "X-Amz-Expires": str(expires_seconds),
        "X-Amz-SignedHeaders": "host",
    }
    if keys.token is not None:
        auth_params["X-Amz-Security-Token"] = keys.token
    operation_params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    query = _encode(auth_params)
    if operation_params:
        query = f"{_encode(operation_params)}&{query}"
    to_sign = {"host": _host(url)}
    canonical = _canonical_request(method, parts.path, query, to_sign, "host", UNSIGNED_PAYLOAD)
    signature = _signature(keys, region, timestamp, canonical)
    unsigned = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return f"{unsigned}&X-Amz-Signature={signature}"


def _timestamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).strftime(_TIMESTAMP)


def _scope(timestamp: str, region: str) -> str:
    return f"{timestamp[:8]}/{region}/{_SERVICE}/aws4_request"


def _host(url: str) -> str:
    """The Host header a client sends: lowercase, without userinfo or a default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _headers_to_sign(headers: Mapping[str, str], url: str) -> dict[str, str]:
    """Lowercase name -> value with runs of whitespace folded (``Trimall``)."""
    to_sign: dict[str, list[str]] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower not in _UNSIGNED_HEADERS:
            to_sign.setdefault(lower, []).append(" ".join(value.split()))
    if "host" not in to_sign:
        to_sign["host"] = [_host(url)]
    return {name: ",".join(values) for name, values in to_sign.items()}


def _canonical_request(
    method: str, path: str, query: str, to_sign: Mapping[str, str], names: str, payload: str
) -> str:
    headers = "".join(f"{name}:{to_sign[name]}\n" for name in sorted(to_sign))
    return "\n".join([method.upper(), path, _canonical_query(query), headers, names, payload])


def _canonical_query(query: str) -> str:
    """The query's ``name=value`` pairs sorted, each kept as encoded by the caller."""
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{name}={value}" for name, value in pairs)


def _encode(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{quote(name, safe='-._~')}={quote(value, safe='-._~')}" for name, value in params.items()
    )


def _signature(keys: SigningKeys, region: str, timestamp: str, canonical: str) -> str:
    string_to_sign = "\n".join(
        [
            _ALGORITHM,
            timestamp,
            _scope(timestamp, region),
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )
    key = f"AWS4{keys.secret_key}".encode()
    for part in (timestamp[:8], region, _SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
