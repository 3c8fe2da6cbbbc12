"""The load probe stops by itself and never exceeds its caps, counted on the server side: requests,
duration and rate limit; it retries what the harness's client retries, keeps secrets out of its figures,
and the ``[load]`` table refuses what it does not know."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox import SandboxAdapter, SandboxOptions
from poc_harness.adapter import RecordKind
from poc_harness.config import load_config
from poc_harness.errors import ConfigError
from poc_harness.loadprobe import ProbeLimits, percentile, run_probe
from poc_harness.loadtargets import LoadClient, LoadRequest, LoadTargets
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
    assert len(server.arrivals) == result.sent == 120
    assert result.stopped_by == "max_requests" and result.ok == result.requests == 120
    assert len(result.created) == 24  # a fifth are writes, each created one account
    assert result.latency(50) is not None and result.per_hour > 0


def test_duration_is_never_exceeded() -> None:
    server = Counting(create_app("healthy", TOKEN))
    started = time.monotonic()
    result = run_probe(_targets(server), ProbeLimits(users=5, duration_s=0.4, max_requests=10_000_000))
    assert result.stopped_by == "duration" and len(server.arrivals) == result.sent > 0
    assert max(server.arrivals) - started <= 0.4 + 0.05, "no request may start after the duration"
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
    assert len(server.arrivals) == result.sent == 200
    assert result.retries > 0 and result.errors == 0
    assert result.requests + result.retries == result.sent, "each request sent is a first try or a retry"


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
    assert len(on_server) == result.sent == result.ok == 60
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
