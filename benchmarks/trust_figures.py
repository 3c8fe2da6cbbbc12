"""Figures for trust under faults: faults injected, calls retried, records lost, records wrongly deleted,
secrets found in outputs.

Usage: ``python benchmarks/trust_figures.py [profile ...]`` (default: every fault profile).  For
each fault profile the reference CRM is served on 127.0.0.1 with a canary secret as its token and a
record the harness did not create; the suites run against it (``timeout = 0.25`` so a slow answer
is past the timeout), then ``poc-harness cleanup`` removes the run.  Then it counts, at the CRM:
records carrying the run's tag that the ledger does not know (lost), records left after cleanup,
the foreign record (wrongly deleted if gone), and the canary in every file written (secrets found).
Cleanup is run again (at most five times) while deletes the vendor failed remain.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poc_harness.run.ledger import Ledger
from poc_harness.sandbox.profiles import PROFILES
from poc_harness.sandbox.server import BackgroundServer
from tests.suite_runner import ROOT, run_suite

CANARY = "canary-secret-trust-5e1d"
COLLECTIONS = {"users": "rep", "accounts": "account", "contacts": "contact", "leads": "lead"}
COLLECTIONS |= {"tickets": "ticket", "deals": "deal", "activities": "activity"}


@retry(stop=stop_after_attempt(8), retry=retry_if_exception_type((httpx.HTTPError, ValueError)), reraise=True)
def _call(url: str, method: str, path: str, body: Any = None, **params: str) -> Any:
    """The benchmark's own look at the CRM, retried through the faults the profile injects in it too."""
    answer = httpx.request(
        method, f"{url}{path}", params=params, json=body, headers={"Authorization": f"Bearer {CANARY}"}
    )
    answer.raise_for_status()
    return answer.json()


def _get(url: str, path: str, **params: str) -> Any:
    return _call(url, "GET", path, **params)


def measure(profile: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(profile, token=CANARY) as url:
        work = Path(tmp)
        foreign = {"name": "Not created by the harness", "industry": "x", "city": "y", "phone": "+15550009"}
        foreign_id = _call(url, "POST", "/accounts", foreign)["id"]  # call 1: never a faulted one
        (work / "poc.toml").write_text(
            f'[harness]\nreports_dir = "{work / "reports"}"\nledger = "{work / "ledger.sqlite"}"\n'
            f'[vendors.faulty]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "CRM_TOKEN"\n'
            "timeout = 0.25\n"
        )
        env = {"CRM_TOKEN": CANARY}
        run = run_suite(work, "--vendor=faulty", env=env, timeout=1800)
        if run.results is None:
            raise SystemExit(
                f"{profile}: the run wrote no results:\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
            )
        meta, calls = run.results["run"], run.results["run"]["calls"]
        faults = _get(url, "/health")["faults_injected"]  # before the benchmark's own reads add to them
        ledger = Ledger(work / "ledger.sqlite")
        known = {(r.kind, r.vendor_id) for r in ledger.records(meta["run_id"])}
        lost = sum(
            (kind, record["id"]) not in known
            for collection, kind in COLLECTIONS.items()
            for record in _get(url, f"/{collection}", tag=meta["tag"])
        )
        command = [sys.executable, "-m", "poc_harness.cli", "cleanup", "--vendor=faulty"]
        command += [f"--run={meta['run_id']}", f"--poc-config={work / 'poc.toml'}"]
        cleanups = 0
        while True:  # a delete the vendor failed stays in the ledger for the next cleanup
            cleanups += 1
            cleanup = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env}
            )
            if cleanup.returncode == 0 or cleanups == 5:
                break
        left = sum(len(_get(url, f"/{collection}", tag=meta["tag"])) for collection in COLLECTIONS)
        wrongly_deleted = int(foreign_id not in {a["id"] for a in _get(url, "/accounts")})
        outputs = [p for p in work.rglob("*") if p.is_file()]
        secrets_found = sum(CANARY.encode() in p.read_bytes() for p in outputs)
        secrets_found += CANARY in run.stdout + run.stderr + cleanup.stdout + cleanup.stderr
        ledger.close()
    checks = run.outcomes()
    return {
        "profile": profile,
        "faults_injected": faults,
        "calls": calls.get("calls", 0),
        "retried": calls.get("retries", 0),
        "failed_calls": calls.get("failures", 0),
        "writes_recovered": meta["ledger"]["recovered_after_lost_answers"],
        "checks_passed": sum(outcome == "passed" for outcome in checks.values()),
        "checks": len(checks),
        "failed_checks": sorted(check for check, outcome in checks.items() if outcome != "passed"),
        "records_lost": lost,
        "cleanup_runs": cleanups,
        "left_after_cleanup": left + (cleanup.returncode != 0),
        "wrongly_deleted": wrongly_deleted,
        "secrets_found": secrets_found,
    }


def main(profiles: list[str]) -> None:
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)  # the dropped connections, on purpose
    rows = [measure(profile) for profile in profiles]
    failing = {row["profile"]: row.pop("failed_checks") for row in rows}
    columns = list(rows[0])
    print("  ".join(f"{c:>17}" for c in columns))
    for row in rows:
        print("  ".join(f"{row[c]!s:>17}" for c in columns))
    totals = {c: sum(row[c] for row in rows) for c in columns[1:]}
    print("  ".join(f"{v!s:>17}" for v in ["TOTAL", *totals.values()]))
    for profile, checks in failing.items():
        print(f"{profile}: checks failed: {', '.join(checks) or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1:] or [name for name, profile in PROFILES.items() if profile.fault is not None])
