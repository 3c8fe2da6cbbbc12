"""A setup the buyer has not done yet (``NotConfigured``: an SLA policy, an app to install) leaves the check
*pending* with the setup step: never the vendor's finding, never our gap, and listed by the grading under
what the harness could not establish."""

from __future__ import annotations

from pathlib import Path

from poc_harness.grading.completeness import (
    NOT_CONFIGURED_FAULT,
    PENDING,
    SETUP_TEXT,
    check_gaps,
    check_states,
)
from tests.suite_runner import run_suite

VARIANT = '''
"""The reference CRM before the buyer configured its SLA policies: breach flags are not computed."""
from adapters.sandbox import SandboxAdapter
from poc_harness.errors import NotConfigured


class Unconfigured(SandboxAdapter):
    def get_ticket(self, ticket_id):
        raise NotConfigured(f"no SLA status for ticket {ticket_id}: configure SLAs for the PoC's priorities")
'''
CHECK = "ticket_to_resolution::timely_answers_are_not_flagged"


def test_a_setup_not_done_yet_is_pending_with_its_step_never_a_finding(tmp_path: Path) -> None:
    (tmp_path / "unconfigured.py").write_text(VARIANT)
    (tmp_path / "poc.toml").write_text(
        f'[harness]\nreports_dir = "{tmp_path / "reports"}"\nledger = "{tmp_path / "ledger.sqlite"}"\n'
        '[vendors.fresh]\nadapter = "unconfigured:Unconfigured"\n'
    )
    run = run_suite(
        tmp_path,
        "--vendor=fresh",
        "--records=30",
        "-k",
        "timely_answers",
        env={"PYTHONPATH": str(tmp_path)},
        paths=("scenarios/test_ticket_to_resolution.py",),
    )
    assert run.results is not None, run.stdout + run.stderr
    [test] = [t for t in run.results["tests"] if t["check"] == CHECK]
    assert (test["outcome"], test["fault"]) == (PENDING, NOT_CONFIGURED_FAULT), run.stdout
    assert "configure SLAs" in test["message"]
    assert run.returncode == 0, run.stdout + run.stderr  # pending: no finding, no harness error
    filed = run.results["expectations"][CHECK]
    assert filed["pending"] > 0 and not filed["failed"] and not filed["passed"]  # a later run judges them
    [gap] = [g for g in check_gaps(check_states(run.results)) if g.subject == CHECK]
    assert gap.kind == PENDING and gap.detail.startswith(SETUP_TEXT) and "configure SLAs" in gap.detail
