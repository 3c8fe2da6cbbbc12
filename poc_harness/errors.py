"""The harness's error taxonomy: whose fault a failure is decides how it is graded.

- ``VendorError``: the CRM misbehaved (bad status, garbage answer, timeout). Counts
  against the vendor.
- ``HarnessError``: our side failed. Never counts against a vendor.
- ``ConfigError``: the user's configuration is wrong. Never counts against a vendor;
  its message is one line naming what to fix.

Every message is one line and carries no secret (see ``poc_harness.redaction``).
"""

from __future__ import annotations


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


class VendorError(PocError):
    """The vendor's CRM misbehaved: an error status, a malformed answer, a timeout.

    ``maybe_applied`` is true when a write may have reached the vendor although no answer
    said so (a timeout, a dropped connection or a 5xx after the request was sent): the
    seeder then looks the record up by its run tag instead of creating it again.
    """

    def __init__(self, message: str, maybe_applied: bool = False) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied


class VendorUnreachable(VendorError):
    """The vendor could not be reached at all (connection refused, DNS, TLS)."""


class AccessDenied(VendorError):
    """The vendor refused the request for the user the adapter acts as (no such right, or a record out
    of the user's reach): what the access-control checks expect for another team's records."""


class CapabilityMissing(VendorError):
    """The vendor does not offer a capability a check needs: a graded finding, not a skip."""
