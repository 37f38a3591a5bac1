"""obstore over HTTPS with the bench's private CA: ``python tls_workers.py TOOL ARGS``.

Like ``bench/workers.py`` (server from ``BENCH_ENDPOINT``, ``BENCH_BUCKET``,
``AWS_*``), plus ``BENCH_CA``: the PEM file obstore trusts (it reads no
``AWS_CA_BUNDLE``; ``client_options.root_certificate`` is its way).

Tools::

    obstore-download KEY PATH      obstore.get(store, KEY).stream() written to PATH
    obstore-put KEY                obstore.put(store, KEY, iterator over stdin)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

MiB = 1024 * 1024


def _store():  # type: ignore[no-untyped-def]  # imported in the timed process on purpose
    from obstore.store import S3Store

    return S3Store(
        os.environ["BENCH_BUCKET"],
        endpoint=os.environ["BENCH_ENDPOINT"],
        region=os.environ["AWS_DEFAULT_REGION"],
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        virtual_hosted_style_request=False,
        client_options={"root_certificate": Path(os.environ["BENCH_CA"]).read_bytes()},
    )


def obstore_download(key: str, path: str) -> None:
    import obstore

    with open(path, "wb") as out:
        for chunk in obstore.get(_store(), key).stream(min_chunk_size=8 * MiB):
            out.write(chunk)


def _stdin_chunks(size: int) -> Iterator[bytes]:
    while chunk := sys.stdin.buffer.read(size):
        yield chunk


def obstore_put(key: str) -> None:
    import obstore

    obstore.put(_store(), key, _stdin_chunks(MiB))


TOOLS: dict[str, Callable[..., None]] = {
    "obstore-download": obstore_download,
    "obstore-put": obstore_put,
}


if __name__ == "__main__":
    tool, *args = sys.argv[1:]
    TOOLS[tool](*args)
