"""Checks that cover a part needing another capability (a reopened ticket, an internal note) never pass when
that part could not be exercised: a finding where the vendor lacks it, not measured where the adapter does
not implement it (our gap), and graded as such."""

from __future__ import annotations

from pathlib import Path

from poc_harness.grading.completeness import FAILED, NOT_MEASURED, PASSED, state_of
from tests.suite_runner import run_suite

VARIANT = '''
"""The reference CRM whose adapter does not implement reopening and whose vendor lacks internal notes."""
from adapters.sandbox import SandboxAdapter
from poc_harness.contract.adapter import Capability


class PartialTickets(SandboxAdapter):
    capabilities = SandboxAdapter.capabilities - {Capability.TICKET_REOPEN, Capability.TICKET_NOTES}
    vendor_lacks = {Capability.TICKET_NOTES: "https://crm.example/docs/tickets: no internal notes"}
'''
TICKETS = "ticket_to_resolution::"


def test_a_part_the_adapter_cannot_exercise_is_not_measured_one_the_vendor_lacks_a_finding(
    tmp_path: Path,
) -> None:
    (tmp_path / "partial_tickets.py").write_text(VARIANT)
    (tmp_path / "poc.toml").write_text(
        f'[harness]\nreports_dir = "{tmp_path / "reports"}"\nledger = "{tmp_path / "ledger.sqlite"}"\n'
        '[vendors.partial]\nadapter = "partial_tickets:PartialTickets"\n'
    )
    run = run_suite(
        tmp_path,
        "--vendor=partial",
        "--records=30",
        env={"PYTHONPATH": str(tmp_path)},
        paths=("scenarios/test_ticket_to_resolution.py",),
    )
    assert run.results is not None, run.stdout + run.stderr
    tests = {test["check"].removeprefix(TICKETS): test for test in run.results["tests"]}
    states = {check: state_of(test) for check, test in tests.items()}
    assert states == {
        "timely_answers_are_not_flagged": NOT_MEASURED,  # covers reopen: the adapter's gap
        "late_answers_are_flagged_as_breached": FAILED,  # covers notes too: the vendor lacks them
        "first_response_time_matches_the_ledger": FAILED,  # covers notes
        "closing_sends_exactly_one_nps_survey": NOT_MEASURED,  # covers reopen
        "nps_matches_recorded_responses": PASSED,  # needs neither
    }, run.stdout
    timely, late = tests["timely_answers_are_not_flagged"], tests["late_answers_are_flagged_as_breached"]
    assert timely["fault"] == "harness" and "does not implement ticket_reopen" in timely["message"]
    assert late["fault"] == "vendor" and late["message"].startswith("finding: ")
    assert "https://crm.example/docs/tickets: no internal notes" in late["message"]
