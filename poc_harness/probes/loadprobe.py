"""The load probe: concurrent virtual users replay a vendor's read and write requests, bounded in time and
in requests, within the vendor's declared rate limit; it reports the requests sustained per hour,
p50/p95/p99 latency and the error rate.

Each virtual user (its own ``httpx.AsyncClient``, one connection) sends one request, waits for the
answer (and ``think_s``), then sends the next,
until ``duration_s`` is over or ``max_requests`` have been sent, whichever comes first; no request
is ever sent past either cap (retries count against ``max_requests`` too).  The probe's client retries 429
for any method (a rate limit refuses before processing), 503 with ``Retry-After`` for any method too (the
vendor throttling: it refused the request before processing it, as with 429; the harness's own client,
``poc_harness.transport.http``, looks such a write up before resending it, which a load probe cannot afford)
and a connection never made; 502, 503, 504, timeouts and dropped connections for reads only, honouring
``Retry-After``.  A write is never resent blindly: any other 5xx, a timeout or a dropped connection after it
was sent may have applied it, so it is *in doubt* (``maybe applied:``): an error (the vendor did not answer
it successfully), listed in ``in_doubt`` with its key, and its ledger row is found again by key afterwards
(``Seeder.reconcile``), never duplicated.  A new request starts only while the request budget keeps room for
the retries of every request in flight, so no retry is ever refused for want of budget.  Retries may start
until one timeout after ``duration_s``, and every request in flight is cut at two timeouts after it, so the
probe always stops by itself. Latency is per attempt sent, as the vendor answered it (a timeout counts as
the timeout, a request cut at the probe's end as the time it waited).

A request is an **error** unless the vendor answered it successfully at its first attempt or after
being asked to wait (429, or 503 with ``Retry-After``: the vendor throttling, not failing): a request
that never got a successful answer (failed after its retries, timed out, refused a retry by the time
cap, still in flight at the probe's end) is an error, and so is one whose answer came only on a retry
after the vendor failed it (a timeout, a dropped connection, a 5xx): the retry hides the failure from
the user's code, not from the vendor's record.  The successful answers, whatever came before, are the
probe's throughput.

A write that creates a record is entered in the ``ProbeJournal`` (the ledger) under its key before it
is sent and gets the vendor's id as soon as it is answered, so a probe killed mid-way leaves nothing
the ledger does not know of; a row whose answer was lost is found again by its key at cleanup.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Protocol

import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from poc_harness.contract.loadtargets import LoadRequest, LoadTargets
from poc_harness.transport.http import (
    IDEMPOTENT,
    NEVER_SENT,
    READ_RETRY_STATUSES,
    WRITE_RETRY_STATUSES,
    retry_after_seconds,
)

OK = "ok"
CUT = "no answer by the probe's end"
NO_TIME = " (no retry: the probe's time for retries was over)"
NO_BUDGET = " (no retry: the probe's request budget was spent)"
AFTER = "ok after "
"""an outcome ``ok after <failure>``: answered on a retry after the vendor failed the request (an error)"""
TIMEOUT = "timeout"
MAYBE = "maybe applied: "
"""an outcome ``maybe applied: <failure>``: a write not answered successfully after it was sent (an error,
in doubt: not resent, looked up by its key afterwards)"""
FIRST_BACKOFF_S = 0.05
GOLDEN = (math.sqrt(5) - 1) / 2


class ProbeJournal(Protocol):
    """Where the probe lists what its writes create (the run's ledger)."""

    def intend(self, kind: str, key: str) -> None:
        """Called before a write that creates the record ``key`` is sent."""

    def bind(self, kind: str, key: str, vendor_id: str) -> None:
        """Called once the vendor answered with the record's id."""


@dataclass(frozen=True)
class ProbeLimits:
    """The probe's caps and shape; ``rate_limit_per_second`` None sends as fast as the users can."""

    users: int
    duration_s: float
    max_requests: int
    rate_limit_per_second: float | None = None
    write_share: float = 0.2
    think_s: float = 0.0
    timeout_s: float | None = None
    """seconds one request may take; None: the adapter's client timeout"""
    attempts: int = 3


def percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list; None when it is empty."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


@dataclass
class ProbeResult:
    """What one probe measured; holds no header, token or body (safe to write into results)."""

    limits: ProbeLimits
    elapsed_s: float = 0.0
    sent: int = 0
    """requests put on the wire, retries included: what ``max_requests`` bounds"""
    requests: int = 0
    """requests the virtual users made (a retried request counts once)"""
    ok: int = 0
    """requests answered successfully, at the first attempt or on a retry: the throughput"""
    gave_up: int = 0
    """requests the probe stopped waiting for (its time cap): errors, listed apart"""
    retries: int = 0
    budget_spent: bool = False
    """a new request was refused because the request budget was spent"""
    outcomes: Counter[str] = field(default_factory=Counter)
    """each request's outcome: ``ok``, ``ok after <failure>``, or its failure"""
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    created: list[tuple[str, str]] = field(default_factory=list)
    """(record kind, vendor id) of what the write requests created"""
    in_doubt: list[tuple[str, str | None]] = field(default_factory=list)
    """(record kind or the request's name, key) of the writes that may have been applied without an answer
    saying so (a 5xx, a timeout, a dropped connection after sending): errors, never resent"""
    in_doubt_applied: int | None = None
    """how many of ``in_doubt`` the vendor had applied, found by key after the probe (None: not looked up)"""

    @property
    def errors(self) -> int:
        """Requests the vendor did not answer successfully at once (throttling apart): module docstring."""
        return self.requests - self.outcomes[OK]

    @property
    def error_rate_pct(self) -> float:
        return 100.0 * self.errors / self.requests if self.requests else 0.0

    @property
    def per_second(self) -> float:
        """Successful requests per second over the probe."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def per_hour(self) -> float:
        return 3600.0 * self.per_second

    @property
    def stopped_by(self) -> str:
        return "max_requests" if self.budget_spent or self.sent >= self.limits.max_requests else "duration"

    def latency(self, pct: float, name: str | None = None) -> float | None:
        samples = self.latencies_ms.get(name, []) if name else chain.from_iterable(self.latencies_ms.values())
        return percentile(sorted(samples), pct)

    def summary(self) -> dict[str, Any]:
        """The figures, JSON-ready."""

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 2)

        return {
            "users": self.limits.users,
            "planned_seconds": self.limits.duration_s,
            "elapsed_seconds": round(self.elapsed_s, 3),
            "max_requests": self.limits.max_requests,
            "rate_limit_per_second": self.limits.rate_limit_per_second,
            "stopped_by": self.stopped_by,
            "sent": self.sent,
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "gave_up": self.gave_up,
            "in_doubt": len(self.in_doubt),
            "in_doubt_applied": self.in_doubt_applied,
            "retries": self.retries,
            "error_rate_pct": round(self.error_rate_pct, 3),
            "requests_per_second": round(self.per_second, 1),
            "requests_per_hour": round(self.per_hour),
            "latency_ms": {f"p{p}": ms(self.latency(p)) for p in (50, 95, 99)},
            "by_request": {
                name: {"sent": len(samples), "p95_ms": ms(percentile(sorted(samples), 95))}
                for name, samples in sorted(self.latencies_ms.items())
            },
            "outcomes": dict(sorted(self.outcomes.items())),
        }


class _Again(Exception):
    """A retryable answer: tenacity tries again.  ``throttled``: the vendor asked to wait (429, or 503
    with ``Retry-After``), which is not a failure of the request."""

    def __init__(self, outcome: str, response: httpx.Response | None = None) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.response = response
        status = response.status_code if response is not None else None
        self.throttled = status == 429 or (status == 503 and retry_after_seconds(response) is not None)


class _Denied(Exception):
    """No retry: the time for retries (or, in a probe of fewer requests than attempts, the budget) is
    spent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Held:
    """The retries a request in flight may still send, kept in the request budget for it."""

    retries: int


class LoadProbe:
    """One run of the probe against one vendor's targets."""

    def __init__(
        self, targets: LoadTargets, limits: ProbeLimits, journal: ProbeJournal | None = None
    ) -> None:
        if not targets.reads and not targets.writes:
            raise ValueError("the load probe needs at least one read or write request")
        if journal is not None and any(w.creates and w.key is None for w in targets.writes):
            raise ValueError("a write that creates records needs a key, to list them before they are sent")
        self.targets = targets
        self.journal = journal
        self.limits = limits
        self.timeout = limits.timeout_s or targets.client.timeout
        self.result = ProbeResult(limits)
        rate = limits.rate_limit_per_second
        # a bucket of one: never more than rate × t + 1 requests in any t seconds
        self.limiter = AsyncLimiter(1, 1.0 / rate) if rate else None
        self._built: dict[tuple[str, str], httpx.Request] = {}
        self.stop_new = self.stop_retries = 0.0  # event-loop times, set when the probe starts
        self.reserved = 0  # retries kept in the budget for the requests in flight
        self.need = min(limits.attempts, limits.max_requests)  # a new request's sends, retries included

    def run(self) -> ProbeResult:
        """Run the probe to its end (blocking) and return what it measured."""
        return asyncio.run(self.run_async())

    async def run_async(self) -> ProbeResult:
        loop = asyncio.get_running_loop()
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(client) for client in self._clients()]
            start = loop.time()
            self.stop_new = start + self.limits.duration_s
            self.stop_retries = self.stop_new + self.timeout
            try:
                async with (
                    asyncio.timeout(self.limits.duration_s + 2 * self.timeout),
                    asyncio.TaskGroup() as users,
                ):
                    for client in clients:
                        users.create_task(self._user(client))
            except TimeoutError:
                pass  # the requests still in flight were cut and recorded as such
            self.result.elapsed_s = loop.time() - start
        return self.result

    def _clients(self) -> list[httpx.AsyncClient]:
        """One client, with one connection, per virtual user (as a user's browser or integration has):
        one pool shared by hundreds of connections costs the probe more CPU than the requests do."""
        config = self.targets.client
        tls = ssl.create_default_context()  # built once: loading the CA store per client is slow
        return [
            httpx.AsyncClient(
                base_url=config.base_url,
                headers=config.headers,
                timeout=self.timeout,
                transport=config.transport() if config.transport else None,
                verify=tls,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            for _ in range(self.limits.users)
        ]

    # --- the virtual user -------------------------------------------------------------------
    async def _user(self, client: httpx.AsyncClient) -> None:
        retrying = AsyncRetrying(  # one per user: a user's requests follow one another
            retry=retry_if_exception_type(_Again),
            stop=stop_after_attempt(self.limits.attempts),
            wait=self._wait,
            reraise=True,
        )
        while (held := await self._admit(self.stop_new)) is not None:
            number = self.result.requests
            self.result.requests += 1
            await self._request(client, retrying, self._pick(number), number, held)
            if self.limits.think_s:
                remaining = self.stop_new - asyncio.get_running_loop().time()
                await asyncio.sleep(max(0.0, min(self.limits.think_s, remaining)))

    def _pick(self, number: int) -> LoadRequest:
        """A write for ``write_share`` of the requests, spread along a golden-ratio sequence: evenly, yet
        never in step with a vendor's own every-n-th-call pattern (a cache, a fault)."""
        share = self.limits.write_share if self.targets.reads else 1.0
        share = share if self.targets.writes else 0.0
        if (number * GOLDEN) % 1.0 < share:
            return self.targets.writes[number % len(self.targets.writes)]
        return self.targets.reads[number % len(self.targets.reads)]

    async def _admit(self, deadline: float, held: _Held | None = None) -> _Held | None:
        """Take one send from the budget (and one token from the rate limit) before ``deadline``: a retry
        from the room its request holds (``held``), a new request only with room for its own retries
        too; the request's hold, or None when refused."""
        loop = asyncio.get_running_loop()
        if not self._room(held) or loop.time() >= deadline:
            return None
        if self.limiter is not None:
            try:
                async with asyncio.timeout_at(deadline):
                    await self.limiter.acquire()
            except TimeoutError:
                return None
        if not self._room(held) or loop.time() >= deadline:
            return None  # another user spent the budget while this one waited for the rate limit
        self.result.sent += 1
        if held is not None:
            held.retries -= 1
            self.reserved -= 1
            return held
        self.reserved += self.need - 1
        return _Held(self.need - 1)

    def _room(self, held: _Held | None) -> bool:
        if held is not None:
            return held.retries > 0
        room = self.result.sent + self.reserved + self.need <= self.limits.max_requests
        self.result.budget_spent |= not room
        return room

    async def _request(
        self,
        client: httpx.AsyncClient,
        retrying: AsyncRetrying,
        target: LoadRequest,
        number: int,
        held: _Held,
    ) -> None:
        """One request of a virtual user, retried like the harness's client would; its outcome recorded
        (module docstring: what counts as an error)."""
        last = [CUT]
        failed: list[str] = []  # the vendor's failures of this request, throttling apart
        first = [True]  # the first attempt was admitted by the user's loop

        async def attempt() -> str:
            if not first[0]:
                if await self._admit(self.stop_retries, held) is None:
                    raise _Denied(NO_TIME if held.retries else NO_BUDGET)
                self.result.retries += 1
            first[0] = False
            try:
                last[0] = await self._send(client, target, number)
            except _Again as again:
                last[0] = again.outcome
                if not again.throttled:
                    failed.append(again.outcome)
                raise
            return last[0]

        try:
            await retrying(attempt)
        except _Again:
            pass
        except _Denied as denied:
            self._record(last[0] + denied.reason, gave_up=True)
            return
        except asyncio.CancelledError:
            self._record(CUT, gave_up=True)
            raise
        finally:
            self.reserved -= held.retries  # the retries it did not need go back to the budget
            held.retries = 0
        if last[0] == OK:
            self.result.ok += 1
            self._record(AFTER + failed[0] if failed else OK)
        else:
            self._record(last[0])

    def _record(self, outcome: str, gave_up: bool = False) -> None:
        self.result.outcomes[outcome] += 1
        self.result.gave_up += int(gave_up)

    def _wait(self, state: RetryCallState) -> float:
        """The vendor's Retry-After when it gave one, else a short exponential backoff; never past the
        time left for retries."""
        error = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(error.response) if isinstance(error, _Again) else None
        wait = asked if asked is not None else FIRST_BACKOFF_S * 2 ** (state.attempt_number - 1)
        left = self.stop_retries - asyncio.get_running_loop().time()
        return max(0.0, min(wait, left))

    def _build(
        self, client: httpx.AsyncClient, target: LoadRequest, number: int, body: dict[str, Any] | None
    ) -> httpx.Request:
        """The request; one without a body is built once per path and sent again (every user's client
        has the same base URL and headers): building a request costs about as much CPU as sending it."""
        path = target.path(number)
        if body is not None:
            return client.build_request(target.method, path, json=body)
        key = (target.method, path)
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = client.build_request(target.method, path)
        return built

    async def _send(self, client: httpx.AsyncClient, target: LoadRequest, number: int) -> str:
        """Send once; return the outcome or raise ``_Again`` for what may be retried."""
        body = target.body(number) if target.body else None
        idempotent = target.method.upper() in IDEMPOTENT
        key = target.key(number) if target.creates and target.key else None
        if self.journal is not None and target.creates and key is not None:
            self.journal.intend(target.creates, key)
        samples = self.result.latencies_ms.setdefault(target.name, [])
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.send(self._build(client, target, number, body))
        except asyncio.CancelledError:  # cut at the probe's end: it waited this long
            samples.append(1000 * (time.perf_counter() - started))
            raise
        except (TimeoutError, httpx.TimeoutException, httpx.TransportError) as exc:
            samples.append(1000 * (time.perf_counter() - started))
            timed_out = isinstance(exc, TimeoutError | httpx.TimeoutException)
            failure = TIMEOUT if timed_out else type(exc).__name__
            if isinstance(exc, NEVER_SENT) or idempotent:
                raise _Again(failure) from None
            return self._in_doubt(target, key, failure)
        samples.append(1000 * (time.perf_counter() - started))
        status = response.status_code
        throttled = status == 503 and "retry-after" in response.headers  # refused before processing
        if status in (READ_RETRY_STATUSES if idempotent else WRITE_RETRY_STATUSES) or throttled:
            raise _Again(f"HTTP {status}", response)
        if status >= 500 and not idempotent:
            return self._in_doubt(target, key, f"HTTP {status}")
        if not 200 <= status < 300:
            return f"HTTP {status}"
        if status != 204 and "json" not in response.headers.get("content-type", ""):
            return "not JSON"
        if target.creates:
            try:
                created = self.targets.created_id(response.json())
            except ValueError:
                return "not JSON"
            if created:
                self.result.created.append((target.creates, created))
                if self.journal is not None and key is not None:
                    self.journal.bind(target.creates, key, created)
        return OK


    def _in_doubt(self, target: LoadRequest, key: str | None, failure: str) -> str:
        """A write that may have been applied: not resent (its key is looked up afterwards)."""
        self.result.in_doubt.append((target.creates or target.name, key))
        return MAYBE + failure


def run_probe(targets: LoadTargets, limits: ProbeLimits, journal: ProbeJournal | None = None) -> ProbeResult:
    """Run the load probe against ``targets`` within ``limits``, listing what it creates in ``journal``;
    blocks until it has stopped by itself."""
    return LoadProbe(targets, limits, journal).run()
