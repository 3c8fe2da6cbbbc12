"""Benchmark: how long ``pytest scenarios/ --vendor=sandbox --collect-only`` takes, warm.

    python benchmarks/collect_time.py [--runs 5] [--checkout PATH]

Runs the command ``runs`` times (after one unmeasured run that warms the bytecode caches) from the
checkout (default: this one), with a throwaway configuration so nothing lands in the checkout's
reports or ledger, and prints the median wall-clock time and CPU time (user + system, which a busy
machine inflates less than wall time).  Target: 1 s wall on an idle machine.  ``--checkout`` measures
another copy, e.g. an export of an earlier commit, for before/after figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = ("scenarios/", "--vendor=sandbox", "--collect-only", "-q")


def one_run(checkout: Path, config: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one collect-only run in a subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *COMMAND, f"--poc-config={config}"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"collect-only failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "poc.toml"
        config.write_text(f'[harness]\nreports_dir = "{tmp}/reports"\nledger = "{tmp}/ledger.sqlite"\n')
        one_run(args.checkout, config, env)  # warm: bytecode and pytest's rewritten-module caches
        figures = [one_run(args.checkout, config, env) for _ in range(args.runs)]
    walls, cpus = zip(*figures, strict=True)
    print(
        f"collect-only over {args.runs} runs: median wall {statistics.median(walls):.2f} s "
        f"(min {min(walls):.2f}), median CPU {statistics.median(cpus):.2f} s (min {min(cpus):.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
