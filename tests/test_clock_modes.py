"""Time modes: ``backdate`` judges at once; ``wall`` leaves time-based expectations pending and a
later run judges them once they are due (here the served reference CRM's clock is moved between runs,
as eight nights of the trial would move it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from poc_harness.sandbox.server import BackgroundServer
from tests.suite_runner import run_suite, served_table, write_config

SILENCE = "lead_to_contract::silence_alert_after_7_days_and_not_after_activity"
LATE = "ticket_to_resolution::late_answers_are_flagged_as_breached"
TOKEN = "wall-clock-test-token-7f3a"


def test_backdate_mode_judges_at_once(suite) -> None:  # type: ignore[no-untyped-def]
    run = suite("--vendor=sandbox", "--clock=backdate")
    outcomes = run.outcomes()
    assert outcomes[SILENCE] == "passed", run.stdout
    assert set(outcomes.values()) <= {"passed", "pending"}, run.stdout
    # timely tickets can only be cleared once their SLA target has passed: that is pending, not passed
    assert outcomes["ticket_to_resolution::timely_answers_are_not_flagged"] == "pending"
    assert run.results and run.results["run"]["clock"] == "backdate"


def test_backdate_mode_catches_an_early_alert(suite) -> None:  # type: ignore[no-untyped-def]
    run = suite("--vendor=sandbox:silence_alert_early", "--clock=backdate")
    assert run.failed_checks() == {SILENCE}, run.stdout


def _served_config(tmp: Path, url: str) -> None:
    write_config(tmp, tables=served_table(url))


def _advance(url: str, days: float) -> None:
    answer = httpx.post(
        f"{url}/clock/advance", json={"seconds": days * 86400}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    answer.raise_for_status()


@pytest.mark.parametrize(
    ("profile", "judged_outcome"), [("healthy", "passed"), ("silence_alert_early", "failed")]
)
def test_wall_mode_pending_then_judged_by_a_later_run(
    tmp_path: Path, profile: str, judged_outcome: str
) -> None:
    with BackgroundServer(profile=profile, token=TOKEN) as url:
        _served_config(tmp_path, url)
        env = {"SERVED_TOKEN": TOKEN}
        first = run_suite(tmp_path, "--vendor=served", "--clock=wall", env=env)
        assert first.outcomes()[SILENCE] == "pending", first.stdout
        assert first.outcomes()[LATE] == "pending", first.stdout  # late tickets are left unanswered
        first_run = first.results["run"]["run_id"] if first.results else ""
        _advance(url, 8)
        second = run_suite(tmp_path, "--vendor=served", "--clock=wall", env=env)
        assert second.outcomes()[SILENCE] == judged_outcome, second.stdout
        assert second.outcomes()[LATE] == "passed", second.stdout  # run 1's tickets are now breached
        second_run = second.results["run"]["run_id"] if second.results else ""
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        rows = db.execute(
            "SELECT status, judged_by_run FROM expectations WHERE run_id=? AND check_id=?",
            (first_run, SILENCE),
        ).fetchall()
    assert rows and {judge for _, judge in rows} == {second_run}
    assert {status for status, _ in rows} == ({"passed"} if judged_outcome == "passed" else {"failed"})
