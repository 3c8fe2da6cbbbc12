"""The four verdicts on runs built from the real suites' 28 checks: accept only a complete, evidenced run;
what the harness could not establish (pending, harness fault, not measured, not run, a partial or small
run, missing committee evidence) makes it incomplete and is never dropped from the score."""

from __future__ import annotations

from typing import Any

import pytest

from poc_harness.grading.coverage import defined_checks
from poc_harness.grading.criteria import Criterion
from poc_harness.grading.evidence import (
    CriterionEvidence,
    SatisfactionAnswer,
    SatisfactionSurvey,
    Scorecard,
)
from poc_harness.grading.verdict import Verdict, grade
from tests.suite_runner import ROOT

DEFINED = [check.to_json() for check in defined_checks(ROOT / "scenarios")]
SCALE = [d["check"] for d in DEFINED if d["criterion"] == "scalability"]
MAJORS = [d["check"] for d in DEFINED if d["severity"] == "major"]
NOT_MEASURED = "NotExercised: not measured: the hubspot adapter names no API requests for the load probe"


def _survey() -> SatisfactionSurvey:
    answers = [SatisfactionAnswer(tester=f"t{n}", role="rep", score=5, line=n + 2) for n in range(5)]
    return SatisfactionSurvey(source="s.csv", scale_max=5, satisfied_at=4, answers=answers)


def _scorecard(score: float, leave_out: tuple[Criterion, ...] = ()) -> Scorecard:
    entries = {c: CriterionEvidence(score=score, evidence="quote") for c in Criterion if c not in leave_out}
    return Scorecard(vendor="v", criteria=entries)


def _run(
    changed: dict[str, dict[str, Any]] | None = None,
    ran: list[str] | None = None,
    selected: list[str] | None = None,
    records: int = 200,
) -> dict[str, Any]:
    """A run of the suites: every defined check passed unless ``changed`` says otherwise; ``ran`` (default:
    every selected check) and ``selected`` (default: every defined check) narrow it."""
    chosen = selected if selected is not None else [d["check"] for d in DEFINED]
    tests = [
        {**d, "nodeid": d["check"], "outcome": "passed", "message": "", "fault": None, **(changed or {}).get(
            d["check"], {}
        )}
        for d in DEFINED
        if d["check"] in (ran if ran is not None else chosen)
    ]
    run = {
        "vendor": "v",
        "records": records,
        "acceptance_records": 200,
        "suite": {"defined": DEFINED, "selected": sorted(chosen)},
        "calls": {"calls": 1000, "retries": 0, "failures": 0},
    }
    observations = [{"name": "management_reports", "value": {"conversion": True, "sla": True, "nps": True}}]
    return {"run": run, "tests": tests, "observations": observations}


def _failed(fault: str = "vendor", message: str = "finding: wrong") -> dict[str, Any]:
    return {"outcome": "failed" if fault == "vendor" else "error", "fault": fault, "message": message}


def test_the_suites_define_every_check_the_profiles_know() -> None:
    from tests.test_defect_profiles import ALL_CHECKS

    assert {d["check"] for d in DEFINED} == ALL_CHECKS and len(SCALE) == 3 and len(MAJORS) >= 7


def test_a_complete_passed_run_with_evidence_is_accepted() -> None:
    graded = grade(_run(), _survey(), _scorecard(90))
    assert graded.verdict is Verdict.ACCEPT, graded.reasons
    assert graded.gaps == [] and graded.total == graded.total_high
    assert graded.scope is not None and graded.scope.counts


def test_fewer_records_than_the_acceptance_count_is_never_accept() -> None:
    """Issue 12: ``--records 50`` gave accept 86.9."""
    graded = grade(_run(records=50), _survey(), _scorecard(90))
    assert graded.verdict is Verdict.INCOMPLETE
    assert graded.scope is not None and not graded.scope.counts
    assert graded.scope.labels == ("below_acceptance_records",)
    assert any("50 records" in reason for reason in graded.reasons)


def test_a_subset_of_the_suites_is_partial_and_never_accept() -> None:
    """Issue 12: only the CEO reporting and integrations suites (12 of 28 checks) gave accept 96.0."""
    subset = [d["check"] for d in DEFINED if d["check"].split("::")[0] in ("ceo_reporting", "integrations")]
    graded = grade(_run(selected=subset), _survey(), _scorecard(90))
    assert len(subset) == 12
    assert graded.verdict is Verdict.INCOMPLETE
    assert graded.scope is not None and graded.scope.labels == ("partial",)
    assert (graded.scope.selected, graded.scope.defined) == (12, len(DEFINED))
    assert [gap.kind for gap in graded.gaps] == ["partial"]  # one line, not one per check left out
    security = next(c for c in graded.criteria if c.criterion is Criterion.SECURITY)
    assert not security.complete and security.measured == 0.0 and security.measured_high == 100.0


def test_pending_major_checks_are_never_accept() -> None:
    """Issue 12: the first wall-clock night with 3 major checks pending gave accept 86.9."""
    pending = {check: {"outcome": "pending", "message": "PENDING: 4 expectation(s)"} for check in MAJORS[:3]}
    graded = grade(_run(pending), _survey(), _scorecard(90))
    assert graded.verdict is Verdict.INCOMPLETE
    assert sorted(gap.subject for gap in graded.gaps if gap.kind == "pending") == sorted(MAJORS[:3])
    assert graded.total < graded.total_high


def test_seven_majors_failed_by_the_harness_are_incomplete_and_stay_in_the_score() -> None:
    """Issue 12: 7 majors marked harness were dropped from the score: accept 96.75."""
    crashed = {check: _failed("harness", "KeyError: 'id'") for check in MAJORS[:7]}
    graded = grade(_run(crashed), _survey(), _scorecard(90))
    clean = grade(_run(), _survey(), _scorecard(90))
    assert graded.verdict is Verdict.INCOMPLETE
    assert sorted(g.subject for g in graded.gaps if g.kind == "harness_fault") == sorted(MAJORS[:7])
    assert graded.total < clean.total <= graded.total_high  # counted 0 in the floor, 100 in the ceiling
    assert graded.conditions == []  # our faults are not the vendor's findings


def test_scale_not_measured_leaves_scalability_incomplete_never_100_declared() -> None:
    """Issue 12: scale checks "not measured" left scalability (weight 20) 100 % declared."""
    unmeasured = {check: _failed("harness", NOT_MEASURED) for check in SCALE}
    graded = grade(_run(unmeasured), _survey(), _scorecard(100))
    scalability = next(c for c in graded.criteria if c.criterion is Criterion.SCALABILITY)
    assert graded.verdict is Verdict.INCOMPLETE
    assert scalability.source == "both" and not scalability.complete
    assert scalability.measured == 0.0 and scalability.score == 50.0  # 0 measured + 100 declared, halved
    assert sorted(g.subject for g in graded.gaps if g.kind == "not_measured") == sorted(SCALE)


@pytest.mark.parametrize("declared", [0, 40, 90, 100])
def test_a_vendor_without_a_scorecard_never_scores_higher_than_one_with_a_scorecard(declared: float) -> None:
    """Issue 12: measured-only criteria counted as 100, so no scorecard beat a scorecard."""
    without = grade(_run(), _survey(), None)
    with_card = grade(_run(), _survey(), _scorecard(declared))
    assert without.total <= with_card.total
    assert without.verdict is Verdict.INCOMPLETE
    assert {g.kind for g in without.gaps} == {"no_declared_score"}


def test_a_criterion_with_no_evidence_at_all_is_incomplete_never_100() -> None:
    graded = grade(_run(), _survey(), _scorecard(95, leave_out=(Criterion.COST,)))
    cost = next(c for c in graded.criteria if c.criterion is Criterion.COST)
    assert (cost.source, cost.score, cost.score_high, cost.complete) == ("none", 0.0, 100.0, False)
    assert graded.verdict is Verdict.INCOMPLETE
    assert [g.subject for g in graded.gaps] == ["cost"]


def test_a_failed_major_check_accepts_with_that_condition() -> None:
    major = MAJORS[0]
    failed = {major: _failed(message="finding: the follow-up is due at T+3")}
    graded = grade(_run(failed), _survey(), _scorecard(95))
    assert graded.verdict is Verdict.ACCEPT_WITH_CONDITIONS, graded.reasons
    assert [(c.check, c.severity) for c in graded.conditions] == [(major, "major")]
    assert "T+3" in graded.conditions[0].finding and major in graded.reasons[0]


def test_a_failed_minor_check_is_a_condition_too() -> None:
    minor = next(d["check"] for d in DEFINED if d["severity"] == "minor")
    graded = grade(_run({minor: _failed()}), _survey(), _scorecard(95))
    assert graded.verdict is Verdict.ACCEPT_WITH_CONDITIONS
    assert [c.check for c in graded.conditions] == [minor]


def test_a_failed_critical_check_rejects_even_an_incomplete_run() -> None:
    critical = next(d["check"] for d in DEFINED if d["severity"] == "critical")
    changed = {critical: _failed(), SCALE[0]: _failed("harness", NOT_MEASURED)}
    assert grade(_run(changed), _survey(), _scorecard(95)).verdict is Verdict.REJECT


def test_a_score_that_cannot_reach_the_target_rejects_although_incomplete() -> None:
    graded = grade(_run({SCALE[0]: {"outcome": "pending"}}), _survey(), _scorecard(20))
    assert graded.total_high is not None and graded.total_high < graded.target
    assert graded.verdict is Verdict.REJECT and "even if" in graded.reasons[0]


def test_a_selected_check_that_never_ran_is_not_established() -> None:
    everything = [d["check"] for d in DEFINED]
    graded = grade(_run(ran=everything[1:]), _survey(), _scorecard(95))
    assert graded.verdict is Verdict.INCOMPLETE
    assert [(g.kind, g.subject) for g in graded.gaps] == [("not_run", everything[0])]


def test_results_written_before_the_suite_record_cannot_be_proven_complete() -> None:
    results = _run()
    del results["run"]["suite"], results["run"]["acceptance_records"]
    graded = grade(results, _survey(), _scorecard(95))
    assert graded.verdict is Verdict.INCOMPLETE
    assert graded.scope is not None and graded.scope.labels == ("coverage_unknown",)


def test_a_condition_names_what_the_vendor_got_wrong() -> None:
    major = MAJORS[0]
    results = _run({major: _failed(message="1 of 200 expectations failed\n- conversion_rate on ...")})
    results["expectations"] = {major: {"failures": [{"note": "rate 41.0 % instead of 40.5 %"}]}}
    graded = grade(results, _survey(), _scorecard(95))
    assert graded.conditions[0].finding == "1 of 200 expectations failed: rate 41.0 % instead of 40.5 %"
