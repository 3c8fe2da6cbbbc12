"""A run records every check the scenario folder defines and the ones it selected, whatever paths, ``-k``
or ``--deselect`` the user passed: a subset is *partial*, a run below the acceptance record count is
*small*, and neither is ever accepted (the suites run against the healthy reference CRM, with the
committee's evidence, so nothing else stands between them and *accept*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.suite_runner import EVIDENCE, run_suite
from tests.test_defect_profiles import ALL_CHECKS, CEO_CHECKS, INTEGRATION_CHECKS

REPORTING_AND_INTEGRATIONS = ("scenarios/test_ceo_reporting.py", "scenarios/test_integrations.py")


def _run(tmp: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``pytest <args>`` (paths among them) against the healthy reference CRM: its results and acceptance
    documents."""
    run = run_suite(tmp, "--vendor=sandbox", *EVIDENCE, *args, paths=())
    assert run.results is not None and run.acceptance is not None, run.stdout + run.stderr
    return run.results, run.acceptance


def test_a_subset_of_suite_files_is_partial_and_not_accepted(tmp_path: Path) -> None:
    """Issue 12: the CEO reporting and integrations suites alone (12 of 28 checks) gave accept 96.0."""
    results, document = _run(tmp_path, *REPORTING_AND_INTEGRATIONS)
    suite = results["run"]["suite"]
    assert {d["check"] for d in suite["defined"]} == ALL_CHECKS
    assert set(suite["selected"]) == CEO_CHECKS | INTEGRATION_CHECKS
    assert {t["outcome"] for t in results["tests"]} == {"passed"}
    assert document["scope"]["labels"] == ["partial"] and not document["scope"]["counts"]
    assert document["verdict"] == "incomplete"


def test_keyword_and_deselect_make_a_run_partial(tmp_path: Path) -> None:
    deselected = "scenarios/test_security.py::test_saml_sp_metadata_valid"
    results, document = _run(tmp_path, "scenarios/", "-k", "not forecast", "--deselect", deselected)
    selected = set(results["run"]["suite"]["selected"])
    defined = {d["check"] for d in results["run"]["suite"]["defined"]}
    assert defined - selected == {"ceo_reporting::forecast_accuracy", "security::saml_sp_metadata_valid"}
    assert document["scope"]["labels"] == ["partial"]
    assert document["verdict"] == "incomplete"


def test_fewer_records_than_the_acceptance_count_is_not_accepted(tmp_path: Path) -> None:
    """Issue 12: ``--records 50`` gave accept 86.9."""
    results, document = _run(tmp_path, "scenarios/", "--records=50")
    assert results["run"]["records"] == 50 and results["run"]["acceptance_records"] == 200
    assert set(results["run"]["suite"]["selected"]) == ALL_CHECKS
    assert document["scope"]["labels"] == ["below_acceptance_records"]
    assert document["verdict"] == "incomplete"
    assert any("50 records" in reason for reason in document["reasons"])
