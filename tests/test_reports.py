"""The acceptance report end to end: a healthy and a broken CRM each get the right verdict, the
comparison shows the difference, the Persian report is right to left with Jalali dates, and every
view is rendered from the JSON alone."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.suite_runner import EVIDENCE, ROOT, TEMPLATES, SuiteRun, run_suite


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, healthy_run: SuiteRun) -> Path:
    """The session's healthy run (copied) and one broken-reports run, in the same reports folder."""
    tmp = tmp_path_factory.mktemp("reports")
    assert healthy_run.reports is not None
    shutil.copytree(healthy_run.reports, tmp / "reports")
    run = run_suite(tmp, "--vendor=sandbox:broken_reports", *EVIDENCE)
    assert run.results is not None, run.stdout + run.stderr
    return tmp / "reports"


def _acceptance(reports: Path, label: str) -> dict:  # type: ignore[type-arg]
    for path in reports.glob("*.acceptance.json"):
        document = json.loads(path.read_text())
        if document["run"]["label"] == label:
            return document
    raise AssertionError(f"no acceptance document for {label}")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poc_harness.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_healthy_crm_meets_every_rule_and_is_accepted(reports: Path) -> None:
    document = _acceptance(reports, "sandbox")
    assert document["schema"] == "poc-harness/acceptance" and document["version"] == 1
    rules = {rule["key"]: rule["status"] for rule in document["rules"]}
    assert rules == {
        "no_critical_failure": "met",
        "integrations": "met",  # measured by the integrations suite
        "three_reports": "met",
        "satisfaction": "met",
    }  # the template survey: 4 of 5 testers satisfied = 80 %
    assert document["verdict"] == "accept"
    assert document["reasons"][0].startswith("all four rules met")
    assert document["scope"]["counts"] and document["gaps"] == [] and document["conditions"] == []
    assert document["total_high"] == document["total"]  # nothing left to establish
    for name in ("customisation", "integration"):
        criterion = next(c for c in document["criteria"] if c["criterion"] == name)
        assert criterion["source"] == "both" and criterion["measured"] == 100.0
    assert document["cost"]["tco"] == 1_570_000_000  # the template scorecard's cost lines
    html = next(reports.glob(f"*{document['run']['run_id']}.acceptance.html")).read_text()
    assert "ACCEPT" in html and 'id="matrix"' in html and html.count("<svg") >= 3
    assert document["links"]["pytest-html (engineers)"].endswith(".html")
    # what a short load probe proves is shown beside each scale check, not only kept in the JSON
    scale = [c for c in document["checks"] if c["check"].startswith("scale::")]
    assert scale and all("users" in c["caveat"] for c in scale)
    assert html.count("What this proves") >= len(scale)


def test_broken_reports_crm_is_rejected_with_the_reason(reports: Path) -> None:
    document = _acceptance(reports, "sandbox:broken_reports")
    assert document["verdict"] == "reject"
    assert {r["key"]: r["status"] for r in document["rules"]}["three_reports"] == "not met"
    failed = {c["check"] for c in document["checks"] if c["outcome"] == "failed"}
    assert "ceo_reporting::forecast_accuracy" in failed
    forecast = next(c for c in document["checks"] if c["check"] == "ceo_reporting::forecast_accuracy")
    assert forecast["expectations"]["failures"][0]["note"].startswith("forecast")


def test_comparison_shows_the_difference(reports: Path) -> None:
    done = _cli("compare", f"--reports-dir={reports}")
    assert done.returncode == 0, done.stderr
    html = (reports / "comparison.html").read_text()
    assert "sandbox:broken_reports" in html and "REJECT" in html and "ACCEPT" in html
    differences = html.split('id="differences"')[1].split("</table>")[0]
    assert "Forecast accuracy" in differences and "Every lead gets an owner" not in differences


def test_persian_report_is_right_to_left_with_jalali_dates(reports: Path) -> None:
    results = next(
        p
        for p in reports.glob("*.json")
        if ".acceptance." not in p.name and json.loads(p.read_text())["run"]["label"] == "sandbox"
    )
    done = _cli("report", str(results), "--lang=fa", f"--satisfaction={TEMPLATES / 'satisfaction.csv'}")
    assert done.returncode == 0, done.stderr
    html = next(reports.glob(f"{results.stem}.acceptance.fa.html")).read_text()
    assert '<html lang="fa" dir="rtl">' in html
    assert re.search("۱۴۰[۰-۹]/[۰-۹]{2}/[۰-۹]{2}", html), "no Jalali date in Persian digits"
    assert "گزارش پذیرش" in html and "ماتریس امتیازدهی وزنی" in html


def test_every_view_is_rendered_from_json_alone(reports: Path, tmp_path: Path) -> None:
    results = next(p for p in reports.glob("*.json") if ".acceptance." not in p.name)
    copy = tmp_path / results.name
    copy.write_text(results.read_text())  # no ledger, no CRM: only the results JSON
    done = _cli("report", str(copy))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / f"{results.stem}.acceptance.json").exists()
    assert "Weighted scoring matrix" in (tmp_path / f"{results.stem}.acceptance.html").read_text()


def test_bad_evidence_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    survey = tmp_path / "survey.csv"
    survey.write_text("tester,role,score,comment\nAli,sales rep,9,too high\n")
    run = run_suite(tmp_path, "--vendor=sandbox", f"--satisfaction={survey}")
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("ERROR:")]
    assert run.returncode != 0 and len(errors) == 1
    assert "line 2" in errors[0] and "survey.csv" in errors[0]


def test_report_of_a_missing_or_foreign_file_is_one_clear_line(tmp_path: Path) -> None:
    foreign = tmp_path / "other.json"
    foreign.write_text('{"schema": "something-else"}')
    for given, says in (
        (tmp_path / "missing.json", "file not found"),
        (foreign, "not a poc-harness/results"),
    ):
        done = _cli("report", str(given))
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.strip().count("\n") == 0 and says in done.stderr
