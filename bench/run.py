"""Benchmark ivrimeet against reference tools on one private ``rclone serve s3``.

    python bench/run.py [--quick] [--only PATTERN] [--json FILE] [--runs N] [--size-mib N]
                        [--system-python]

Starts ``rclone serve s3`` on a free port over a temp dir, makes the data,
runs every case's tools in their own processes (interleaved, median of
``--runs``, default 3), prints a table and checks each case's target. The
``ratio`` column is MiB/s ÷ the best reference tool's MiB/s: higher is better,
and ivrimeet's rows (marked ``*``) are the ones that count. ``--json`` writes
one JSON object per (case, tool) line. ``--quick`` uses 64 MiB instead of
1 GiB and finishes in under a minute. Everything is removed at the end.

Python tools (ivrimeet's and the Python references alike) run on a venv that
sees this interpreter's packages but not the import lines of its ``.pth``
files (``harness.clean_python``): a sandbox may hook every interpreter start
that way, a container does not. ``--system-python`` times them on this
interpreter as it is; both start-up times are printed first.
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cases import discover  # needs the repo root on sys.path
from bench.harness import (
    Case,
    Context,
    Result,
    clean_python,
    interpreter_start,
    rclone_server,
    run_case,
    table,
)


def _selected(cases: dict[str, Case], pattern: str | None) -> list[Case]:
    if not pattern:
        return list(cases.values())
    if not any(ch in pattern for ch in "*?["):
        pattern = f"*{pattern}*"
    chosen = [case for name, case in cases.items() if fnmatch.fnmatch(name, pattern)]
    if not chosen:
        raise SystemExit(f"no case matches {pattern!r}; cases: {', '.join(cases)}")
    return chosen


def _verdicts(cases: list[Case], results: list[Result]) -> list[str]:
    lines = []
    for case in cases:
        ours = [r for r in results if r.case == case.name and not r.reference]
        for result in ours:
            target = case.target
            ok = result.ratio is not None and result.ratio >= target.min_ratio
            text = f"{case.name}: ratio {result.ratio} (target >= {target.min_ratio}"
            if target.aim_ratio:
                text += f", aim {target.aim_ratio}"
            text += ")"
            if target.max_extra_disk_mib is not None and result.peak_disk_mib is not None:
                limit = result.bytes / (1024 * 1024) + target.max_extra_disk_mib
                ok = ok and result.peak_disk_mib <= limit
                text += f", peak disk {result.peak_disk_mib:.0f} MiB (target <= {limit:.0f})"
            if target.max_rss_mib is not None:
                rss_ok = result.peak_rss_mib <= target.max_rss_mib
                ok = ok and rss_ok
                text += (
                    f", peak RSS {result.peak_rss_mib:.0f} MiB (target <= {target.max_rss_mib:.0f})"
                )
            lines.append(f"{'OK  ' if ok else 'MISS'} {text}")
    return lines


def _progress(line: str) -> None:
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (64 MiB): under a minute")
    parser.add_argument(
        "--only", metavar="PATTERN", help="cases whose name matches (glob or substring)"
    )
    parser.add_argument("--json", metavar="FILE", type=Path, help="write one JSON object per line")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool; the median is reported")
    parser.add_argument("--size-mib", type=int, help="override every case's size (experiments)")
    parser.add_argument(
        "--system-python",
        action="store_true",
        help="run Python tools on this interpreter, .pth start-up hooks included",
    )
    args = parser.parse_args()

    # Headline cases (HTTPS, as real S3 is) first: their rows open the table.
    cases = sorted(_selected(discover(), args.only), key=lambda case: not case.headline)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="ivrimeet-bench-"))
    results: list[Result] = []
    try:
        python = sys.executable if args.system_python else clean_python(workdir)
        for name, interpreter in {"this interpreter": sys.executable, "clean venv": python}.items():
            print(f"python start ({name}): {interpreter_start(interpreter) * 1000:.0f} ms")
        print(f"Python tools run on {python}", flush=True)
        with rclone_server(workdir) as server:
            ctx = Context(server=server, workdir=workdir, python=python)
            for case in cases:
                size = case.quick_bytes if args.quick else case.full_bytes
                if args.size_mib:
                    size = args.size_mib * 1024 * 1024
                print(f"{case.name}: {case.description} ({size // (1024 * 1024)} MiB)", flush=True)
                # --quick skips the warm-up runs: at 64 MiB they matter little.
                results += run_case(case, ctx, size, args.runs, _progress, warm_up=not args.quick)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(table(results))
    print()
    if args.quick or args.size_mib:
        # At 64 MiB process start-up dominates: the targets are for the full sizes.
        print("targets not checked: they apply to the full sizes (run without --quick)")
    else:
        for line in _verdicts(cases, results):
            print(line)
    elapsed = time.monotonic() - started
    print(f"\n{len(results)} results in {elapsed:.0f} s (median of {args.runs} runs; * = ivrimeet)")
    if args.json:
        args.json.write_text("".join(r.json_line() + "\n" for r in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
