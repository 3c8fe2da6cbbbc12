"""The scale benchmarks run end to end on small counts (their real sizes are for a manual run)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

from tests.suite_runner import ROOT


def _run(*args: str, timeout: float = 120) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_batch_seeding_reaches_the_minimum_number_of_batch_calls() -> None:
    out = _run("benchmarks/batch_seeding.py", "--records", "450", "--profile", "partial_batch")
    calls = re.search(r"API calls: (\d+) batch calls of up to 100 \(minimum possible (\d+)\)", out)
    assert calls is not None and calls.group(1) == calls.group(2), out
    failed = re.search(r"batch items failed: (\d+), resubmitted alone: (\d+)", out)
    assert failed is not None and failed.group(1) == failed.group(2) != "0", out
    assert "the CRM holds each record once" in out and "records/s" in out


def test_load_probe_and_locust_drive_the_same_crm() -> None:
    # find_spec, not importorskip: importing locust here would let gevent patch this process's threads
    if importlib.util.find_spec("locust") is None:
        pytest.skip("Locust comes with the dev extra: pip install -e '.[dev]'")
    out = _run(
        *("benchmarks/load_probe_vs_locust.py", "--users", "5", "--seconds", "2"),
        *("--max-requests", "150", "--locust-user", "fast"),
    )
    sent = [int(n) for n in re.findall(r"^\S.*?\s(\d+) req \(0 failed\)", out, re.MULTILINE)]
    assert len(sent) == 2 and all(0 < n <= 150 for n in sent), out
    assert re.search(r"probe / locust \(FastHttpUser\): [\d.]+x req/s, [\d.]+x req per core-second", out), out
