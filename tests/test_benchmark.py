"""Smoke test of `benchmarks/run.py`: it runs and prints a table of numbers (no timings checked)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_prints_a_table() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--scenario", "latency0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("scenario"))
    assert lines[header].split()[1:] == [
        "runner", "records", "wall", "s", "CPU", "s", "span", "s", "rec/s", "requests", "429s",
        "peak", "MB",
    ]  # fmt: skip
    number = r"[\d,]+(\.\d+)?"
    tap = re.compile(rf"^latency0: .* tap +{number}( +{number}){{7}}$")
    bare = re.compile(rf"^ +bare +{number}( +{number}){{7}}$")
    assert tap.match(lines[header + 2]), lines[header + 2]
    assert bare.match(lines[header + 3]), lines[header + 3]
    fields = lines[header + 2].split()
    assert fields[fields.index("tap") + 1] == "500"  # every record of the quick store came out
    assert re.search(r"tap/bare rec/s [\d.]+x", done.stdout)
    assert re.search(r"start-up, no request .*: tap [\d.]+ s .*, bare [\d.]+ s", done.stdout)
