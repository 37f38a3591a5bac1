"""The production path: the same cases over HTTPS (``rclone serve s3 --cert/--key``).

Real S3 is HTTPS, where the plain-HTTP splice path does not apply and every
byte is decrypted in the client. These cases are the headline rows:

* ``tls-download-1g``: 1 GiB object -> file; ivrimeet ``download_to_file``
  beside s5cmd (two settings), boto3 ``download_file`` and obstore
  ``get().stream()``. Target: no regression below 0.62x the best s5cmd (issue
  16: 0.62-0.75x measured before the retry/credential changes).
* ``tls-models-restore-425m``: ``models-restore-425m`` over HTTPS.
* ``tls-upload-api-1g``: ``upload-api-1g`` over HTTPS.

The server is a second ``rclone serve s3`` with a certificate from a CA made
for the run (``tests/servers/s3_tls.py``), over its own folder; each client
process trusts the CA through ``AWS_CA_BUNDLE`` (boto3, ivrimeet),
``SSL_CERT_FILE`` (s5cmd) or ``BENCH_CA`` (obstore, ``tls_workers.py``).
The cases reuse the plain-HTTP cases' ``prepare`` with that server in the context.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.cases import api_upload, models, register, transfers
from bench.harness import (
    ACCESS_KEY,
    SECRET_KEY,
    Case,
    Context,
    GiB,
    MiB,
    Server,
    Target,
    Tool,
    free_port,
    rclone_executable,
)

TLS_WORKERS = str(Path(__file__).resolve().with_name("tls_workers.py"))
Prepare = Callable[[Context, int], list[Tool]]


class _TlsServer:
    """One ``rclone serve s3 --cert/--key`` for the run, started on first use."""

    def __init__(self) -> None:
        self.server: Server | None = None
        self.process: subprocess.Popen[bytes] | None = None
        atexit.register(self.stop)

    def get(self, ctx: Context) -> Server:
        if self.server is None:
            self.server = self._start(ctx.workdir / "tls")
        return self.server

    def _start(self, folder: Path) -> Server:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from tests.servers.s3_tls import make_private_ca

        folder.mkdir()
        ca = make_private_ca(folder)
        root = folder / "root"
        root.mkdir()
        port = free_port()
        self.process = subprocess.Popen(
            [
                rclone_executable(),
                "serve",
                "s3",
                "--addr",
                f"127.0.0.1:{port}",
                "--auth-key",
                f"{ACCESS_KEY},{SECRET_KEY}",
                "--config",
                "/dev/null",
                "--cert",
                str(ca.cert),
                "--key",
                str(ca.key),
                str(root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "rclone.log", "wb"),  # noqa: SIM115  # the child owns it
            start_new_session=True,
        )
        server = Server(f"https://127.0.0.1:{port}", "bench", root, ca_bundle=ca.ca)
        # Set-up code in this process (store_model: ivrimeet's own client) trusts it too.
        os.environ["AWS_CA_BUNDLE"] = str(ca.ca)
        deadline = time.monotonic() + 30
        while True:
            try:
                server.client().create_bucket(Bucket=server.bucket)
                return server
            except Exception as exc:  # not up yet: poll until the deadline
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"rclone serve s3 (TLS) did not start; see {folder}") from exc
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


_TLS = _TlsServer()


def over_tls(prepare: Prepare) -> Prepare:
    """``prepare`` run against the HTTPS server; every tool's environment points there."""

    def prepare_tls(ctx: Context, size: int) -> list[Tool]:
        server = _TLS.get(ctx)
        tls_ctx = dataclasses.replace(ctx, server=server)
        tools = prepare(tls_ctx, size)
        env = server.env()
        return [
            dataclasses.replace(tool, argv=_tls_argv(ctx, tool.argv), env={**env, **tool.env})
            for tool in tools
        ]

    return prepare_tls


def _tls_argv(ctx: Context, argv: list[str]) -> list[str]:
    """obstore tools run from ``tls_workers.py`` (it is given the CA)."""
    if argv[1:2] == [ctx.workers] and argv[2].startswith("obstore-"):
        return [argv[0], TLS_WORKERS, *argv[2:]]
    return argv


def _prepare_download(ctx: Context, size: int) -> list[Tool]:
    tools = transfers.prepare_download(ctx, size)
    key = f"download/{size}.bin"
    target = ctx.workdir / "downloaded.bin"
    return [
        *tools,
        Tool(
            "obstore get().stream()",
            [ctx.python, ctx.workers, "obstore-download", key, str(target)],
            reference=True,
            after=lambda: target.unlink(missing_ok=True),
        ),
    ]


register(
    Case(
        name="tls-download-1g",
        description="HTTPS: 1 GiB object -> local file",
        full_bytes=GiB,
        quick_bytes=64 * MiB,
        prepare=over_tls(_prepare_download),
        target=Target(min_ratio=0.62, aim_ratio=0.75),
        headline=True,
    )
)

register(
    Case(
        name="tls-models-restore-425m",
        description="HTTPS: 425 MiB repo (400 MiB safetensors + 25 small files) -> HF cache",
        full_bytes=425 * MiB,
        quick_bytes=64 * MiB,
        prepare=over_tls(models.prepare_restore_big),
        target=Target(min_ratio=round(1 / 1.5, 2), max_extra_disk_mib=64),
        headline=True,
    )
)

register(
    Case(
        name="tls-upload-api-1g",
        description="HTTPS: 1 GiB recording through POST /api/meetings -> object (server RSS)",
        full_bytes=GiB,
        quick_bytes=64 * MiB,
        prepare=over_tls(api_upload.prepare),
        target=Target(min_ratio=0.9, max_rss_mib=150),
        headline=True,
    )
)
