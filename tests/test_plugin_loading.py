"""How the plugin loads: its ``pytest11`` entry point, once, inert without ``--vendor``, fast to import, and a
collect-only run that checks the vendor without starting a trial."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.suite_runner import ROOT, run_suite

pytest_plugins = ["pytester"]

PLUGIN = "poc_harness.plugin"
REPORT_STACK = (
    "matplotlib",
    "jinja2",
    "jdatetime",
    "poc_harness.report.publish",
    "poc_harness.report.render",
    "poc_harness.report.charts",
)


def test_the_plugin_is_a_pytest11_entry_point_named_after_its_module() -> None:
    points = [point for point in entry_points(group="pytest11") if point.value == PLUGIN]
    assert [point.name for point in points] == [PLUGIN], (
        "the installed metadata lacks the plugin's entry point: re-run pip install -e ."
    )


def test_importing_the_plugin_leaves_the_report_stack_unimported() -> None:
    """A report's imports (plotting, templates, Jalali dates) wait until a report is written."""
    code = (
        "import json, sys\nimport poc_harness.plugin\n"
        f"print(json.dumps([m for m in {REPORT_STACK!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_leftover_registration_does_not_register_the_plugin_twice(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f'pytest_plugins = ["{PLUGIN}"]')
    pytester.makepyfile(
        f"""
        import {PLUGIN} as plugin

        def test_registered_once(pytestconfig):
            manager = pytestconfig.pluginmanager
            assert [p for p in manager.get_plugins() if p is plugin] == [plugin]
            assert manager.get_name(plugin) == "{PLUGIN}"
        """
    )
    result = pytester.runpytest_subprocess("-p", PLUGIN, "-p", "no:html")
    result.assert_outcomes(passed=1)


def test_without_a_vendor_the_plugin_leaves_another_project_alone(pytester: pytest.Pytester) -> None:
    """A project of its own with a ``scenarios/`` folder and a ``trial`` fixture of its own, no markers:
    without ``--vendor`` nothing of the harness's runs (no vendor demanded, no marker check, no report)."""
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef trial():\n    return 'theirs'\n")
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "test_theirs.py").write_text("def test_their_trial(trial):\n    assert trial == 'theirs'\n")
    result = pytester.runpytest_subprocess("scenarios", f"--html={pytester.path / 'page.html'}")
    result.assert_outcomes(passed=1)
    assert "poc-harness:" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()
    assert "<th>Severity</th>" not in (pytester.path / "page.html").read_text()


def test_collect_only_checks_the_vendor_but_starts_no_trial(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--vendor=sandbox", "--collect-only")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tests collected" in run.stdout
    assert "poc-harness:" not in run.stdout  # no results, no report, no verdict line
    assert not (tmp_path / "reports").exists()
    assert not (tmp_path / "ledger.sqlite").exists()  # no lock taken, no run opened


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("", "unknown vendor adapter 'acme'"),
        (
            '[vendors.acme]\nadapter = "sandbox"\nbase_url = "http://127.0.0.1:9"\n'
            'token_env = "ACME_TOKEN_UNSET"\n',
            "ACME_TOKEN_UNSET is not set",
        ),
        ('[vendors.acme]\nadapter = "sandbox"\n[evidence]\nscorecards = "{tmp}/cards"\n', "acme.yaml"),
    ],
    ids=["unknown-vendor", "missing-secret", "vendors-scorecard-broken"],
)
def test_collect_only_still_names_a_bad_vendor(tmp_path: Path, config: str, says: str) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "acme.yaml").write_text("criteria: [\n")  # named after the vendor, not its adapter
    config = config.replace("{tmp}", str(tmp_path))
    (tmp_path / "poc.toml").write_text(config + f'[harness]\nreports_dir = "{tmp_path / "reports"}"\n')
    run = run_suite(tmp_path, "--vendor=acme", "--collect-only", env={"ACME_TOKEN_UNSET": ""})
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("ERROR:")]
    assert run.returncode != 0
    assert len(errors) == 1 and says in errors[0], run.stdout + run.stderr
