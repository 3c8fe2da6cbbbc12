"""Our gaps in what a check judged, one path to the grading: a field a rule could not observe through the
adapter, or an expectation the adapter could not exercise, makes the check *not measured* (a
``NotExercised``: our gap, the verdict incomplete), never passed as proven and never the vendor's failure.

A rule either raises ``not_observed(...)`` (it cannot judge at all) or returns a passing judgement with
``extra["not_observed"]`` (it judged the rest); ``Check.settle`` gathers both and ``raise_gaps`` ends a
check that failed nothing with one ``NotObserved`` naming them.  A check that passed although part of what
it covers needs a capability the adapter does not implement (a ticket reopened, an internal note) ends
the same way through ``require_parts``; where the vendor lacks that capability, it is the vendor's finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from poc_harness.errors import CapabilityMissing, NotImplementedByAdapter, NotObserved

if TYPE_CHECKING:
    from poc_harness.contract.adapter import Capability, CRMAdapter
    from poc_harness.rules import Judgement
    from poc_harness.run.ledger import ExpectationRow

class Outcome(Protocol):
    """What ``raise_gaps`` reads of a settled check (``poc_harness.run.trial.Outcome``)."""

    not_observed: list[tuple[ExpectationRow, str]]

    @property
    def failures(self) -> Sequence[Any]: ...


NOT_OBSERVED = "not_observed"
"""The key of a judgement's ``extra`` listing the fields the adapter did not read."""


def not_observed(adapter_name: str, fields: Iterable[str]) -> NotObserved:
    """The error for fields the adapter does not read (``CRMAdapter.observes`` and the like)."""
    names = ", ".join(sorted(set(fields)))
    return NotObserved(f"the {adapter_name} adapter does not read the {names} (CRMAdapter.observes)")


def unread(judgement: Judgement) -> list[str]:
    """The fields a (passing) judgement could not observe."""
    return list(judgement.extra.get(NOT_OBSERVED, ()))


def note_gaps(outcome: Outcome, row: ExpectationRow, judgement: Judgement, adapter_name: str) -> None:
    """Keep a judged expectation that left a field unobserved among the outcome's gaps."""
    fields = unread(judgement)
    if fields:
        outcome.not_observed.append((row, str(not_observed(adapter_name, fields))))


def raise_gaps(outcome: Outcome) -> None:
    """Where nothing failed but something was not measured: raise one ``NotObserved`` saying how many
    expectations and the first reason (the rest passed, the verdict is incomplete)."""
    if outcome.not_observed and not outcome.failures:
        row, reason = outcome.not_observed[0]
        raise NotObserved(
            f"{len(outcome.not_observed)} expectation(s) not measured, e.g. {row.rule} on {row.subject}: "
            f"{reason.removeprefix('not measured: ')}; the rest passed, the verdict is incomplete"
        )


def require_parts(adapter: CRMAdapter, capabilities: list[Capability]) -> None:
    """After a check passed: where part of it needed one of ``capabilities`` and the story could not
    exercise it, raise ``CapabilityMissing`` (the vendor lacks it, per its documentation: a finding) or
    ``NotImplementedByAdapter`` (our gap: not measured, the verdict incomplete).  Never a silent pass."""
    try:
        adapter.require(*capabilities)
    except CapabilityMissing as exc:
        raise CapabilityMissing(f"{exc}: the part of this check needing it fails; the rest passed") from None
    except NotImplementedByAdapter as exc:
        raise NotImplementedByAdapter(
            f"{exc}: the part of this check that needs it was not exercised; the rest passed, the verdict "
            "is incomplete"
        ) from None
