"""Fields a rule could not observe through the adapter: the check is then *not measured* (our gap, a
harness error the grading never counts against the vendor), never passed as proven."""

from __future__ import annotations

from typing import Any

from poc_harness.errors import HarnessError


def require_observed(outcome: Any, adapter_name: str) -> None:
    """Call after ``verify``: raise if a judged expectation left a field it needs unobserved."""
    missing = sorted({name for _, v in outcome.judged for name in v.extra.get("not_observed", ())})
    if missing:
        raise HarnessError(
            f"not measured: the {adapter_name} adapter does not read the {', '.join(missing)} "
            "(CRMAdapter.observes); the rest passed, the verdict is incomplete"
        )
