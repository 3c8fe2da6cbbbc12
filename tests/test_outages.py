"""An outage is not a defect: the served reference CRM stopped mid-run, or down before the run, is recorded in
the ledger as an outage, the run stops early with one line and exit code 20, no check fails for it, and the
trial timeline and the vendor's availability show it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import respx

from poc_harness.errors import VendorDown, VendorError
from poc_harness.report import history
from poc_harness.run import exitcodes
from poc_harness.run.ledger import Ledger
from poc_harness.sandbox.server import BackgroundServer
from poc_harness.transport.http import RetryPolicy, VendorHTTP
from poc_harness.transport.outage import OutageWatch, install
from tests.suite_runner import ROOT, run_suite_subprocess

TOKEN = "outage-test-token-7d1e"


def _config(tmp: Path, url: str) -> Path:
    config = tmp / "poc.toml"
    config.write_text(
        f'[harness]\nreports_dir = "{tmp / "reports"}"\nledger = "{tmp / "ledger.sqlite"}"\n'
        f'[vendors.served]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "SERVED_TOKEN"\n'
        "timeout = 2\n"
    )
    return config


def _judging_started(ledger: Path) -> bool:
    """Seeding is complete and some check has filed expectations: the run is in its scenarios."""
    if not ledger.exists():
        return False
    try:
        with sqlite3.connect(ledger) as db:
            seeded = db.execute("SELECT 1 FROM runs WHERE seeded_at IS NOT NULL").fetchone()
            filed = db.execute("SELECT COUNT(*) FROM expectations").fetchone()[0]
    except sqlite3.OperationalError:
        return False
    return bool(seeded) and filed > 0


def test_a_crm_stopped_mid_run_is_an_outage_not_a_defect(tmp_path: Path) -> None:
    server = BackgroundServer(token=TOKEN)
    url = server.__enter__()
    config = _config(tmp_path, url)
    command = [sys.executable, "-m", "pytest", "scenarios/", "-q", "-p", "no:warnings"]
    command += [f"--poc-config={config}", "--vendor=served"]
    run = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, "SERVED_TOKEN": TOKEN}, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not _judging_started(tmp_path / "ledger.sqlite") and time.monotonic() < deadline:
        assert run.poll() is None, "the run ended before the CRM was stopped"
        time.sleep(0.01)
    server.__exit__()  # the CRM goes away mid-run
    stdout, _ = run.communicate(timeout=240)
    assert run.returncode == exitcodes.VENDOR_DOWN, stdout
    assert "is down" in stdout and "stay pending" in stdout
    reports = (tmp_path / "reports").glob("*.json")
    results = next(p for p in reports if not p.name.endswith(".acceptance.json"))
    document = json.loads(results.read_text())
    tests = document["tests"]
    assert not [t for t in tests if t["outcome"] in ("failed", "error")], "an outage failed a check"
    assert {t["fault"] for t in tests if t["outcome"] == "pending" and t["fault"]} <= {"outage"}
    assert any(t["fault"] == "outage" for t in tests)
    defined = {c["check"] for c in document["run"]["suite"]["defined"]}
    assert {t["check"] for t in tests} == defined, "every check of the suites is listed, judged or pending"
    outage = document["run"]["outage"]
    assert outage["started_at"] <= outage["ended_at"] and "unreachable" in outage["what"]
    ledger = Ledger(tmp_path / "ledger.sqlite")
    run_id = document["run"]["run_id"]
    assert [o["run_id"] for o in ledger.outages("served")] == [run_id]
    assert ledger.run(run_id)["outcome"] == "vendor down"
    assert ledger.availability("served")["nights_up"] == 0
    ledger.close()


def test_a_crm_down_before_the_run_leaves_an_outage_row_and_exit_20(tmp_path: Path) -> None:
    with BackgroundServer(token=TOKEN) as url:
        pass  # a port that answered once and is closed now
    _config(tmp_path, url)
    down = run_suite_subprocess(tmp_path, "--vendor=served", env={"SERVED_TOKEN": TOKEN})  # the exit status
    assert down.returncode == exitcodes.VENDOR_DOWN, down.stdout + down.stderr
    assert "down before the run" in down.stderr and "Traceback" not in down.stderr
    ledger = Ledger(tmp_path / "ledger.sqlite")
    (outage,) = ledger.outages("served")
    assert ledger.run(outage["run_id"])["outcome"] == "vendor down"
    assert "unreachable" in outage["what"]
    availability = ledger.availability("served")
    assert availability == {**availability, "nights": 1, "nights_up": 0, "percent": 0.0}
    ledger.close()
    current = {
        "schema": "poc-harness/results",
        "run": {"run_id": outage["run_id"], "vendor": "served", "started_at": outage["started_at"]},
        "tests": [],
        "target": 85.0,
    }
    timeline = history.build(current, tmp_path / "reports", tmp_path / "ledger.sqlite")
    assert timeline["days"][-1]["outages"], "the timeline shows the outage"


def test_three_calls_without_answer_in_a_row_are_an_outage_and_an_answer_resets_the_count() -> None:
    watch = OutageWatch("acme")
    assert watch.failed("timeout") is None and watch.failed("503") is None
    watch.answered()
    assert watch.failed("timeout") is None and watch.failed("502") is None
    outage = watch.failed("504")
    assert outage is not None and outage.calls == 3 and outage.what == "timeout"
    assert OutageWatch("acme").failed("refused", unreachable=True) is not None


def test_in_a_trial_a_gateway_error_streak_raises_vendor_down_and_a_500_never_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = OutageWatch("acme")
    install(watch)
    try:
        http = VendorHTTP("acme", "https://crm.test", policy=RetryPolicy(1, 1, 0.01, 0.01))
        with respx.mock(base_url="https://crm.test") as mock:
            mock.get("/500").respond(500)
            mock.get("/503").respond(503)
            for _ in range(5):
                with pytest.raises(VendorError):
                    http.request("GET", "/500")
            assert not watch.down, "a 500 is the application answering: a defect, never an outage"
            for expected in (VendorError, VendorError, VendorDown):
                with pytest.raises(expected):
                    http.request("GET", "/503")
            sent = mock.calls.call_count
            with pytest.raises(VendorDown, match="not sent"):
                http.request("GET", "/500")
            assert mock.calls.call_count == sent, "once down, nothing more is sent"
        http.close()
    finally:
        install(None)
