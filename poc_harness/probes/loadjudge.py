"""What the load probe's figures are held against, and what a probe of that size proves.

**The throughput model.**  A virtual user works as a person or an integration does: it sends a request,
waits for the answer, thinks ``think_seconds``, sends the next.  A CRM that answers within the buyer's
accepted time (the p95 target, ``[load] p95_ms``) keeps every user at the pace of one request per
``think_seconds + p95_ms``; so at the probe's load the CRM must sustain

    required/hour = max(checklist, users × 3600 / (think_seconds + p95_ms / 1000))

successful requests, never less than the checklist's 10 k/hour.  With the defaults (20 users, no think
time, 1 s) that is 72 000/hour: a CRM whose answers take longer than the accepted time on average holds
the users back and fails, however many requests an hour its slowness still adds up to (a CRM answering
in 7 s gives 20 users about 10 300/hour, which the checklist's figure alone would pass).  A rate limit
the vendor declares below that pace bounds what the probe may send: the CRM must then sustain
``RATE_LIMIT_SHARE`` of its own limit (the probe's start and its last answers take the rest), and never
less than the checklist.

**The caveat.**  A short probe with fewer users than the checklist's proves how the CRM answered that
many users for that long; it does not prove the checklist's 500 concurrent users are served, nor that
the rate holds for an hour.  ``caveat`` says so in one sentence, which each scale check records as its
``caveat`` observation (shown in the acceptance report next to the check).
"""

from __future__ import annotations

from dataclasses import dataclass

from poc_harness.config import LoadSettings
from poc_harness.probes.loadprobe import ProbeLimits, ProbeResult

HOUR_S = 3600.0
RATE_LIMIT_SHARE = 0.9


@dataclass(frozen=True)
class ThroughputNeed:
    """The successful requests/hour the CRM must sustain at the probe's load, and why."""

    per_hour: float
    checklist_per_hour: float
    pace_per_hour: float
    """users × 3600 / (think + accepted answer time): what users kept at their pace send"""
    limit_per_hour: float | None
    """the declared rate limit, per hour, when it is below the users' pace (it then bounds the need)"""

    def basis(self) -> str:
        if self.per_hour == self.checklist_per_hour:
            return f"the checklist's {self.checklist_per_hour:,.0f}/hour"
        if self.limit_per_hour is not None:
            return f"{RATE_LIMIT_SHARE:.0%} of the vendor's declared limit of {self.limit_per_hour:,.0f}/hour"
        return f"the users' pace: {self.pace_per_hour:,.0f}/hour"


def throughput_need(settings: LoadSettings, limits: ProbeLimits) -> ThroughputNeed:
    """The throughput the probe's users need from the CRM (module docstring: the model)."""
    pace = limits.users * HOUR_S / (limits.think_s + settings.p95_ms / 1000)
    rate = limits.rate_limit_per_second
    limit = rate * HOUR_S if rate and rate * HOUR_S < pace else None
    offered = pace if limit is None else RATE_LIMIT_SHARE * limit
    checklist = settings.required_requests_per_hour
    return ThroughputNeed(max(checklist, offered), checklist, pace, limit)


def caveat(settings: LoadSettings, result: ProbeResult) -> str:
    """One sentence: what a probe of this many users, seconds and requests proves, and what it does not."""
    users, seconds = result.limits.users, result.elapsed_s
    think = f", {result.limits.think_s:g} s think time" if result.limits.think_s else ", no think time"
    proves = (
        f"A {users}-user, {seconds:.1f}-second probe ({result.requests} requests{think}, stopped by "
        f"{result.stopped_by}) proves how the CRM answered {users} concurrent users for {seconds:.1f} s"
    )
    unproven = []
    if users < settings.required_users:
        unproven.append(
            f"not that the checklist's {settings.required_users} concurrent users are served "
            f"(set [load] users = {settings.required_users})"
        )
    if seconds < HOUR_S:
        unproven.append(
            f"not that its rate holds for an hour (extrapolated from {seconds:.1f} s; "
            "raise [load] duration_seconds and max_requests for a sustained figure)"
        )
    return "; ".join([proves, *unproven]) + "."
