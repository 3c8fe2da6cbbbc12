"""Grading: the four acceptance rules, the weighted matrix and the verdict, on hand-made results."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from poc_harness.grading.criteria import DEFAULT_WEIGHTS, Criterion
from poc_harness.grading.evidence import (
    CostLines,
    CriterionEvidence,
    SatisfactionAnswer,
    SatisfactionSurvey,
    Scorecard,
)
from poc_harness.grading.verdict import THREE_REPORTS_CHECK, Status, Verdict, grade, measured_score


def _test(
    check: str,
    outcome: str = "passed",
    severity: str = "major",
    criterion: str = "customisation",
    fault: str | None = None,
) -> dict[str, Any]:
    return {
        "check": check,
        "outcome": outcome,
        "severity": severity,
        "criterion": criterion,
        "message": "",
        "fault": fault if fault or outcome not in ("failed", "error") else "vendor",
    }


def _full_run(tests: list[dict[str, Any]], records: int = 200) -> dict[str, Any]:
    """A run that selected every check the suites define (here: the checks of ``tests``)."""
    defined = {t["check"]: {k: t[k] for k in ("check", "severity", "criterion")} for t in tests}
    return {
        "vendor": "v",
        "records": records,
        "acceptance_records": 200,
        "suite": {"defined": list(defined.values()), "selected": sorted(defined)},
    }


def _results(*extra: dict[str, Any], reports: str = "passed") -> dict[str, Any]:
    tests = [
        _test("lead::owner", severity="critical"),
        _test("integration::webhooks", severity="critical", criterion="integration"),
        _test(THREE_REPORTS_CHECK, outcome=reports, severity="critical", criterion="reporting"),
        *extra,
    ]
    return {
        "run": _full_run(tests),
        "tests": tests,
        "observations": [{"name": "management_reports", "value": {"conversion rate": True}}],
    }


def _survey(satisfied: int, total: int) -> SatisfactionSurvey:
    answers = [
        SatisfactionAnswer(tester=f"t{n}", role="sales rep", score=5 if n < satisfied else 2, line=n + 2)
        for n in range(total)
    ]
    return SatisfactionSurvey(source="s.csv", scale_max=5, satisfied_at=4, answers=answers)


def _scorecard(score: float, cost: CostLines | None = None) -> Scorecard:
    return Scorecard(
        vendor="v",
        criteria={c: CriterionEvidence(score=score, evidence="quote") for c in Criterion},
        cost=cost,
    )


def test_accept_when_every_rule_is_met_and_the_score_reaches_the_target() -> None:
    graded = grade(_results(), _survey(9, 10), _scorecard(90))
    assert [r.status for r in graded.rules] == [Status.MET] * 4
    assert graded.total >= 85
    assert graded.verdict is Verdict.ACCEPT


def test_a_critical_failure_rejects_whatever_the_score() -> None:
    graded = grade(_results(_test("x::y", "failed", "critical")), _survey(10, 10), _scorecard(100))
    assert graded.verdict is Verdict.REJECT
    assert graded.rules[0].status is Status.NOT_MET and "x::y" in graded.rules[0].evidence


def test_too_few_management_reports_rejects() -> None:
    graded = grade(_results(reports="failed"), _survey(10, 10), _scorecard(100))
    assert graded.verdict is Verdict.REJECT
    assert graded.rules[2].status is Status.NOT_MET


def test_score_below_target_rejects_when_every_rule_is_met() -> None:
    graded = grade(_results(), _survey(10, 10), _scorecard(50))
    assert graded.verdict is Verdict.REJECT
    assert "below the target" in graded.reasons[0]


def test_satisfaction_threshold_is_80_percent() -> None:
    assert grade(_results(), _survey(8, 10), _scorecard(90)).rules[3].status is Status.MET
    below = grade(_results(), _survey(7, 10), _scorecard(90))
    assert below.rules[3].status is Status.NOT_MET and below.verdict is Verdict.REJECT
    assert "7 of 10" in below.rules[3].evidence


def test_missing_evidence_makes_the_verdict_incomplete_not_accept() -> None:
    no_survey = grade(_results(), None, _scorecard(95))
    assert no_survey.verdict is Verdict.INCOMPLETE and no_survey.rules[3].status is Status.UNKNOWN
    no_scorecard = grade(_results(), _survey(10, 10), None)
    assert no_scorecard.verdict is Verdict.INCOMPLETE
    assert {gap.kind for gap in no_scorecard.gaps} == {"no_declared_score"}
    localisation = next(c for c in no_scorecard.criteria if c.criterion is Criterion.LOCALISATION)
    assert (localisation.source, localisation.score, localisation.complete) == ("none", 0.0, False)


def test_no_integration_check_leaves_that_rule_unknown() -> None:
    results = _results()
    results["tests"] = [t for t in results["tests"] if t["criterion"] != "integration"]
    assert grade(results, _survey(10, 10), _scorecard(95)).rules[1].status is Status.UNKNOWN


def _suite_markers(path: Path) -> dict[str, tuple[str, str]]:
    """Each check of a scenario file: (criterion, severity), read from its markers."""
    spec = importlib.util.spec_from_file_location(f"suite_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    found = {}
    for name, function in vars(module).items():
        marks = {mark.name: mark.args[0] for mark in getattr(function, "pytestmark", []) if mark.args}
        if name.startswith("test_"):
            found[name] = (str(marks.get("criterion")), str(marks.get("severity")))
    return found


def test_the_integrations_suite_makes_that_rule_measurable() -> None:
    """Every check of the integrations suite serves the integration criterion and the webhook retry is
    critical: failing it fails the rule, a failed (major) DWH export alone does not."""
    suite = _suite_markers(Path(__file__).resolve().parent.parent / "scenarios" / "test_integrations.py")
    assert {criterion for criterion, _ in suite.values()} == {"integration"}
    assert suite["test_webhook_retried_with_the_same_event_id"][1] == "critical"
    assert suite["test_dwh_export_reconciles_with_the_ledger"][1] == "major"
    checks = [
        _test(f"integrations::{name.removeprefix('test_')}", severity=severity, criterion=criterion)
        for name, (criterion, severity) in suite.items()
    ]

    def rule_with(failed: str) -> Status:
        tests = [
            {**t, "outcome": "failed", "fault": "vendor"} if t["check"].endswith(failed) else t
            for t in checks
        ]
        return grade({**_results(), "run": _full_run(tests), "tests": tests}).rules[1].status

    assert grade({**_results(), "run": _full_run(checks), "tests": checks}).rules[1].status is Status.MET
    assert rule_with("webhook_retried_with_the_same_event_id") is Status.NOT_MET
    assert rule_with("dwh_export_reconciles_with_the_ledger") is Status.MET


def test_a_harness_fault_never_counts_against_the_vendor() -> None:
    graded = grade(
        _results(_test("x::crash", "error", "critical", fault="harness")), _survey(10, 10), _scorecard(95)
    )
    assert graded.rules[0].status is Status.UNKNOWN
    assert graded.verdict is Verdict.INCOMPLETE
    assert [(gap.kind, gap.subject) for gap in graded.gaps] == [("harness_fault", "x::crash")]


def test_pending_critical_check_is_not_yet_known() -> None:
    graded = grade(_results(_test("x::later", "pending", "critical")), _survey(10, 10), _scorecard(95))
    assert graded.rules[0].status is Status.UNKNOWN


def test_measured_score_weighs_by_severity() -> None:
    tests = [_test("a", "passed", "critical"), _test("b", "failed", "minor"), _test("c", "pending", "major")]
    assert measured_score(tests, Criterion.CUSTOMISATION) == (pytest.approx(75.0), 2)  # 3 of 3+1
    assert measured_score(tests, Criterion.SECURITY) == (None, 0)


def test_measured_and_declared_parts_combine_and_weights_add_up() -> None:
    tests = [_test("a", "passed"), _test("b", "failed")]  # 50 %
    results = {"run": _full_run(tests), "observations": [], "tests": tests}
    graded = grade(results, None, _scorecard(90), measured_share=0.5)
    customisation = next(c for c in graded.criteria if c.criterion is Criterion.CUSTOMISATION)
    assert (customisation.measured, customisation.declared, customisation.score) == (50.0, 90.0, 70.0)
    assert customisation.source == "both"
    expected_total = (
        sum(90 * w for c, w in DEFAULT_WEIGHTS.items() if c is not Criterion.CUSTOMISATION) / 100 + 7.0
    )
    assert graded.total == pytest.approx(expected_total)


def test_tco_and_roi_come_from_the_scorecard() -> None:
    cost = CostLines(
        users=10,
        licence_per_user=100,
        deployment_migration=500,
        training_adoption=200,
        addons_custom=100,
        maintenance_support=200,
        revenue_increase=3000,
        cost_reduction=0,
    )
    graded = grade(_results(), None, _scorecard(90, cost))
    assert graded.cost is not None
    assert graded.cost["tco"] == 2000  # 10 × 100 + 500 + 200 + 100 + 200
    assert graded.cost["roi_pct"] == pytest.approx(50.0)  # (3000 − 2000) ÷ 2000 × 100


def test_availability_across_the_nights_is_measured_reliability() -> None:
    """A vendor down on 2 of 10 nights cannot score its reliability from one good night's API calls."""
    results = _results()
    results["run"]["calls"] = {"calls": 1000, "retries": 0, "failures": 0}
    steady = grade(results, _survey(9, 10), _scorecard(90))
    results["run"]["availability"] = {"nights": 10, "nights_up": 8, "percent": 80.0, "nights_down": []}
    flaky = grade(results, _survey(9, 10), _scorecard(90))
    def reliability(graded: Any) -> float | None:
        return {c.criterion: c for c in graded.criteria}[Criterion.RELIABILITY].measured  # type: ignore[no-any-return]

    assert reliability(flaky) == 80.0 and reliability(steady) == 100.0
    assert flaky.total < steady.total
    assert any("8 of 10 nights" in note for note in flaky.notes)
