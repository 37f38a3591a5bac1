"""Model store: restore and cold start against s5cmd and boto3 (issue 4's "Speed" targets).

* ``models-restore-425m``: one 400 MiB safetensors + 25 small files, stored by
  the model store, restored into a loadable Hugging Face cache in a fresh
  process; vs ``s5cmd cp 'prefix/*'`` of the same cache as plain objects, and
  a boto3 thread pool. Target: wall <= 1.5x s5cmd (ratio >= 0.67), aim 1.2x.
* ``models-restore-small``: the 25 small files only, imports included.
  Target: wall <= 3x s5cmd (ratio >= 0.33). A ``python-floor`` row (plain
  GETs and writes, nothing checked) shows what any Python process pays here.
* ``models-cold-start-pipeline``: a tiny diarization pipeline (segmentation,
  WeSpeaker, PLDA from community-1: 4 repos) from the bucket to a ready
  ``pyannote.audio.Pipeline``; vs s5cmd copying a ready cache + offline
  ``Pipeline.from_pretrained``. Target: <= 1.05x (ratio >= 0.95, issue 8;
  issue 4 asked for 1.2x). Nothing may be left in the temp dir afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from bench.cases import register
from bench.harness import Case, Context, MiB, Target, Tool

WORKERS = str(Path(__file__).resolve().with_name("models_workers.py"))
SMALL_FILES = 25


def compiled_bytecode(ctx: Context) -> dict[str, str]:
    """Let Python keep compiled bytecode (in the workdir) as an installed package would.

    This machine sets PYTHONDONTWRITEBYTECODE=1, so an editable ivrimeet is
    compiled from source on every start (~0.5 s); the untimed warm-up run of
    each tool fills the cache.
    """
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(ctx.workdir / "pycache")}


def _s3_store(ctx: Context):  # type: ignore[no-untyped-def]  # ivrimeet types, imported lazily
    from ivrimeet.objects import S3Connection, S3Store

    return S3Store(
        S3Connection(
            bucket=ctx.server.bucket,
            region="us-east-1",
            endpoint_url=ctx.server.endpoint,
            access_key_id=ctx.server.env()["AWS_ACCESS_KEY_ID"],
            secret_access_key=ctx.server.env()["AWS_SECRET_ACCESS_KEY"],
        )
    )


def _commit(repo: str) -> str:
    return hashlib.sha1(repo.encode(), usedforsecurity=False).hexdigest()


def _seed_cache(cache: Path, repos: dict[str, dict[str, Path]]) -> None:
    """Lay ``repo -> {path: file}`` out as ``huggingface_hub`` does: blobs, snapshot links, refs."""
    for repo, files in repos.items():
        folder = cache / ("models--" + repo.replace("/", "--"))
        commit = _commit(repo)
        (folder / "blobs").mkdir(parents=True, exist_ok=True)
        for path, source in files.items():
            blob = folder / "blobs" / _sha256(source)
            if not blob.exists():
                shutil.copyfile(source, blob)
            link = folder / "snapshots" / commit / path
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text(commit)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def store_model(
    ctx: Context,
    top: str,
    kind: str,
    repos: dict[str, dict[str, Path]],
    *,
    loadable: bool = False,
) -> tuple[Path, str]:
    """Put the closure in the bucket twice: as the model store does, and as a plain HF cache.

    Returns the seed cache (a ``huggingface_hub`` layout) and the plain prefix
    for s5cmd and boto3, holding the same bytes: ``blobs/`` and ``refs/`` of
    every repo, or with ``loadable`` ``snapshots/`` as plain files and ``refs/``
    (a copy of it is a cache a library can load from: S3 has no symlinks).
    """
    from ivrimeet.models.blobs import LocalBlob, upload_blobs
    from ivrimeet.models.closure import scan_closure
    from ivrimeet.models.layout import BucketLayout
    from ivrimeet.models.manifest import Manifest

    cache = ctx.workdir / f"seed-{top.replace('/', '--')}"
    shutil.rmtree(cache, ignore_errors=True)
    _seed_cache(cache, repos)
    closure = scan_closure(cache)
    manifest = Manifest(
        repo=top,
        commit=_commit(top),
        kind=kind,  # type: ignore[arg-type]  # one of the ModelKind literals
        files=closure.files,
        refs=closure.refs,
        created="2026-01-01T00:00:00Z",
    )
    objects = _s3_store(ctx)
    layout = BucketLayout("models/")
    blobs = {
        f.sha256: LocalBlob(
            f.sha256, f.size, cache / ("models--" + f.repo.replace("/", "--")) / "blobs" / f.sha256
        )
        for f in manifest.files
    }
    upload_blobs(objects, layout, blobs.values())
    objects.put(layout.manifest(top, manifest.commit), manifest.to_json())
    objects.put(layout.ref(top, "main"), manifest.commit.encode())
    prefix = f"plain/{top}/"
    for path in sorted(cache.rglob("*")):
        in_blobs = path.parent.name == "blobs"
        if path.is_file() and (in_blobs != loadable or path.parent.name == "refs"):
            with open(path, "rb") as body:
                objects.put(prefix + path.relative_to(cache).as_posix(), body)
    return cache, prefix


def small_files(ctx: Context, count: int) -> dict[str, Path]:
    folder = ctx.workdir / "small-files"
    folder.mkdir(exist_ok=True)
    files: dict[str, Path] = {}
    for index in range(count):
        path = folder / f"file-{index:02d}.json"
        if not path.exists():
            path.write_bytes(os.urandom(1024 + (index * 2047) % (49 * 1024)))
        files[f"config/file-{index:02d}.json"] = path
    return files


def _tools(
    ctx: Context, repo: str, prefix: str, extra_env: dict[str, str], *, floor: bool = False
) -> list[Tool]:
    """ivrimeet's restore, s5cmd and a boto3 pool; with ``floor`` also the least any Python
    process does for the same copy (``python-floor``: where start-up dominates)."""
    target = ctx.workdir / "restored"
    tmp = ctx.workdir / "tmp-ivrimeet"
    tmp.mkdir(exist_ok=True)

    def clean() -> None:
        shutil.rmtree(target, ignore_errors=True)
        leftovers = list(tmp.iterdir())
        if leftovers:
            raise RuntimeError(f"ivrimeet left {leftovers} behind")

    url = f"s3://{ctx.server.bucket}/{prefix}*"
    floor_tool = Tool(
        "Python floor: 8 http.client GETs, no checks",
        [ctx.python, WORKERS, "python-floor", prefix, str(target)],
        reference=True,
        env=compiled_bytecode(ctx),
        after=clean,
    )
    return [
        *([floor_tool] if floor else []),
        Tool(
            "ivrimeet materialize",
            [ctx.python, WORKERS, "ivrimeet-materialize", repo],
            reference=False,
            env={"BENCH_TMP": str(tmp), **compiled_bytecode(ctx), **extra_env},
            after=clean,
            disk_paths=(tmp,),
        ),
        Tool(
            "s5cmd cp 'prefix/*'",
            [ctx.s5cmd(), "--endpoint-url", ctx.server.endpoint, "cp", url, f"{target}/"],
            reference=True,
            after=clean,
        ),
        Tool(
            "boto3 8 threads",
            [ctx.python, WORKERS, "boto3-pool", prefix, str(target)],
            reference=True,
            env=compiled_bytecode(ctx),
            after=clean,
        ),
    ]


def prepare_restore_big(ctx: Context, size: int) -> list[Tool]:
    small = small_files(ctx, SMALL_FILES)
    small_bytes = sum(p.stat().st_size for p in small.values())
    big = ctx.data_file(max(size - small_bytes, MiB))
    repo = f"bench/restore-{size}"
    _, prefix = store_model(ctx, repo, "snapshot", {repo: {"model.safetensors": big, **small}})
    return _tools(ctx, repo, prefix, {})


def prepare_restore_small(ctx: Context, size: int) -> list[Tool]:
    repo = "bench/restore-small"
    _, prefix = store_model(ctx, repo, "snapshot", {repo: small_files(ctx, SMALL_FILES)})
    return _tools(ctx, repo, prefix, {}, floor=True)


def prepare_cold_start(ctx: Context, size: int) -> list[Tool]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.hubrepos import COMMUNITY, PIPELINE, PIPELINE_CLOSURES, build_repos

    folders = build_repos(ctx.workdir / "hubrepos")
    repos: dict[str, dict[str, Path]] = {}
    for repo in PIPELINE_CLOSURES[PIPELINE]:
        files = {
            p.relative_to(folders[repo]).as_posix(): p
            for p in folders[repo].rglob("*")
            if p.is_file() and p.name != "README.md"
        }
        if repo == COMMUNITY:  # pyannote reads only the PLDA from it
            files = {k: v for k, v in files.items() if k.startswith("plda/")}
        repos[repo] = files
    _, prefix = store_model(ctx, PIPELINE, "pipeline", repos, loadable=True)
    tmp = ctx.workdir / "tmp-ivrimeet"
    tmp.mkdir(exist_ok=True)
    target = ctx.workdir / "s5cmd-cache"

    def clean() -> None:
        shutil.rmtree(target, ignore_errors=True)

    def clean_tmp() -> None:
        leftovers = list(tmp.iterdir())
        if leftovers:
            raise RuntimeError(f"ivrimeet left {leftovers} behind (residual must be 0 bytes)")

    quiet = {"PYANNOTE_METRICS_ENABLED": "0", **compiled_bytecode(ctx)}
    return [
        Tool(
            "ivrimeet load_diarization_pipeline",
            [ctx.python, WORKERS, "ivrimeet-pipeline", PIPELINE],
            reference=False,
            env={"BENCH_TMP": str(tmp), **quiet},
            after=clean_tmp,
            disk_paths=(tmp,),
        ),
        Tool(
            "s5cmd cp + offline from_pretrained",
            [ctx.python, WORKERS, "s5cmd-pipeline", prefix, PIPELINE, str(target)],
            reference=True,
            env={"BENCH_S5CMD": ctx.s5cmd(), "HF_HUB_OFFLINE": "1", **quiet},
            after=clean,
        ),
    ]


register(
    Case(
        name="models-restore-425m",
        description="425 MiB repo (400 MiB safetensors + 25 small files) -> loadable HF cache",
        full_bytes=425 * MiB,
        quick_bytes=64 * MiB,
        prepare=prepare_restore_big,
        target=Target(
            min_ratio=round(1 / 1.5, 2), aim_ratio=round(1 / 1.2, 2), max_extra_disk_mib=64
        ),
    )
)

register(
    Case(
        name="models-restore-small",
        description="small model (25 files, ~600 KiB) in a fresh process, imports included",
        full_bytes=600 * 1024,
        quick_bytes=600 * 1024,
        prepare=prepare_restore_small,
        target=Target(min_ratio=round(1 / 3, 2), max_extra_disk_mib=64),
    )
)

register(
    Case(
        name="models-cold-start-pipeline",
        description="tiny 4-repo diarization pipeline in the bucket -> Pipeline ready",
        full_bytes=27 * MiB,
        quick_bytes=27 * MiB,
        prepare=prepare_cold_start,
        target=Target(min_ratio=round(1 / 1.05, 2), max_extra_disk_mib=64),
    )
)
