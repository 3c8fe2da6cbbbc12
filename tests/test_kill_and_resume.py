"""Nothing lost, nothing duplicated, nothing foreign deleted: the run is killed (SIGKILL) at random
points while it seeds a served reference CRM, resumed each time with ``--resume``, and finally
cleaned up; after every kill the ledger holds every record that reached the CRM.

The kill points come from ``POC_KILL_SEED`` (default 6), so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from fixtures.factories import build_dataset
from poc_harness.sandbox.server import BackgroundServer
from tests.suite_runner import ROOT, run_suite, served_table, write_config

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

        # a record under the run's tag the ledger never had an id for (a write applied upstream whose answer
        # said otherwise): the run's tag is unique to the run, so it is the run's, and cleanup deletes it
        unlisted = {**foreign, "name": "Under the run's tag, never in the ledger", "tag": tag}
        httpx.post(f"{url}/accounts", headers=headers, json=unlisted).raise_for_status()
        cli = [sys.executable, "-m", "poc_harness.cli", "cleanup", "--vendor=served", f"--run={run_id}"]
        environment = {**os.environ, "SERVED_TOKEN": TOKEN}
        done = subprocess.run(
            [*cli, f"--poc-config={config}"], cwd=ROOT, capture_output=True, text=True, env=environment
        )
        assert done.returncode == 0, done.stderr
        assert "deleted (not in the ledger): account" in done.stdout
        for collection in (*SEEDED, "deals", "activities", "tickets"):
            assert _vendor(url, collection, tag=tag) == [], f"{collection}: left under the run's tag"
        assert [a["name"] for a in _vendor(url, "accounts")] == [foreign["name"]], "untagged records survive"
    print(f"kills at ledger rows {points}; rows left unconfirmed by a kill and recovered: {unconfirmed_seen}")


def _tag(ledger: Path, run_id: str) -> str:
    with sqlite3.connect(ledger) as db:
        return str(db.execute("SELECT tag FROM runs WHERE run_id=?", (run_id,)).fetchone()[0])


# --- one run at a time, resume only while seeding, Ctrl-C marks the run interrupted -------------------


def _served_config(tmp: Path, url: str) -> Path:
    return write_config(tmp, tables=served_table(url))


def test_a_second_run_on_a_locked_vendor_is_refused_naming_the_holder_and_a_stale_lock_is_taken(
    tmp_path: Path,
) -> None:
    from poc_harness.run.ledger import Ledger

    ledger = Ledger(tmp_path / "ledger.sqlite")
    here = socket.gethostname()
    assert ledger.lock("sandbox", "run-a", os.getpid(), here, datetime.now(UTC)) is None
    ledger.close()
    refused = run_suite(tmp_path, "--vendor=sandbox", "-k", "nothing-matches")
    assert refused.returncode == 4, refused.stdout + refused.stderr
    lines = [line for line in refused.stderr.splitlines() if "locked by run run-a" in line]
    assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0], refused.stderr
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.unlock("sandbox")
    assert ledger.lock("sandbox", "run-b", dead.pid, here, datetime.now(UTC)) is None
    holder = ledger.lock("sandbox", "run-c", os.getpid(), here, datetime.now(UTC))
    assert holder is None, "a lock whose process is gone (same host) is stale: taken over"
    elsewhere = ledger.lock("sandbox", "run-d", 1, "another-host", datetime.now(UTC))
    assert elsewhere is not None and elsewhere["run_id"] == "run-c", "from another host: presumed alive"
    ledger.close()


def test_resume_of_a_run_past_seeding_is_refused_with_one_line(tmp_path: Path) -> None:
    with BackgroundServer(token=TOKEN) as url:
        _served_config(tmp_path, url)
        first = run_suite(tmp_path, "--vendor=served", "scenarios/test_lead_to_contract.py", "-k", "owner",
                          env={"SERVED_TOKEN": TOKEN})
        assert first.results is not None, first.stdout + first.stderr
        run_id = first.results["run"]["run_id"]
        again = run_suite(tmp_path, "--vendor=served", f"--resume={run_id}", env={"SERVED_TOKEN": TOKEN})
    assert again.returncode == 4 and "Traceback" not in again.stderr
    (line,) = [line for line in again.stderr.splitlines() if "past seeding" in line]
    assert "start a new run" in line and f"--run {run_id}" in line


def test_ctrl_c_marks_the_run_interrupted_and_says_it_must_start_anew(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    config = tmp_path / "poc.toml"
    config.write_text(f'[harness]\nreports_dir = "{tmp_path / "reports"}"\nledger = "{ledger}"\n')
    command = [sys.executable, "-m", "pytest", "scenarios/", "-q", "-p", "no:warnings"]
    command.append(f"--poc-config={config}")
    run = subprocess.Popen([*command, "--vendor=sandbox"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        try:
            with sqlite3.connect(ledger) as db:
                if db.execute("SELECT COUNT(*) FROM expectations").fetchone()[0]:  # checks are running
                    break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    stdout, _ = run.communicate(timeout=120)
    assert run.returncode == 2, stdout
    with sqlite3.connect(ledger) as db:
        ((run_id, outcome),) = db.execute("SELECT run_id, outcome FROM runs").fetchall()
        assert outcome == "interrupted"
        assert f"run {run_id} interrupted after seeding: it cannot be resumed; start a new run" in stdout
        assert db.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0, "the lock is released"
