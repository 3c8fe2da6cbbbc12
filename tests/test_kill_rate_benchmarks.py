"""The measuring benchmarks parse their options, refuse bad ones in one line, and end with their summary,
on one profile and one run (their real sizes are for a manual run)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime

import pytest

from benchmarks import healthy_false_failures, kill_rate
from benchmarks.profile_runs import Judged
from poc_harness.sandbox.profiles import PROFILES
from tests.suite_runner import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_kill_rate_profiles_come_from_the_profile_table() -> None:
    behaviours = kill_rate.behaviour_profiles()
    assert "healthy" not in behaviours and behaviours
    assert set(behaviours) | set(kill_rate.fault_profiles()) == set(PROFILES) - {"healthy"}
    assert all(PROFILES[name].fault is None for name in behaviours)
    args = kill_rate.parse_args(["--profiles", "no_auto_assign, slow_api", "--seed", "7", "--jobs", "2"])
    assert (args.profiles, args.seed, args.jobs) == (["no_auto_assign", "slow_api"], 7, 2)


@pytest.mark.parametrize(
    ("failed", "verdict", "is_caught"),
    [
        (["x"], "reject", True),
        (["x"], "incomplete", True),
        (["x"], "accept", False),  # a red check the committee would still sign for is not caught
        ([], "reject", False),  # no check failed: the verdict alone is not the suites' catch
        (["x"], None, False),  # not graded
    ],
)
def test_caught_needs_a_failed_check_and_a_verdict_other_than_accept(
    failed: list[str], verdict: str | None, is_caught: bool
) -> None:
    assert kill_rate.caught(Judged("p", failed=failed, verdict=verdict)) is is_caught


def test_bad_options_are_refused_in_one_line() -> None:
    done = _run("benchmarks/kill_rate.py", "--profiles", "no_auto_assign,no_such_profile")
    assert done.returncode == 2 and "unknown profile(s) no_such_profile" in done.stderr
    done = _run("benchmarks/healthy_false_failures.py", "--runs", "0")
    assert done.returncode == 2 and "--runs" in done.stderr


def test_kill_rate_on_one_profile_prints_the_catch_and_the_summary() -> None:
    done = _run("benchmarks/kill_rate.py", "--profiles", "no_auto_assign", "--seed", "1404")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^caught  no_auto_assign +verdict=(reject|incomplete)", done.stdout, re.M), done.stdout
    assert "lead_to_contract::every_lead_gets_an_owner" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "kill rate: caught 1/1 behaviour profiles (100.0 %)"


def test_healthy_false_failures_on_one_run_prints_the_summary() -> None:
    done = _run("benchmarks/healthy_false_failures.py", "--runs", "1", "--seed", "1404")
    last = done.stdout.strip().splitlines()[-1]
    summary = re.fullmatch(r"false failures: (\d+) failed checks over 1 runs \(\d+ runs with any, .*\)", last)
    assert summary is not None, done.stdout + done.stderr
    assert done.returncode == (1 if summary.group(1) != "0" else 0)
    assert re.search(r"^seed=1404\b.*verdict=\S+", done.stdout, re.M), done.stdout


def test_healthy_runs_cover_every_weekday_and_distinct_hours() -> None:
    plans = healthy_false_failures.plan(20, 100, vary_start=True)
    starts = [datetime.fromisoformat(str(p.vendor_table["clock_start"])) for p in plans]
    assert {s.weekday() for s in starts} == set(range(7))
    assert len({(s.weekday(), s.hour) for s in starts}) == 20 and all(s.tzinfo for s in starts)
    assert [p.args for p in plans[:2]] == [("--seed", "100"), ("--seed", "101")]
    assert "clock_start" not in healthy_false_failures.plan(1, 1, vary_start=False)[0].vendor_table
