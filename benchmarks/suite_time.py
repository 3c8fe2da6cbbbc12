"""Benchmark: wall time of the full scenario run on the reference CRM at several record counts.

Usage: ``python benchmarks/suite_time.py [200 2000 ...]``.  Each size runs
``pytest scenarios/ --vendor=sandbox --records N`` in a fresh process (imports,
seeding, every check, the reports) and prints seconds, HTTP calls and peak memory.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(records: int) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "poc.toml"
        config.write_text(f'[harness]\nreports_dir = "{tmp}/reports"\nledger = "{tmp}/ledger.sqlite"\n')
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "scenarios/",
                "-q",
                "-p",
                "no:warnings",
                "--vendor=sandbox",
                f"--records={records}",
                f"--poc-config={config}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        results = next(Path(tmp, "reports").glob("*.json"), None)
        calls = json.loads(results.read_text())["run"]["calls"].get("calls", 0) if results else 0
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]
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
