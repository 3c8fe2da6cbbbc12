"""Rules: how one expectation stored in the ledger is judged against the vendor's CRM.

A rule is a function ``(adapter, subject, params) -> Judgement``, registered by name, so
an expectation filed tonight can be judged by next week's run (the ``wall`` clock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from poc_harness.contract.adapter import CRMAdapter


@dataclass(frozen=True)
class Judgement:
    """A rule's judgement of one expectation: passed or not, what was expected and observed, and why.
    (The run's overall decision is ``poc_harness.grading.verdict.Verdict``.)"""

    passed: bool
    expected: Any
    observed: Any
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        return {"expected": self.expected, "observed": self.observed, "note": self.note, **self.extra}


Rule = Callable[[CRMAdapter, str, dict[str, Any]], Judgement]
RULES: dict[str, Rule] = {}


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(func: Rule) -> Rule:
        RULES[name] = func
        return func

    return register


def load_rules() -> dict[str, Rule]:
    """Import every rule module, so that ``RULES`` is complete."""
    from poc_harness.rules import integrations, leads, reports, security, tickets  # noqa: F401

    return RULES
