"""Secrets never reach an output: a full run with canary secrets leaves no trace of them in any file
written under reports/ (pytest-html, JUnit XML, results and acceptance JSON, acceptance HTML, ledger)."""

from __future__ import annotations

from pathlib import Path

from poc_harness.sandbox.server import BackgroundServer
from tests.suite_runner import run_suite_subprocess

CANARY = "canary-secret-7f3a9c1e55d2"


def test_a_full_run_writes_no_secret_anywhere(tmp_path: Path) -> None:
    with BackgroundServer(token=CANARY) as url:
        (tmp_path / "poc.toml").write_text(
            f'[harness]\nreports_dir = "{tmp_path / "reports"}"\n'
            f'ledger = "{tmp_path / "reports" / "ledger.sqlite"}"\n'
            f'[vendors.served]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "SERVED_TOKEN"\n'
        )
        # a subprocess: everything the process writes to its stdout and stderr is searched, not only what
        # an in-process run's redirected streams catch
        run = run_suite_subprocess(
            tmp_path, "--vendor=served", "--report-lang=fa", env={"SERVED_TOKEN": CANARY}
        )
    assert run.results is not None, run.stdout + run.stderr
    written = [path for path in (tmp_path / "reports").rglob("*") if path.is_file()]
    kinds = {path.name.split(".", 1)[-1] for path in written}
    assert {"html", "xml", "json", "acceptance.json", "acceptance.fa.html", "sqlite"} <= kinds, kinds
    leaks = [path.name for path in written if CANARY.encode() in path.read_bytes()]
    assert leaks == [], f"the secret leaked into {leaks}"
    assert CANARY not in run.stdout + run.stderr
