"""Nothing lost, nothing duplicated, nothing foreign deleted: the run is killed (SIGKILL) at random
points while it seeds a served reference CRM, resumed each time with ``--resume``, and finally
cleaned up; after every kill the ledger holds every record that reached the CRM.

The kill points come from ``POC_KILL_SEED`` (default 6), so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from fixtures.factories import build_dataset
from poc_harness.sandbox.server import BackgroundServer
from tests.suite_runner import ROOT, run_suite

TOKEN = "kill-test-token-93be"
SEEDED = ("users", "accounts", "contacts", "leads")
KIND_OF = {"users": "rep", "accounts": "account", "contacts": "contact", "leads": "lead"}
KILLS = 4


def _vendor(url: str, collection: str, **params: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{url}/{collection}", params=params, headers={"Authorization": f"Bearer {TOKEN}"})
    answer.raise_for_status()
    return answer.json()


def _ledger_rows(path: Path) -> list[tuple[str, str, str, str | None]]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT run_id, kind, key, vendor_id FROM records").fetchall()
        except sqlite3.OperationalError:  # the schema is not written yet
            return []


def _run_id(path: Path) -> str | None:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT run_id FROM runs").fetchone()
    return row[0] if row else None


def _start(config: Path, resume: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pytest", "scenarios/", "-q", "-p", "no:warnings"]
    command += [f"--poc-config={config}", "--vendor=served"] + ([f"--resume={resume}"] if resume else [])
    env = {**os.environ, "SERVED_TOKEN": TOKEN}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when(process: subprocess.Popen[bytes], ledger: Path, rows: int, jitter: float) -> int:
    """SIGKILL the run once the ledger holds ``rows`` records (plus up to ``jitter`` seconds)."""
    deadline = time.monotonic() + 120
    while len(_ledger_rows(ledger)) < rows and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(jitter)
    process.kill()
    process.wait()
    return len(_ledger_rows(ledger))


def _assert_ledger_holds_everything(url: str, ledger: Path, tag: str) -> int:
    """Every tagged record at the CRM has its ledger row (same id where bound); none is there twice."""
    rows = _ledger_rows(ledger)
    unconfirmed = 0
    for collection in SEEDED:
        at_vendor = _vendor(url, collection, tag=tag)
        refs = [str(record["external_ref"]) for record in at_vendor]
        assert len(refs) == len(set(refs)), f"duplicates in {collection}: {Counter(refs).most_common(2)}"
        ledger_ids = {key: vid for _, kind, key, vid in rows if kind == KIND_OF[collection]}
        for record in at_vendor:  # the load probe's writes too: listed under their external ref
            key = str(record["external_ref"])
            assert key in ledger_ids, f"{collection} {record['id']} reached the CRM but is not in the ledger"
            assert ledger_ids[key] in (None, record["id"]), f"{collection} {key}: ledger has another id"
            unconfirmed += ledger_ids[key] is None
    return unconfirmed


def test_killed_runs_lose_nothing_resume_without_duplicates_and_clean_up_exactly(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("POC_KILL_SEED", "6")))
    ledger = tmp_path / "ledger.sqlite"
    config = tmp_path / "poc.toml"
    with BackgroundServer(token=TOKEN) as url:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        foreign = {"name": "Customer data, not ours", "industry": "x", "city": "y", "phone": "+15550001"}
        httpx.post(f"{url}/accounts", headers=headers, json=foreign).raise_for_status()
        config.write_text(
            f'[harness]\nreports_dir = "{tmp_path / "reports"}"\nledger = "{ledger}"\n'
            f'[vendors.served]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "SERVED_TOKEN"\n'
            "batch_size = 4\n"  # small batches, so a kill can land in the middle of seeding
        )
        planned = build_dataset(200, 1404, "fa_IR", "t")
        total = len(planned.reps) + len(planned.accounts) + len(planned.contacts) + len(planned.leads)
        points = sorted(rng.sample(range(1, total - 8), KILLS))
        run_id: str | None = None
        unconfirmed_seen = 0
        for point in points:
            reached = _kill_when(_start(config, run_id), ledger, point, rng.uniform(0, 0.004))
            assert reached < total, "the run was meant to be killed while seeding"
            run_id = run_id or _run_id(ledger)
            assert run_id is not None
            tag = _tag(ledger, run_id)
            unconfirmed_seen += _assert_ledger_holds_everything(url, ledger, tag)

        finished = run_suite(tmp_path, "--vendor=served", f"--resume={run_id}", env={"SERVED_TOKEN": TOKEN})
        assert finished.results is not None, finished.stdout + finished.stderr
        assert finished.results["run"]["run_id"] == run_id and finished.results["run"]["resumed"]
        assert set(finished.outcomes().values()) == {"passed"}, finished.stdout
        assert _assert_ledger_holds_everything(url, ledger, tag) == 0
        dataset = build_dataset(200, 1404, "fa_IR", tag)
        for collection, expected in zip(
            SEEDED, (dataset.reps, dataset.accounts, dataset.contacts, dataset.leads), strict=True
        ):
            seeded = [
                r for r in _vendor(url, collection, tag=tag) if not str(r["external_ref"]).startswith("load-")
            ]
            assert len(seeded) == len(expected), f"{collection}: lost or doubled"

        lookalike = {**foreign, "name": "Tagged like the run, but not created by it", "tag": tag}
        httpx.post(f"{url}/accounts", headers=headers, json=lookalike).raise_for_status()
        cli = [sys.executable, "-m", "poc_harness.cli", "cleanup", "--vendor=served", f"--run={run_id}"]
        environment = {**os.environ, "SERVED_TOKEN": TOKEN}
        done = subprocess.run(
            [*cli, f"--poc-config={config}"], cwd=ROOT, capture_output=True, text=True, env=environment
        )
        assert done.returncode == 0, done.stderr
        for collection in (*SEEDED, "deals", "activities", "tickets"):
            left = [r["name"] for r in _vendor(url, collection, tag=tag) if "name" in r]
            assert left == (
                ["Tagged like the run, but not created by it"] if collection == "accounts" else []
            )
        assert len(_vendor(url, "accounts")) == 2, "records the harness did not create must survive"
    print(f"kills at ledger rows {points}; rows left unconfirmed by a kill and recovered: {unconfirmed_seen}")


def _tag(ledger: Path, run_id: str) -> str:
    with sqlite3.connect(ledger) as db:
        return str(db.execute("SELECT tag FROM runs WHERE run_id=?", (run_id,)).fetchone()[0])
