"""Object transfers: ``download-1g`` and ``upload-pipe-1g`` (issue 3's speed targets)."""

from __future__ import annotations

from pathlib import Path

from bench.cases import register
from bench.harness import Case, Context, GiB, MiB, Target, Tool


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def prepare_download(ctx: Context, size: int) -> list[Tool]:
    """One object of ``size`` random bytes in the bucket; each tool writes it to a file."""
    key = f"download/{size}.bin"
    ctx.server.client().upload_file(str(ctx.data_file(size)), ctx.server.bucket, key)
    url = f"s3://{ctx.server.bucket}/{key}"
    s5cmd = [ctx.s5cmd(), "--endpoint-url", ctx.server.endpoint]
    target = ctx.workdir / "downloaded.bin"

    def cleanup() -> None:
        _remove(target)

    return [
        Tool(
            "ivrimeet download_to_file",
            ctx.worker("ivrimeet-download", key, str(target)),
            reference=False,
            after=cleanup,
        ),
        Tool(
            "s5cmd --concurrency 16 --part-size 16",
            [*s5cmd, "cp", "--concurrency", "16", "--part-size", "16", url, str(target)],
            reference=True,
            after=cleanup,
        ),
        Tool("s5cmd (defaults)", [*s5cmd, "cp", url, str(target)], reference=True, after=cleanup),
        Tool(
            "boto3 download_file",
            ctx.worker("boto3-download", key, str(target)),
            reference=True,
            after=cleanup,
        ),
    ]


def prepare_upload_pipe(ctx: Context, size: int) -> list[Tool]:
    """``size`` bytes arrive on stdin through a pipe (length unknown to the tool)."""
    data = ctx.data_file(size)
    client = ctx.server.client()

    def tool(name: str, worker: str, reference: bool) -> Tool:
        key = f"upload/{worker}.bin"

        def cleanup() -> None:
            client.delete_object(Bucket=ctx.server.bucket, Key=key)

        return Tool(name, ctx.worker(worker, key), reference, stdin_from=data, after=cleanup)

    return [
        tool("ivrimeet put(pipe)", "ivrimeet-put", reference=False),
        tool("obstore put(iterator)", "obstore-put", reference=True),
        tool("boto3 upload_fileobj", "boto3-put", reference=True),
    ]


register(
    Case(
        name="download-1g",
        description="1 GiB object -> local file",
        full_bytes=GiB,
        quick_bytes=64 * MiB,
        prepare=prepare_download,
        target=Target(min_ratio=0.6, aim_ratio=0.8),
    )
)

register(
    Case(
        name="upload-pipe-1g",
        description="1 GiB from a pipe (unknown length) -> object",
        full_bytes=GiB,
        quick_bytes=64 * MiB,
        prepare=prepare_upload_pipe,
        target=Target(min_ratio=0.8, max_rss_mib=150),
    )
)
