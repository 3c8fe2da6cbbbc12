"""A run's exit code tells a nightly job what happened: findings, a vendor down, a gap of ours, a crash."""

from __future__ import annotations

from poc_harness.run import exitcodes

PASSED = ("passed", None, "")
FINDING = ("failed", "vendor", "1 of 3 expectations failed")
GAP = ("error", "harness", "HarnessError: not measured: the adapter cannot read the task owner")
CRASH = ("error", "harness", "KeyError: 'owner'")


def test_a_crash_of_ours_wins_over_everything() -> None:
    assert exitcodes.for_run([PASSED, FINDING, GAP, CRASH], vendor_down=True) == exitcodes.HARNESS_ERROR


def test_a_vendor_down_wins_over_findings_and_gaps() -> None:
    assert exitcodes.for_run([FINDING, GAP], vendor_down=True) == exitcodes.VENDOR_DOWN


def test_findings_win_over_gaps_and_a_gap_alone_is_not_a_crash() -> None:
    assert exitcodes.for_run([PASSED, FINDING, GAP], vendor_down=False) == exitcodes.CHECKS_FAILED
    assert exitcodes.for_run([PASSED, GAP], vendor_down=False) == exitcodes.NOT_MEASURED
    assert exitcodes.for_run([PASSED, ("pending", None, "PENDING: ...")], vendor_down=False) == 0
