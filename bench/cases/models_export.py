"""``ivrimeet models export`` as a whole process, against the tools a user would script (issue 8).

Every case stores one model twice in the bucket: through the model store
(blobs, manifest, ref) and as a plain Hugging Face cache (``plain/<repo>/``:
``blobs/<sha256>`` + ``refs/main``, the same bytes), and once more through
``hf-cache-sync push`` (its own layout under ``hfcs/``). Then each tool, in its
own fresh process, restores it into an empty directory:

* ``ivrimeet models export REPO DIR`` (the real console script; settings from
  the environment; sha256 verified; the same ``restore_closure`` as cold starts);
* ``s5cmd cp 'plain/<repo>/*' DIR/`` with its defaults, and tuned
  (``--concurrency 16 --part-size 16``): plain copies, nothing verified;
* boto3's transfer manager (``download_file`` per object, 8 threads);
* ``hf-cache-sync pull REPO`` (boto3 + sha256 per blob).

Cases and targets (ratio = best reference's MiB/s ÷ ... i.e. >= 1.11 means
wall <= 0.9x the best reference):

* ``export-1g``: one 1 GiB file; wall <= 0.9x s5cmd, peak RSS <= 100 MiB;
* ``export-425m``: one 400 MiB file + 25 small files; wall <= 1.0x s5cmd;
* ``export-small``: 25 files, ~0.6 MB; wall <= 1.5x s5cmd (start-up dominates).

After every ivrimeet run the harness checks the export is complete (sizes) and
that ``IVRIMEET_TMP_DIR`` is empty (residual 0 bytes); during the untimed
warm-up run it samples the disk used under DIR and ``IVRIMEET_TMP_DIR``
(peak <= model size + 64 MiB).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.cases import register
from bench.cases.models import SMALL_FILES, compiled_bytecode, small_files, store_model
from bench.harness import Case, Context, GiB, MiB, Target, Tool

WORKERS = str(Path(__file__).resolve().with_name("models_workers.py"))


def _hf_cache_sync_config(ctx: Context, name: str) -> Path:
    path = ctx.workdir / f"hf-cache-sync-{name}.yaml"
    path.write_text(
        "storage:\n"
        f"  endpoint: {ctx.server.endpoint}\n"
        f"  bucket: {ctx.server.bucket}\n"
        "  region: us-east-1\n"
        "team:\n"
        f"  prefix: hfcs/{name}\n"
    )
    return path


def _export_tools(
    ctx: Context, name: str, repos: dict[str, dict[str, Path]], *, variants: bool = True
) -> list[Tool]:
    repo = next(iter(repos))
    seed, plain = store_model(ctx, repo, "snapshot", repos)
    config = _hf_cache_sync_config(ctx, name)
    subprocess.run(
        [*ctx.script("hf-cache-sync"), "--config", str(config), "push"],
        env=ctx.server.env(HF_HUB_CACHE=str(seed)),
        check=True,
        capture_output=True,
    )
    expected = sum(p.stat().st_size for files in repos.values() for p in files.values())
    target = ctx.workdir / "exported"
    tmp = ctx.workdir / "tmp-ivrimeet"
    tmp.mkdir(exist_ok=True)

    def clean() -> None:
        shutil.rmtree(target, ignore_errors=True)

    def check_and_clean() -> None:
        blobs = [p for p in target.rglob("blobs/*") if p.is_file()]
        got = sum(p.stat().st_size for p in blobs)
        if got != expected:
            raise RuntimeError(f"ivrimeet exported {got} bytes of blobs, expected {expected}")
        leftovers = list(tmp.iterdir())
        if leftovers:
            raise RuntimeError(f"ivrimeet left {leftovers} behind in IVRIMEET_TMP_DIR")
        clean()

    ivrimeet_env = {
        "S3_BUCKET": ctx.server.bucket,
        "S3_ENDPOINT_URL": ctx.server.endpoint,
        "S3_REGION": "us-east-1",
        "HF_ENDPOINT": "http://127.0.0.1:9",  # unreachable: the bucket has everything
        "IVRIMEET_TMP_DIR": str(tmp),
        "IVRIMEET_DATA_DIR": str(ctx.workdir / "data"),
        **compiled_bytecode(ctx),
    }
    url = f"s3://{ctx.server.bucket}/{plain}*"
    s5cmd = [ctx.s5cmd(), "--endpoint-url", ctx.server.endpoint, "cp"]
    export = [*ctx.script("ivrimeet"), "models", "export", repo, str(target), "--no-progress"]
    # The same command with the other part size x connections that measured well
    # (README, Performance): the defaults are chosen from rows like these.
    shapes = [(32, 4)] if variants else []
    return [
        Tool(
            "ivrimeet models export",
            export,
            reference=False,
            env=ivrimeet_env,
            after=check_and_clean,
            disk_paths=(target, tmp),
        ),
        *(
            Tool(
                f"ivrimeet models export, {connections} x {mib} MiB",
                export,
                reference=False,
                env={
                    **ivrimeet_env,
                    "TRANSFER_PART_SIZE": str(mib * MiB),
                    "TRANSFER_CONCURRENCY": str(connections),
                },
                after=check_and_clean,
                disk_paths=(target, tmp),
            )
            for mib, connections in shapes
        ),
        Tool(
            "ivrimeet export_model(), no CLI",
            [ctx.python, WORKERS, "ivrimeet-export", repo, str(target)],
            reference=False,
            env={"BENCH_TMP": str(tmp), **compiled_bytecode(ctx)},
            after=check_and_clean,
            disk_paths=(target, tmp),
        ),
        Tool(
            "s5cmd cp (defaults)",
            [*s5cmd, url, f"{target}/"],
            reference=True,
            after=clean,
            disk_paths=(target,),
        ),
        Tool(
            "s5cmd cp --concurrency 16 --part-size 16",
            [*s5cmd, "--concurrency", "16", "--part-size", "16", url, f"{target}/"],
            reference=True,
            after=clean,
        ),
        Tool(
            "boto3 download_file, 8 threads",
            [ctx.python, WORKERS, "boto3-pool", plain, str(target)],
            reference=True,
            env=compiled_bytecode(ctx),
            after=clean,
        ),
        Tool(
            "hf-cache-sync pull",
            [*ctx.script("hf-cache-sync"), "--config", str(config), "pull", repo],
            reference=True,
            env={"HF_HUB_CACHE": str(target)},
            after=clean,
        ),
    ]


def prepare_export_1g(ctx: Context, size: int) -> list[Tool]:
    repo = f"bench/export-one-{size}"
    return _export_tools(ctx, "one", {repo: {"model.safetensors": ctx.data_file(size)}})


def prepare_export_425m(ctx: Context, size: int) -> list[Tool]:
    small = small_files(ctx, SMALL_FILES)
    small_bytes = sum(p.stat().st_size for p in small.values())
    big = ctx.data_file(max(size - small_bytes, MiB))
    repo = f"bench/export-repo-{size}"
    return _export_tools(ctx, "repo", {repo: {"model.safetensors": big, **small}})


def prepare_export_small(ctx: Context, size: int) -> list[Tool]:
    repo = "bench/export-small"
    return _export_tools(ctx, "small", {repo: small_files(ctx, SMALL_FILES)}, variants=False)


register(
    Case(
        name="export-1g",
        description="`ivrimeet models export` of a 1 GiB single-file model, whole process",
        full_bytes=GiB,
        quick_bytes=64 * MiB,
        prepare=prepare_export_1g,
        target=Target(min_ratio=round(1 / 0.9, 2), max_rss_mib=100, max_extra_disk_mib=64),
    )
)

register(
    Case(
        name="export-425m",
        description="`ivrimeet models export` of 400 MiB + 25 small files, whole process",
        full_bytes=425 * MiB,
        quick_bytes=64 * MiB,
        prepare=prepare_export_425m,
        target=Target(min_ratio=1.0, max_extra_disk_mib=64),
    )
)

register(
    Case(
        name="export-small",
        description="`ivrimeet models export` of 25 small files (~0.6 MB), whole process",
        full_bytes=600 * 1024,
        quick_bytes=600 * 1024,
        prepare=prepare_export_small,
        target=Target(min_ratio=round(1 / 1.5, 2), max_extra_disk_mib=64),
    )
)
