"""The acceptance document: a run's results plus its grade, as versioned JSON (``poc-harness/acceptance``
v1).  It is written before any HTML, and every HTML view is rendered from it, so a run can be
re-rendered (another language, new evidence) and compared with other vendors later.

Optional fields (readers must do without them): ``timeline``, the vendor's trial night by night up
to this run (poc_harness/report/history.py); ``scope``, ``gaps``, ``conditions`` and ``total_high``
(poc_harness/grading/verdict.py), absent from documents written before the verdict could be *accept with
conditions*: such a document cannot prove its run complete and never counts in a comparison."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from poc_harness.errors import ConfigError
from poc_harness.grading.completeness import Scope, run_scope
from poc_harness.grading.verdict import Grade
from poc_harness.run.results import read_document, write_document

SCHEMA = "poc-harness/acceptance"
VERSION = 1

log = logging.getLogger(__name__)


def _checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each check with its expectations and, where it recorded one, its ``caveat`` (what it proves)."""
    expectations = results.get("expectations", {})
    caveats = {
        obs["check_id"]: str(obs["value"])
        for obs in results.get("observations", [])
        if obs["name"] == "caveat"
    }
    return [
        {
            **test,
            "scenario": test["check"].split("::")[0],
            "expectations": expectations.get(test["check"], {}),
            "caveat": caveats.get(test["check"], ""),
        }
        for test in results["tests"]
    ]


def _latency(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"report": obs["check_id"].split("::")[-1], **obs["value"]}
        for obs in results.get("observations", [])
        if obs["name"] == "latency_ms"
    ]


def _pending(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "check": c["check"],
            "count": c["expectations"]["pending"],
            "first_due": c["expectations"]["first_pending_due"],
        }
        for c in checks
        if c["expectations"].get("pending")
    ]


def build(results: dict[str, Any], grade: Grade, links: dict[str, str] | None = None) -> dict[str, Any]:
    checks = _checks(results)
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": results["run"],
        **grade.to_json(),
        "checks": checks,
        "pending": _pending(checks),
        "latency": _latency(results),
        "links": links or {},
    }


def write(path: Path, document: dict[str, Any]) -> Path:
    return write_document(path, document)


def read(path: Path) -> dict[str, Any]:
    return read_document(path, SCHEMA)


def scope_of(document: dict[str, Any]) -> Scope:
    """The run's scope, from its run record (a document written before the record cannot prove it)."""
    return run_scope({"run": document["run"], "tests": document.get("checks", [])})


def latest_per_vendor(folder: Path) -> list[dict[str, Any]]:
    """Each vendor's newest acceptance document that counts (a full acceptance run), else its newest
    document; each comes with ``counted`` and ``not_counted``: the vendor's later runs that do not
    count (partial, small, or unprovable), shown as such beside the column they never change."""
    documents: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.acceptance.json")):
        try:
            document = read(path)
            vendor = str(document["run"].get("label") or document["run"]["vendor"])
            scope = scope_of(document)
        except ConfigError as exc:
            log.warning("comparison: %s: left out", exc)
            continue
        except (KeyError, TypeError, AttributeError):
            log.warning("comparison: %s: no readable run: left out", path)
            continue
        marked = {**document, "counted": scope.counts, "said": scope.describe()}
        documents.setdefault(vendor, []).append(marked)
    chosen = []
    for vendor in sorted(documents):
        runs = sorted(documents[vendor], key=lambda d: d["run"]["started_at"])
        counted = [d for d in runs if d["counted"]]
        shown = counted[-1] if counted else runs[-1]
        later = [d for d in runs if not d["counted"] and d["run"]["started_at"] > shown["run"]["started_at"]]
        chosen.append({**shown, "not_counted": [_listed(d) for d in later] if counted else []})
    return chosen


def _listed(document: dict[str, Any]) -> dict[str, Any]:
    run = document["run"]
    return {"run_id": run["run_id"], "started_at": run["started_at"], "said": document["said"]}
