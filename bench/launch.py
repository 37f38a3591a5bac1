"""Run one command and report its wall time, CPU and peak RSS: a tiny ``/usr/bin/time``.

    python -I -S bench/launch.py RESULT_FILE COMMAND [ARG...]

Why a separate small process: ``ru_maxrss`` counts the memory a child had
*before* ``exec`` too, i.e. a copy of its parent. Forked from the harness
(which has boto3 loaded), every tool would report at least the harness's RSS.
Forked from this ~10 MiB interpreter, the figure is the tool's own. Writes
``seconds cpu_seconds peak_rss_kib exit_code`` to RESULT_FILE.
"""

import os
import sys
import time


def main() -> None:
    result_file, *command = sys.argv[1:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)  # noqa: S606  # argv from the harness, no shell
        finally:
            os._exit(127)
    _pid, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(result_file, "w") as out:
        out.write(f"{seconds} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss} {code}\n")
    sys.exit(0 if code == 0 else 1)


main()
