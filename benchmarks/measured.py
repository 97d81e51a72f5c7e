"""Run a command; report its wall time, CPU time and peak RSS: `measured.py REPORT -- CMD ...`.

Why a separate small process: on Linux a child's `ru_maxrss` includes the memory of the
process it was forked (or vforked) from, carried over `exec`. Started from the benchmark, which
holds the sandbox and its cache of rendered records (hundreds of MB), every subprocess would
report at least the benchmark's size. Started from this launcher (stdlib only, ~10 MB), the
floor is the launcher's size, below any Python program's real peak.

Writes `{"wall_s", "cpu_s", "maxrss_kib", "returncode"}` as JSON to REPORT; the command's stdout and
stderr are this process's own (inherited).
"""

import json
import os
import subprocess
import sys
import time


def main() -> int:
    report, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(report, "w") as out:
        json.dump(
            {
                "wall_s": wall,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "maxrss_kib": usage.ru_maxrss,
                "returncode": proc.returncode,
            },
            out,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
