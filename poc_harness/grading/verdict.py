"""Grading: from a run's results (and the committee's declared evidence) to the acceptance verdict.

- The four acceptance rules of the PoC, each met / not met / not yet known, with evidence.
- The weighted scoring matrix: per criterion a *measured* part (the checks the suites define for it,
  weighted by severity) and a *declared* part (the committee's scorecard), combined; the total is
  Σ score × weight / 100 against the target (85).  What the run could not establish (a check pending,
  not measured, failed by the harness, not run or not selected; a declared score missing) is never
  dropped and never replaced by declared evidence: it counts 0 in the score (``total``, a floor) and
  100 in its ceiling (``total_high``), and it makes the criterion, and the verdict, incomplete.  So a
  vendor without a scorecard never scores higher than one with a scorecard.
- TCO and ROI from the scorecard's cost lines.

Verdicts, first match wins:
- *reject*: a rule is not met (a critical check failed by the vendor, too few management reports, too
  few satisfied testers), or the score misses the target: the complete score, or, while something is
  not established, even the ceiling;
- *incomplete*: anything not established (see ``poc_harness.grading.completeness``), including a partial run,
  a run below the acceptance record count and missing committee evidence; listed apart from the
  vendor's findings as "what the harness could not establish";
- *accept with conditions*: every check judged, but a major or minor check failed by the vendor: each
  failure is a condition the vendor must fix before contract;
- *accept*: everything judged and passed, every rule met, the score on target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from poc_harness.grading import completeness
from poc_harness.grading.completeness import FAILED, NOT_SELECTED, PASSED, Gap, Scope
from poc_harness.grading.criteria import DEFAULT_WEIGHTS, TITLES, Criterion, Severity
from poc_harness.grading.evidence import SatisfactionSurvey, Scorecard

SEVERITY_WEIGHT = {Severity.CRITICAL.value: 3, Severity.MAJOR.value: 2, Severity.MINOR.value: 1}
THREE_REPORTS_CHECK = "ceo_reporting::three_management_reports_ready"
SCORE_TARGET = 85.0
SATISFACTION_TARGET_PCT = 80.0
NO_DECLARED, NO_SURVEY = "no_declared_score", "no_survey"

State = tuple[dict[str, Any], str]


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not met"
    UNKNOWN = "not yet known"


class Verdict(StrEnum):
    """The run's acceptance decision (a rule's judgement of one expectation is ``rules.Judgement``)."""

    ACCEPT = "accept"
    ACCEPT_WITH_CONDITIONS = "accept with conditions"
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
    measured: float | None  # floor: what is not established counts 0
    measured_checks: int  # judged
    declared: float | None
    declared_evidence: str
    score: float  # floor
    source: str  # measured, declared, both, none
    measured_high: float | None = None  # ceiling: what is not established counts 100
    defined_checks: int = 0
    score_high: float = 0.0
    complete: bool = True

    @property
    def points(self) -> float:
        return self.score * self.weight / 100

    @property
    def points_high(self) -> float:
        return self.score_high * self.weight / 100


@dataclass(frozen=True)
class Condition:
    """A check the vendor failed (major or minor): to be fixed before contract."""

    check: str
    severity: str
    criterion: str | None
    finding: str


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
    total_high: float | None = None
    conditions: list[Condition] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    scope: Scope | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["criteria"] = [
            {**asdict(c), "points": round(c.points, 2), "points_high": round(c.points_high, 2)}
            for c in self.criteria
        ]
        data["gaps"] = [gap.to_json() for gap in self.gaps]
        data["scope"] = self.scope.to_json() if self.scope else None
        return data


def _states(tests: list[dict[str, Any]]) -> list[State]:
    """States of bare result entries (no defined set): what the rules see when called on tests alone."""
    return [(test, completeness.state_of(test)) for test in tests]


def _failed(states: list[State]) -> list[dict[str, Any]]:
    return [test for test, state in states if state == FAILED]


def rule_no_critical_failure(states: list[State]) -> RuleResult:
    critical = [(t, s) for t, s in states if t.get("severity") == Severity.CRITICAL.value]
    failed = [t["check"] for t in _failed(critical)]
    unsettled = [t["check"] for t, s in critical if s not in (PASSED, FAILED)]
    title = "No critical failure"
    if failed:
        return RuleResult(
            "no_critical_failure", title, Status.NOT_MET, "critical checks failed: " + ", ".join(failed)
        )
    if unsettled or not critical:
        what = ", ".join(unsettled) if unsettled else "no critical check ran"
        return RuleResult("no_critical_failure", title, Status.UNKNOWN, f"not settled yet: {what}")
    return RuleResult("no_critical_failure", title, Status.MET, f"all {len(critical)} critical checks passed")


def rule_integrations(states: list[State]) -> RuleResult:
    title = "Integrations run without a critical error"
    integration = [(t, s) for t, s in states if t.get("criterion") == Criterion.INTEGRATION.value]
    critical_failures = [t["check"] for t in _failed(integration) if t.get("severity") == "critical"]
    if critical_failures:
        return RuleResult(
            "integrations",
            title,
            Status.NOT_MET,
            "critical integration failures: " + ", ".join(critical_failures),
        )
    settled = [t for t, s in integration if s in (PASSED, FAILED)]
    unsettled = [t["check"] for t, s in integration if s not in (PASSED, FAILED)]
    critical_unsettled = [
        t["check"] for t, s in integration if s not in (PASSED, FAILED) and t.get("severity") == "critical"
    ]
    if not settled or critical_unsettled:
        what = ", ".join(critical_unsettled or unsettled) or "ERP, VoIP or DWH connection, webhooks"
        return RuleResult("integrations", title, Status.UNKNOWN, f"not settled yet: {what}")
    return RuleResult(
        "integrations", title, Status.MET, f"{len(settled)} integration checks ran, no critical error"
    )


def rule_three_reports(states: list[State], observations: list[dict[str, Any]]) -> RuleResult:
    title = "Three management reports ready"
    result = next(((t, s) for t, s in states if t["check"] == THREE_REPORTS_CHECK), None)
    ready: dict[str, bool] = next(
        (o["value"] for o in observations if o["name"] == "management_reports"), {}
    )
    listed = ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in ready.items())
    if result is None or result[1] not in (PASSED, FAILED):
        return RuleResult(
            "three_reports", title, Status.UNKNOWN, "the CEO reporting suite has not run to the end"
        )
    status = Status.MET if result[1] == PASSED else Status.NOT_MET
    return RuleResult("three_reports", title, status, listed or str(result[0].get("message", "")))


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


@dataclass(frozen=True)
class Measured:
    low: float | None
    high: float | None
    judged: int
    defined: int


def measured_part(states: list[State], criterion: Criterion) -> Measured:
    """This criterion's checks, severity-weighted: the passed share with what is not established counted
    as failed (floor) and as passed (ceiling); None where the suites define no check for it."""
    mine = [(t, s) for t, s in states if t.get("criterion") == criterion.value]
    if not mine:
        return Measured(None, None, 0, 0)
    weight = {id(t): SEVERITY_WEIGHT.get(str(t.get("severity")), 1) for t, _ in mine}
    total = sum(weight.values())
    passed = sum(weight[id(t)] for t, s in mine if s == PASSED)
    open_ = sum(weight[id(t)] for t, s in mine if s not in (PASSED, FAILED))
    judged = sum(1 for _, s in mine if s in (PASSED, FAILED))
    return Measured(100.0 * passed / total, 100.0 * (passed + open_) / total, judged, len(mine))


def measured_score(tests: list[dict[str, Any]], criterion: Criterion) -> tuple[float | None, int]:
    """100 × the severity-weighted share of this criterion's judged checks that passed (for callers that
    hold bare results; the matrix uses ``measured_part``, which never leaves an unjudged check out)."""
    judged = [(t, s) for t, s in _states(tests) if s in (PASSED, FAILED)]
    part = measured_part(judged, criterion)
    return part.low, part.judged


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


def reliability_measured(
    calls: dict[str, Any], availability: dict[str, Any] | None
) -> tuple[float | None, str]:
    """The measured part of the reliability criterion when no reliability check ran: the lower of the API's
    success rate over this run and the vendor's availability across the trial's nights (the ledger's
    outages), each with its evidence."""
    api, evidence = api_success(calls)
    nights = (availability or {}).get("percent")
    if nights is None:
        return api, evidence
    night_evidence = (
        f"available {availability['nights_up']} of {availability['nights']} nights ({nights} %)"  # type: ignore[index]
    )
    value = float(nights) if api is None else min(api, float(nights))
    return value, "; ".join(part for part in (evidence, night_evidence) if part)


def _criterion_row(
    criterion: Criterion,
    part: Measured,
    scorecard: Scorecard | None,
    weight: float,
    share: float,
) -> CriterionScore:
    entry = scorecard.criteria.get(criterion) if scorecard else None
    declared = entry.score if entry else None
    if part.low is not None and part.high is not None:
        low = share * part.low + (1 - share) * (declared or 0.0)
        high = share * part.high + (1 - share) * (100.0 if declared is None else declared)
        source = "both" if declared is not None else "measured"
    else:
        low, high = declared or 0.0, 100.0 if declared is None else declared
        source = "declared" if declared is not None else "none"
    return CriterionScore(
        criterion,
        TITLES[criterion],
        weight,
        part.low,
        part.judged,
        declared,
        entry.evidence if entry else "",
        round(low, 2),
        source,
        part.high,
        part.defined,
        round(high, 2),
        declared is not None and part.low == part.high,
    )


def score_matrix(
    tests: list[dict[str, Any]] | list[State],
    scorecard: Scorecard | None,
    weights: dict[Criterion, float],
    measured_share: float,
    calls: dict[str, Any] | None = None,
    availability: dict[str, Any] | None = None,
) -> list[CriterionScore]:
    states: list[State] = [
        item if isinstance(item, tuple) else (item, completeness.state_of(item)) for item in tests
    ]
    rows = []
    for criterion in Criterion:
        part = measured_part(states, criterion)
        if criterion is Criterion.RELIABILITY and part.low is None and (calls or availability):
            value, _ = reliability_measured(calls or {}, availability)
            part = Measured(value, value, 1, 1) if value is not None else part
        rows.append(_criterion_row(criterion, part, scorecard, weights[criterion], measured_share))
    return rows


def _evidence_gaps(criteria: list[CriterionScore], survey: SatisfactionSurvey | None) -> list[Gap]:
    gaps = [
        Gap(
            NO_DECLARED,
            c.criterion.value,
            f"{c.title}: no declared score in the committee's scorecard"
            + ("" if c.measured is not None else " and nothing measured: no evidence at all"),
            c.criterion.value,
        )
        for c in criteria
        if c.declared is None
    ]
    if survey is None:
        gaps.append(Gap(NO_SURVEY, "satisfaction", "no tester survey given (pass --satisfaction FILE)"))
    return gaps


def _finding(test: dict[str, Any], expectations: dict[str, Any]) -> str:
    """What the vendor must fix: the failure's first line and, where the check judged expectations, the
    first failed one's note."""
    first = (str(test.get("message") or "").strip().splitlines() or ["failed"])[0]
    failures = (expectations.get(test["check"]) or {}).get("failures") or []
    note = str(failures[0].get("note") or "") if failures and isinstance(failures[0], dict) else ""
    return (f"{first}: {note}" if note and note not in first else first)[:400]


def _conditions(states: list[State], expectations: dict[str, Any] | None = None) -> list[Condition]:
    return [
        Condition(t["check"], str(t.get("severity")), t.get("criterion"), _finding(t, expectations or {}))
        for t in _failed(states)
        if t.get("severity") != Severity.CRITICAL.value
    ]


def _incomplete_reasons(
    rules: list[RuleResult], gaps: list[Gap], total: float, total_high: float, target: float
) -> list[str]:
    reasons = [f"{r.title}: {r.evidence}" for r in rules if r.status is Status.UNKNOWN]
    reasons += [gap.detail for gap in gaps if gap.subject == "run"]
    kinds: dict[str, int] = {}
    for gap in gaps:
        if gap.subject != "run":
            kinds[gap.kind] = kinds.get(gap.kind, 0) + 1
    if kinds:
        counted = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in kinds.items())
        reasons.append(f"not established: {counted} (listed under what the harness could not establish)")
    span = f"{total:.1f}" if total == total_high else f"between {total:.1f} and {total_high:.1f}"
    reasons.append(f"weighted score so far {span} (target {target:.0f})")
    return reasons


def _verdict(
    rules: list[RuleResult],
    gaps: list[Gap],
    conditions: list[Condition],
    total: float,
    total_high: float,
    target: float,
) -> tuple[Verdict, list[str]]:
    not_met = [f"{r.title}: {r.evidence}" for r in rules if r.status is Status.NOT_MET]
    if not_met:
        return Verdict.REJECT, not_met
    if not gaps and total < target:
        return Verdict.REJECT, [f"weighted score {total:.1f} is below the target {target:.0f}"]
    if gaps and total_high < target:
        return Verdict.REJECT, [
            f"weighted score {total:.1f}, and at most {total_high:.1f} even if everything not yet "
            f"established came out perfect: below the target {target:.0f}"
        ]
    if gaps:
        return Verdict.INCOMPLETE, _incomplete_reasons(rules, gaps, total, total_high, target)
    if conditions:
        return Verdict.ACCEPT_WITH_CONDITIONS, [
            f"all four rules met; weighted score {total:.1f} ≥ {target:.0f}; {len(conditions)} "
            "condition(s) the vendor must fix before contract: "
            + ", ".join(f"{c.check} ({c.severity})" for c in conditions)
        ]
    return Verdict.ACCEPT, [
        f"all four rules met; weighted score {total:.1f} ≥ {target:.0f}; every check judged and passed"
    ]


def grade(
    results: dict[str, Any],
    survey: SatisfactionSurvey | None = None,
    scorecard: Scorecard | None = None,
    weights: dict[Criterion, float] | None = None,
    measured_share: float = 0.5,
    target: float = SCORE_TARGET,
) -> Grade:
    states = completeness.check_states(results)
    scope = completeness.run_scope(results)
    rules = [
        rule_no_critical_failure(states),
        rule_integrations(states),
        rule_three_reports(states, results.get("observations", [])),
        rule_satisfaction(survey),
    ]
    calls = results.get("run", {}).get("calls") or {}
    availability = results.get("run", {}).get("availability")
    criteria = score_matrix(
        states, scorecard, weights or dict(DEFAULT_WEIGHTS), measured_share, calls, availability
    )
    total = round(sum(c.points for c in criteria), 2)
    total_high = round(sum(c.points_high for c in criteria), 2)
    check_gaps = completeness.check_gaps(states)
    if completeness.PARTIAL in scope.labels:  # the scope line says how many were left out
        check_gaps = [gap for gap in check_gaps if gap.kind != NOT_SELECTED]
    gaps = [*completeness.scope_gaps(scope), *check_gaps, *_evidence_gaps(criteria, survey)]
    conditions = _conditions(states, results.get("expectations"))
    verdict, reasons = _verdict(rules, gaps, conditions, total, total_high, target)
    notes = []
    if any(c.severity == Severity.MINOR.value for c in conditions):
        notes.append("a failed minor check is a condition too: the vendor fixes it before contract")
    api_evidence = reliability_measured(calls, availability)[1]
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
    return Grade(
        verdict,
        reasons,
        rules,
        criteria,
        total,
        target,
        cost,
        satisfaction,
        notes,
        total_high,
        conditions,
        gaps,
        scope,
    )
