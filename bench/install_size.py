"""Installed size of the two container images' Python environments, against their budgets.

    python bench/install_size.py [--cpu-torch-wheel PATH] [--keep]

Builds each Dockerfile target's environment the way the Dockerfile does — a new
venv, ``pip install -c requirements.lock .`` (``api``) or ``".[ml]"`` (``worker``)
— then removes what the image build removes (``scripts/slim_venv.sh``) and prints
the size of every file in the venv (pip and the base venv included, the OS image
and ffmpeg not), before and after slimming. No Docker engine is needed.

The worker image installs torch from PyPI's CPU-only index. Where that index is
not reachable, ``--cpu-torch-wheel`` names a local CPU build of torch to stand in
for it: pip resolves ``.[ml]`` from the lock (``--dry-run --report``), every package
but torch and its CUDA companions (``nvidia-*``, ``triton``, ``cuda-*``) is installed
from that resolution, and torch comes from the given wheel. The result is the same
set of files the CPU image holds, give or take the torch version's own size.

Budgets (slimmed): api <= 300 MB; worker <= 1,300 MB (CPU torch plus
pyannote.audio and SpeechBrain; a default PyPI install of ``.[ml]`` pulls the
CUDA build, ~5.9 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
BUDGET_MB = {"api": 300, "worker": 1300}
# torch's CUDA build depends on these; a CPU build needs none of them.
CUDA_ONLY = re.compile(r"^(torch|nvidia-.*|triton|cuda-.*)$")


def tree_bytes(path: Path) -> int:
    """Bytes of every regular file under ``path`` (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            file = Path(dirpath, name)
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def _pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "pip"), *args], check=True, cwd=ROOT)


def new_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    _pip(where, "install", "-q", "--upgrade", "pip")
    return where


def build_api(where: Path) -> Path:
    """The ``api`` target: the project without the ``ml`` extra."""
    venv = new_venv(where)
    _pip(venv, "install", "-q", "-c", "requirements.lock", ".")
    return venv


def build_worker_with_local_torch(where: Path, torch_wheel: Path) -> Path:
    """The ``worker`` target's files; ``torch_wheel`` (a CPU build) stands in for the index."""
    venv = new_venv(where)
    report = where / "resolution.json"
    _pip(
        venv,
        "install",
        "-q",
        "--dry-run",
        "--ignore-installed",
        "--report",
        str(report),
        "-c",
        "requirements.lock",
        ".[ml]",
    )
    resolved = json.loads(report.read_text())["install"]
    pins = [
        f"{item['metadata']['name']}=={item['metadata']['version']}"
        for item in resolved
        if not CUDA_ONLY.match(item["metadata"]["name"].lower())
        and item["metadata"]["name"].lower() != "ivrimeet"
    ]
    _pip(venv, "install", "-q", "--no-deps", str(torch_wheel))
    _pip(venv, "install", "-q", "--no-deps", *pins)
    _pip(venv, "install", "-q", "--no-deps", ".")
    return venv


def build_worker_from_cpu_index(where: Path) -> Path:
    """The ``worker`` target exactly as the Dockerfile builds it (needs PyTorch's CPU index)."""
    venv = new_venv(where)
    _pip(
        venv,
        "install",
        "-q",
        "-c",
        "requirements.lock",
        "--index-url",
        "https://download.pytorch.org/whl/cpu",
        "--extra-index-url",
        "https://pypi.org/simple",
        ".[ml]",
    )
    return venv


def packages(venv: Path) -> list[str]:
    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [f"{p['name']}=={p['version']}" for p in json.loads(listed)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-torch-wheel", type=Path, help="a local CPU build of torch")
    parser.add_argument("--only", choices=sorted(BUDGET_MB), help="measure one target")
    parser.add_argument("--keep", action="store_true", help="keep the venvs (paths printed)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="ivrimeet-install-size-"))
    rows: list[tuple[str, float, float, int, str]] = []
    try:
        for target in [args.only] if args.only else sorted(BUDGET_MB):
            where = workdir / target
            if target == "api":
                venv, how = build_api(where), "pip install -c requirements.lock ."
            elif args.cpu_torch_wheel:
                venv = build_worker_with_local_torch(where, args.cpu_torch_wheel)
                how = f'".[ml]" from the lock, torch from {args.cpu_torch_wheel.name}'
            else:
                venv, how = build_worker_from_cpu_index(where), '".[ml]" from the CPU index'
            installed_mb = tree_bytes(venv) / MB
            subprocess.run([str(ROOT / "scripts" / "slim_venv.sh"), str(venv)], check=True)
            rows.append((target, installed_mb, tree_bytes(venv) / MB, len(packages(venv)), how))
    finally:
        if args.keep:
            print(f"venvs kept under {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    failed = False
    print(
        f"{'target':<8} {'pip MB':>8} {'image MB':>9} {'budget':>7} {'packages':>9}  installed with"
    )
    for target, installed_mb, slim_mb, count, how in rows:
        over = slim_mb > BUDGET_MB[target]
        failed |= over
        budget = BUDGET_MB[target]
        print(
            f"{target:<8} {installed_mb:>8.0f} {slim_mb:>9.0f} {budget:>7} {count:>9}  {how}"
            + ("  OVER" if over else "")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
