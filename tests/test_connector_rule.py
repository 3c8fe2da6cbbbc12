"""The critical "VoIP or DWH connected" rule rests on evidence of a connection (the DWH export reconciled),
never on the VoIP check's read-back of a call the harness itself logged through the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suite_runner import SuiteRun, run_suite

CONNECTED = "integrations::voip_or_dwh_connected"
VOIP = "integrations::voip_call_appears_on_the_lead"


def _test(results: dict, check: str) -> dict:  # type: ignore[type-arg]
    return next(t for t in results["tests"] if t["check"] == check)


def test_a_voip_read_back_alone_never_meets_the_connector_rule(tmp_path: Path) -> None:
    """The export drops records, the API keeps a logged call: the rule is not measured (our gap), so the
    verdict is incomplete, never accept; the VoIP check itself passes and says what it proves."""
    run = run_suite(tmp_path, "--vendor=sandbox:export_drops_records")
    assert run.results is not None, run.stdout + run.stderr
    assert _test(run.results, VOIP)["outcome"] == "passed"
    connected = _test(run.results, CONNECTED)
    assert connected["fault"] == "harness" and "not measured" in connected["message"]
    assert "reads back a call the harness logged through the API" in connected["message"]
    document = run.acceptance
    assert document is not None and document["verdict"] in ("incomplete", "reject")
    assert [g["kind"] for g in document["gaps"] if g["subject"] == CONNECTED] == ["not_measured"]
    assert {r["key"]: r["status"] for r in document["rules"]}["integrations"] == "not yet known"


@pytest.mark.parametrize(("profile", "status"), [("healthy", "passed"), ("broken_connectors", "failed")])
def test_the_export_path_decides_the_rule(
    request: pytest.FixtureRequest, tmp_path: Path, profile: str, status: str
) -> None:
    shared: SuiteRun | None = request.getfixturevalue("healthy_run") if profile == "healthy" else None
    run = shared or run_suite(tmp_path, f"--vendor=sandbox:{profile}")
    assert run.results is not None, run.stdout + run.stderr
    connected = _test(run.results, CONNECTED)
    assert connected["outcome"] == status
    if status == "failed":  # the call log is broken too: the vendor's finding, the rule not met
        assert connected["fault"] == "vendor" and run.verdict == "reject"
