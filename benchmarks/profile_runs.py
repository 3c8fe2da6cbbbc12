"""Run the scenario suites against the reference CRM in subprocesses, several at a time, and read what each
run's verdict says: the failed checks and the acceptance verdict.  Shared by ``kill_rate.py`` and
``healthy_false_failures.py``.

Each run gets the committee's template evidence (``fixtures/templates``: a satisfaction survey and a
scorecard), so the healthy reference CRM can be graded ``accept`` and a defect that leaves the verdict
at ``accept`` shows; ``evidence=False`` runs without it (every verdict is then at best incomplete)."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.suite_runner import ROOT, run_suite

RUN_TIMEOUT_S = 1800.0
TEMPLATES = ROOT / "fixtures" / "templates"
EVIDENCE = (f"--satisfaction={TEMPLATES / 'satisfaction.csv'}", f"--scorecard={TEMPLATES / 'scorecard.yaml'}")


@dataclass(frozen=True)
class Planned:
    """One suite run: its label, the ``poc.toml`` vendor table of the reference CRM, and the options."""

    label: str
    vendor_table: dict[str, str | float]
    args: tuple[str, ...] = ()
    evidence: bool = True
    """pass the committee's template evidence (module docstring)"""


@dataclass
class Judged:
    """What one run's results and acceptance document say."""

    label: str
    failed: list[str] = field(default_factory=list)
    verdict: str | None = None
    checks: int = 0
    seconds: float = 0.0
    problem: str | None = None
    """why the run left no results (a harness crash): neither caught nor clean"""


def _toml_value(value: str | float) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def judge(planned: Planned) -> Judged:
    """Run ``pytest scenarios/`` once against the reference CRM of ``planned`` and read its verdict."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="poc-bench-") as tmp:
        work = Path(tmp)
        table = "".join(f"{key} = {_toml_value(value)}\n" for key, value in planned.vendor_table.items())
        (work / "poc.toml").write_text(
            f'[harness]\nreports_dir = "{work / "reports"}"\nledger = "{work / "ledger.sqlite"}"\n'
            f'[vendors.reference]\nadapter = "sandbox"\n{table}'
        )
        evidence = EVIDENCE if planned.evidence else ()
        run = run_suite(work, "--vendor=reference", *evidence, *planned.args, timeout=RUN_TIMEOUT_S)
    seconds = time.perf_counter() - started
    if run.results is None:
        tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
        problem = f"no results (exit {run.returncode}): {tail[0]}"
        return Judged(planned.label, seconds=seconds, problem=problem)
    return Judged(
        planned.label,
        failed=sorted(run.failed_checks()),
        verdict=run.verdict,
        checks=len(run.outcomes()),
        seconds=seconds,
    )


def judge_all(
    plans: Iterable[Planned], jobs: int, report: Callable[[Judged], None] | None = None
) -> list[Judged]:
    """Every planned run, ``jobs`` at a time, in the planned order; ``report`` sees each as it finishes."""
    plans = list(plans)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(judge, plan) for plan in plans]
        done = []
        for future in futures:
            judged = future.result()
            if report is not None:
                report(judged)
            done.append(judged)
    return done


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value
