"""The pytest plugin: one-line errors for bad input, required markers, and the reports a run writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.suite_runner import run_suite

pytest_plugins = ["pytester"]


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("ERROR:", "Exit:"))]  # Exit: vendor down


@pytest.mark.parametrize(
    ("args", "config", "env", "names"),
    [
        (["--vendor=nope"], "", {}, "known adapters are bottlecrm, dynamics, hubspot, mapping"),
        (["--vendor=sandbox:nope"], "", {}, "sandbox profile 'nope' is unknown"),
        ([], "", {}, "pass --vendor=<name>"),
        (["--vendor=sandbox"], "[harness\n", {}, "not valid TOML"),
        (["--vendor=sandbox"], "[harness]\nrecrods = 3\n", {}, "unknown key 'harness.recrods'"),
        (["--vendor=sandbox"], '[harness]\nrecords = "many"\n', {}, "key 'harness.records'"),
        (
            ["--vendor=acme"],
            '[vendors.acme]\nadapter = "sandbox"\nbase_url = "http://127.0.0.1:9"\n'
            'token_env = "ACME_TOKEN_UNSET"\n',
            {},
            "ACME_TOKEN_UNSET is not set",
        ),
        (
            ["--vendor=acme"],
            '[vendors.acme]\nadapter = "sandbox"\nbase_url = "http://127.0.0.1:9"\n'
            'token_env = "ACME_TOKEN"\n',
            {"ACME_TOKEN": "canary-token-9b1e"},
            "vendor unreachable at http://127.0.0.1:9",
        ),
        (
            ["--vendor=sandbox"],
            "[matrix.weights]\nsecurity = 25\nscalability = 20\nintegration = 15\nreliability = 15\n"
            "customisation = 10\nreporting = 10\nlocalisation = 5\ncost = 5\n",
            {},
            "[matrix.weights] sum to 105, not 100",
        ),
        (["--vendor=sandbox", "--poc-config=/nonexistent/poc.toml"], "", {}, "file not found"),
        (["--vendor=sandbox", "--resume=20260101T000000-abcd"], "", {}, "no such run in the ledger"),
    ],
    ids=[
        "unknown-vendor",
        "unknown-profile",
        "no-vendor",
        "bad-toml",
        "unknown-key",
        "wrong-type",
        "missing-secret",
        "unreachable",
        "weights-not-100",
        "missing-config-file",
        "resume-unknown-run",
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, args: list[str], config: str, env: dict[str, str], names: str
) -> None:
    if config:
        (tmp_path / "poc.toml").write_text(config)
    else:
        (tmp_path / "poc.toml").write_text(f'[harness]\nreports_dir = "{tmp_path / "reports"}"\n')
    run = run_suite(tmp_path, *args, env={"ACME_TOKEN": "", **env})
    output = run.stdout + run.stderr
    errors = _error_lines(output)
    assert run.returncode != 0
    assert len(errors) == 1, output
    assert names in errors[0]
    assert "Traceback" not in output
    assert "canary-token-9b1e" not in output


def test_scenario_without_markers_fails_collection(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["poc_harness.plugin"]')
    pytester.makeini("[pytest]\npoc_scenarios = scenarios\n")
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "test_unmarked.py").write_text(
        "import pytest\n\n@pytest.mark.severity('major')\ndef test_no_criterion(trial):\n    pass\n\n"
        "@pytest.mark.severity('fatal')\n@pytest.mark.criterion('reporting')\ndef test_bad_severity(trial):\n"
        "    pass\n"
    )
    result = pytester.runpytest_inprocess(
        "scenarios", "--vendor=sandbox", f"--ledger={pytester.path / 'l.db'}", "-p", "no:html"
    )
    assert result.ret != 0
    text = result.stdout.str() + result.stderr.str()
    assert "test_no_criterion: criterion marker missing" in text
    assert "test_bad_severity: severity marker missing or not one of" in text


def test_run_writes_self_contained_html_junit_and_results(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--vendor=sandbox", "--seed=7")
    assert run.returncode == 0, run.stdout
    meta = run.results["run"]
    assert meta["seed"] == 7 and meta["records"] == 200 and meta["acceptance_run"] is True
    html_files = [p for p in (tmp_path / "reports").glob("*.html") if ".acceptance" not in p.name]
    assert len(html_files) == 1
    html = html_files[0].read_text()
    for shown in (
        meta["run_id"],
        "PoC vendor",
        "sandbox",
        "PoC seed",
        "PoC records",
        "Severity",
        "Criterion",
        "critical",
        "customisation",
    ):
        assert shown in html, shown
    assert not re.search(r'<link[^>]+href="(?!data:)[^"]+\.css"', html), "stylesheet not embedded"
    assert list(html_files[0].parent.glob("*.xml")), "JUnit XML missing"


def test_fewer_records_than_acceptance_is_flagged(suite) -> None:  # type: ignore[no-untyped-def]
    run = suite("--vendor=sandbox", "--records=60")
    assert run.results["run"]["acceptance_run"] is False
    assert run.results["run"]["records"] == 60
