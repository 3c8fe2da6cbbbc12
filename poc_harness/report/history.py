"""A vendor's 14-day trial night by night: its runs' documents in the reports folder (and the ledger,
read only, when it is the one these runs wrote) folded into a day-by-day timeline and the score's trend.

Day 1 is the (UTC) calendar day of the vendor's first run; every later day up to the run being
reported is listed, a day without a run as a *missed* night and a run that left no results (killed
mid-run: only the ledger knows it) as *no results*.  A day's checks, score and verdict are those of
its last run with results that *counts*; its expectation figures add up its runs' (filed, judged passed,
judged failed) and keep the pending count left after its last run.

A run counts only when it is a full acceptance run (``poc_harness.grading.completeness``: every check the
suites define selected, at least the acceptance record count, a results file that records both).  A partial or
small run is listed among the night's runs, labelled, but never gives the night its score or verdict, so it
never moves the trend; a night with only such runs is ``not_counted``.

A night whose runs met the vendor down (an outage in the ledger, or in the run's results) names the
outage (status *outage* when it left no results).

Each acceptance document carries the timeline it was published with (optional field ``timeline``),
so a later report rebuilt from the documents alone still knows the earlier nights' ledger figures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from poc_harness.errors import ConfigError
from poc_harness.grading.completeness import run_scope
from poc_harness.grading.verdict import Grade
from poc_harness.report import ledger_view
from poc_harness.report.acceptance import SCHEMA as ACCEPTANCE_SCHEMA
from poc_harness.run.results import SCHEMA as RESULTS_SCHEMA
from poc_harness.run.results import read_document

TRIAL_DAYS = 14
OUTCOMES = ("passed", "failed", "pending")
EXPECTATION_FIGURES = ("filed", "judged_passed", "judged_failed", "pending")
STATUS = {  # (a run that night, one that counts, one with results): the night's status
    (False, False, False): "missed",
    (True, True, True): "ran",
    (True, False, True): "not_counted",
    (True, False, False): "no_results",
}

log = logging.getLogger(__name__)
Grader = Callable[[dict[str, Any]], Grade]


@dataclass(frozen=True)
class RunPoint:
    """One run of the vendor as the timeline shows it; ``checks`` is None for a run without results."""

    run_id: str
    started_at: datetime
    verdict: str | None = None
    total: float | None = None
    checks: dict[str, int] | None = None
    expectations: dict[str, int] | None = None
    scope: tuple[str, ...] = ()  # why the run does not count (partial, small...); empty: it counts
    outage: str | None = None
    """What failed when the vendor was down during (or before) this run, if it was."""

    @property
    def counted(self) -> bool:
        return self.checks is not None and not self.scope

    @property
    def day(self) -> date:
        return self.started_at.astimezone(UTC).date()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "verdict": self.verdict,
            "total": self.total,
            "checks": self.checks,
            "expectations": self.expectations,
            "scope": list(self.scope),
            "counted": self.counted,
            "outage": self.outage,
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> RunPoint:
        return cls(
            str(entry["run_id"]),
            _moment(entry["started_at"]),
            entry.get("verdict"),
            entry.get("total"),
            _figures(entry.get("checks"), OUTCOMES),
            _figures(entry.get("expectations"), EXPECTATION_FIGURES),
            _scope_labels(entry),
            entry.get("outage"),
        )


def _scope_labels(entry: dict[str, Any]) -> tuple[str, ...]:
    """A carried entry's labels; one written before runs were labelled cannot be proven complete."""
    labels = entry.get("scope")
    if isinstance(labels, list):
        return tuple(str(label) for label in labels)
    return () if entry.get("checks") is None else ("coverage_unknown",)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _figures(value: Any, keys: tuple[str, ...]) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    return {key: int(value.get(key) or 0) for key in keys}


def label_of(document: dict[str, Any]) -> str:
    """The vendor as reports name it: ``vendor``, or ``vendor:profile`` for a reference-CRM profile."""
    return str(document["run"].get("label") or document["run"]["vendor"])


def tally(outcomes: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        key = "failed" if outcome == "error" else outcome
        if key in counts:
            counts[key] += 1
    return counts


def read_folder(folder: Path) -> list[dict[str, Any]]:
    """Every acceptance document in ``folder`` and every results document that has none; a file that
    is not one of them, or is broken, is left out with a warning."""
    documents = []
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(".acceptance.json"):
            schema = ACCEPTANCE_SCHEMA
        elif path.with_suffix(".acceptance.json").exists():
            continue
        else:
            schema = RESULTS_SCHEMA
        try:
            document = read_document(path, schema)
            _moment(document["run"]["started_at"]), label_of(document), str(document["run"]["run_id"])
        except ConfigError as exc:
            log.warning("timeline: %s: left out", exc)
            continue
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("timeline: %s: no readable run (id, vendor, start): left out", path)
            continue
        documents.append(document)
    return documents


def point_of(
    document: dict[str, Any], grader: Grader | None = None, carried: RunPoint | None = None
) -> RunPoint:
    """The run of an acceptance document (or of a results document, graded by ``grader`` if given);
    its expectation figures are those ``carried`` by a timeline published earlier, if any."""
    run = document["run"]
    if document["schema"] == ACCEPTANCE_SCHEMA:
        tests = document["checks"]
        verdict, total = document.get("verdict"), document.get("total")
    else:
        tests = document["tests"]
        graded = grader(document) if grader else None
        verdict, total = (graded.verdict.value, graded.total) if graded else (None, None)
    return RunPoint(
        str(run["run_id"]),
        _moment(run["started_at"]),
        verdict,
        total,
        tally(test["outcome"] for test in tests),
        carried.expectations if carried else None,
        run_scope({"run": run, "tests": tests}).labels,
        (run.get("outage") or {}).get("what"),
    )


def _carried(document: dict[str, Any]) -> list[RunPoint]:
    days = (document.get("timeline") or {}).get("days") or []
    points = []
    for entry in (run for day in days for run in day.get("runs", [])):
        try:
            points.append(RunPoint.from_json(entry))
        except (KeyError, TypeError, ValueError):
            log.warning("timeline: run %s: a broken timeline entry left out", document["run"]["run_id"])
    return points


def _from_documents(
    current: dict[str, Any], documents: list[dict[str, Any]], grader: Grader | None
) -> dict[str, RunPoint]:
    label, until = label_of(current), _moment(current["run"]["started_at"])
    earlier = sorted(
        (d for d in documents if label_of(d) == label and _moment(d["run"]["started_at"]) <= until),
        key=lambda d: (_moment(d["run"]["started_at"]), d.get("generated_at", "")),
    )
    points: dict[str, RunPoint] = {}
    for document in earlier:  # an earlier copy of ``current`` too: what its ledger said that night
        points.update({p.run_id: p for p in _carried(document) if p.started_at <= until})
    for document in [d for d in earlier if d["run"]["run_id"] != current["run"]["run_id"]]:
        run_id = str(document["run"]["run_id"])
        try:
            points[run_id] = point_of(document, grader, points.get(run_id))
        except (KeyError, TypeError, ValueError):
            log.warning("timeline: run %s: its document has no readable checks: left out", run_id)
    run_id = str(current["run"]["run_id"])
    points[run_id] = point_of(current, grader, points.get(run_id))
    return points


def _with_ledger(
    points: dict[str, RunPoint], view: ledger_view.LedgerView, documented: set[str], until: datetime
) -> dict[str, RunPoint]:
    """The ledger's exact expectation figures, and the runs it alone knows (killed before their results)
    between the first run and ``until``."""
    since = min(p.started_at for p in points.values())
    for run in view.runs.values():
        if run.run_id not in documented | points.keys() and since <= run.started_at <= until:
            points[run.run_id] = RunPoint(run.run_id, run.started_at, outage=run.outage)
        elif run.outage and run.run_id in points and points[run.run_id].outage is None:
            points[run.run_id] = replace(points[run.run_id], outage=run.outage)
    figures = view.counts(set(points))
    return {
        run_id: replace(point, expectations=figures[run_id]) if run_id in figures else point
        for run_id, point in points.items()
    }


def gather(
    current: dict[str, Any],
    documents: list[dict[str, Any]],
    ledger: Path | None = None,
    grader: Grader | None = None,
) -> list[RunPoint]:
    """The runs of ``current``'s vendor up to ``current`` (included), oldest first, from ``documents``
    and, when it holds ``current``'s run, the ledger."""
    points = _from_documents(current, documents, grader)
    run = current["run"]
    view = ledger_view.read(ledger, run["vendor"], run["run_id"]) if ledger else None
    if view is not None:
        documented = {str(d["run"]["run_id"]) for d in documents} | {run["run_id"]}
        points = _with_ledger(points, view, documented, _moment(run["started_at"]))
    return sorted(points.values(), key=lambda p: p.started_at)


def _night_expectations(runs: list[RunPoint]) -> dict[str, int] | None:
    known = [p.expectations for p in runs if p.expectations is not None]
    if not known:
        return None
    summed = {key: sum(figures[key] for figures in known) for key in EXPECTATION_FIGURES}
    summed["pending"] = known[-1]["pending"]
    return summed


def _status(runs: list[RunPoint], status: str) -> str:
    """The night's status (``STATUS``), *outage* instead of *no results* when the vendor was down."""
    if status == "no_results" and any(p.outage for p in runs):
        return "outage"
    return status


def timeline(points: list[RunPoint], target: float, trial_days: int = TRIAL_DAYS) -> dict[str, Any]:
    """Day by day from the first run's day to the last run's day; ``points`` oldest first."""
    if not points:
        return {"trial_days": trial_days, "target": target, "first_date": None, "days": []}
    first = points[0].day
    days = []
    for offset in range((points[-1].day - first).days + 1):
        day = first + timedelta(days=offset)
        runs = [p for p in points if p.day == day]
        final = next((p for p in reversed(runs) if p.counted), None)
        shown = final or next((p for p in reversed(runs) if p.checks is not None), None)
        status = STATUS[(bool(runs), final is not None, shown is not None)]
        days.append(
            {
                "day": offset + 1,
                "date": day.isoformat(),
                "status": _status(runs, status),
                "runs": [p.to_json() for p in runs],
                "checks": shown.checks if shown else None,
                "expectations": _night_expectations(runs),
                "total": final.total if final else None,
                "verdict": final.verdict if final else None,
                "outages": [p.outage for p in runs if p.outage],
            }
        )
    return {"trial_days": trial_days, "target": target, "first_date": first.isoformat(), "days": days}


def build(
    current: dict[str, Any], folder: Path, ledger: Path | None = None, grader: Grader | None = None
) -> dict[str, Any]:
    """The timeline of ``current`` (an acceptance document not yet written) from the documents in
    ``folder`` and the ledger."""
    points = gather(current, read_folder(folder) if folder.is_dir() else [], ledger, grader)
    return timeline(points, float(current.get("target", 85.0)))
