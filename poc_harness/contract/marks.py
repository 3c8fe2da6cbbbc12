"""The harness's mark in a seeded record's free-text description: ``poc-harness <key> [<tag>]`` on its last
line, so an adapter whose vendor keeps no field of its own for them finds the record's key and run tag."""

from __future__ import annotations

import re
from typing import Any

from poc_harness.contract.model import Record


def described(record: Record, first_line: str, *more: str) -> str:
    """The description a seeded record carries: what it is, then the harness key and run tag."""
    return "\n".join([first_line, *more, f"poc-harness {record.key} [{record.tag}]"])


def key_in(description: Any, tag: str) -> str | None:
    """The harness key in a description written by ``described`` for the run ``tag``; None without one."""
    found = re.search(rf"poc-harness (\S+) \[{re.escape(tag)}\]", str(description or ""))
    return found.group(1) if found else None
