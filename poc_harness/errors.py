"""The harness's error taxonomy: whose fault a failure is decides how it is graded.

- ``VendorError``: the CRM misbehaved (bad status, garbage answer, timeout). Counts
  against the vendor.
- ``HarnessError``: our side failed. Never counts against a vendor.  ``NotExercised`` is the one family
  of *our gap* (not measured, the verdict incomplete): ``NotImplementedByAdapter`` (a capability the
  adapter does not implement) and ``NotObserved`` (a field the adapter does not read) are its kinds; every
  message starts ``not measured:``, which is how the results and the grading tell it apart.
- ``CapabilityMissing``: a ``VendorError``: the vendor lacks a capability, per its documentation.
- ``NotConfigured``: the buyer has not configured something the vendor offers (an SLA policy, a module):
  *pending* with the setup step, neither the vendor's finding nor our gap.
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


NOT_MEASURED_PREFIX = "not measured:"


class NotExercised(HarnessError):
    """Our gap: the adapter cannot exercise or see this for its vendor: not measured, the verdict
    incomplete, never the vendor's finding.  The one family of our gaps; its message always starts
    ``not measured:`` (added where the text does not say it already)."""

    def __init__(self, message: str) -> None:
        text = " ".join(message.split())
        super().__init__(text if text.startswith(NOT_MEASURED_PREFIX) else f"{NOT_MEASURED_PREFIX} {text}")


class NotImplementedByAdapter(NotExercised):
    """A method of a capability the adapter does not implement although the vendor may offer it
    (``Support.NOT_IMPLEMENTED``): not measured, the verdict incomplete, never the vendor's finding."""


class NotObserved(NotExercised):
    """The adapter does not read a field a rule must judge: not measured, never passed as proven and
    never the vendor's failure."""


class NotConfigured(PocError):
    """The vendor offers it but the buyer has not configured it yet (an SLA policy, an app to install):
    the check is *pending* with the setup step in the message, never the vendor's finding nor our gap.
    The message names the setup step (``... : configure ...``)."""


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


class Refused(PocError):
    """A create call's vendor answered by refusing it (an anonymous sign-up refused): nothing was made.
    ``Seeder.create`` then closes the ledger row it wrote before the call; the caller records the refusal."""


class VendorDown(PocError):
    """An outage: the vendor could not be reached, or several calls in a row got no answer or a gateway
    error (502/503/504).  Not a ``VendorError``: no check fails for it; the run stops and what was not
    judged stays pending (``poc_harness.transport.outage``)."""


class RunRefused(ConfigError):
    """The run may not start (another run holds the vendor's lock, or ``--resume`` of a run past
    seeding): one line saying why and what to do."""
