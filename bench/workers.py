"""The clients the benchmark times, one per process: ``python bench/workers.py TOOL ARGS``.

Each worker reads the server from the environment the harness sets
(``BENCH_ENDPOINT``, ``BENCH_BUCKET``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``), does one transfer and
exits. Imports happen inside the process on purpose: start-up is part of what
a user waits for.

Tools::

    ivrimeet-download KEY PATH     S3Store.download_to_file
    boto3-download KEY PATH        boto3 client.download_file (transfer manager defaults)
    ivrimeet-put KEY               S3Store.put(stdin)            (a pipe of unknown length)
    obstore-put KEY                obstore.put(store, KEY, iterator over stdin)
    boto3-put KEY                  boto3 client.upload_fileobj(stdin)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

MiB = 1024 * 1024


def _env(name: str) -> str:
    return os.environ[name]


def _connection():  # type: ignore[no-untyped-def]  # imported lazily
    from ivrimeet.objects import S3Connection

    return S3Connection(
        bucket=_env("BENCH_BUCKET"),
        region=_env("AWS_DEFAULT_REGION"),
        endpoint_url=_env("BENCH_ENDPOINT"),
        access_key_id=_env("AWS_ACCESS_KEY_ID"),
        secret_access_key=_env("AWS_SECRET_ACCESS_KEY"),
    )


def _store():  # type: ignore[no-untyped-def]  # imported lazily
    from ivrimeet.objects import S3Store

    options = {}
    if "BENCH_PART_SIZE" in os.environ:
        options["part_size"] = int(_env("BENCH_PART_SIZE"))
    if "BENCH_CONCURRENCY" in os.environ:
        options["concurrency"] = int(_env("BENCH_CONCURRENCY"))
    return S3Store(_connection(), **options)


def _boto3_client():  # type: ignore[no-untyped-def]  # imported lazily
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=_env("BENCH_ENDPOINT"),
        config=Config(s3={"addressing_style": "path"}),
    )


def _stdin_chunks(size: int) -> Iterator[bytes]:
    stdin = sys.stdin.buffer
    while chunk := stdin.read(size):
        yield chunk


def ivrimeet_download(key: str, path: str) -> None:
    _store().download_to_file(key, Path(path))


def boto3_download(key: str, path: str) -> None:
    _boto3_client().download_file(_env("BENCH_BUCKET"), key, path)


def ivrimeet_put(key: str) -> None:
    _store().put(key, sys.stdin.buffer)


def obstore_put(key: str) -> None:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        _env("BENCH_BUCKET"),
        endpoint=_env("BENCH_ENDPOINT"),
        region=_env("AWS_DEFAULT_REGION"),
        access_key_id=_env("AWS_ACCESS_KEY_ID"),
        secret_access_key=_env("AWS_SECRET_ACCESS_KEY"),
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    obstore.put(store, key, _stdin_chunks(MiB))


def boto3_put(key: str) -> None:
    _boto3_client().upload_fileobj(sys.stdin.buffer, _env("BENCH_BUCKET"), key)


TOOLS: dict[str, Callable[..., None]] = {
    "ivrimeet-download": ivrimeet_download,
    "boto3-download": boto3_download,
    "ivrimeet-put": ivrimeet_put,
    "obstore-put": obstore_put,
    "boto3-put": boto3_put,
}


def main(argv: list[str]) -> None:
    tool, *args = argv
    TOOLS[tool](*args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main(sys.argv[1:])
