"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suite_runner import SuiteRun, run_suite


@pytest.fixture
def suite(tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(*args: str, env: dict[str, str] | None = None) -> SuiteRun:
        return run_suite(tmp_path, *args, env=env)

    return run
