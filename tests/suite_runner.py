"""Run the scenario suites and read their results JSON: for the self-tests and benchmarks.

``run_suite`` runs them in this process (``pytest.main``), isolated from the test that asks: its own
working directory, environment, ``sys.path``, scenario modules, SIGTERM handler and write statistics, and
its reports and ledger under the test's folder.  ``run_suite_subprocess`` starts ``python -m pytest``:
only for tests whose point is the process (the exit status a shell sees, everything it writes to its
streams) and for a test whose thread runs an event loop (Playwright's sync API).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from poc_harness.transport import writes

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
TEMPLATES = ROOT / "fixtures" / "templates"
EVIDENCE = (f"--satisfaction={TEMPLATES / 'satisfaction.csv'}", f"--scorecard={TEMPLATES / 'scorecard.yaml'}")
"""the template tester survey and committee scorecard: with them a healthy run can be accepted"""
IN_PROCESS = ("-p", "no:unraisableexception", "-p", "no:threadexception")
"""pytest's own plugins an in-process run leaves out: each forces a full garbage collection at the end of
every run (a third of a second in a worker holding many objects) to turn unraisable exceptions into
warnings, which the runs' ``-p no:warnings`` does not show anyway"""


@dataclass
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    results: dict[str, Any] | None
    acceptance: dict[str, Any] | None = None
    """the run's graded ``*.acceptance.json``, when the run wrote one"""
    reports: Path | None = None
    """the folder the run wrote its reports to"""

    def outcomes(self) -> dict[str, str]:
        if self.results is None:
            raise AssertionError(f"the run wrote no results:\n{self.stdout}{self.stderr}")
        return {test["check"]: test["outcome"] for test in self.results["tests"]}

    def failed_checks(self) -> set[str]:
        return {check for check, outcome in self.outcomes().items() if outcome in ("failed", "error")}

    @property
    def verdict(self) -> str | None:
        """The acceptance verdict (``accept``, ``reject``...), None when the run was not graded."""
        return self.acceptance.get("verdict") if self.acceptance else None


def write_config(tmp: Path, harness: str = "", tables: str = "") -> Path:
    """``tmp/poc.toml``: reports and ledger under ``tmp``, then more ``[harness]`` keys and other tables."""
    config = tmp / "poc.toml"
    config.write_text(
        f'[harness]\nreports_dir = "{tmp / "reports"}"\nledger = "{tmp / "ledger.sqlite"}"\n{harness}{tables}'
    )
    return config


def served_table(url: str) -> str:
    """A ``[vendors.served]`` table: the reference CRM served at ``url``, its token in ``SERVED_TOKEN``."""
    return f'[vendors.served]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "SERVED_TOKEN"\n'


def _arguments(tmp: Path, args: tuple[str, ...], paths: tuple[str, ...]) -> list[str]:
    """``pytest``'s arguments: the paths, quiet, and ``tmp/poc.toml`` (written by ``write_config`` unless
    the test wrote its own)."""
    config = tmp / "poc.toml"
    if not config.exists():
        write_config(tmp)
    return [*paths, "-q", "-p", "no:warnings", f"--poc-config={config}", *args]


def _outputs(tmp: Path, returncode: int, stdout: str, stderr: str) -> SuiteRun:
    """The run's newest results JSON and its graded acceptance JSON, if written."""
    reports = tmp / "reports"
    found = sorted(
        (p for p in reports.glob("*.json") if not p.name.endswith(".acceptance.json"))
        if reports.exists()
        else [],
        key=lambda p: p.stat().st_mtime,
    )
    results = json.loads(found[-1].read_text()) if found else None
    graded = found[-1].with_suffix(".acceptance.json") if found else None
    acceptance = json.loads(graded.read_text()) if graded is not None and graded.exists() else None
    return SuiteRun(returncode, stdout, stderr, results, acceptance, reports)


def run_suite_subprocess(
    tmp: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    paths: tuple[str, ...] = ("scenarios/",),
) -> SuiteRun:
    """``python -m pytest <paths> <args>`` in a subprocess (every suite by default), writing reports and
    ledger under ``tmp``."""
    command = [sys.executable, "-m", "pytest", *_arguments(tmp, args, paths)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    return _outputs(tmp, done.returncode, done.stdout, done.stderr)


@contextlib.contextmanager
def _isolated(env: dict[str, str] | None) -> Iterator[None]:
    """What an in-process run may change, restored after it: the working directory, the environment,
    ``sys.path``, the scenario modules it imported, the SIGTERM handler the plugin installs and the
    process-wide write statistics (a fresh run starts from zero, as a new process would).  The objects
    that exist before the run are frozen out of the garbage collector meanwhile: a full collection in
    the run scans only the run's own, as in a new process, instead of pausing every request in flight
    (a load probe's latencies) for the whole test session's heap."""
    gc.freeze()
    saved_env, saved_path, saved_modules = dict(os.environ), list(sys.path), set(sys.modules)
    main = threading.current_thread() is threading.main_thread()
    saved_sigterm = signal.getsignal(signal.SIGTERM) if main else None
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        patch.setattr(writes, "STATS", writes.WriteStats())
        os.environ.update(env or {})
        extra = [Path(entry) for entry in (env or {}).get("PYTHONPATH", "").split(os.pathsep) if entry]
        sys.path[:0] = [str(entry) for entry in extra]  # what a new process would import first
        try:
            yield
        finally:
            for name in set(os.environ) - set(saved_env):
                del os.environ[name]
            os.environ.update(saved_env)
            sys.path[:] = saved_path
            for name in set(sys.modules) - saved_modules:
                where = Path(getattr(sys.modules[name], "__file__", None) or "/")
                if any(where.is_relative_to(folder) for folder in (SCENARIOS, *extra)):
                    del sys.modules[name]
            if saved_sigterm is not None:  # None: not set from Python, nothing this run could restore
                signal.signal(signal.SIGTERM, saved_sigterm)
            gc.unfreeze()


def run_suite(
    tmp: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    paths: tuple[str, ...] = ("scenarios/",),
) -> SuiteRun:
    """``pytest <paths> <args>`` in this process (every suite by default), writing reports and ledger
    under ``tmp``; ``timeout`` is accepted for the subprocess runner's signature and not enforced."""
    del timeout
    with contextlib.suppress(RuntimeError):
        asyncio.get_running_loop()
        raise AssertionError(
            "run_suite: an event loop runs in this thread (the load probe's asyncio.run would be refused): "
            "use run_suite_subprocess"
        )
    stdout, stderr = io.StringIO(), io.StringIO()
    with _isolated(env), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        returncode = int(pytest.main([*_arguments(tmp, args, paths), *IN_PROCESS]))
    return _outputs(tmp, returncode, stdout.getvalue(), stderr.getvalue())
