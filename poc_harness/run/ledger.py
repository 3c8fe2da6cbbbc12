"""The ledger: a local SQLite file holding the truth of every run.

One row per run, per seeded record (its vendor id written before the create call
returns to the test), per expectation (due time, pending/passed/failed, evidence)
per observation, per outage (the vendor down before or during a run) and one lock per vendor
(the run holding it).  Checks compare what the CRM did against it; cleanup deletes
only what it lists; the nightly run judges the pending expectations of earlier runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, vendor TEXT NOT NULL, adapter TEXT NOT NULL, tag TEXT NOT NULL,
    seed INTEGER NOT NULL, records INTEGER NOT NULL, locale TEXT NOT NULL, clock TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT, endpoint TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS records (
    run_id TEXT NOT NULL REFERENCES runs(run_id), kind TEXT NOT NULL, key TEXT NOT NULL,
    vendor_id TEXT, payload TEXT NOT NULL, intended_at TEXT NOT NULL, created_at TEXT,
    deleted_at TEXT, PRIMARY KEY (run_id, kind, key)
);
CREATE TABLE IF NOT EXISTS expectations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(run_id),
    vendor TEXT NOT NULL, check_id TEXT NOT NULL, rule TEXT NOT NULL, subject TEXT NOT NULL,
    params TEXT NOT NULL, due_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    judged_at TEXT, judged_by_run TEXT, evidence TEXT
);
CREATE TABLE IF NOT EXISTS observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(run_id),
    check_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, vendor TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT NOT NULL, what TEXT NOT NULL, failed_calls INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    vendor TEXT PRIMARY KEY, run_id TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS expectations_due ON expectations (vendor, check_id, status, due_at);
"""
MIGRATIONS = {
    ("runs", "endpoint"): "ALTER TABLE runs ADD COLUMN endpoint TEXT NOT NULL DEFAULT ''",
    ("runs", "seeded_at"): "ALTER TABLE runs ADD COLUMN seeded_at TEXT",
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _stale(holder_host: str, holder_pid: int, here: str) -> bool:
    """Whether a lock's process is gone: only knowable on its own host (elsewhere it is presumed alive)."""
    if holder_host != here:
        return False
    try:
        os.kill(holder_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class SeededRecord:
    run_id: str
    kind: str
    key: str
    vendor_id: str | None
    payload: dict[str, Any]
    created_at: datetime | None = None


@dataclass(frozen=True)
class ExpectationRow:
    id: int
    run_id: str
    check_id: str
    rule: str
    subject: str
    params: dict[str, Any]
    due_at: datetime
    status: str
    evidence: dict[str, Any] | None


class Ledger:
    """All reads and writes of the ledger file; every write is committed at once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        for (table, column), statement in MIGRATIONS.items():  # ledgers written by earlier versions
            if column not in {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}:
                self._db.execute(statement)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- runs -------------------------------------------------------------------------
    def start_run(
        self,
        run_id: str,
        vendor: str,
        adapter: str,
        tag: str,
        seed: int,
        records: int,
        locale: str,
        clock: str,
        at: datetime,
        endpoint: str = "",
    ) -> None:
        """Open a run (a resumed run keeps its first row); ``endpoint`` is where the vendor was reached."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO runs (run_id, vendor, adapter, tag, seed, records, locale, clock,"
                " started_at, endpoint) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run_id, vendor, adapter, tag, seed, records, locale, clock, _iso(at), endpoint),
            )

    def finish_run(self, run_id: str, outcome: str, at: datetime) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET finished_at=?, outcome=? WHERE run_id=?", (_iso(at), outcome, run_id))

    def mark_seeded(self, run_id: str, at: datetime) -> None:
        """Seeding is complete: from now on the run changes records at the vendor (stories), so it can
        no longer be resumed, only started anew."""
        with self._tx() as db:
            db.execute("UPDATE runs SET seeded_at=? WHERE run_id=? AND seeded_at IS NULL", (_iso(at), run_id))

    def run(self, run_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return dict(row) if row else None

    # --- the vendor's lock: one run at a time ----------------------------------------------
    def lock(self, vendor: str, run_id: str, pid: int, host: str, at: datetime) -> dict[str, Any] | None:
        """Take ``vendor``'s lock for ``run_id``; None when taken, else the row of the run holding it.  A lock
        whose process is gone (same host, no such pid) is stale and taken over."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM locks WHERE vendor=?", (vendor,)).fetchone()
            if row is not None and row["run_id"] != run_id and not _stale(row["host"], row["pid"], host):
                return dict(row)
            db.execute(
                "INSERT OR REPLACE INTO locks (vendor, run_id, pid, host, at) VALUES (?,?,?,?,?)",
                (vendor, run_id, pid, host, _iso(at)),
            )
        return None

    def unlock(self, vendor: str, run_id: str | None = None) -> int:
        """Release ``vendor``'s lock (only if ``run_id`` holds it, when given); the rows removed."""
        sql, args = "DELETE FROM locks WHERE vendor=?", [vendor]
        if run_id is not None:
            sql += " AND run_id=?"
            args.append(run_id)
        with self._tx() as db:
            return db.execute(sql, args).rowcount

    # --- outages -------------------------------------------------------------------------
    def record_outage(
        self, run_id: str, vendor: str, started_at: datetime, ended_at: datetime, what: str, calls: int
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO outages (run_id, vendor, started_at, ended_at, what, failed_calls)"
                " VALUES (?,?,?,?,?,?)",
                (run_id, vendor, _iso(started_at), _iso(ended_at), what, calls),
            )

    def outages(self, vendor: str, run_id: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM outages WHERE vendor=?", [vendor]
        if run_id is not None:
            sql += " AND run_id=?"
            args.append(run_id)
        return [dict(row) for row in self._db.execute(sql + " ORDER BY started_at", args).fetchall()]

    def availability(self, vendor: str) -> dict[str, Any]:
        """The vendor's availability over the trial's nights: a night is a UTC day with at least one run of
        the vendor (a run refused because the vendor was down counts: it is in the ledger with its outage);
        a night is *up* when none of its runs met an outage.  ``percent`` is None before any night."""
        days: dict[str, bool] = {}
        down_runs = {row["run_id"] for row in self.outages(vendor)}
        for row in self._db.execute("SELECT run_id, started_at FROM runs WHERE vendor=?", (vendor,)):
            day = parse_time(row["started_at"]).astimezone(UTC).date().isoformat()
            days[day] = days.get(day, True) and row["run_id"] not in down_runs
        up = sum(days.values())
        return {
            "nights": len(days),
            "nights_up": up,
            "nights_down": sorted(day for day, ok in days.items() if not ok),
            "percent": round(100.0 * up / len(days), 1) if days else None,
            "outages": len(down_runs),
        }

    # --- records ------------------------------------------------------------------------
    def intend(self, run_id: str, kind: str, key: str, payload: dict[str, Any], at: datetime) -> None:
        """Write the record before the create call, so a crash mid-call still leaves a trace."""
        self.intend_many(run_id, kind, [(key, payload)], at)

    def bind(self, run_id: str, kind: str, key: str, vendor_id: str, at: datetime) -> None:
        """Record the vendor's id for a created record."""
        self.bind_many(run_id, kind, {key: vendor_id}, at)

    def intend_many(
        self, run_id: str, kind: str, records: list[tuple[str, dict[str, Any]]], at: datetime
    ) -> None:
        """``intend`` for a whole batch, ``(key, payload)`` each, in one transaction."""
        rows = [
            (run_id, kind, key, json.dumps(payload, ensure_ascii=False, default=str), _iso(at))
            for key, payload in records
        ]
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO records (run_id, kind, key, payload, intended_at) VALUES (?,?,?,?,?)",
                rows,
            )

    def bind_many(self, run_id: str, kind: str, vendor_ids: dict[str, str], at: datetime) -> None:
        """``bind`` for a whole batch, key -> vendor id, in one transaction."""
        rows = [(vendor_id, _iso(at), run_id, kind, key) for key, vendor_id in vendor_ids.items()]
        with self._tx() as db:
            db.executemany(
                "UPDATE records SET vendor_id=?, created_at=? WHERE run_id=? AND kind=? AND key=?", rows
            )

    def mark_deleted(self, run_id: str, kind: str, key: str, at: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE records SET deleted_at=? WHERE run_id=? AND kind=? AND key=?",
                (_iso(at), run_id, kind, key),
            )

    def vendor_id(self, run_id: str, kind: str, key: str) -> str | None:
        row = self._db.execute(
            "SELECT vendor_id FROM records WHERE run_id=? AND kind=? AND key=?", (run_id, kind, key)
        ).fetchone()
        return row["vendor_id"] if row else None

    def records(self, run_id: str, kind: str | None = None, live_only: bool = False) -> list[SeededRecord]:
        sql = "SELECT * FROM records WHERE run_id=?"
        args: list[Any] = [run_id]
        if kind is not None:
            sql += " AND kind=?"
            args.append(kind)
        if live_only:
            sql += " AND deleted_at IS NULL"
        rows = self._db.execute(sql + " ORDER BY rowid", args).fetchall()
        return [
            SeededRecord(
                r["run_id"],
                r["kind"],
                r["key"],
                r["vendor_id"],
                json.loads(r["payload"]),
                parse_time(r["created_at"]) if r["created_at"] else None,
            )
            for r in rows
        ]

    def unbound(self, run_id: str) -> list[SeededRecord]:
        """Records written before a create call whose answer never came (crash, kill, lost answer)."""
        return [record for record in self.records(run_id, live_only=True) if record.vendor_id is None]

    def vendor_ids_of_vendor(self, vendor: str, kind: str, endpoint: str | None = None) -> list[str]:
        """Vendor ids of the records of ``kind`` every run against ``vendor`` created (at ``endpoint``
        where given), oldest first: e.g. the reps earlier runs added to the CRM's assignment pool."""
        sql = (
            "SELECT r.vendor_id FROM records r JOIN runs u ON u.run_id = r.run_id "
            "WHERE u.vendor=? AND r.kind=? AND r.vendor_id IS NOT NULL"
        )
        args: list[Any] = [vendor, kind]
        if endpoint is not None:
            sql += " AND u.endpoint=?"
            args.append(endpoint)
        rows = self._db.execute(sql + " ORDER BY r.rowid", args).fetchall()
        return list(dict.fromkeys(row["vendor_id"] for row in rows))

    def created_at(self, run_id: str, kind: str, key: str) -> datetime | None:
        row = self._db.execute(
            "SELECT created_at FROM records WHERE run_id=? AND kind=? AND key=?", (run_id, kind, key)
        ).fetchone()
        return parse_time(row["created_at"]) if row and row["created_at"] else None

    # --- expectations -------------------------------------------------------------------
    def expect(
        self,
        run_id: str,
        vendor: str,
        check_id: str,
        rule: str,
        subject: str,
        params: dict[str, Any],
        due_at: datetime,
    ) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO expectations (run_id, vendor, check_id, rule, subject, params, due_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (run_id, vendor, check_id, rule, subject, json.dumps(params, default=str), _iso(due_at)),
            )
            return int(cursor.lastrowid or 0)

    def due_expectations(self, vendor: str, check_id: str, now: datetime) -> list[ExpectationRow]:
        """Pending expectations of ``check_id`` for ``vendor`` (any run) whose due time has come."""
        rows = self._db.execute(
            "SELECT * FROM expectations WHERE vendor=? AND check_id=? AND status='pending' AND due_at<=?"
            " ORDER BY id",
            (vendor, check_id, _iso(now)),
        ).fetchall()
        return [self._expectation(r) for r in rows]

    def expectations(self, run_id: str, check_id: str | None = None) -> list[ExpectationRow]:
        sql, args = "SELECT * FROM expectations WHERE run_id=?", [run_id]
        if check_id:
            sql += " AND check_id=?"
            args.append(check_id)
        return [self._expectation(r) for r in self._db.execute(sql + " ORDER BY id", args).fetchall()]

    def pending(self, vendor: str, check_id: str) -> list[ExpectationRow]:
        rows = self._db.execute(
            "SELECT * FROM expectations WHERE vendor=? AND check_id=? AND status='pending' ORDER BY due_at",
            (vendor, check_id),
        ).fetchall()
        return [self._expectation(r) for r in rows]

    def judge(
        self, expectation_id: int, passed: bool, evidence: dict[str, Any], run_id: str, at: datetime
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE expectations SET status=?, evidence=?, judged_at=?, judged_by_run=? WHERE id=?",
                (
                    "passed" if passed else "failed",
                    json.dumps(evidence, ensure_ascii=False, default=str),
                    _iso(at),
                    run_id,
                    expectation_id,
                ),
            )

    @staticmethod
    def _expectation(row: sqlite3.Row) -> ExpectationRow:
        return ExpectationRow(
            id=row["id"],
            run_id=row["run_id"],
            check_id=row["check_id"],
            rule=row["rule"],
            subject=row["subject"],
            params=json.loads(row["params"]),
            due_at=parse_time(row["due_at"]),
            status=row["status"],
            evidence=json.loads(row["evidence"]) if row["evidence"] else None,
        )

    def expectation_summary(self, run_id: str, failures_kept: int = 25) -> dict[str, Any]:
        """Per check: what this run filed or judged, counted by status, with the first failures' evidence."""
        rows = self._db.execute(
            "SELECT * FROM expectations WHERE run_id=? OR judged_by_run=? ORDER BY id", (run_id, run_id)
        ).fetchall()
        summary: dict[str, Any] = {}
        for row in map(self._expectation, rows):
            entry = summary.setdefault(
                row.check_id,
                {"passed": 0, "failed": 0, "pending": 0, "first_pending_due": None, "failures": []},
            )
            entry[row.status] += 1
            if row.status == "pending":
                due = row.due_at.isoformat()
                entry["first_pending_due"] = min(filter(None, [entry["first_pending_due"], due]))
            elif row.status == "failed" and len(entry["failures"]) < failures_kept:
                entry["failures"].append(
                    {"subject": row.subject, "rule": row.rule, "from_run": row.run_id, **(row.evidence or {})}
                )
        return summary

    # --- observations -------------------------------------------------------------------
    def observe(self, run_id: str, check_id: str, name: str, value: Any, at: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO observations (run_id, check_id, name, value, at) VALUES (?,?,?,?,?)",
                (run_id, check_id, name, json.dumps(value, ensure_ascii=False, default=str), _iso(at)),
            )

    def observations(self, run_id: str, check_id: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM observations WHERE run_id=?", [run_id]
        if check_id:
            sql += " AND check_id=?"
            args.append(check_id)
        rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        return [{**dict(r), "value": json.loads(r["value"])} for r in rows]
