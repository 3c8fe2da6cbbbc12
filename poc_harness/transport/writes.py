"""Writes are never repeated blindly: a write whose answer says it *may* have been applied (a 5xx, a
timeout, a dropped connection) is looked up at the vendor before it is sent again.

``write_once(send, applied)`` sends; when the vendor's answer leaves the write in doubt it waits (the
vendor's ``Retry-After``, else a short backoff), asks ``applied()`` (the record found by the run's tag and
the harness's key, or the state the write sets), and sends again only when the write is provably not
there, at most ``attempts`` times in all.  ``refused_as_repeat``: a vendor that refuses a repeated write
(409 Conflict, e.g. a survey already answered) proves by it that the first one was applied; a
``repeatable`` write sets a state (a task done, a fresh token for a user the run created) and may be sent
again after waiting.  Without any of these, a write in doubt is raised, never repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from poc_harness.errors import VendorError

T = TypeVar("T")
ATTEMPTS = 3
BACKOFF_S = 0.2
MAX_WAIT_S = 30.0


@dataclass
class WriteStats:
    """What ``write_once`` did, for the results JSON."""

    in_doubt: int = 0
    found_applied: int = 0
    sent_again: int = 0


STATS = WriteStats()
_sleep: Callable[[float], None] = time.sleep


def write_once(
    send: Callable[[], T],
    applied: Callable[[], T | None] | None,
    attempts: int = ATTEMPTS,
    refused_as_repeat: T | None = None,
    repeatable: bool = False,
) -> T:
    """``send()``'s answer; when it may have been applied, ``applied()``'s finding, else ``send()`` again.
    ``applied`` returns the write's result (the record's id, True...) if the vendor has it, else None; with
    ``applied`` None, only ``refused_as_repeat`` (returned on a 409 to the repeat) or ``repeatable``
    (the write sets a state: done twice, it leaves the same, e.g. a task completed) makes a repeat safe."""
    for attempt in range(1, attempts + 1):
        try:
            return send()
        except VendorError as exc:
            if exc.status == 409 and attempt > 1 and refused_as_repeat is not None:
                STATS.found_applied += 1
                return refused_as_repeat
            if not exc.maybe_applied or attempt == attempts:
                raise
            if applied is None and refused_as_repeat is None and not repeatable:
                raise
            STATS.in_doubt += 1
            _sleep(min(MAX_WAIT_S, exc.retry_after if exc.retry_after is not None else BACKOFF_S * attempt))
            found = applied() if applied is not None else None
            if exc.on_resolved is not None:
                exc.on_resolved()
            if found is not None:
                STATS.found_applied += 1
                return found
            STATS.sent_again += 1
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
