"""The run's timeline is canonical: the healthy reference CRM passes everything whatever the seed and the
weekday and hour its clock starts at, a check's outcome does not depend on which suites ran before it,
and a second run on a served CRM does not blame the vendor for routing leads to an earlier run's reps."""

from __future__ import annotations

from pathlib import Path

import pytest

from poc_harness.sandbox.server import BackgroundServer
from tests.suite_runner import SuiteRun, run_suite, write_config

LEAD, TICKET, CEO = (
    "scenarios/test_lead_to_contract.py",
    "scenarios/test_ticket_to_resolution.py",
    "scenarios/test_ceo_reporting.py",
)
TOKEN = "rep-pool-test-token-41c2"


def _configured(tmp: Path, vendor_table: str = "") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    write_config(tmp, tables=vendor_table)
    return tmp


@pytest.mark.parametrize(
    ("seed", "clock_start"),
    [
        (1404, "2026-11-27T06:30:00+00:00"),  # Friday morning in Tehran
        (7, "2026-11-28T19:45:00+00:00"),  # Saturday, a quarter past eleven at night in Tehran
        (99, "2026-11-30T05:00:00+00:00"),  # Monday, business hours
        (2025, "2026-12-03T20:59:00+00:00"),  # Thursday, just before half past midnight on Friday
    ],
)
def test_the_healthy_crm_fails_nothing_whatever_the_seed_and_start(
    tmp_path: Path, seed: int, clock_start: str
) -> None:
    _configured(tmp_path, f'[vendors.sandbox]\nclock_start = "{clock_start}"\n')
    run = run_suite(tmp_path, "--vendor=sandbox", f"--seed={seed}", paths=(LEAD, TICKET, CEO))
    outcomes = run.outcomes()
    assert outcomes and set(outcomes.values()) == {"passed"}, run.stdout


def _outcomes(tmp: Path, profile: str, paths: tuple[str, ...]) -> dict[str, str]:
    run: SuiteRun = run_suite(_configured(tmp), f"--vendor=sandbox:{profile}", paths=paths)
    return run.outcomes()


@pytest.mark.parametrize("profile", ["healthy", "silence_reset_only_by_calls", "first_response_wrong_event"])
def test_outcomes_do_not_depend_on_the_order_the_suites_run_in(tmp_path: Path, profile: str) -> None:
    forward = _outcomes(tmp_path / "forward", profile, (LEAD, TICKET, CEO))
    backward = _outcomes(tmp_path / "backward", profile, (CEO, TICKET, LEAD))
    assert forward == backward
    assert len(forward) >= 15
    assert (profile == "healthy") == (set(forward.values()) == {"passed"})


def test_a_second_run_on_a_served_crm_counts_earlier_runs_reps_in_the_pool(tmp_path: Path) -> None:
    with BackgroundServer(token=TOKEN) as url:
        _configured(
            tmp_path,
            f'[vendors.served]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "SERVED_TOKEN"\n',
        )
        env = {"SERVED_TOKEN": TOKEN}
        for _ in range(2):
            run = run_suite(tmp_path, "--vendor=served", "-k", "owner or spread", env=env, paths=(LEAD,))
            assert set(run.outcomes().values()) == {"passed"}, run.stdout
