"""Run the scenario suites in a subprocess and read their results JSON: for the self-tests and benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    results: dict[str, Any] | None
    acceptance: dict[str, Any] | None = None
    """the run's graded ``*.acceptance.json``, when the run wrote one"""

    def outcomes(self) -> dict[str, str]:
        if self.results is None:
            raise AssertionError(f"the run wrote no results:\n{self.stdout}{self.stderr}")
        return {test["check"]: test["outcome"] for test in self.results["tests"]}

    def failed_checks(self) -> set[str]:
        return {check for check, outcome in self.outcomes().items() if outcome in ("failed", "error")}

    @property
    def verdict(self) -> str | None:
        """The acceptance verdict (``accept``, ``reject``...), None when the run was not graded."""
        return self.acceptance.get("verdict") if self.acceptance else None


def run_suite(
    tmp: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    paths: tuple[str, ...] = ("scenarios/",),
) -> SuiteRun:
    """``pytest <paths> <args>`` in a subprocess (every suite by default), writing reports and ledger
    under ``tmp``."""
    reports = tmp / "reports"
    config = tmp / "poc.toml"
    if not config.exists():
        config.write_text(f'[harness]\nreports_dir = "{reports}"\nledger = "{tmp / "ledger.sqlite"}"\n')
    command = [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        "-q",
        "-p",
        "no:warnings",
        f"--poc-config={config}",
        *args,
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    found = sorted(
        (p for p in reports.glob("*.json") if not p.name.endswith(".acceptance.json"))
        if reports.exists()
        else [],
        key=lambda p: p.stat().st_mtime,
    )
    results = json.loads(found[-1].read_text()) if found else None
    graded = found[-1].with_suffix(".acceptance.json") if found else None
    acceptance = json.loads(graded.read_text()) if graded is not None and graded.exists() else None
    return SuiteRun(done.returncode, done.stdout, done.stderr, results, acceptance)
