"""The ledger as the trial timeline sees it: opened read only, never created, never migrated.

Per run: the time-based expectations it filed, those it judged passed or failed (its own or earlier
runs'), and how many were still pending once it had finished, as they stood that night, not now
(a later night's judgement does not rewrite an earlier night).  Runs are ordered by their start.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from poc_harness.run.ledger import parse_time

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LedgerRun:
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    outage: str | None = None


@dataclass(frozen=True)
class _Expectation:
    run_id: str
    status: str
    judged_by_run: str | None


@dataclass(frozen=True)
class LedgerView:
    """What the ledger knows of one vendor's runs and expectations."""

    runs: dict[str, LedgerRun]
    expectations: list[_Expectation]

    def counts(self, run_ids: set[str]) -> dict[str, dict[str, int]]:
        """Expectation figures of each of ``run_ids`` the ledger holds; pending counts only the
        expectations these runs filed."""
        started = {run.run_id: run.started_at for run in self.runs.values()}
        figures: dict[str, dict[str, int]] = {}
        for run_id in sorted(run_ids & started.keys(), key=started.__getitem__):
            night = started[run_id]
            filed = [e for e in self.expectations if e.run_id == run_id]
            judged = [e for e in self.expectations if e.judged_by_run == run_id]
            pending = [
                e
                for e in self.expectations
                if e.run_id in run_ids
                and started.get(e.run_id, night) <= night
                and (e.judged_by_run is None or started.get(e.judged_by_run, night) > night)
            ]
            figures[run_id] = {
                "filed": len(filed),
                "judged_passed": sum(1 for e in judged if e.status == "passed"),
                "judged_failed": sum(1 for e in judged if e.status == "failed"),
                "pending": len(pending),
            }
        return figures


def read(path: Path, vendor: str, run_id: str) -> LedgerView | None:
    """``vendor``'s part of the ledger at ``path``, or None when there is no ledger, it cannot be read
    (a warning says why) or it does not hold ``run_id`` (another ledger: its runs are not this trial's)."""
    if not path.is_file():
        return None
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute("SELECT run_id, started_at, finished_at FROM runs WHERE vendor=?", (vendor,))
            runs = {
                row[0]: LedgerRun(row[0], parse_time(row[1]), parse_time(row[2]) if row[2] else None)
                for row in rows
            }
            if run_id not in runs:
                return None
            if db.execute("SELECT 1 FROM sqlite_master WHERE name='outages'").fetchone():
                for found, what in db.execute("SELECT run_id, what FROM outages WHERE vendor=?", (vendor,)):
                    if found in runs:
                        runs[found] = replace(runs[found], outage=str(what))
            expectations = [
                _Expectation(*row)
                for row in db.execute(
                    "SELECT run_id, status, judged_by_run FROM expectations WHERE vendor=?", (vendor,)
                )
            ]
    except (sqlite3.Error, ValueError) as exc:
        log.warning("%s: ledger not read for the timeline (%s)", path, exc)
        return None
    return LedgerView(runs, expectations)
