"""The harness's error taxonomy: whose fault a failure is decides how it is graded.

- ``VendorError``: the CRM misbehaved (bad status, garbage answer, timeout). Counts
  against the vendor.
- ``HarnessError``: our side failed. Never counts against a vendor.  ``NotExercised`` (and
  ``NotImplementedByAdapter``, a capability the adapter does not implement) is our gap: not measured.
- ``CapabilityMissing``: a ``VendorError``: the vendor lacks a capability, per its documentation.
- ``VendorDown``: the vendor is not there at all (an outage: unreachable, or no answer / gateway
  errors on several calls in a row). Never counts as a defect: the run stops, unjudged checks stay pending.
- ``ConfigError``: the user's configuration is wrong. Never counts against a vendor;
  its message is one line naming what to fix.

Every message is one line and carries no secret (see ``poc_harness.redaction``).
"""

from __future__ import annotations

from collections.abc import Callable


class PocError(Exception):
    """Base of every error the harness raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class HarnessError(PocError):
    """The harness itself failed; never graded against a vendor."""


class ConfigError(HarnessError):
    """The configuration (file, options, environment) is wrong: the message says what to fix."""


class NotObserved(HarnessError):
    """The adapter cannot see a field a rule must judge: our gap (not measured), never the vendor's."""


class NotExercised(HarnessError):
    """The adapter cannot exercise this for its vendor: not measured (our gap), never the vendor's
    finding.  Its message starts ``not measured:``."""


class NotImplementedByAdapter(NotExercised):
    """A method of a capability the adapter does not implement although the vendor may offer it
    (``Support.NOT_IMPLEMENTED``): not measured, the verdict incomplete, never the vendor's finding."""


class VendorError(PocError):
    """The vendor's CRM misbehaved: an error status, a malformed answer, a timeout.

    ``maybe_applied`` is true when a write may have reached the vendor although no answer
    said so (a timeout, a dropped connection or a 5xx after the request was sent): the
    seeder then looks the record up by its run tag instead of creating it again.
    """

    def __init__(
        self,
        message: str,
        maybe_applied: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied
        self.status = status
        """The HTTP status the vendor answered, if it answered."""
        self.retry_after = retry_after
        """Seconds the vendor's ``Retry-After`` asked to wait, if it did."""
        self.on_resolved: Callable[[], None] | None = None
        """Called when a write in doubt turned out fine (found applied, or sent again): the client then
        counts the call as retried, not failed."""


class VendorUnreachable(VendorError):
    """The vendor could not be reached at all (connection refused, DNS, TLS)."""


class NoAnswer(VendorError):
    """The request reached the vendor but no answer came back (a timeout, a connection dropped
    mid-answer): a write may have been applied."""


class AccessDenied(VendorError):
    """The vendor refused the request for the user the adapter acts as (no such right, or a record out
    of the user's reach): what the access-control checks expect for another team's records."""


class CapabilityMissing(VendorError):
    """The vendor does not offer a capability a check needs (``Support.VENDOR_LACKS``, the adapter citing
    the vendor's documentation): a graded finding, not a skip."""


class VendorDown(PocError):
    """An outage: the vendor could not be reached, or several calls in a row got no answer or a gateway
    error (502/503/504).  Not a ``VendorError``: no check fails for it; the run stops and what was not
    judged stays pending (``poc_harness.outage``)."""


class RunRefused(ConfigError):
    """The run may not start (another run holds the vendor's lock, or ``--resume`` of a run past
    seeding): one line saying why and what to do."""
