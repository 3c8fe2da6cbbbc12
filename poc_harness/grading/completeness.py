"""What a run established and what it did not: the ground the verdict stands on.

- The run's **scope**: the checks the suites define against those it selected, and the records it seeded
  against the acceptance count.  Only a *full* run (every defined check selected, at least the acceptance
  record count, and a results file that says so) can change a vendor's verdict, trend or comparison; a
  *partial* one (paths, ``-k``, ``--deselect``), a *small* one (``--records`` below the acceptance count)
  or one whose results predate this record (*coverage unknown*) is shown as such.
- Each check's **state**: passed, failed (the vendor's finding), or one of the things the harness could
  not establish: pending (not yet due, or not configured yet by the buyer: then with the setup step),
  harness fault, not measured, not run, not selected, skipped.
  None of these is dropped or replaced by declared evidence: each makes the verdict incomplete and is
  listed apart from the vendor's findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from poc_harness.config import MIN_ACCEPTANCE_RECORDS

PASSED, FAILED = "passed", "failed"
PENDING, HARNESS_FAULT, NOT_MEASURED = "pending", "harness_fault", "not_measured"
NOT_RUN, NOT_SELECTED, SKIPPED = "not_run", "not_selected", "skipped"
UNESTABLISHED = (PENDING, HARNESS_FAULT, NOT_MEASURED, NOT_RUN, NOT_SELECTED, SKIPPED)

PARTIAL, SMALL, UNKNOWN = "partial", "below_acceptance_records", "coverage_unknown"
NOT_CONFIGURED_FAULT = "not_configured"
"""The fault of a pending result the buyer's configuration holds back (``NotConfigured``): its message
carries the setup step."""
SETUP_PENDING = "not configured yet"
SETUP_TEXT = "pending: the buyer has not configured it yet; a run after the setup step judges it"

GAP_TEXT = {
    PENDING: "pending: not yet due, a later run judges it",
    HARNESS_FAULT: "harness fault: the harness failed, the vendor was not judged",
    NOT_MEASURED: "not measured: the adapter cannot observe it",
    NOT_RUN: "not run: selected, but the run ended before it",
    NOT_SELECTED: "not selected: this run left it out (paths, -k, --deselect)",
    SKIPPED: "skipped: not judged",
}


@dataclass(frozen=True)
class Gap:
    """One thing the run could not establish: a check (with its state), the run's scope, or evidence."""

    kind: str
    subject: str
    detail: str
    criterion: str | None = None
    severity: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Scope:
    labels: tuple[str, ...]  # empty for a full run
    defined: int
    selected: int
    records: int | None
    acceptance_records: int

    @property
    def counts(self) -> bool:
        """Whether this run may change the vendor's verdict, trend and comparison column."""
        return not self.labels

    def describe(self) -> list[str]:
        said = {
            PARTIAL: f"partial run: {self.selected} of the {self.defined} checks the suites define were "
            "selected; it is shown but never changes the vendor's verdict, trend or comparison",
            SMALL: f"{self.records} records seeded, fewer than the {self.acceptance_records} of an "
            "acceptance run",
            UNKNOWN: "the results do not record which checks the suites define (written by an older "
            "harness): the run cannot be proven complete",
        }
        return [said[label] for label in self.labels]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "labels": list(self.labels), "counts": self.counts, "said": self.describe()}


def state_of(test: dict[str, Any]) -> str:
    """A result entry's state; an outcome this grading does not know is never a pass or a finding."""
    outcome = test.get("outcome")
    if outcome == PASSED:
        return PASSED
    if outcome in ("failed", "error"):
        if test.get("fault") != "harness":
            return FAILED
        return NOT_MEASURED if "not measured" in str(test.get("message", "")) else HARNESS_FAULT
    if outcome in ("not measured", NOT_MEASURED):
        return NOT_MEASURED
    if outcome == PENDING:
        return PENDING
    return SKIPPED if outcome == SKIPPED else NOT_RUN


def defined_checks(results: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The checks the suites define (check, severity, criterion) and whether the results recorded them;
    results written before they did fall back on the checks they hold."""
    suite = (results.get("run") or {}).get("suite")
    if isinstance(suite, dict) and isinstance(suite.get("defined"), list):
        return [dict(entry) for entry in suite["defined"]], True
    seen: dict[str, dict[str, Any]] = {}
    for test in results.get("tests", []):
        seen.setdefault(test["check"], {k: test.get(k) for k in ("check", "severity", "criterion")})
    return list(seen.values()), False


def run_scope(results: dict[str, Any]) -> Scope:
    run = results.get("run") or {}
    defined, known = defined_checks(results)
    suite = run.get("suite") if known else None
    selected = set(suite.get("selected") or []) if isinstance(suite, dict) else set()
    names = {entry["check"] for entry in defined}
    records = run.get("records")
    minimum = int(run.get("acceptance_records") or MIN_ACCEPTANCE_RECORDS)
    labels = []
    if not known:
        labels.append(UNKNOWN)
    elif names - selected:
        labels.append(PARTIAL)
    if not isinstance(records, int) or records < minimum:
        labels.append(SMALL)
    return Scope(tuple(labels), len(names), len(names & selected) if known else 0, records, minimum)


def check_states(results: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Every defined check's result entries with their states; a defined check without an entry is one
    pseudo-entry, *not selected* or *not run*; an entry for a check outside the defined set is kept."""
    defined, known = defined_checks(results)
    suite = (results.get("run") or {}).get("suite") or {}
    selected = set(suite.get("selected") or []) if known else {d["check"] for d in defined}
    by_check: dict[str, list[dict[str, Any]]] = {}
    for test in results.get("tests", []):
        by_check.setdefault(test["check"], []).append(test)
    states: list[tuple[dict[str, Any], str]] = []
    for entry in defined:
        found = by_check.pop(entry["check"], [])
        if found:
            states.extend((test, state_of(test)) for test in found)
        else:
            state = NOT_RUN if entry["check"] in selected else NOT_SELECTED
            states.append(({**entry, "outcome": None}, state))
    states.extend((test, state_of(test)) for tests in by_check.values() for test in tests)
    return states


def check_gaps(states: Iterable[tuple[dict[str, Any], str]]) -> list[Gap]:
    gaps = []
    for test, state in states:
        if state in UNESTABLISHED:
            message = str(test.get("message") or "").strip().splitlines()
            text = GAP_TEXT[state]
            if state == PENDING and test.get("fault") == NOT_CONFIGURED_FAULT:
                text = SETUP_TEXT  # with the setup step: never the vendor's finding
            shown = message and (state != PENDING or text == SETUP_TEXT)
            detail = text + (f" ({message[0][:400]})" if shown else "")
            gaps.append(Gap(state, test["check"], detail, test.get("criterion"), test.get("severity")))
    return gaps


def scope_gaps(scope: Scope) -> list[Gap]:
    return [Gap(label, "run", text) for label, text in zip(scope.labels, scope.describe(), strict=True)]
