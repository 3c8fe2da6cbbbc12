"""The exit codes of a trial run (``pytest scenarios/ --vendor=X``), beyond pytest's own 0-5.

A nightly pipeline tells them apart: a vendor down is recorded (an outage row in the ledger, the run's
checks pending) and is no defect; a harness error must fail the pipeline loudly; failed checks are the
vendor's findings, carried by the report.
"""

from __future__ import annotations

ALL_PASSED = 0
"""Every check passed (or is still pending)."""
CHECKS_FAILED = 1
"""pytest's own: at least one check failed (the vendor's findings)."""
INTERRUPTED = 2
"""pytest's own: Ctrl-C or SIGTERM; the ledger marks the run ``interrupted``."""
VENDOR_DOWN = 20
"""The vendor was down before or during the run: an outage, recorded; no check failed for it."""
HARNESS_ERROR = 21
"""A check could not be established by the harness (a harness fault, "not measured"): the verdict is
incomplete; the pipeline must fail loudly."""

HELP = (
    f"exit codes: {ALL_PASSED} all checks passed or pending; {CHECKS_FAILED} checks failed "
    "(vendor findings); "
    f"{INTERRUPTED} interrupted; 3 pytest internal error; 4 usage or configuration error (a refused run "
    f"too: vendor locked by another run, --resume past seeding); 5 no tests collected; {VENDOR_DOWN} vendor "
    f"down (an outage, recorded in the ledger; not a defect); {HARNESS_ERROR} harness error (our side could "
    "not establish a check: the verdict is incomplete). Precedence: harness error, then vendor down, then "
    "checks failed."
)


def for_run(outcomes: list[tuple[str, str | None]], vendor_down: bool) -> int:
    """The exit code of a finished run from its (outcome, fault) pairs."""
    if any(fault == "harness" for outcome, fault in outcomes if outcome in ("failed", "error")):
        return HARNESS_ERROR
    if vendor_down:
        return VENDOR_DOWN
    if any(outcome in ("failed", "error") for outcome, _ in outcomes):
        return CHECKS_FAILED
    return ALL_PASSED
