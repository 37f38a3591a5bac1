"""``upload-api-1g``: a recording through ``POST /api/meetings`` vs obstore ``put(iterator)``.

The server is a real ``ivrimeet serve --no-worker`` (SQLite, the bench's rclone
bucket) started fresh before every run; the timed process is a small
``http.client`` uploader (``bench/api_client.py``); the reported peak RSS is
the *server's* (``VmHWM``), which must stay under the target whatever the size,
and the CPU is the client's plus what the server spent from ready to answered
(both processes share the machine with the S3 server, so both cost wall time).
Both tools send the same bytes: a WAV header over random samples.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.cases import register
from bench.harness import BENCH_DIR, Case, Context, GiB, MiB, Target, Tool, free_port

TOKEN = "bench-api-token-0123456789abcdef"


def _wav_file(ctx: Context, size: int) -> Path:
    """``size`` bytes: a 16 kHz mono WAV header, then random samples."""
    path = ctx.workdir / f"recording-{size}.wav"
    if not path.exists():
        data_bytes = size - 44
        header = (
            b"RIFF"
            + (size - 8).to_bytes(4, "little")
            + b"WAVEfmt "
            + (16).to_bytes(4, "little")
            + (1).to_bytes(2, "little")  # PCM
            + (1).to_bytes(2, "little")  # mono
            + (16000).to_bytes(4, "little")
            + (32000).to_bytes(4, "little")
            + (2).to_bytes(2, "little")
            + (16).to_bytes(2, "little")
            + b"data"
            + data_bytes.to_bytes(4, "little")
        )
        with open(ctx.data_file(size), "rb") as random, open(path, "wb") as out:
            out.write(header)
            shutil.copyfileobj(random, out)
            out.truncate(size)
    return path


class _ApiServer:
    """``ivrimeet serve --no-worker`` on the bench bucket, restartable between runs."""

    def __init__(self, ctx: Context, size: int) -> None:
        self.ctx = ctx
        self.env = ctx.server.env(
            S3_BUCKET=ctx.server.bucket,
            S3_ENDPOINT_URL=ctx.server.endpoint,
            S3_REGION="us-east-1",
            IVRIMEET_API_TOKEN=TOKEN,
            IVRIMEET_DATA_DIR=str(ctx.workdir / "api-data"),
            MAX_UPLOAD_BYTES=str(size + MiB),
            LOG_LEVEL="WARNING",
            **{
                name.removeprefix("BENCH_API_"): value
                for name, value in os.environ.items()
                if name.startswith("BENCH_API_")
            },
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._cpu_at_ready = 0.0
        # One port for every restart, so the client's argv stays valid.
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        atexit.register(self.stop)

    def start(self) -> None:
        port = self.port
        ivrimeet = shutil.which("ivrimeet") or str(Path(sys.executable).with_name("ivrimeet"))
        self.process = subprocess.Popen(
            [ivrimeet, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.ctx.workdir / "api-server.log", "ab"),  # noqa: SIM115  # child owns it
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:  # noqa: S310  # our own loopback URL
                    if answer.status == 200:
                        self._cpu_at_ready = self._cpu_seconds()
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("ivrimeet serve did not become ready; see api-server.log")
            time.sleep(0.1)

    def peak_rss_mib(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM for the API server")

    def _cpu_seconds(self) -> float:
        assert self.process is not None
        # /proc/PID/stat: utime and stime are fields 14 and 15, after "(comm)".
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cpu_since_ready(self) -> float:
        """CPU seconds the server spent since it answered ``/readyz`` (its start-up excluded)."""
        return self._cpu_seconds() - self._cpu_at_ready

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        """A fresh server (its peak RSS starts over) and an empty audio/ prefix."""
        self.stop()
        client = self.ctx.server.client()
        listing = client.list_objects_v2(Bucket=self.ctx.server.bucket, Prefix="audio/")
        for item in listing.get("Contents", []):
            client.delete_object(Bucket=self.ctx.server.bucket, Key=item["Key"])
        self.start()


def prepare(ctx: Context, size: int) -> list[Tool]:
    recording = _wav_file(ctx, size)
    server = _ApiServer(ctx, size)
    server.start()
    client = ctx.server.client()
    key = "upload/obstore-put.bin"

    return [
        Tool(
            "ivrimeet POST /api/meetings",
            [ctx.python, str(BENCH_DIR / "api_client.py"), server.url, str(size)],
            reference=False,
            stdin_from=recording,
            env={"IVRIMEET_API_TOKEN": TOKEN},
            after=server.restart,
            peak_rss_mib=server.peak_rss_mib,
            extra_cpu_seconds=server.cpu_since_ready,
        ),
        Tool(
            "obstore put(iterator)",
            ctx.worker("obstore-put", key),
            reference=True,
            stdin_from=recording,
            after=lambda: client.delete_object(Bucket=ctx.server.bucket, Key=key),
        ),
    ]


register(
    Case(
        name="upload-api-1g",
        description="1 GiB recording through POST /api/meetings -> object (server RSS)",
        full_bytes=GiB,
        quick_bytes=64 * MiB,
        prepare=prepare,
        target=Target(min_ratio=0.9, max_rss_mib=150),
    )
)
