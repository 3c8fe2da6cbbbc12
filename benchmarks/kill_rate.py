"""Kill rate: how many of the reference CRM's defect profiles the suites catch.

Usage: ``python benchmarks/kill_rate.py [--profiles a,b] [--seed N] [--jobs N] [--faults] [--no-evidence]``.

Each behaviour defect profile of ``poc_harness.sandbox.profiles.PROFILES`` (every profile but
``healthy`` with no transport ``fault``; new profiles are picked up as they are added) gets one run of
``pytest scenarios/`` in its own subprocess, with the committee's template evidence (so the healthy CRM
is graded ``accept``; ``--no-evidence`` leaves it out).  A profile is **caught** when at least one check
failed *and* the acceptance verdict is not ``accept``: a defect that only turns a check red while the
committee would still sign is not caught.  Printed: one line per profile (caught or missed, verdict, failed
checks), the profiles not caught, and a last line ``kill rate: caught X/Y ...``.  Transport fault
profiles (429s, dropped connections...) test the harness's resilience, not the checks; ``--faults``
runs them too and reports them apart, never in the kill rate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.profile_runs import Judged, Planned, judge_all, positive_int
from poc_harness.sandbox.profiles import PROFILES

REFERENCE = "healthy"


def behaviour_profiles() -> list[str]:
    """Every defect profile that breaks a behaviour (not the transport), in ``PROFILES`` order."""
    return [name for name, p in PROFILES.items() if name != REFERENCE and p.fault is None]


def fault_profiles() -> list[str]:
    return [name for name, p in PROFILES.items() if p.fault is not None]


def caught(run: Judged) -> bool:
    return bool(run.failed) and run.verdict not in ("accept", None)


def _profile_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in PROFILES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown profile(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(PROFILES)}"
        )
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=_profile_list, help="comma-separated profiles (default: all)")
    parser.add_argument("--seed", type=int, help="the dataset seed (default: poc.toml's)")
    parser.add_argument("--jobs", type=positive_int, default=1, help="runs at a time (default 1)")
    parser.add_argument("--faults", action="store_true", help="also run the transport fault profiles")
    parser.add_argument(
        "--no-evidence", action="store_true", help="without the committee's template evidence"
    )
    return parser.parse_args(argv)


def _line(run: Judged) -> str:
    status = "ERROR " if run.problem else "caught" if caught(run) else "MISSED"
    failed = ", ".join(run.failed) or "none"
    return (
        f"{status}  {run.label:<28} verdict={run.verdict or '-':<24} {run.seconds:5.1f}s  "
        f"failed: {run.problem or failed}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = args.profiles or behaviour_profiles() + (fault_profiles() if args.faults else [])
    faults = [name for name in chosen if PROFILES[name].fault is not None]
    behaviours = [name for name in chosen if name not in faults]
    extra = ("--seed", str(args.seed)) if args.seed is not None else ()
    plans = [Planned(name, {"profile": name}, extra, not args.no_evidence) for name in behaviours + faults]
    print(f"{len(behaviours)} behaviour profile(s), {len(faults)} fault profile(s), {args.jobs} at a time")
    runs = judge_all(plans, args.jobs, lambda run: print(_line(run), flush=True))
    scored = [run for run in runs if run.label in behaviours]
    missed = [run.label for run in scored if not caught(run)]
    if faults:
        print("fault profiles (the harness's resilience; not in the kill rate):")
        for run in runs:
            if run.label in faults:
                print(f"  {run.label}: verdict={run.verdict}, failed: {', '.join(run.failed) or 'none'}")
    if missed:
        print(f"not caught: {', '.join(missed)}")
    total = len(scored)
    share = 100.0 * (total - len(missed)) / total if total else 0.0
    print(f"kill rate: caught {total - len(missed)}/{total} behaviour profiles ({share:.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
