"""False failures: how many checks fail on the healthy reference CRM, which must fail none.

Usage: ``python benchmarks/healthy_false_failures.py [--runs 20] [--seed N] [--jobs N]``.

Run *i* uses dataset seed ``seed + i`` and, where the sandbox adapter takes a ``clock_start`` option,
starts the CRM's virtual clock on a different weekday and hour in the buyer's time zone (weekdays
cycle Monday→Sunday, hours cycle through night, morning, midday, evening and late hours, so 20 runs
cover every weekday and 20 distinct weekday/hour pairs); without that option only the seed varies,
and the output says so.  Each run gets the committee's template evidence, so a healthy run should be
graded ``accept``.  Printed: one line per run (seed, start, verdict, failed checks) and a last line
``false failures: N failed checks over R runs ...`` (with the runs not graded ``accept``).  Exit
status 1 when any check failed or a run left no results, 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adapters.sandbox import SandboxOptions
from benchmarks.profile_runs import Judged, Planned, judge_all, positive_int
from poc_harness.config import HarnessSettings

PROFILE = "healthy"
FIRST_MONDAY = date(2026, 3, 2)
HOURS = (2, 9, 13, 17, 22)
"""start hours: night, start of the work day, midday, end of it, late evening"""


def clock_start_supported() -> bool:
    """Whether this sandbox adapter can start the CRM's virtual clock at a given moment."""
    return "clock_start" in SandboxOptions.model_fields


def buyer_zone() -> ZoneInfo:
    return ZoneInfo(str(getattr(HarnessSettings(), "time_zone", "Asia/Tehran")))


def start_of(run: int, zone: ZoneInfo) -> datetime:
    """Run ``run``'s clock start: weekday ``run % 7`` from a Monday, hour ``HOURS[run % 5]``."""
    day = FIRST_MONDAY + timedelta(days=run % 7)
    return datetime.combine(day, time(HOURS[run % len(HOURS)]), tzinfo=zone)


def plan(runs: int, seed: int, vary_start: bool) -> list[Planned]:
    zone = buyer_zone()
    plans = []
    for run in range(runs):
        table: dict[str, str | float] = {"profile": PROFILE}
        label = f"seed={seed + run}"
        if vary_start:
            start = start_of(run, zone)
            table["clock_start"] = start.isoformat()
            label += f" start={start:%a %Y-%m-%d %H:%M %z}"
        plans.append(Planned(label, table, ("--seed", str(seed + run))))
    return plans


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive_int, default=20, help="runs (default 20)")
    parser.add_argument("--seed", type=int, default=HarnessSettings().seed, help="the first run's seed")
    parser.add_argument("--jobs", type=positive_int, default=1, help="runs at a time (default 1)")
    return parser.parse_args(argv)


def _line(run: Judged) -> str:
    failed = run.problem or ", ".join(run.failed) or "none"
    return f"{run.label:<44} verdict={run.verdict or '-':<24} {run.seconds:5.1f}s  failed: {failed}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    vary_start = clock_start_supported()
    how = "seed and clock start vary" if vary_start else "only the seed varies: no sandbox clock_start option"
    print(f"{args.runs} run(s) of the {PROFILE} reference CRM, {args.jobs} at a time: {how}")
    plans = plan(args.runs, args.seed, vary_start)
    runs = judge_all(plans, args.jobs, lambda run: print(_line(run), flush=True))
    false_failures = sum(len(run.failed) for run in runs)
    with_any = sum(bool(run.failed) for run in runs)
    broken = sum(run.problem is not None for run in runs)
    not_accepted = sum(run.verdict != "accept" for run in runs)
    print(
        f"false failures: {false_failures} failed checks over {len(runs)} runs "
        f"({with_any} runs with any, {not_accepted} not graded accept, {broken} without results; {how})"
    )
    return 1 if false_failures or broken else 0


if __name__ == "__main__":
    sys.exit(main())
