"""The load probe stops by itself and never exceeds its caps, counted on the server side: requests,
duration and rate limit; it retries what the harness's client retries, counts every request the vendor
did not answer successfully at once as an error (throttling apart), keeps secrets out of its figures,
and the ``[load]`` table refuses what it does not know.  The throughput it is held against follows the
users' pace, and its caveat says what a probe of its size proves."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox import SandboxAdapter, SandboxOptions
from poc_harness.config import LoadSettings, load_config
from poc_harness.contract.adapter import RecordKind
from poc_harness.contract.loadtargets import LoadClient, LoadRequest, LoadTargets
from poc_harness.errors import ConfigError
from poc_harness.probes.loadjudge import caveat, throughput_need
from poc_harness.probes.loadprobe import MAYBE, OK, ProbeLimits, ProbeResult, percentile, run_probe
from poc_harness.sandbox.app import create_app
from poc_harness.sandbox.async_transport import AsyncASGITransport
from poc_harness.sandbox.server import BackgroundServer

TOKEN = "probe-test-token-7f3e"


class Counting:
    """ASGI wrapper: when each request reached the server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.arrivals: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.arrivals.append(time.monotonic())
        await self.app(scope, receive, send)


def _account(n: int) -> dict[str, Any]:
    return {"name": f"Probe {n}", "industry": "x", "city": "Tehran", "phone": "+982100000000", "tag": "pt"}


def _targets(server: Counting | None = None, base_url: str = "http://crm") -> LoadTargets:
    transport = (lambda: AsyncASGITransport(app=server)) if server is not None else None
    return LoadTargets(
        reads=[LoadRequest("GET /users", "GET", lambda n: "/users")],
        writes=[LoadRequest("POST /accounts", "POST", lambda n: "/accounts", _account, creates="account")],
        client=LoadClient(base_url, {"Authorization": f"Bearer {TOKEN}"}, 2.0, transport),
        created_id=lambda answer: answer.get("id"),
    )


def test_max_requests_is_never_exceeded_and_the_probe_stops_by_itself() -> None:
    server = Counting(create_app("healthy", TOKEN))
    started = time.monotonic()
    result = run_probe(_targets(server), ProbeLimits(users=30, duration_s=30.0, max_requests=120))
    assert time.monotonic() - started < 10, "the request cap must stop the probe long before its duration"
    # a new request starts only with room for its 2 retries and those of the others in flight
    assert len(server.arrivals) == result.sent and 120 - 2 * 30 <= result.sent <= 120
    assert result.stopped_by == "max_requests" and result.ok == result.requests == result.sent
    assert len(result.created) == sum(1 for n in range(result.sent) if (n * 0.6180339887) % 1 < 0.2)
    assert result.latency(50) is not None and result.per_hour > 0


def test_duration_is_never_exceeded() -> None:
    server = Counting(create_app("healthy", TOKEN))
    started = time.monotonic()
    result = run_probe(_targets(server), ProbeLimits(users=5, duration_s=0.4, max_requests=10_000_000))
    assert result.stopped_by == "duration" and len(server.arrivals) == result.sent > 0
    # the last admitted request reaches the server a moment later: more under a busy CPU
    assert max(server.arrivals) - started <= 0.4 + 0.25, "no request may start after the duration"
    assert result.elapsed_s < 0.4 + 2.0 + 1.0


def test_rate_limit_is_respected_on_the_server_side() -> None:
    server = Counting(create_app("healthy", TOKEN))
    limits = ProbeLimits(users=20, duration_s=0.5, max_requests=10_000, rate_limit_per_second=40)
    result = run_probe(_targets(server), limits)
    first = min(server.arrivals)
    assert len(server.arrivals) == result.sent
    for window in (0.1, 0.25, 0.5):
        within = sum(1 for at in server.arrivals if at - first <= window)
        assert within <= 40 * window + 1 + 1, f"{within} requests in the first {window} s at 40/s"
    assert result.sent >= 10, "the limiter must not starve the probe either"


def test_retries_count_against_the_cap_and_honour_429() -> None:
    server = Counting(create_app("flaky_429", TOKEN))
    result = run_probe(_targets(server), ProbeLimits(users=10, duration_s=10.0, max_requests=200))
    assert len(server.arrivals) == result.sent and 200 - 2 * 10 <= result.sent <= 200
    assert result.retries > 0 and result.requests + result.retries == result.sent
    assert not [o for o in result.outcomes if "no retry" in o], "the budget keeps room for every retry"
    # a 429 is the vendor asking to wait: answered on the retry, the request is no error
    assert result.errors == result.outcomes["HTTP 429"] == result.requests - result.ok <= 2


def test_a_vendor_holding_answers_cannot_hold_the_probe() -> None:
    """Every 100th answer comes 30 s late: the probe times it out, retries the reads, and stops on time."""
    server = Counting(create_app("slow_answers", TOKEN))
    started = time.monotonic()
    limits = ProbeLimits(users=10, duration_s=0.5, max_requests=10_000, timeout_s=0.3)
    result = run_probe(_targets(server), limits)
    assert time.monotonic() - started < 0.5 + 2 * 0.3 + 0.5
    assert result.outcomes["ok"] > 0 and sum(result.outcomes.values()) == result.requests
    assert max(result.latencies_ms["GET /users"]) < 1000 * 0.3 + 200


def test_over_a_real_socket_writes_are_counted_by_the_crm(monkeypatch: pytest.MonkeyPatch) -> None:
    with BackgroundServer(token=TOKEN) as url:
        limits = ProbeLimits(users=8, duration_s=5.0, max_requests=60, write_share=1.0)
        result = run_probe(_targets(base_url=url), limits)
        monkeypatch.setenv("POC_PROBE_TEST_TOKEN", TOKEN)
        adapter = SandboxAdapter(SandboxOptions(base_url=url, token_env="POC_PROBE_TEST_TOKEN"))
        on_server = adapter.find_tagged(RecordKind.ACCOUNT, "pt")
        adapter.close()
    assert len(on_server) == result.sent == result.ok and 60 - 2 * 8 <= result.sent <= 60
    assert sorted(vid for _, vid in result.created) == sorted(on_server)


class Journal:
    """Records what the probe lists, and how many requests the server had seen at that moment."""

    def __init__(self, server: Counting) -> None:
        self.server = server
        self.intended: dict[str, int] = {}
        self.bound: dict[str, tuple[str, int]] = {}

    def intend(self, kind: str, key: str) -> None:
        assert kind == "account"
        self.intended[key] = len(self.server.arrivals)

    def bind(self, kind: str, key: str, vendor_id: str) -> None:
        self.bound[key] = (vendor_id, len(self.server.arrivals))


def test_each_write_is_listed_before_it_is_sent_and_bound_when_answered() -> None:
    app = create_app("healthy", TOKEN)
    server = Counting(app)
    targets = _targets(server)
    keyed = replace(
        targets.writes[0],
        key=lambda n: f"probe-{n}",
        body=lambda n: {**_account(n), "external_ref": f"probe-{n}"},
    )
    journal = Journal(server)
    result = run_probe(
        replace(targets, writes=[keyed]), ProbeLimits(users=6, duration_s=5.0, max_requests=90), journal
    )
    assert len(result.created) == len(journal.bound) > 0 and set(journal.bound) <= set(journal.intended)
    assert {vid for vid, _ in journal.bound.values()} == {vid for _, vid in result.created}
    for key, (_, seen_at_bind) in journal.bound.items():
        assert journal.intended[key] < seen_at_bind, f"{key} was sent before the ledger listed it"
    with pytest.raises(ValueError, match="needs a key"):
        run_probe(targets, ProbeLimits(users=1, duration_s=0.1, max_requests=1), journal)


def test_no_secret_reaches_the_figures() -> None:
    targets = _targets(Counting(create_app("healthy", TOKEN)))
    result = run_probe(targets, ProbeLimits(users=2, duration_s=0.2, max_requests=20))
    assert TOKEN not in json.dumps(result.summary()) and TOKEN not in repr(result)
    assert TOKEN not in repr(targets)


def test_sandbox_adapter_names_its_load_targets() -> None:
    adapter = SandboxAdapter(SandboxOptions())
    targets = adapter.load_targets("tagx", {RecordKind.LEAD: ["LE000001"]})
    assert {r.name for r in targets.reads} == {"GET /leads/{id}", "GET /leads/{id}/tasks"}
    assert targets.writes[0].body is not None and targets.writes[0].body(3)["tag"] == "tagx"
    assert targets.client.transport is not None
    adapter.close()


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 95) == 7.0 and percentile([], 95) is None


def test_load_table_refuses_unknown_keys_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "poc.toml"
    config.write_text("[load]\nusers = 50\nusres = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "usres" in str(caught.value) and "\n" not in str(caught.value)
    config.write_text("[load]\nusers = 500\nduration_seconds = 120\nmax_requests = 50000\n")
    assert load_config(config).load.users == 500


def test_a_failure_hidden_by_a_retry_is_an_error_and_throttling_is_not() -> None:
    """503 without Retry-After under load: a read's retry succeeds (the throughput counts it), the request
    is still an error; a write is not resent (in doubt, an error); 503 with Retry-After (throttling)
    answered on a retry is not an error, for writes too: the vendor refused it before processing it."""
    overloaded = run_probe(_targets(Counting(create_app("errors_under_load", TOKEN))), _twenty_users())
    hidden, doubt = overloaded.outcomes["ok after HTTP 503"], overloaded.outcomes[MAYBE + "HTTP 503"]
    assert hidden > 0 and overloaded.errors == overloaded.requests - overloaded.outcomes[OK]
    # the rare read answered 503 at all three attempts is an error that the retry did not hide
    assert set(overloaded.outcomes) <= {OK, "ok after HTTP 503", "HTTP 503", MAYBE + "HTTP 503"}
    assert overloaded.errors == hidden + overloaded.outcomes["HTTP 503"] + doubt
    assert overloaded.ok == overloaded.requests - overloaded.outcomes["HTTP 503"] - doubt
    assert len(overloaded.in_doubt) == doubt
    throttled = run_probe(_targets(Counting(create_app("flaky_503", TOKEN))), _twenty_users())
    assert throttled.retries > 0 and set(throttled.outcomes) <= {OK, "HTTP 503"}
    assert not throttled.in_doubt  # a throttled write is resent after the wait, never left in doubt
    assert throttled.errors == throttled.requests - throttled.ok == throttled.outcomes["HTTP 503"]
    assert throttled.outcomes["HTTP 503"] <= 2


class AppliedThen503(Counting):
    """Every write reaches the CRM (the record is made) but is answered 503: applied, in doubt."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await super().__call__(scope, receive, send)
            return
        self.arrivals.append(time.monotonic())

        async def answer_503(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "status": 503, "headers": [(b"content-type", b"application/json")]}
            await send(message)

        await self.app(scope, receive, answer_503)


def test_a_write_answered_503_is_never_resent_and_counted_in_doubt() -> None:
    """A 503 after a write was sent may have applied it: no second POST (no duplicate), an error, in doubt
    with its key for the lookup afterwards; a 429 would have been resent (a rate limit refuses first)."""
    server = AppliedThen503(create_app("healthy", TOKEN))
    targets = _targets(server)
    keyed = replace(targets.writes[0], key=lambda n: f"load-{n}")
    journal = Journal(server)
    limits = ProbeLimits(users=4, duration_s=0.3, max_requests=60, write_share=1.0)
    result = run_probe(replace(targets, reads=[], writes=[keyed]), limits, journal)
    assert result.requests == result.sent == len(server.arrivals) > 0 and result.retries == 0
    assert result.outcomes == {MAYBE + "HTTP 503": result.requests} and result.errors == result.requests
    assert sorted(key for _, key in result.in_doubt) == sorted(journal.intended) and not journal.bound
    assert result.summary()["in_doubt"] == result.requests


def test_hung_requests_are_errors_even_when_a_retry_answers() -> None:
    """The issue's miss: ~2 % of the requests hang past the timeout; reads answered on the retry, writes
    lost; before, the error rate was 0 %."""
    limits = _twenty_users(timeout_s=0.3)
    result = run_probe(_targets(Counting(create_app("hangs_under_load", TOKEN))), limits)
    hung = {o: n for o, n in result.outcomes.items() if "timeout" in o}
    assert hung and result.errors == sum(hung.values()) and result.error_rate_pct > 1.0
    assert max(result.latencies_ms["GET /users"]) >= 300 and result.ok < result.requests


class Silent:
    """A CRM that never answers."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(3600)


def test_requests_never_answered_are_all_errors_and_the_probe_still_stops() -> None:
    started = time.monotonic()
    limits = ProbeLimits(users=4, duration_s=0.3, max_requests=100, timeout_s=0.2)
    result = run_probe(_targets(Silent()), limits)  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.3 + 2 * 0.2 + 0.5
    assert result.requests > 0 and result.ok == 0 and result.errors == result.requests
    assert result.error_rate_pct == 100.0 and result.per_hour == 0.0
    assert sum(result.outcomes.values()) == result.requests and result.outcomes[OK] == 0


def _twenty_users(timeout_s: float | None = None) -> ProbeLimits:
    return ProbeLimits(users=20, duration_s=1.0, max_requests=500, timeout_s=timeout_s)


@pytest.mark.parametrize(
    ("users", "think_s", "rate", "p95_ms", "need"),
    [
        (20, 0.0, None, 1000, 72_000),  # 20 users without think time, 1 s accepted: 20 requests/s
        (10, 4.0, None, 1000, 10_000),  # 10 users / 5 s = 7,200/hour, below the checklist's 10 k
        (20, 1.0, None, 500, 48_000),  # 20 users / 1.5 s
        (20, 0.0, 25.0, 1000, 72_000),  # a declared limit above the users' pace does not bound it
        (20, 0.0, 15.0, 1000, 48_600),  # one below it does: 90 % of 54,000
        (20, 0.0, 1.0, 1000, 10_000),  # one below the checklist: the checklist stands
    ],
)
def test_throughput_need_follows_the_users_pace(
    users: int, think_s: float, rate: float | None, p95_ms: float, need: float
) -> None:
    limits = ProbeLimits(users, duration_s=1, max_requests=500, rate_limit_per_second=rate, think_s=think_s)
    assert throughput_need(LoadSettings(p95_ms=p95_ms), limits).per_hour == pytest.approx(need)


def test_caveat_names_users_seconds_requests_and_what_is_not_proven() -> None:
    short = ProbeResult(ProbeLimits(users=20, duration_s=1, max_requests=500), elapsed_s=1.04, requests=480)
    text = caveat(LoadSettings(), short)
    assert text.startswith("A 20-user, 1.0-second probe (480 requests, no think time, stopped by duration)")
    assert "not that the checklist's 500 concurrent users are served" in text and "for an hour" in text
    full = ProbeResult(ProbeLimits(users=500, duration_s=3600, max_requests=10**6), elapsed_s=3601.0)
    assert "not that" not in caveat(LoadSettings(), full)
