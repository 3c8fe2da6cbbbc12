"""Grading: from a run's results (and the committee's declared evidence) to the acceptance verdict.

- The four acceptance rules of the PoC, each met / not met / not yet known, with evidence.
- The weighted scoring matrix: per criterion a *measured* part (the automated checks mapped
  to it, weighted by severity) and a *declared* part (the committee's scorecard), combined;
  the total is Σ score × weight / 100 against the target (85).
- TCO and ROI from the scorecard's cost lines.

The verdict is *reject* when a rule is not met or the score misses the target, *incomplete*
when a rule is not yet known or a criterion has no evidence at all, and *accept* otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from poc_harness.criteria import DEFAULT_WEIGHTS, TITLES, Criterion, Severity
from poc_harness.evidence import SatisfactionSurvey, Scorecard

SEVERITY_WEIGHT = {Severity.CRITICAL.value: 3, Severity.MAJOR.value: 2, Severity.MINOR.value: 1}
THREE_REPORTS_CHECK = "ceo_reporting::three_management_reports_ready"
SCORE_TARGET = 85.0
SATISFACTION_TARGET_PCT = 80.0
FAILED = ("failed", "error")


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not met"
    UNKNOWN = "not yet known"


class Verdict(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class RuleResult:
    key: str
    title: str
    status: Status
    evidence: str


@dataclass(frozen=True)
class CriterionScore:
    criterion: Criterion
    title: str
    weight: float
    measured: float | None
    measured_checks: int
    declared: float | None
    declared_evidence: str
    score: float
    source: str  # measured, declared, both, none

    @property
    def points(self) -> float:
        return self.score * self.weight / 100


@dataclass
class Grade:
    verdict: Verdict
    reasons: list[str]
    rules: list[RuleResult]
    criteria: list[CriterionScore]
    total: float
    target: float
    cost: dict[str, Any] | None = None
    satisfaction: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["criteria"] = [{**asdict(c), "points": round(c.points, 2)} for c in self.criteria]
        return data


def _vendor_failures(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tests if t["outcome"] in FAILED and t.get("fault", "vendor") != "harness"]


def rule_no_critical_failure(tests: list[dict[str, Any]]) -> RuleResult:
    critical = [t for t in tests if t["severity"] == Severity.CRITICAL.value]
    failed = [t["check"] for t in _vendor_failures(critical)]
    unsettled = [t["check"] for t in critical if t["outcome"] == "pending" or t.get("fault") == "harness"]
    title = "No critical failure"
    if failed:
        return RuleResult(
            "no_critical_failure", title, Status.NOT_MET, "critical checks failed: " + ", ".join(failed)
        )
    if unsettled or not critical:
        what = ", ".join(unsettled) if unsettled else "no critical check ran"
        return RuleResult("no_critical_failure", title, Status.UNKNOWN, f"not settled yet: {what}")
    return RuleResult("no_critical_failure", title, Status.MET, f"all {len(critical)} critical checks passed")


def rule_integrations(tests: list[dict[str, Any]]) -> RuleResult:
    title = "Integrations run without a critical error"
    integration = [t for t in tests if t["criterion"] == Criterion.INTEGRATION.value]
    critical_failures = [t["check"] for t in _vendor_failures(integration) if t["severity"] == "critical"]
    if critical_failures:
        return RuleResult(
            "integrations",
            title,
            Status.NOT_MET,
            "critical integration failures: " + ", ".join(critical_failures),
        )
    settled = [t for t in integration if t["outcome"] not in ("pending", "skipped")]
    if not settled:
        return RuleResult(
            "integrations",
            title,
            Status.UNKNOWN,
            "no integration check has run yet (ERP, VoIP or DWH connection, webhooks)",
        )
    return RuleResult(
        "integrations", title, Status.MET, f"{len(settled)} integration checks ran, no critical error"
    )


def rule_three_reports(tests: list[dict[str, Any]], observations: list[dict[str, Any]]) -> RuleResult:
    title = "Three management reports ready"
    result = next((t for t in tests if t["check"] == THREE_REPORTS_CHECK), None)
    ready = next((o["value"] for o in observations if o["name"] == "management_reports"), {})
    listed = ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in ready.items())
    if result is None or result["outcome"] in ("pending", "skipped") or result.get("fault") == "harness":
        return RuleResult(
            "three_reports", title, Status.UNKNOWN, "the CEO reporting suite has not run to the end"
        )
    status = Status.MET if result["outcome"] == "passed" else Status.NOT_MET
    return RuleResult("three_reports", title, status, listed or result["message"])


def rule_satisfaction(survey: SatisfactionSurvey | None) -> RuleResult:
    title = f"At least {SATISFACTION_TARGET_PCT:.0f} % of test users satisfied"
    if survey is None:
        return RuleResult(
            "satisfaction", title, Status.UNKNOWN, "no tester survey given (pass --satisfaction FILE)"
        )
    share = survey.share_pct()
    status = Status.MET if share >= SATISFACTION_TARGET_PCT else Status.NOT_MET
    evidence = (
        f"{survey.satisfied()} of {len(survey.answers)} testers scored ≥ {survey.satisfied_at}/"
        f"{survey.scale_max}: {share:.1f} %"
    )
    return RuleResult("satisfaction", title, status, evidence)


def measured_score(tests: list[dict[str, Any]], criterion: Criterion) -> tuple[float | None, int]:
    """100 × the severity-weighted share of this criterion's settled checks that passed."""
    settled = [
        t
        for t in tests
        if t["criterion"] == criterion.value
        and t["outcome"] in ("passed", *FAILED)
        and t.get("fault") != "harness"
    ]
    if not settled:
        return None, 0
    total = sum(SEVERITY_WEIGHT.get(t["severity"], 1) for t in settled)
    passed = sum(SEVERITY_WEIGHT.get(t["severity"], 1) for t in settled if t["outcome"] == "passed")
    return 100.0 * passed / total, len(settled)


def api_success(calls: dict[str, Any]) -> tuple[float | None, str]:
    """The vendor API's success rate over the run (requests that finally failed after bounded retries),
    the measured part of the reliability criterion when no reliability check ran."""
    requests = int(calls.get("calls", 0)) - int(calls.get("retries", 0))
    if requests <= 0:
        return None, ""
    failures = int(calls.get("failures", 0))
    evidence = (
        f"API: {requests} requests, {failures} failed after retries, {calls.get('retries', 0)} retried, "
        f"by status {calls.get('by_status', {})}"
    )
    return 100.0 * (requests - failures) / requests, evidence


def score_matrix(
    tests: list[dict[str, Any]],
    scorecard: Scorecard | None,
    weights: dict[Criterion, float],
    measured_share: float,
    calls: dict[str, Any] | None = None,
) -> list[CriterionScore]:
    rows = []
    for criterion in Criterion:
        measured, count = measured_score(tests, criterion)
        if criterion is Criterion.RELIABILITY and measured is None and calls:
            measured, _ = api_success(calls)
            count = 1 if measured is not None else 0
        declared_entry = scorecard.criteria.get(criterion) if scorecard else None
        declared = declared_entry.score if declared_entry else None
        if measured is not None and declared is not None:
            score, source = measured_share * measured + (1 - measured_share) * declared, "both"
        elif measured is not None:
            score, source = measured, "measured"
        elif declared is not None:
            score, source = declared, "declared"
        else:
            score, source = 0.0, "none"
        rows.append(
            CriterionScore(
                criterion,
                TITLES[criterion],
                weights[criterion],
                measured,
                count,
                declared,
                declared_entry.evidence if declared_entry else "",
                round(score, 2),
                source,
            )
        )
    return rows


def grade(
    results: dict[str, Any],
    survey: SatisfactionSurvey | None = None,
    scorecard: Scorecard | None = None,
    weights: dict[Criterion, float] | None = None,
    measured_share: float = 0.5,
    target: float = SCORE_TARGET,
) -> Grade:
    tests = [t for t in results["tests"] if t["outcome"] != "skipped"]
    rules = [
        rule_no_critical_failure(tests),
        rule_integrations(tests),
        rule_three_reports(tests, results.get("observations", [])),
        rule_satisfaction(survey),
    ]
    calls = results.get("run", {}).get("calls") or {}
    criteria = score_matrix(tests, scorecard, weights or dict(DEFAULT_WEIGHTS), measured_share, calls)
    total = round(sum(c.points for c in criteria), 2)
    reasons = [f"{r.title}: {r.evidence}" for r in rules if r.status is Status.NOT_MET]
    if reasons:
        verdict = Verdict.REJECT
    else:
        reasons = [f"{r.title}: {r.evidence}" for r in rules if r.status is Status.UNKNOWN]
        missing = [c.title for c in criteria if c.source == "none"]
        if missing:
            reasons.append("no evidence yet for: " + ", ".join(missing))
        if reasons:
            verdict = Verdict.INCOMPLETE
        elif total < target:
            verdict, reasons = (
                Verdict.REJECT,
                [f"weighted score {total:.1f} is below the target {target:.0f}"],
            )
        else:
            verdict, reasons = (
                Verdict.ACCEPT,
                [f"all four rules met; weighted score {total:.1f} ≥ {target:.0f}"],
            )
    notes = [
        f"{t['check']}: harness error, not counted against the vendor"
        for t in tests
        if t.get("fault") == "harness"
    ]
    api_evidence = api_success(calls)[1]
    if api_evidence:
        notes.append(f"Reliability (measured part): {api_evidence}")
    cost = None
    if scorecard and scorecard.cost:
        lines = scorecard.cost
        cost = {
            "currency": lines.currency,
            "breakdown": lines.breakdown(),
            "tco": lines.tco(),
            "roi_pct": lines.roi_pct(),
        }
    satisfaction = None
    if survey:
        satisfaction = {
            "share_pct": survey.share_pct(),
            "satisfied": survey.satisfied(),
            "answers": len(survey.answers),
            "by_role": survey.by_role(),
            "source": survey.source,
        }
    return Grade(verdict, reasons, rules, criteria, total, target, cost, satisfaction, notes)
