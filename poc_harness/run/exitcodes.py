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
"""The harness failed while establishing a check (a harness fault: our bug, a broken config): the verdict
is incomplete; the pipeline must fail loudly."""
NOT_MEASURED = 22
"""No harness fault, but a check the adapter cannot observe is *not measured* (a known gap of ours, listed
in the report as "what the harness could not establish"): the verdict is incomplete, the run is sound."""

HELP = (
    f"exit codes: {ALL_PASSED} all checks passed or pending; {CHECKS_FAILED} checks failed "
    "(vendor findings); "
    f"{INTERRUPTED} interrupted; 3 pytest internal error; 4 usage or configuration error (a refused run "
    f"too: vendor locked by another run, --resume past seeding); 5 no tests collected; {VENDOR_DOWN} vendor "
    f"down (an outage, recorded in the ledger; not a defect); {HARNESS_ERROR} harness error (our side failed "
    f"while establishing a check: the verdict is incomplete); {NOT_MEASURED} not measured (the adapter "
    "cannot observe a check: a listed gap, the verdict is incomplete). Precedence: harness error, then "
    "vendor down, then checks failed, then not measured."
)


def for_run(outcomes: list[tuple[str, str | None, str]], vendor_down: bool) -> int:
    """The exit code of a finished run from its (outcome, fault, message) triples."""
    failed = [(fault, message) for outcome, fault, message in outcomes if outcome in ("failed", "error")]
    ours = [message for fault, message in failed if fault == "harness"]
    if any("not measured" not in message for message in ours):
        return HARNESS_ERROR
    if vendor_down:
        return VENDOR_DOWN
    if any(fault != "harness" for fault, _ in failed):
        return CHECKS_FAILED
    return NOT_MEASURED if ours else ALL_PASSED
