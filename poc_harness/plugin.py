"""The pytest plugin: options, markers, the ``trial`` and ``check`` fixtures, results and report hooks.

Loaded in every pytest run where poc-harness is installed, through its ``pytest11`` entry point (named
``poc_harness.plugin``, so a ``pytest_plugins = ["poc_harness.plugin"]`` or ``-p poc_harness.plugin`` left
somewhere does not register it twice; ``-p no:poc_harness.plugin`` turns it off).  Without ``--vendor`` it
stays inert.  ``--vendor`` turns a pytest run into a trial run: the configuration is read and the vendor
reached before collection, and every problem is one ``ERROR:`` line naming what to fix.  With
``--collect-only`` the configuration and the adapter are checked but no trial starts.  The report package
(grading, jinja2, matplotlib) is imported only when a report is written.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Generator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _pytest.main import ExitCode

from poc_harness.config import MIN_ACCEPTANCE_RECORDS, PocConfig, load_config
from poc_harness.contract.adapter import Capability, build_adapter, installed_adapters
from poc_harness.contract.observed import require_parts
from poc_harness.errors import (
    CapabilityMissing,
    NotConfigured,
    NotExercised,
    PocError,
    VendorDown,
    VendorError,
)
from poc_harness.grading.completeness import NOT_CONFIGURED_FAULT, SETUP_PENDING
from poc_harness.grading.coverage import DefinedCheck, defined_checks, suite_record
from poc_harness.grading.criteria import Criterion, Severity
from poc_harness.grading.evidence import evidence_for
from poc_harness.redaction import REDACTOR
from poc_harness.run import exitcodes
from poc_harness.run.clock import ClockMode
from poc_harness.run.results import TestResult, write_results
from poc_harness.run.trial import Check, Trial
from poc_harness.transport import writes

TRIAL_KEY = pytest.StashKey[Trial]()
RESULTS_KEY = pytest.StashKey[list[TestResult]]()
SELECTED_KEY = pytest.StashKey[list[DefinedCheck]]()
ENDED_KEY = pytest.StashKey[dict[str, float]]()
VENDOR_KEY = pytest.StashKey[str]()
"""the --vendor value, once checked (a collect-only run has it but no trial)"""
ANSWERED_KEY = pytest.StashKey[str]()
PENDING_PREFIX = "PENDING"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("poc-harness")
    group.addoption(
        "--vendor",
        help="the vendor to test: a [vendors.<name>] of poc.toml or an adapter name; "
        "'sandbox:<profile>' picks a defect profile of the reference CRM. " + exitcodes.HELP,
    )
    group.addoption("--poc-config", type=Path, help="the TOML configuration (default: ./poc.toml if present)")
    group.addoption(
        "--records",
        type=int,
        help=f"records to seed (default and acceptance minimum {MIN_ACCEPTANCE_RECORDS})",
    )
    group.addoption("--seed", type=int, help="random seed of the seed data (same seed, same data)")
    group.addoption(
        "--clock",
        choices=[mode.value for mode in ClockMode],
        help="time mode for time-based checks (default: the adapter's)",
    )
    group.addoption(
        "--ledger", type=Path, help="the ledger file (default from config: reports/ledger.sqlite)"
    )
    group.addoption(
        "--report-lang",
        choices=["en", "fa"],
        default="en",
        help="language of the acceptance report: en, or fa (right to left, Jalali dates)",
    )
    group.addoption(
        "--resume",
        metavar="RUN",
        help="finish an earlier run that was killed or failed: same run id, tag and data, none seeded twice",
    )
    group.addoption("--satisfaction", type=Path, help="the test users' survey answers (CSV or YAML)")
    group.addoption("--scorecard", type=Path, help="the committee's scorecard for this vendor (YAML)")
    parser.addini("poc_scenarios", "folder of the scenario suites (relative to rootdir)", default="scenarios")


@pytest.hookimpl(tryfirst=True)  # before pytest-html and junitxml read the report paths it defaults
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "severity(level): critical, major or minor: how bad a failure is")
    config.addinivalue_line(
        "markers",
        "criterion(name): the scoring-matrix criterion the check serves: "
        + ", ".join(c.value for c in Criterion),
    )
    config.addinivalue_line(
        "markers",
        "requires(*capabilities): a vendor lacking them fails the check as a finding; an adapter not "
        "implementing them leaves it not measured",
    )
    config.addinivalue_line(
        "markers",
        "covers(*capabilities): part of the check needs them (a reopened ticket, an internal note): once "
        "the rest passed, a vendor lacking one fails the check as a finding; an adapter not implementing "
        "one leaves it not measured",
    )
    vendor = config.getoption("vendor")
    if vendor is None:  # not a trial run (the harness's own tests, another project): the plugin stays inert
        return
    settings = _settings(config)
    if config.option.collectonly:
        _check_vendor(config, settings, vendor)
        config.stash[VENDOR_KEY] = vendor
        return
    try:
        clock = config.getoption("clock")
        trial = Trial(settings, vendor, ClockMode(clock) if clock else None, config.getoption("resume"))
    except PocError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        evidence_for(settings, trial.vendor, config.getoption("satisfaction"), config.getoption("scorecard"))
    except PocError as exc:
        trial.adapter.close()
        raise pytest.UsageError(str(exc)) from None
    try:
        answered = trial.connect()
    except VendorDown as exc:
        pytest.exit(
            f"poc-harness: {exc}; outage recorded in the ledger as run {trial.run_id} "
            f"(exit {exitcodes.VENDOR_DOWN})",
            returncode=exitcodes.VENDOR_DOWN,
        )
    except PocError as exc:
        trial.adapter.close()
        raise pytest.UsageError(f"cannot start the trial: {exc}") from None
    config.stash[VENDOR_KEY] = vendor
    config.stash[TRIAL_KEY] = trial
    config.stash[RESULTS_KEY] = []
    config.stash[ENDED_KEY] = {}
    config.stash[ANSWERED_KEY] = answered
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlReportHooks(), "poc-harness-html")
    _interrupt_on_sigterm()
    _default_reports(config, trial)


def _settings(config: pytest.Config) -> PocConfig:
    """The configuration file with the command line's overrides, or a usage error naming what to fix."""
    try:
        return load_config(
            config.getoption("poc_config"),
            {
                "records": config.getoption("records"),
                "seed": config.getoption("seed"),
                "ledger": config.getoption("ledger"),
            },
        )
    except PocError as exc:
        raise pytest.UsageError(str(exc)) from None


def _check_vendor(config: pytest.Config, settings: PocConfig, vendor: str) -> None:
    """``--collect-only``: the vendor's adapter and the committee's evidence are checked, but no trial starts:
    no lock, no call to the vendor, no run in the ledger, no results or report."""
    try:
        adapter = build_adapter(settings, vendor)
    except PocError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        name = vendor.partition(":")[0]  # the scorecard is the vendor's, as a trial reads it
        evidence_for(settings, name, config.getoption("satisfaction"), config.getoption("scorecard"))
    except PocError as exc:
        raise pytest.UsageError(str(exc)) from None
    finally:
        adapter.close()


def _default_reports(config: pytest.Config, trial: Trial) -> None:
    """A trial run always writes a self-contained pytest-html page (and JUnit XML) under reports/."""
    stem = trial.settings.reports_dir / f"{trial.vendor}-{trial.run_id}"
    if getattr(config.option, "htmlpath", None) is None and config.pluginmanager.hasplugin("html"):
        config.option.htmlpath = str(stem.with_suffix(".html"))
        config.option.self_contained_html = True
    if getattr(config.option, "xmlpath", None) is None:
        config.option.xmlpath = str(stem.with_suffix(".xml"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """The run's metadata for pytest-html's environment table (read at its own, later, session start)."""
    config = session.config
    if TRIAL_KEY in config.stash:
        _metadata(config, config.stash[TRIAL_KEY], config.stash[ANSWERED_KEY])


def _metadata(config: pytest.Config, trial: Trial, answered: str) -> None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover - pytest-html brings pytest-metadata
        return
    meta = config.stash[metadata_key]
    for name in ("Packages", "Plugins", "JAVA_HOME"):
        meta.pop(name, None)
    meta.update({f"PoC {key}": str(value) for key, value in trial.metadata().items()})
    meta["PoC vendor answered"] = REDACTOR(answered)


def _scenarios_folder(config: pytest.Config) -> Path:
    return Path(str(config.rootpath)) / config.getini("poc_scenarios")


def _is_scenario(item: pytest.Item) -> bool:
    return Path(str(item.path)).is_relative_to(_scenarios_folder(item.config))


def _marker_arg(item: pytest.Item, name: str) -> str | None:
    marker = item.get_closest_marker(name)
    return str(marker.args[0]) if marker and marker.args else None


def _uses_the_trial(item: pytest.Item) -> bool:
    """Whether the test asks for this plugin's ``trial`` fixture (directly or through ``check``), not for a
    ``trial`` fixture of another project's."""
    info = getattr(item, "_fixtureinfo", None)
    definitions: Sequence[Any] = info.name2fixturedefs.get("trial", ()) if info is not None else ()
    return bool(definitions) and getattr(definitions[-1].func, "__module__", None) == __name__


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    scenarios = [item for item in items if _is_scenario(item)]
    if VENDOR_KEY not in config.stash:
        if any(_uses_the_trial(item) for item in scenarios):
            known = ", ".join(sorted(installed_adapters())) or "none installed"
            raise pytest.UsageError(
                f"scenarios need a vendor: pass --vendor=<name> (known adapters: {known})"
            )
        return  # not a trial run: nothing of the harness's to check
    problems = []
    severities = {s.value for s in Severity}
    criteria = {c.value for c in Criterion}
    for item in scenarios:
        severity, criterion = _marker_arg(item, "severity"), _marker_arg(item, "criterion")
        if severity not in severities:
            problems.append(f"{item.nodeid}: severity marker missing or not one of {sorted(severities)}")
        if criterion not in criteria:
            problems.append(f"{item.nodeid}: criterion marker missing or not one of {sorted(criteria)}")
    if problems:
        raise pytest.UsageError(
            "every scenario test needs severity and criterion markers: " + "; ".join(problems)
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    """The scenario checks this run selected, after every path, ``-k``, ``-m`` and ``--deselect``."""
    if VENDOR_KEY in session.config.stash:
        session.config.stash[SELECTED_KEY] = [
            DefinedCheck(check_id_of(item), _marker_arg(item, "severity"), _marker_arg(item, "criterion"))
            for item in session.items
            if _is_scenario(item)
        ]


def run_completeness(config: pytest.Config) -> dict[str, Any]:
    """What the results need to tell a complete run from a partial one: every check the scenario folder
    defines (whatever the user selected), the checks this run selected, and the acceptance record count."""
    selected = config.stash.get(SELECTED_KEY, [])
    return {
        "acceptance_records": MIN_ACCEPTANCE_RECORDS,
        "suite": suite_record(
            defined_checks(_scenarios_folder(config)), [c.check for c in selected], selected
        ),
    }


@pytest.fixture(scope="session")
def trial(request: pytest.FixtureRequest) -> Trial:
    """The run against the vendor given with --vendor."""
    return request.config.stash[TRIAL_KEY]


def check_id_of(item: pytest.Item) -> str:
    function = getattr(item, "originalname", item.name)
    return f"{Path(str(item.path)).stem.removeprefix('test_')}::{function.removeprefix('test_')}"


@pytest.fixture
def check(trial: Trial, request: pytest.FixtureRequest) -> Check:
    """This test's check: file expectations, then ``verify(check.settle())``."""
    return trial.check(check_id_of(request.node))


def verify(outcome: Any) -> None:
    """Fail with the evidence if any expectation failed; report *pending* if none could be judged yet."""
    if outcome.failures:
        pytest.fail(outcome.summary(), pytrace=False)
    if not outcome.judged and outcome.pending:
        first = min(row.due_at for row in outcome.pending)
        pytest.skip(
            f"{PENDING_PREFIX}: {len(outcome.pending)} expectation(s) not yet due; the first is due "
            f"{first.isoformat(timespec='minutes')}: a later run judges them"
        )
    if not outcome.judged:
        pytest.fail("nothing was checked: the check filed no expectation", pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A check whose capability the vendor lacks fails at once as a finding (before its time-based part
    could leave it pending); one whose capability the adapter does not implement ends at once as not
    measured (``NotImplementedByAdapter``: our gap, never the vendor's finding).  A check that passed
    although part of what it covers (``covers``) could not be exercised is not passed: a finding where
    the vendor lacks that part, else not measured."""
    if TRIAL_KEY not in item.config.stash:
        return (yield)
    adapter = item.config.stash[TRIAL_KEY].adapter
    for marker in item.iter_markers("requires"):
        adapter.require(*(Capability(c) for c in marker.args))
    passed = yield
    require_parts(adapter, [Capability(c) for marker in item.iter_markers("covers") for c in marker.args])
    return passed


def _fault(call: pytest.CallInfo[None]) -> str:
    """Whose fault a failure is: the vendor's (a check failed, the CRM misbehaved) or ours."""
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, VendorError | AssertionError | pytest.fail.Exception):
        return "vendor"
    return "harness"


def _label(error: PocError) -> str:
    """How a result names an error: ``finding`` where the vendor lacks a capability (per its documentation),
    ``NotExercised`` for every gap of ours (``NotImplementedByAdapter`` too: the message says not measured),
    else the error's class."""
    if isinstance(error, CapabilityMissing):
        return "finding"
    if isinstance(error, NotExercised):
        return NotExercised.__name__
    return type(error).__name__


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if TRIAL_KEY not in item.config.stash or not _is_scenario(item):
        return report
    if call.excinfo is not None and isinstance(call.excinfo.value, PocError):
        error = call.excinfo.value
        report.longrepr = f"{_label(error)}: {error}"
    severity, criterion = _marker_arg(item, "severity"), _marker_arg(item, "criterion")
    report.user_properties.extend([("severity", severity), ("criterion", criterion)])
    finished = report.when == "call" or (report.when == "setup" and not report.passed)
    if finished:
        outcome = report.outcome
        message = ""
        fault = None
        if report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2]).removeprefix("Skipped: ")
            outcome = "pending" if message.startswith(PENDING_PREFIX) else "skipped"
        elif report.failed:
            outcome = "failed" if report.when == "call" else "error"
            message = report.longreprtext.strip()
            fault = _fault(call)
        if call.excinfo is not None and isinstance(call.excinfo.value, VendorDown):
            outcome, fault, message = _stop_for_outage(item, report, call.excinfo.value)
        if call.excinfo is not None and isinstance(call.excinfo.value, NotConfigured):
            outcome, fault, message = _pending_setup(item, report, call.excinfo.value)
        item.config.stash[ENDED_KEY][item.nodeid] = report.stop
        item.config.stash[RESULTS_KEY].append(
            TestResult(
                nodeid=item.nodeid,
                check=check_id_of(item),
                outcome=outcome,
                severity=severity,
                criterion=criterion,
                duration_s=round(report.duration, 3),
                message=REDACTOR(message),
                fault=fault,
            )
        )
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if TRIAL_KEY not in config.stash:
        return
    trial = config.stash[TRIAL_KEY]
    results = config.stash[RESULTS_KEY]
    ledger_outcome, code, hint = _settle_run(session, trial, results, exitstatus)
    run = {
        **trial.metadata(),
        **run_completeness(config),
        "started_at": trial.started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "calls": trial.adapter.call_stats(),
        "ledger": {
            "records": len(trial.ledger.records(trial.run_id)),
            "recovered_after_lost_answers": len(trial.seeder.recovered),
            "resubmitted_after_batch": len(trial.seeder.resubmitted),
            "unconfirmed": len(trial.ledger.unbound(trial.run_id)),
        },
        **_run_safety(trial, ledger_outcome, code),
    }
    path = trial.settings.reports_dir / f"{trial.vendor}-{trial.run_id}.json"
    # the report package (grading, jinja2, matplotlib, jdatetime) only now that a report is written
    from poc_harness.report.publish import publish, sibling_links

    write_results(
        path,
        run,
        results,
        trial.ledger.observations(trial.run_id),
        trial.ledger.expectation_summary(trial.run_id),
    )
    trial.close(ledger_outcome)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    say = terminal.write_line if terminal is not None else print
    say(f"poc-harness: results of run {trial.run_id} written to {path}")
    if hint:
        say(hint)
    html_option, xml_option = (
        getattr(config.option, "htmlpath", None),
        getattr(config.option, "xmlpath", None),
    )
    links = sibling_links(
        path, Path(html_option) if html_option else None, Path(xml_option) if xml_option else None
    )
    lang, satisfaction, scorecard = (
        config.getoption(name) for name in ("report_lang", "satisfaction", "scorecard")
    )
    document, html = publish(path, trial.config, lang, satisfaction, scorecard, links)
    say(f"poc-harness: acceptance report: {html}")
    say(verdict_line(document))
    if exitstatus in (ExitCode.OK, ExitCode.TESTS_FAILED, ExitCode.INTERRUPTED):  # not pytest's own errors
        session.exitstatus = code


def verdict_line(acceptance_path: Path) -> str:
    """The console's last word: the verdict, the score, and why a run does not count, if it does not."""
    document = json.loads(acceptance_path.read_text(encoding="utf-8"))
    scope = document.get("scope") or {}
    labels = "" if scope.get("counts", True) else f" [{', '.join(scope.get('labels', []))}: not counted]"
    reasons = document.get("reasons") or [""]
    return (
        f"poc-harness: verdict {str(document['verdict']).upper()}{labels}, score {document['total']:.1f}: "
        f"{reasons[0]}"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """A trial that never reached its end (an error before the session finished) releases its lock."""
    if TRIAL_KEY in config.stash:
        config.stash[TRIAL_KEY].close("harness error")


# --- run safety: outages, interrupts, exit codes ---------------------------------------------------


def _interrupt_on_sigterm() -> None:
    """A CI job cancelled (SIGTERM) ends like Ctrl-C: the run is marked interrupted, not left open."""
    if threading.current_thread() is threading.main_thread():

        def interrupt(*_: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)


def _stop_for_outage(
    item: pytest.Item, report: pytest.TestReport, error: VendorDown
) -> tuple[str, str, str]:
    """A check cut short by an outage: pending (fault ``outage``), never failed; the session stops."""
    trial = item.config.stash[TRIAL_KEY]
    item.session.shouldstop = (
        f"poc-harness: vendor '{trial.vendor}' is down: run {trial.run_id} stopped; the checks not yet "
        "judged stay pending (outage recorded in the ledger)"
    )
    message = f"{PENDING_PREFIX}: not judged, the vendor is down: {error}"
    report.outcome = "skipped"
    report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {message}")
    return "pending", "outage", REDACTOR(message)


def _pending_setup(
    item: pytest.Item, report: pytest.TestReport, error: NotConfigured
) -> tuple[str, str, str]:
    """A check the buyer's configuration does not allow yet: pending with the setup step (fault
    ``not_configured``), never the vendor's finding nor our gap."""
    message = f"{PENDING_PREFIX}: {SETUP_PENDING}: {error}"
    report.outcome = "skipped"
    report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {message}")
    return "pending", NOT_CONFIGURED_FAULT, REDACTOR(message)


def _settle_run(
    session: pytest.Session, trial: Trial, results: list[TestResult], exitstatus: int
) -> tuple[str, int, str | None]:
    """The run's ledger outcome, exit code and closing hint: a check failed for the vendor after the outage
    began is pending (outage); the checks never run are listed as pending with why."""
    seen = trial.note_outage()
    interrupted = exitstatus == ExitCode.INTERRUPTED and seen is None  # an outage stops the session too
    ended = session.config.stash[ENDED_KEY]
    if seen is not None:
        since = seen.started_at.timestamp()
        for result in results:
            if result.fault == "vendor" and ended.get(result.nodeid, 0) >= since:
                result.outcome, result.fault = "pending", "outage"
                result.message = f"{PENDING_PREFIX}: not judged, the vendor went down: {result.message}"
    why = "outage" if seen else ("interrupted" if interrupted else "not run")
    done = {result.nodeid for result in results}
    for item in (i for i in session.items if _is_scenario(i) and i.nodeid not in done):
        results.append(
            TestResult(
                nodeid=item.nodeid,
                check=check_id_of(item),
                outcome="pending",
                severity=_marker_arg(item, "severity"),
                criterion=_marker_arg(item, "criterion"),
                duration_s=0.0,
                message=f"{PENDING_PREFIX}: not run ({why})",
                fault=why,
            )
        )
    code = exitcodes.for_run([(r.outcome, r.fault, r.message) for r in results], seen is not None)
    if interrupted:
        if trial.past_seeding():
            hint = (
                f"poc-harness: run {trial.run_id} interrupted after seeding: it cannot be resumed; start a "
                f"new run (and clean this one up: poc-harness cleanup --vendor {trial.vendor} "
                f"--run {trial.run_id})"
            )
        else:
            hint = (
                f"poc-harness: run {trial.run_id} interrupted while seeding: finish it with "
                f"pytest scenarios/ --vendor={trial.vendor} --resume={trial.run_id}"
            )
        return "interrupted", ExitCode.INTERRUPTED, hint
    outcome = {
        exitcodes.HARNESS_ERROR: "harness error",
        exitcodes.VENDOR_DOWN: "vendor down",
        exitcodes.CHECKS_FAILED: "failed",
        exitcodes.NOT_MEASURED: "not measured",
    }.get(code, "passed")
    if seen is None:
        return outcome, code, None
    hint = (
        f"poc-harness: vendor '{trial.vendor}' down since {seen.started_at:%Y-%m-%d %H:%M:%S} UTC "
        f"({seen.what}): outage recorded; exit {exitcodes.VENDOR_DOWN}"
    )
    return outcome, code, hint


def _run_safety(trial: Trial, outcome: str, code: int) -> dict[str, Any]:
    """The results JSON's run fields about the run's safety: outage, availability, how it ended."""
    seen = trial.watch.outage
    return {
        "outcome": outcome,
        "exit_code": int(code),
        "outage": seen.to_json() if seen else None,
        "availability": trial.ledger.availability(trial.vendor),
        "writes_in_doubt": asdict(writes.STATS),
    }


class HtmlReportHooks:
    """pytest-html hooks, registered only when pytest-html is active (``-p no:html`` stays valid)."""

    @staticmethod
    def pytest_html_report_title(report: Any) -> None:
        report.title = "poc-harness trial run"

    @staticmethod
    def pytest_html_results_table_header(cells: list[str]) -> None:
        cells.insert(1, "<th>Severity</th>")
        cells.insert(2, "<th>Criterion</th>")

    @staticmethod
    def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
        props = dict(report.user_properties)
        cells.insert(1, f"<td>{props.get('severity', '')}</td>")
        cells.insert(2, f"<td>{props.get('criterion', '')}</td>")
