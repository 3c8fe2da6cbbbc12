"""The results JSON of a run: written at the end of every scenario run, the source of every later view.

Schema ``poc-harness/results`` version 1::

    {"schema": "poc-harness/results", "version": 1,
     "run": {vendor, adapter, run_id, tag, seed, records, locale, clock, acceptance_run, profile,
             started_at, finished_at, calls: {calls, retries, failures, by_status},
             acceptance_records, suite: {defined: [{check, severity, criterion}], selected: [check]}},
     "tests": [{nodeid, check, outcome, severity, criterion, duration_s, message, fault}],
     "observations": [{check_id, name, value, at}],
     "expectations": {check: {passed, failed, pending, first_pending_due, failures: [...]}}}

``outcome`` is passed, failed, error, pending or skipped; ``fault`` is vendor or harness
for a failure (a harness fault never counts against the vendor).  ``expectations`` covers
what this run filed and what it judged from earlier runs; ``failures`` holds up to 25
failed expectations each with subject, rule, expected, observed and note.

``run.suite`` (every check the scenario folder defines, whatever the user selected, and the ones this
run selected) and ``run.acceptance_records`` are additive: results written without them are graded as
runs that cannot be proven complete (``poc_harness.grading.completeness``), never as full acceptance runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from poc_harness.errors import ConfigError

SCHEMA = "poc-harness/results"
VERSION = 1


@dataclass
class TestResult:
    nodeid: str
    check: str
    outcome: str
    severity: str | None
    criterion: str | None
    duration_s: float
    message: str
    fault: str | None = None


def write_results(
    path: Path,
    run: dict[str, Any],
    tests: list[TestResult],
    observations: list[dict[str, Any]],
    expectations: dict[str, Any] | None = None,
) -> Path:
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "run": run,
        "tests": [asdict(t) for t in tests],
        "observations": observations,
        "expectations": expectations or {},
    }
    return write_document(path, document)


def read_results(path: Path) -> dict[str, Any]:
    return read_document(path, SCHEMA)


def write_document(path: Path, document: dict[str, Any]) -> Path:
    """A JSON document of the harness (results, acceptance), UTF-8 and readable by people."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path


def read_document(path: Path, schema: str) -> dict[str, Any]:
    """A JSON document of the given schema, or one ``ConfigError`` line saying what is wrong with the file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found: pass a file written by a run under reports/") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as JSON ({exc.__class__.__name__})") from None
    if not isinstance(document, dict) or document.get("schema") != schema:
        raise ConfigError(f"{path}: not a {schema} file")
    return document
