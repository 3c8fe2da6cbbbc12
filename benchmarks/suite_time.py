"""Benchmark: wall time of the full scenario run on the reference CRM at several record counts.

Usage: ``python benchmarks/suite_time.py [200 2000 ...]``.  Each size runs
``pytest scenarios/ --vendor=sandbox --records N`` in a fresh process (imports,
seeding, every check, the reports) and prints seconds, HTTP calls and peak memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.suite_runner import run_suite


def measure(records: int) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run = run_suite(Path(tmp), "--vendor=sandbox", f"--records={records}", timeout=3600)
        seconds = time.perf_counter() - started
    calls = run.results["run"]["calls"].get("calls", 0) if run.results else 0
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr.strip()[-200:]
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "http_calls": calls,
        "peak_child_rss_mib": round(peak_mib, 1),
        "pytest": summary,
    }


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [200, 2000]
    for size in sizes:
        figures = measure(size)
        print("  ".join(f"{key}={value}" for key, value in figures.items()), flush=True)


if __name__ == "__main__":
    main()
