"""Outage detection: when a vendor is *down* rather than misbehaving.

A call that failed after its own retries counts toward an outage when the vendor gave no answer (connection
refused, DNS, TLS, timeout, dropped connection) or a gateway answered for it (502, 503, 504).  A 500 or any
other answer is the application speaking: a defect, never an outage.

The threshold: a vendor that cannot be reached at all (``VendorUnreachable``: every attempt of one call
refused) is down at once; otherwise ``CONSECUTIVE_FAILURES`` such calls in a row with no answer between
them make an outage.  Any answered call (2xx-4xx, or 500) resets the count.

A trial installs one ``OutageWatch`` for the whole run (``install``); every ``VendorHTTP`` reports to the
installed watch, so an adapter's extra clients (per-user credentials) count too.  Without an installed
watch (unit tests, ``poc-harness doctor``) each client keeps its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from poc_harness.errors import NoAnswer, VendorError, VendorUnreachable

CONSECUTIVE_FAILURES = 3
DOWN_STATUSES = frozenset({502, 503, 504})


@dataclass
class Outage:
    """One outage seen by a run: from the first failed call of the streak to the last."""

    started_at: datetime
    ended_at: datetime
    what: str
    calls: int = 1

    def to_json(self) -> dict[str, object]:
        return {
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "what": self.what,
            "failed_calls": self.calls,
        }


@dataclass
class OutageWatch:
    """Counts calls that got no answer; says when they amount to an outage."""

    vendor: str = ""
    threshold: int = CONSECUTIVE_FAILURES
    streak: list[tuple[datetime, str]] = field(default_factory=list)
    outage: Outage | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answered(self) -> None:
        """The vendor answered a call: a streak of failures was not an outage."""
        with self._lock:
            if self.outage is None:
                self.streak.clear()

    def failed(self, what: str, unreachable: bool = False) -> Outage | None:
        """A call got no answer (or a gateway error) after its retries; the outage, once there is one."""
        now = datetime.now(UTC)
        with self._lock:
            if self.outage is not None:
                self.outage.ended_at = now
                self.outage.calls += 1
                return self.outage
            self.streak.append((now, what))
            if unreachable or len(self.streak) >= self.threshold:
                first_at, first_what = self.streak[0]
                self.outage = Outage(first_at, now, first_what, len(self.streak))
            return self.outage

    @property
    def down(self) -> bool:
        return self.outage is not None


_installed: OutageWatch | None = None


def install(watch: OutageWatch | None) -> None:
    """Make ``watch`` the one every ``VendorHTTP`` of this process reports to (None: each its own)."""
    global _installed
    _installed = watch


def installed() -> OutageWatch | None:
    return _installed


def signals_down(exc: VendorError) -> bool:
    """No answer, or a gateway's 502/503/504: the vendor is not there (a defect answers)."""
    return isinstance(exc, VendorUnreachable | NoAnswer) or exc.status in DOWN_STATUSES
