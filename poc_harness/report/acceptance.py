"""The acceptance document: a run's results plus its grade, as versioned JSON (``poc-harness/acceptance``
v1).  It is written before any HTML, and every HTML view is rendered from it, so a run can be
re-rendered (another language, new evidence) and compared with other vendors later.

Optional fields (readers must do without them): ``timeline``, the vendor's trial night by night up
to this run (poc_harness/report/history.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from poc_harness.errors import ConfigError
from poc_harness.grading import Grade
from poc_harness.results import read_document, write_document

SCHEMA = "poc-harness/acceptance"
VERSION = 1

log = logging.getLogger(__name__)


def _checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    expectations = results.get("expectations", {})
    return [
        {
            **test,
            "scenario": test["check"].split("::")[0],
            "expectations": expectations.get(test["check"], {}),
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


def latest_per_vendor(folder: Path) -> list[dict[str, Any]]:
    """The newest acceptance document of each vendor found in ``folder``."""
    newest: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.acceptance.json")):
        try:
            document = read(path)
        except ConfigError as exc:
            log.warning("comparison: %s: left out", exc)
            continue
        vendor = document["run"].get("label") or document["run"]["vendor"]
        if vendor not in newest or document["run"]["started_at"] > newest[vendor]["run"]["started_at"]:
            newest[vendor] = document
    return [newest[vendor] for vendor in sorted(newest)]
