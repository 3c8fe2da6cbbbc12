"""Scale and performance: concurrent virtual users drive the vendor's API (reads of this run's leads and
account creates) and the figures are held against the selection checklist: API ≥ 10 k requests/hour,
≥ 500 concurrent users served, with the buyer's p95 latency and error targets (``[load]``).

One probe per run (``poc_harness.probes.loadprobe``), bounded in time and requests and within the vendor's
declared rate limit.  Every request the probe sent and the vendor did not answer successfully at once
is an error (timeouts, requests cut at the probe's end, answers that came only on a retry, writes in doubt:
a 5xx or a lost answer after a write was sent, never resent and looked up by key afterwards); the
throughput is judged at the probe's users and think time (``poc_harness.probes.loadjudge``: each user's pace
is one request per think time + the buyer's accepted answer time); the p95 target holds for every kind
of request the probe sends, not only for their mix.  The verdicts hold for the load the probe ran:
each check records a ``caveat`` observation saying what a probe of its users, seconds and requests
proves and what it does not.  The probe's writes carry the run's tag and are listed in the ledger
before they are sent, so cleanup deletes them.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest

from poc_harness.config import LoadSettings
from poc_harness.contract.adapter import RecordKind
from poc_harness.errors import NotExercised, VendorError
from poc_harness.probes.loadjudge import HOUR_S, caveat, throughput_need
from poc_harness.probes.loadprobe import OK, ProbeLimits, ProbeResult, run_probe
from poc_harness.run.trial import Check, Trial


@pytest.fixture(scope="module")
def probe(trial: Trial) -> ProbeResult | None:
    """The run's load probe, against the records this run seeded; None where the adapter names no
    requests for it (each check then says it was not measured)."""
    settings = trial.config.load
    world = trial.world
    known = {RecordKind.LEAD: list(world.leads.values()), RecordKind.ACCOUNT: list(world.accounts.values())}
    targets = trial.adapter.load_targets(trial.tag, known)
    if targets is None or not (targets.reads or targets.writes):
        return None
    declared = [settings.rate_limit_per_second, targets.client.rate_limit_per_second]
    limits = ProbeLimits(
        users=settings.users,
        duration_s=settings.duration_seconds,
        max_requests=settings.max_requests,
        rate_limit_per_second=min((rate for rate in declared if rate), default=None),
        write_share=settings.write_share,
        think_s=settings.think_seconds,
        timeout_s=settings.timeout_seconds,
    )
    result = run_probe(targets, limits, LedgerJournal(trial))
    created = frozenset(RecordKind(w.creates) for w in targets.writes if w.creates)
    # the probe's writes whose answer was lost (in doubt: never resent), found at the vendor by their key;
    # a lookup the vendor fails leaves them unbound in the ledger (cleanup finds them by the run's tag) and
    # the figures stand: an in-doubt write is an error either way, applied or not
    with contextlib.suppress(VendorError):
        trial.seeder.reconcile(created)
        result.in_doubt_applied = sum(
            1 for kind, key in result.in_doubt if key and trial.ledger.vendor_id(trial.run_id, kind, key)
        )
    return result


class LedgerJournal:
    """The probe's writes in the run's ledger: each row before its request is sent, its id on answer."""

    def __init__(self, trial: Trial) -> None:
        self.ledger, self.run_id = trial.ledger, trial.run_id

    def intend(self, kind: str, key: str) -> None:
        payload = {"load_probe": True}  # created under the run's tag, not seed data
        self.ledger.intend(self.run_id, kind, key, payload, datetime.now(UTC))

    def bind(self, kind: str, key: str, vendor_id: str) -> None:
        self.ledger.bind(self.run_id, kind, key, vendor_id, datetime.now(UTC))


def _measured(trial: Trial, load: ProbeResult | None) -> ProbeResult:
    """The probe's result; where the adapter names no requests for it, a harness error: the figures were
    not measured, which the grading never counts against the vendor."""
    if load is None:
        raise NotExercised(
            f"the {trial.adapter.name} adapter names no API requests for the load probe "
            "(CRMAdapter.load_targets)"
        )
    return load


def _scope(settings: LoadSettings, result: ProbeResult, check: Check) -> dict[str, Any]:
    """What the probe's figures can and cannot say, next to the checklist's numbers; the caveat is also
    the check's own ``caveat`` observation (the acceptance report shows it beside the check)."""
    note = caveat(settings, result)
    check.observe("caveat", note)
    return {
        "users": result.limits.users,
        "required_users": settings.required_users,
        "think_seconds": result.limits.think_s,
        "elapsed_s": round(result.elapsed_s, 3),
        "extrapolated_to_an_hour": result.elapsed_s < HOUR_S,
        "note": note,
    }


@pytest.mark.severity("major")
@pytest.mark.criterion("scalability")
def test_api_sustains_10k_requests_per_hour(trial: Trial, probe: ProbeResult | None, check: Check) -> None:
    """Checklist: API ≥ 10 k requests/hour, and at the probe's load the users' pace (``loadjudge``):
    successful requests, within the vendor's rate limit."""
    load = _measured(trial, probe)
    settings = trial.config.load
    need = throughput_need(settings, load.limits)
    check.observe("load_probe", load.summary())
    check.observe(
        "api_throughput",
        {
            "requests_per_hour": round(load.per_hour),
            "required_per_hour": round(need.per_hour),
            "checklist_per_hour": need.checklist_per_hour,
            "users_pace_per_hour": round(need.pace_per_hour),
            "required_because": need.basis(),
            "ok_requests": load.ok,
            **_scope(settings, load, check),
        },
    )
    if load.per_hour < need.per_hour:
        pytest.fail(
            f"{load.per_hour:,.0f} successful requests/hour ({load.ok} in {load.elapsed_s:.1f} s with "
            f"{load.limits.users} users), below the {need.per_hour:,.0f} required ({need.basis()})",
            pytrace=False,
        )


@pytest.mark.severity("major")
@pytest.mark.criterion("scalability")
def test_p95_latency_with_concurrent_users(trial: Trial, probe: ProbeResult | None, check: Check) -> None:
    """The buyer's p95 latency target holds while the virtual users work concurrently, for the mix and for
    every kind of request (reads, writes) on its own."""
    load = _measured(trial, probe)
    settings = trial.config.load
    p50, p95, p99 = (load.latency(pct) for pct in (50, 95, 99))
    figures = ((50, p50), (95, p95), (99, p99))
    shown = {f"p{pct}_ms": None if ms is None else round(ms, 2) for pct, ms in figures}
    by_kind = {name: load.latency(95, name) for name in sorted(load.latencies_ms)}
    check.observe(
        "load_latency",
        {
            **shown,
            "p95_ms_by_request": {name: None if ms is None else round(ms, 2) for name, ms in by_kind.items()},
            "target_p95_ms": settings.p95_ms,
            **_scope(settings, load, check),
        },
    )
    if p95 is None:
        pytest.fail("the load probe got no answer at all", pytrace=False)
    slow = {name: ms for name, ms in by_kind.items() if ms is not None and ms > settings.p95_ms}
    if p95 > settings.p95_ms or slow:
        kinds = ", ".join(f"{name} {ms:,.0f} ms" for name, ms in slow.items()) or "the mix only"
        pytest.fail(
            f"p95 latency {p95:,.0f} ms with {load.limits.users} concurrent users (p50 {p50:,.0f} ms, "
            f"p99 {p99:,.0f} ms; over the target: {kinds}), target {settings.p95_ms:,.0f} ms",
            pytrace=False,
        )


@pytest.mark.severity("major")
@pytest.mark.criterion("scalability")
def test_concurrent_users_served_without_errors(
    trial: Trial, probe: ProbeResult | None, check: Check
) -> None:
    """The virtual users' requests are answered successfully under load: a request is an error unless
    answered at once or after the vendor asked to wait (timeouts, requests still in flight at the probe's
    end and answers that came only on a retry after a failure are errors)."""
    load = _measured(trial, probe)
    settings = trial.config.load
    check.observe(
        "load_errors",
        {
            "requests": load.requests,
            "errors": load.errors,
            "gave_up": load.gave_up,
            "in_doubt": len(load.in_doubt),
            "in_doubt_applied": load.in_doubt_applied,
            "error_pct": round(load.error_rate_pct, 3),
            "max_error_pct": settings.max_error_pct,
            "outcomes": dict(load.outcomes),
            **_scope(settings, load, check),
        },
    )
    if not load.requests:
        pytest.fail("the load probe sent no request", pytrace=False)
    if load.error_rate_pct > settings.max_error_pct:
        failures = {name: n for name, n in sorted(load.outcomes.items()) if name != OK}
        pytest.fail(
            f"{load.errors} of {load.requests} requests failed under load ({load.error_rate_pct:.1f} %, "
            f"target ≤ {settings.max_error_pct:g} %): {failures}",
            pytrace=False,
        )
