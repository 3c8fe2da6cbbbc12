"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suite_runner import EVIDENCE, SuiteRun, run_suite


@pytest.fixture
def suite(tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(*args: str, env: dict[str, str] | None = None) -> SuiteRun:
        return run_suite(tmp_path, *args, env=env)

    return run


@pytest.fixture(scope="session")
def healthy_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """One run of every suite against the healthy reference CRM at the acceptance record count, with the
    template evidence, shared by the tests that only read what it wrote (results, acceptance JSON and
    reports; copy them before changing anything).  Once per session, or per xdist worker."""
    run = run_suite(tmp_path_factory.mktemp("healthy"), "--vendor=sandbox", *EVIDENCE)
    assert run.results is not None, run.stdout + run.stderr
    return run
