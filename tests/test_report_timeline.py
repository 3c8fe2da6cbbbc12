"""The trial night by night: synthetic nights (a missed night, a night whose run was killed, a pending
expectation judged failed two nights later, a score going up) published one after the other give the
right timeline rows and score-trend chart, in English and Persian, in the acceptance and the comparison
reports, also when rebuilt from the documents alone; and two real wall-clock runs of the suites show as
two entries of the timeline."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from poc_harness.config import PocConfig, load_config
from poc_harness.report import timeline_view
from poc_harness.report.i18n import label
from poc_harness.report.publish import compare, publish
from poc_harness.report.render import render_acceptance
from poc_harness.run.ledger import Ledger
from poc_harness.run.results import TestResult as Result
from poc_harness.run.results import write_results
from poc_harness.sandbox.server import BackgroundServer
from tests.suite_runner import ROOT, run_suite

TEMPLATES = ROOT / "fixtures" / "templates"
SILENCE = "lead_to_contract::silence_alert_after_7_days_and_not_after_activity"
CHECKS = {  # check: (severity, criterion)
    "lead_to_contract::every_lead_gets_an_owner": ("critical", "customisation"),
    "lead_to_contract::followups_due_at_t2_and_t5": ("major", "customisation"),
    SILENCE: ("major", "customisation"),
    "ceo_reporting::conversion_rate_report": ("major", "reporting"),
    "ceo_reporting::three_management_reports_ready": ("critical", "reporting"),
    "integrations::erp_orders_reach_the_crm": ("major", "integration"),
}
DAY_1 = datetime(2025, 5, 3, 1, 30, tzinfo=UTC)  # 1404/02/13 in the Jalali calendar


@dataclass
class Night:
    at: datetime
    failed: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)
    files: int = 0  # silence expectations filed, due in 7 days
    judges: dict[int, bool] = field(default_factory=dict)  # earlier expectation id: passed
    killed: bool = False  # killed mid-run: in the ledger, no results
    selected: set[str] | None = None  # a subset of the checks (paths, -k): a partial run
    records: int = 200
    legacy: bool = False  # results written before runs recorded the checks the suites define


NIGHTS = [
    Night(
        DAY_1,
        failed={"lead_to_contract::followups_due_at_t2_and_t5", "ceo_reporting::conversion_rate_report"},
        pending={SILENCE},
        files=3,
    ),
    # day 2: no run
    Night(
        DAY_1 + timedelta(days=2),
        failed={SILENCE, "ceo_reporting::conversion_rate_report"},
        files=2,
        judges={1: True, 2: False},  # night 1's second silence expectation is judged failed
    ),
    Night(DAY_1 + timedelta(days=3), files=1, killed=True),
    Night(DAY_1 + timedelta(days=3, hours=1, minutes=40), judges={3: True, 4: True, 5: True, 6: True}),
]


def _config(tmp: Path, ledger: Path) -> PocConfig:
    config = tmp / "poc.toml"
    config.write_text(f'[harness]\nreports_dir = "{tmp / "reports"}"\nledger = "{ledger}"\n')
    return load_config(config)


def _night(
    folder: Path, ledger: Ledger, config: PocConfig, night: Night, vendor: str = "acme"
) -> Path | None:
    """What a nightly run leaves behind: its ledger rows, then its results and acceptance documents."""
    run_id = f"{night.at:%Y%m%dT%H%M%S}-{vendor[:4]}"
    ledger.start_run(run_id, vendor, "sandbox", f"poc{run_id}", 7, 200, "fa_IR", "wall", night.at)
    for expectation_id, passed in night.judges.items():
        ledger.judge(
            expectation_id, passed, {"note": "silence alert"}, run_id, night.at + timedelta(minutes=5)
        )
    for number in range(night.files):
        ledger.expect(
            run_id, vendor, SILENCE, "silence_alert", f"lead-{number}", {}, night.at + timedelta(days=7)
        )
    if night.killed:
        return None
    ledger.finish_run(run_id, "finished", night.at + timedelta(minutes=20))
    tests = [
        Result(
            f"scenarios/test_x.py::{check}",
            check,
            "failed" if check in night.failed else ("pending" if check in night.pending else "passed"),
            severity,
            criterion,
            1.0,
            "",
            "vendor" if check in night.failed else None,
        )
        for check, (severity, criterion) in CHECKS.items()
        if night.selected is None or check in night.selected
    ]
    run: dict[str, Any] = {
        "vendor": vendor,
        "label": vendor,
        "adapter": "sandbox",
        "run_id": run_id,
        "tag": f"poc{run_id}",
        "seed": 7,
        "records": night.records,
        "locale": "fa_IR",
        "clock": "wall",
        "acceptance_run": True,
        "acceptance_records": 200,
        "suite": {  # every check the suites define was selected: a full run, it counts
            "defined": [{"check": c, "severity": s, "criterion": k} for c, (s, k) in CHECKS.items()],
            "selected": sorted(CHECKS if night.selected is None else night.selected),
        },
        "profile": None,
        "started_at": night.at.isoformat(),
        "finished_at": (night.at + timedelta(minutes=20)).isoformat(),
        "calls": {},
    }
    if night.legacy:
        del run["suite"], run["acceptance_records"]
    path = write_results(
        folder / f"{vendor}-{run_id}.json", run, tests, [], ledger.expectation_summary(run_id)
    )
    publish(path, config, satisfaction=TEMPLATES / "satisfaction.csv", scorecard=TEMPLATES / "scorecard.yaml")
    return path


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four nights of vendor acme (and one of globex) published one after the other; junk files lie
    in the reports folder, as they may in a real one."""
    tmp = tmp_path_factory.mktemp("trial")
    folder = tmp / "reports"
    folder.mkdir()
    (folder / "broken.json").write_text("{not json")
    (folder / "foreign.json").write_text('{"schema": "something-else", "run": {}}')
    config = _config(tmp, tmp / "ledger.sqlite")
    ledger = Ledger(tmp / "ledger.sqlite")
    try:
        _night(folder, ledger, config, Night(DAY_1 + timedelta(hours=2)), vendor="globex")
        for night in NIGHTS:
            _night(folder, ledger, config, night)
    finally:
        ledger.close()
    return folder


def _latest(folder: Path, vendor: str = "acme") -> dict[str, Any]:
    documents = [json.loads(p.read_text()) for p in folder.glob(f"{vendor}-*.acceptance.json")]
    return max(documents, key=lambda d: d["run"]["started_at"])


def test_timeline_rows_day_by_day(trial: Path) -> None:
    timeline = _latest(trial)["timeline"]
    assert timeline["first_date"] == "2025-05-03" and timeline["trial_days"] == 14
    days = timeline["days"]
    assert [(d["day"], d["date"], d["status"], len(d["runs"])) for d in days] == [
        (1, "2025-05-03", "ran", 1),
        (2, "2025-05-04", "missed", 0),
        (3, "2025-05-05", "ran", 1),
        (4, "2025-05-06", "ran", 2),  # the killed run and the one after it
    ]
    assert [d["checks"] for d in days] == [
        {"passed": 3, "failed": 2, "pending": 1},
        None,
        {"passed": 4, "failed": 2, "pending": 0},
        {"passed": 6, "failed": 0, "pending": 0},
    ]
    assert [d["expectations"] for d in days] == [
        {"filed": 3, "judged_passed": 0, "judged_failed": 0, "pending": 3},
        None,
        {"filed": 2, "judged_passed": 1, "judged_failed": 1, "pending": 3},  # night 1's, judged failed
        {"filed": 1, "judged_passed": 4, "judged_failed": 0, "pending": 0},
    ]
    killed = days[3]["runs"][0]
    assert killed["checks"] is None and killed["verdict"] is None
    assert killed["expectations"] == {"filed": 1, "judged_passed": 0, "judged_failed": 0, "pending": 4}
    scores = [d["total"] for d in days if d["total"] is not None]
    assert len(scores) == 3 and scores[0] < scores[1] < scores[2], scores
    # each night's score and verdict are those of its own acceptance document
    for day in (days[0], days[2], days[3]):
        own = json.loads(next(trial.glob(f"*{day['runs'][-1]['run_id']}.acceptance.json")).read_text())
        assert (day["total"], day["verdict"]) == (own["total"], own["verdict"])
    assert all(run["run_id"].endswith("-acme") for day in days for run in day["runs"])  # not globex


def test_an_earlier_report_shows_the_trial_up_to_its_night(trial: Path) -> None:
    first = json.loads(next(trial.glob("acme-20250503T013000-acme.acceptance.json")).read_text())
    assert [d["day"] for d in first["timeline"]["days"]] == [1]


def test_foreign_and_broken_files_are_left_out_with_a_warning(
    trial: Path, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(trial, tmp_path / "reports"))
    results = max(p for p in folder.glob("acme-*.json") if ".acceptance." not in p.name)
    with caplog.at_level(logging.WARNING):
        json_path, _ = publish(results, _config(tmp_path, tmp_path / "no-ledger.sqlite"))
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "broken.json" in warned and "foreign.json" in warned
    assert len(json.loads(json_path.read_text())["timeline"]["days"]) == 4


def test_score_trend_chart(trial: Path) -> None:
    timeline = _latest(trial)["timeline"]
    svg = timeline_view.trend_chart(timeline, "en")
    assert svg is not None and svg.startswith("<svg") and 'aria-label="Score trend / Day"' in svg
    assert 'id="missed-day-2"' in svg and 'id="missed-day-1"' not in svg and 'id="missed-day-3"' not in svg
    points = svg.split('id="trend-points"')[1].split('<g id="text')[0]
    heights = [float(y) for y in re.findall(r'<use [^>]*y="([0-9.]+)"', points)]
    assert len(heights) == 3 and heights[0] > heights[1] > heights[2]  # svg y grows downwards
    assert 'id="target"' in svg and ">85<" in svg
    assert "05-03" in svg and "05-16" in svg  # day 1 and day 14, the days to come labelled too
    persian = timeline_view.trend_chart(timeline, "fa")
    assert persian is not None and "۰۲/۱۳" in persian and "روند امتیاز" in persian


def test_acceptance_html_shows_the_timeline_in_english_and_persian(trial: Path) -> None:
    document = _latest(trial)
    html = next(trial.glob(f"*{document['run']['run_id']}.acceptance.html")).read_text()
    section = html.split('id="timeline"')[1].split("</table>")[0]
    assert re.findall(r'<tr class="day-(\w+)" data-day="(\d+)"', section) == [
        ("ran", "1"),
        ("missed", "2"),
        ("ran", "3"),
        ("ran", "4"),
    ]
    assert "no run: missed night" in section and "the run left no results" in section
    assert "Day 4 of 14" in section and "Missed nights: 1" in section and "<svg" in section
    persian = render_acceptance(document, "fa")
    section = persian.split('id="timeline"')[1].split("</table>")[0]
    assert "آزمون شب به شب" in persian and "۱۴۰۴/۰۲/۱۳" in section and "۱۴۰۴/۰۲/۱۴" in section
    assert "شب از دست رفته" in section and "<svg" in section


def test_consecutive_missed_nights_are_one_row() -> None:
    days = [
        {"day": n, "date": f"2025-05-0{n}", "status": "ran" if n in (1, 5) else "missed"} for n in range(1, 6)
    ]
    rows = timeline_view.rows({"days": days})
    assert [(r["day"], r["last"]["day"], r["status"]) for r in rows] == [
        (1, 1, "ran"),
        (2, 4, "missed"),
        (5, 5, "ran"),
    ]


def test_rebuilt_from_the_documents_alone(trial: Path, tmp_path: Path) -> None:
    """No ledger (or another one): ``poc-harness report`` still shows every night's ledger figures."""
    before = _latest(trial)
    results = next(trial.glob(f"*{before['run']['run_id']}.json"))
    other = Ledger(tmp_path / "other.sqlite")  # another trial's ledger, with a run on the missed night
    other.start_run("x", "acme", "sandbox", "t", 1, 1, "en_US", "wall", DAY_1 + timedelta(days=1))
    other.close()
    _config(tmp_path, tmp_path / "other.sqlite")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "poc_harness.cli",
            "report",
            str(results),
            f"--poc-config={tmp_path / 'poc.toml'}",
            f"--satisfaction={TEMPLATES / 'satisfaction.csv'}",
            f"--scorecard={TEMPLATES / 'scorecard.yaml'}",
            "--lang=fa",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after = _latest(trial)
    assert after["generated_at"] >= before["generated_at"]
    assert after["timeline"] == before["timeline"]
    assert "آزمون شب به شب" in next(trial.glob(f"*{before['run']['run_id']}.acceptance.fa.html")).read_text()


def test_comparison_shows_each_vendors_trend(trial: Path) -> None:
    html = compare(trial).read_text()
    assert 'id="trend"' in html
    svg = html.split('id="trend"')[1]
    assert 'id="trend-0"' in svg and 'id="trend-1"' in svg and "acme" in svg and "globex" in svg


# --- two real runs of the suites, wall clock, against the served reference CRM -------------------------

TOKEN = "timeline-test-token-51c2"


def test_two_wall_clock_runs_are_two_entries_of_the_timeline(tmp_path: Path) -> None:
    with BackgroundServer(profile="healthy", token=TOKEN) as url:
        (tmp_path / "poc.toml").write_text(
            f'[harness]\nreports_dir = "{tmp_path / "reports"}"\nledger = "{tmp_path / "ledger.sqlite"}"\n'
            f'[vendors.served]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "SERVED_TOKEN"\n'
        )
        env = {"SERVED_TOKEN": TOKEN}
        first = run_suite(tmp_path, "--vendor=served", "--clock=wall", env=env)
        assert first.results is not None, first.stdout + first.stderr
        answer = httpx.post(
            f"{url}/clock/advance", json={"seconds": 8 * 86400}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        answer.raise_for_status()
        second = run_suite(tmp_path, "--vendor=served", "--clock=wall", env=env)
        assert second.results is not None, second.stdout + second.stderr
    ids = [run.results["run"]["run_id"] for run in (first, second) if run.results]
    document = _latest(tmp_path / "reports", "served")
    assert document["run"]["run_id"] == ids[1]
    days = document["timeline"]["days"]
    runs = [run for day in days for run in day["runs"]]
    assert [run["run_id"] for run in runs] == ids
    assert all(day["status"] == "ran" for day in days) and len(days) <= 2  # the same night, or two
    filed, judged = runs[0]["expectations"], runs[1]["expectations"]
    assert filed["filed"] > 0 and filed["pending"] > 0  # what only a later night can judge
    # the second run judged what came due since (the first night's silence alerts and SLA breaches)
    assert judged["judged_passed"] > 0 and judged["pending"] < filed["pending"] + judged["filed"]
    assert runs[0]["checks"]["pending"] > 0
    html = next((tmp_path / "reports").glob(f"*{ids[1]}.acceptance.html")).read_text()
    assert html.count('<tr class="day-ran"') == len(days) and 'id="trend-points"' in html


# --- runs that are not full acceptance runs are shown, never counted -------------------------------------


def test_partial_and_small_runs_never_change_the_verdict_trend_or_comparison(tmp_path: Path) -> None:
    """Issue 12: a run of a subset of the suites (or with fewer records) is labelled and listed, but the
    night's score and verdict, the trend and the comparison column stay those of the full run."""
    folder = tmp_path / "reports"
    folder.mkdir()
    config = _config(tmp_path, tmp_path / "ledger.sqlite")
    ledger = Ledger(tmp_path / "ledger.sqlite")
    reports = {"ceo_reporting::conversion_rate_report", "ceo_reporting::three_management_reports_ready"}
    try:
        _night(folder, ledger, config, Night(DAY_1, failed={"lead_to_contract::followups_due_at_t2_and_t5"}))
        _night(folder, ledger, config, Night(DAY_1 + timedelta(hours=1), selected=reports))
        _night(folder, ledger, config, Night(DAY_1 + timedelta(days=1), records=50))
        _night(folder, ledger, config, Night(DAY_1, legacy=True), vendor="initech")
    finally:
        ledger.close()
    full = json.loads(next(folder.glob("acme-20250503T013000-acme.acceptance.json")).read_text())
    partial = json.loads(next(folder.glob("acme-20250503T023000-acme.acceptance.json")).read_text())
    small = _latest(folder)
    assert full["scope"]["counts"] and full["conditions"][0]["check"].endswith("followups_due_at_t2_and_t5")
    assert partial["scope"]["labels"] == ["partial"] and not partial["verdict"].startswith("accept")
    assert small["scope"]["labels"] == ["below_acceptance_records"]
    assert not small["verdict"].startswith("accept")
    days = small["timeline"]["days"]
    assert [d["status"] for d in days] == ["ran", "not_counted"]
    assert (days[0]["verdict"], days[0]["total"]) == (full["verdict"], full["total"])  # not the partial's
    assert [r["counted"] for r in days[0]["runs"]] == [True, False]
    assert (days[1]["verdict"], days[1]["total"]) == (None, None)  # nothing on the trend
    html = next(folder.glob(f"*{small['run']['run_id']}.acceptance.html")).read_text()
    assert 'id="scope"' in html and "not a full acceptance run" in html and 'id="gaps"' in html

    comparison = compare(folder).read_text()
    acme = comparison.split("<b>acme</b>")[1].split("</tr>")[0]
    assert f'">{label(full["verdict"], "en")}</td>' in acme and full["run"]["run_id"] in acme
    assert "Later runs not counted" in acme and small["run"]["run_id"] in acme
    initech = comparison.split("<b>initech</b>")[1].split("</tr>")[0]
    assert 'status-not-yet-known">no full acceptance run yet</td>' in initech
    matrix = comparison.split('id="matrix"')[1].split("</table>")[0]
    assert "acme" in matrix and "initech" not in matrix
