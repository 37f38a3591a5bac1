"""Model-store clients the benchmark times, one per process.

    python bench/cases/models_workers.py TOOL ARGS

Tools::

    ivrimeet-materialize REPO          ModelStore restore into a temp HF cache (materialize)
    ivrimeet-export REPO DIR           export_model (what `ivrimeet models export` runs), no CLI
    ivrimeet-pipeline REPO             load_diarization_pipeline from the bucket (cold start)
    boto3-pool PREFIX DIR              8 threads of boto3 download_file, every key under PREFIX
    python-floor PREFIX DIR            the least a Python process can do for that copy (below)
    s5cmd-pipeline PREFIX REPO DIR     s5cmd cp PREFIX/* into DIR, offline Pipeline.from_pretrained

Like ``bench/workers.py``, the server comes from ``BENCH_ENDPOINT``, ``BENCH_BUCKET``
and the ``AWS_*`` variables; temporary caches go under ``BENCH_TMP``.
Importing this module does nothing (``bench.cases`` imports every module).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivrimeet.models import ModelStore

# A Hub endpoint nothing listens on: the bucket holds every model the cases load.
UNREACHABLE_HUB = "http://127.0.0.1:9"


def _env(name: str) -> str:
    return os.environ[name]


def _model_store() -> ModelStore:
    # Imported here, not at the top: start-up is part of what is measured.
    from ivrimeet.models import HubAccess, ModelStore
    from ivrimeet.objects import S3Connection, S3Store

    connection = S3Connection(
        bucket=_env("BENCH_BUCKET"),
        region=_env("AWS_DEFAULT_REGION"),
        endpoint_url=_env("BENCH_ENDPOINT"),
        access_key_id=_env("AWS_ACCESS_KEY_ID"),
        secret_access_key=_env("AWS_SECRET_ACCESS_KEY"),
    )
    return ModelStore(
        S3Store(connection),
        hub=HubAccess(endpoint=UNREACHABLE_HUB),
        tmp_dir=Path(_env("BENCH_TMP")),
    )


def ivrimeet_materialize(repo: str) -> None:
    from ivrimeet.models import materialize

    with materialize(_model_store(), repo) as model:
        if not model.snapshot.is_dir():
            raise SystemExit(f"no snapshot at {model.snapshot}")


def ivrimeet_export(repo: str, directory: str) -> None:
    from ivrimeet.models import export_model

    export_model(_model_store(), repo, None, Path(directory))


def ivrimeet_pipeline(repo: str) -> None:
    from ivrimeet.models import load_diarization_pipeline

    load_diarization_pipeline(_model_store(), repo)


def boto3_pool(prefix: str, directory: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=_env("BENCH_ENDPOINT"),
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=16),
    )
    bucket = _env("BENCH_BUCKET")
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]

    def one(key: str) -> None:
        target = Path(directory) / key[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(target))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, keys))


def python_floor(prefix: str, directory: str) -> None:
    """The floor for any Python tool: list PREFIX, GET every key on 8 keep-alive
    ``http.client`` connections, write each file. No checks, no retries, no hashing; only
    the standard library and ivrimeet's SigV4 signer (itself standard library only)."""
    import http.client
    import re
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import quote

    from ivrimeet.objects.sigv4 import SigningKeys, sign_headers

    endpoint, bucket = _env("BENCH_ENDPOINT"), _env("BENCH_BUCKET")
    keys = SigningKeys(_env("AWS_ACCESS_KEY_ID"), _env("AWS_SECRET_ACCESS_KEY"), None)
    host = endpoint.split("//", 1)[1]
    local = threading.local()

    def get(path: str) -> bytes:
        conn = getattr(local, "conn", None) or http.client.HTTPConnection(host)
        local.conn = conn
        headers = sign_headers("GET", endpoint + path, {}, keys, _env("AWS_DEFAULT_REGION"))
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status}")
        return body

    listing = get(f"/{bucket}?list-type=2&prefix={quote(prefix, safe='')}").decode()
    names = re.findall(r"<Key>([^<]+)</Key>", listing)

    def one(key: str) -> None:
        target = Path(directory) / key[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(get(f"/{bucket}/{quote(key)}"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, names))


def s5cmd_pipeline(prefix: str, repo: str, directory: str) -> None:
    """The hand-made baseline: copy a ready HF cache with s5cmd, then load offline."""
    import subprocess

    s5cmd = _env("BENCH_S5CMD")
    url = f"s3://{_env('BENCH_BUCKET')}/{prefix}*"
    subprocess.run(
        [s5cmd, "--endpoint-url", _env("BENCH_ENDPOINT"), "cp", url, directory + "/"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    from pyannote.audio import Pipeline

    pipeline = Pipeline.from_pretrained(repo, cache_dir=directory)
    if pipeline is None:
        raise SystemExit("pyannote returned no pipeline")


TOOLS: dict[str, Callable[..., None]] = {
    "ivrimeet-materialize": ivrimeet_materialize,
    "ivrimeet-export": ivrimeet_export,
    "ivrimeet-pipeline": ivrimeet_pipeline,
    "boto3-pool": boto3_pool,
    "python-floor": python_floor,
    "s5cmd-pipeline": s5cmd_pipeline,
}


def main(argv: list[str]) -> None:
    tool, *args = argv
    TOOLS[tool](*args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main(sys.argv[1:])
