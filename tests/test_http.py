"""Tests for ``VendorHTTP``: which failures are retried, Retry-After, bounds, and one-line redacted errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import httpx
import pytest
import respx
import tenacity
import tenacity.nap

from poc_harness.errors import VendorError, VendorUnreachable
from poc_harness.redaction import REDACTOR
from poc_harness.transport.http import (
    RetryPolicy,
    VendorHTTP,
    _Retryable,
    _WaitRetryAfter,
    retry_after_seconds,
)

BASE = "https://crm.test"
FAST = RetryPolicy(attempts=4, max_total_wait=5, max_single_wait=0.05, initial_backoff=0.01)
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client() -> Iterator[VendorHTTP]:
    http = VendorHTTP("acme", BASE, policy=FAST)
    yield http
    http.close()


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace tenacity's sleep with a recorder: the waits VendorHTTP asked for, without waiting."""
    waits: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=waits.append))
    return waits


def assert_one_line(message: str) -> None:
    assert message
    assert "\n" not in message
    assert "\r" not in message


def retry_after(value: str) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": value})


# --- success after retries ---------------------------------------------------------------


def test_429_with_retry_after_zero_then_200_succeeds(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/leads").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json=[])]
    )
    response = client.request("GET", "/leads")
    assert response.status_code == 200
    assert route.call_count == 2
    assert client.stats.retries == 1
    assert client.stats.calls == 2
    assert client.stats.failures == 0
    assert client.stats.by_status == {429: 1, 200: 1}


def test_429_on_post_is_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.post("/leads").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(201, json={"id": "1"})]
    )
    assert client.json("POST", "/leads", json={"name": "x"}) == {"id": "1"}
    assert route.call_count == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_write_answered_5xx_is_not_repeated_blindly_but_may_have_been_applied(
    mock: respx.MockRouter, client: VendorHTTP, status: int
) -> None:
    """A gateway's 503 (even with Retry-After), 502 or 504 may come after the upstream applied the write:
    the client does not repeat it; the caller looks the record up first (``poc_harness.transport.writes``)."""
    answers = [httpx.Response(status, headers={"Retry-After": "3"}), httpx.Response(201, json={"id": "1"})]
    route = mock.post("/leads").mock(side_effect=answers)
    with pytest.raises(VendorError) as caught:
        client.request("POST", "/leads")
    assert route.call_count == 1 and client.stats.retries == 0
    assert caught.value.maybe_applied and caught.value.status == status and caught.value.retry_after == 3.0


# --- Retry-After parsing -----------------------------------------------------------------


def test_retry_after_delta_seconds() -> None:
    assert retry_after_seconds(retry_after("7")) == 7.0
    assert retry_after_seconds(retry_after("0")) == 0.0
    assert retry_after_seconds(retry_after("1.5")) == 1.5


def test_retry_after_negative_delta_is_zero() -> None:
    assert retry_after_seconds(retry_after("-3")) == 0.0


def test_retry_after_http_date() -> None:
    header = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(retry_after(header), now=NOW) == pytest.approx(90.0)


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    header = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert retry_after_seconds(retry_after(header), now=NOW) == 0.0


@pytest.mark.parametrize("value", ["soon", "later please", "12 seconds", "Mon, 99 Foo 2025"])
def test_retry_after_garbage_is_none(value: str) -> None:
    assert retry_after_seconds(retry_after(value)) is None


def test_retry_after_absent_is_none() -> None:
    assert retry_after_seconds(httpx.Response(429)) is None
    assert retry_after_seconds(None) is None


def test_retry_after_http_date_with_unknown_zone() -> None:
    header = format_datetime(NOW + timedelta(seconds=30)).replace("+0000", "-0000")
    assert retry_after_seconds(retry_after(header), now=NOW) in (None, pytest.approx(30.0))


# --- the wait strategy -------------------------------------------------------------------


def wait_for(policy: RetryPolicy, exc: BaseException, attempt: int = 1) -> float:
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return _WaitRetryAfter(policy)(state)


def test_wait_uses_retry_after() -> None:
    policy = RetryPolicy(max_single_wait=30.0, initial_backoff=0.01)
    assert wait_for(policy, _Retryable(retry_after("12"))) == 12.0


def test_wait_caps_retry_after_at_max_single_wait() -> None:
    policy = RetryPolicy(max_single_wait=0.2, initial_backoff=0.01)
    assert wait_for(policy, _Retryable(retry_after("3600"))) == 0.2


def test_wait_caps_http_date_retry_after() -> None:
    header = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    assert wait_for(FAST, _Retryable(retry_after(header))) == FAST.max_single_wait


def test_wait_falls_back_to_backoff_on_garbage_retry_after() -> None:
    policy = RetryPolicy(max_single_wait=5.0, initial_backoff=0.01)
    wait = wait_for(policy, _Retryable(retry_after("whenever")))
    assert 0.0 <= wait <= 5.0


def test_wait_backoff_without_response_is_bounded() -> None:
    policy = RetryPolicy(max_single_wait=0.3, initial_backoff=0.01)
    for attempt in range(1, 30):
        assert 0.0 <= wait_for(policy, _Retryable(None), attempt) <= 0.3


def test_vendor_http_sleeps_what_retry_after_asks(
    mock: respx.MockRouter, client: VendorHTTP, slept: list[float]
) -> None:
    mock.get("/leads").mock(side_effect=[retry_after("0.04"), httpx.Response(200)])
    client.request("GET", "/leads")
    assert slept == [0.04]


def test_vendor_http_caps_a_long_retry_after(
    mock: respx.MockRouter, client: VendorHTTP, slept: list[float]
) -> None:
    mock.get("/leads").mock(side_effect=[retry_after("3600"), httpx.Response(200)])
    client.request("GET", "/leads")
    assert slept == [FAST.max_single_wait]


# --- bounded failure ---------------------------------------------------------------------


def test_503_forever_fails_after_exactly_attempts_calls(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/leads").respond(503, text="maintenance")
    with pytest.raises(VendorError) as info:
        client.request("GET", "/leads")
    assert not isinstance(info.value, VendorUnreachable)
    assert route.call_count == FAST.attempts
    message = str(info.value)
    assert_one_line(message)
    assert "HTTP 503" in message
    assert "GET /leads" in message
    assert client.stats.calls == FAST.attempts
    assert client.stats.retries == FAST.attempts - 1
    assert client.stats.failures == 1


def test_total_wait_is_bounded(mock: respx.MockRouter) -> None:
    policy = RetryPolicy(attempts=1000, max_total_wait=0.3, max_single_wait=0.1, initial_backoff=0.01)
    route = mock.get("/leads").mock(return_value=retry_after("10"))
    http = VendorHTTP("acme", BASE, policy=policy)
    started = time.monotonic()
    with pytest.raises(VendorError, match="HTTP 429"):
        http.request("GET", "/leads")
    http.close()
    assert time.monotonic() - started < 1.5
    assert route.call_count < 20


# --- which statuses are retried for which methods -----------------------------------------


def test_post_500_is_not_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.post("/leads").respond(500, text="internal error")
    with pytest.raises(VendorError) as info:
        client.request("POST", "/leads", json={"name": "x"})
    assert route.call_count == 1
    assert client.stats.retries == 0
    assert "HTTP 500" in str(info.value)
    assert_one_line(str(info.value))


def test_get_500_is_not_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/leads").respond(500)
    with pytest.raises(VendorError, match="HTTP 500"):
        client.request("GET", "/leads")
    assert route.call_count == 1


def test_get_502_is_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/leads").mock(side_effect=[httpx.Response(502), httpx.Response(200, json=[])])
    assert client.json("GET", "/leads") == []
    assert route.call_count == 2
    assert client.stats.retries == 1


def test_get_504_is_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/leads").mock(side_effect=[httpx.Response(504), httpx.Response(200)])
    assert client.request("GET", "/leads").status_code == 200
    assert route.call_count == 2


def test_put_502_is_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.put("/leads/1").mock(side_effect=[httpx.Response(502), httpx.Response(200)])
    assert client.request("PUT", "/leads/1").status_code == 200
    assert route.call_count == 2


@pytest.mark.parametrize("status", [502, 504])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_non_idempotent_502_504_is_not_retried(
    mock: respx.MockRouter, client: VendorHTTP, method: str, status: int
) -> None:
    route = mock.route(method=method, path="/leads").respond(status)
    with pytest.raises(VendorError) as info:
        client.request(method, "/leads")
    assert route.call_count == 1
    assert client.stats.retries == 0
    assert f"HTTP {status}" in str(info.value)


def test_lowercase_method_is_treated_as_its_uppercase(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.post("/leads").respond(502)
    with pytest.raises(VendorError):
        client.request("post", "/leads")
    assert route.call_count == 1


def test_4xx_is_not_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/leads/9").respond(404, json={"detail": "not found"})
    with pytest.raises(VendorError, match="HTTP 404"):
        client.request("GET", "/leads/9")
    assert route.call_count == 1
    assert client.stats.failures == 1


# --- connection failures and timeouts -----------------------------------------------------


def test_connection_error_is_unreachable_naming_base_url(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/health").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(VendorUnreachable) as info:
        client.request("GET", "/health")
    assert route.call_count == FAST.attempts
    message = str(info.value)
    assert_one_line(message)
    assert BASE in message
    assert "unreachable" in message


def test_connection_error_then_success(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.post("/leads").mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(201)])
    assert client.request("POST", "/leads").status_code == 201
    assert route.call_count == 2
    assert client.stats.retries == 1


def test_read_timeout_on_post_is_not_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.post("/leads").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(VendorError) as info:
        client.request("POST", "/leads", json={"name": "x"})
    assert not isinstance(info.value, VendorUnreachable)
    assert route.call_count == 1
    message = str(info.value)
    assert_one_line(message)
    assert "not retried" in message
    assert "ReadTimeout" in message
    assert client.stats.failures == 1


def test_read_timeout_on_get_is_retried(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/leads").mock(
        side_effect=[httpx.ReadTimeout("timed out"), httpx.Response(200, json=[])]
    )
    assert client.json("GET", "/leads") == []
    assert route.call_count == 2
    assert client.stats.retries == 1


def test_read_timeout_on_get_forever_is_bounded(mock: respx.MockRouter, client: VendorHTTP) -> None:
    route = mock.get("/leads").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(VendorError) as info:
        client.request("GET", "/leads")
    assert route.call_count == FAST.attempts
    assert_one_line(str(info.value))


# --- JSON ----------------------------------------------------------------------------------


def test_json_decodes(mock: respx.MockRouter, client: VendorHTTP) -> None:
    mock.get("/clock").respond(200, json={"now": "2025-03-01T12:00:00Z"})
    assert client.json("GET", "/clock") == {"now": "2025-03-01T12:00:00Z"}


def test_malformed_json_is_vendor_error(mock: respx.MockRouter, client: VendorHTTP) -> None:
    mock.get("/clock").respond(200, text="<html>\n<body>Gateway</body>\n</html>")
    with pytest.raises(VendorError) as info:
        client.json("GET", "/clock")
    message = str(info.value)
    assert "not JSON" in message
    assert "GET /clock" in message
    assert_one_line(message)


def test_non_utf8_body_is_not_json_error(mock: respx.MockRouter, client: VendorHTTP) -> None:
    mock.get("/clock").respond(200, content=b"\xff\xfe\xfa", headers={"Content-Type": "application/json"})
    with pytest.raises(VendorError, match="not JSON"):
        client.json("GET", "/clock")


# --- redaction and one-line messages --------------------------------------------------------

CANARY = "canary-secret-123456"


def test_registered_secret_echoed_in_error_body_is_redacted(
    mock: respx.MockRouter, client: VendorHTTP
) -> None:
    REDACTOR.add(CANARY)
    mock.post("/leads").respond(400, json={"error": "bad token", "token": CANARY})
    with pytest.raises(VendorError) as info:
        client.request("POST", "/leads")
    message = str(info.value)
    assert CANARY not in message
    assert "***" in message
    assert "HTTP 400" in message


def test_registered_secret_in_unreachable_error_is_redacted(mock: respx.MockRouter) -> None:
    secret = "canary-host-secret-777"
    REDACTOR.add(secret)
    mock.route(host="crm.test").mock(side_effect=httpx.ConnectError("refused"))
    http = VendorHTTP("acme", f"https://crm.test/{secret}/", policy=FAST)
    with pytest.raises(VendorUnreachable) as info:
        http.request("GET", "health")
    http.close()
    assert secret not in str(info.value)


def test_registered_secret_in_not_json_error_is_redacted(mock: respx.MockRouter, client: VendorHTTP) -> None:
    REDACTOR.add(CANARY)
    mock.get("/clock").respond(200, text=f"oops {CANARY}")
    with pytest.raises(VendorError, match="not JSON") as info:
        client.json("GET", "/clock")
    assert CANARY not in str(info.value)


def echo_headers(request: httpx.Request) -> httpx.Response:
    lines = "\n".join(f"{name}: {value}" for name, value in request.headers.items())
    return httpx.Response(401, text=f"unauthorised; you sent:\n{lines}")


def test_authorization_header_echoed_back_is_not_in_message(mock: respx.MockRouter) -> None:
    token = "tok-unregistered-4f9a8b7c"  # deliberately not registered: the header pattern must catch it
    mock.get("/clock").mock(side_effect=echo_headers)
    http = VendorHTTP("acme", BASE, headers={"Authorization": f"Bearer {token}"}, policy=FAST)
    with pytest.raises(VendorError) as info:
        http.request("GET", "/clock")
    http.close()
    message = str(info.value)
    assert "HTTP 401" in message
    assert token not in message
    assert "Bearer" not in message
    assert_one_line(message)


def test_registered_token_echoed_as_json_is_not_in_message(mock: respx.MockRouter) -> None:
    token = "tok-registered-1a2b3c4d5e"
    REDACTOR.add(token)
    mock.get("/clock").mock(
        side_effect=lambda request: httpx.Response(
            403, json={"headers": {"authorization": request.headers["authorization"]}}
        )
    )
    http = VendorHTTP("acme", BASE, headers={"Authorization": f"Bearer {token}"}, policy=FAST)
    with pytest.raises(VendorError) as info:
        http.request("GET", "/clock")
    http.close()
    assert token not in str(info.value)


def test_secret_at_truncation_boundary_does_not_leak(mock: respx.MockRouter, client: VendorHTTP) -> None:
    REDACTOR.add(CANARY)
    mock.get("/leads").respond(400, text="a" * 190 + CANARY)
    with pytest.raises(VendorError) as info:
        client.request("GET", "/leads")
    assert CANARY[:10] not in str(info.value)


MULTILINE_BODY = "line one\nline two\r\n\tline three\n"


def _status(router: respx.MockRouter, status: int) -> None:
    router.route(path="/x").respond(status, text=MULTILINE_BODY)


def _raise(exc: Exception) -> Callable[[respx.MockRouter], None]:
    def setup(router: respx.MockRouter) -> None:
        router.route(path="/x").mock(side_effect=exc)

    return setup


@pytest.mark.parametrize(
    ("method", "setup", "call_json"),
    [
        ("GET", lambda r: _status(r, 400), False),
        ("POST", lambda r: _status(r, 500), False),
        ("GET", lambda r: _status(r, 503), False),
        ("POST", lambda r: _status(r, 502), False),
        ("GET", lambda r: _status(r, 200), True),
        ("GET", _raise(httpx.ConnectError("refused\nagain")), False),
        ("POST", _raise(httpx.ReadTimeout("slow\nvery")), False),
        ("GET", _raise(httpx.RemoteProtocolError("bad\nframe")), False),
    ],
    ids=["400", "post-500", "503-exhausted", "post-502", "not-json", "connect", "post-timeout", "protocol"],
)
def test_every_error_message_is_one_line(
    mock: respx.MockRouter,
    client: VendorHTTP,
    method: str,
    setup: Callable[[respx.MockRouter], None],
    call_json: bool,
) -> None:
    setup(mock)
    with pytest.raises(VendorError) as info:
        if call_json:
            client.json(method, "/x")
        else:
            client.request(method, "/x")
    assert_one_line(str(info.value))
    assert str(info.value).startswith(f"acme: {method} /x")


def test_pause_after_reads_rate_limit_headers_and_waits_capped(mock: respx.MockRouter) -> None:
    mock.get("/leads").respond(
        200, json=[], headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "99"}
    )
    slept: list[float] = []

    def pause(response: httpx.Response) -> float | None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        return float(response.headers["X-RateLimit-Reset"]) if remaining == "0" else None

    http = VendorHTTP("acme", BASE, policy=FAST, pause_after=pause)
    http._sleep = slept.append
    http.request("GET", "/leads")
    http.close()
    assert slept == [FAST.max_single_wait] and http.stats.rate_limit_pauses == 1


# --- lost answers: a read is repeated, a write is reported as "may have been applied" -------------


def test_a_read_whose_connection_drops_is_retried(
    mock: respx.MockRouter, client: VendorHTTP, slept: list[float]
) -> None:
    route = mock.get("/leads/1").mock(
        side_effect=[httpx.RemoteProtocolError("peer closed connection"), httpx.Response(200, json={})]
    )
    assert client.json("GET", "/leads/1") == {}
    assert route.call_count == 2 and client.stats.retries == 1


@pytest.mark.parametrize(
    "lost",
    [
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadTimeout("no answer"),
        httpx.Response(500),
    ],
)
def test_a_write_whose_answer_is_lost_is_not_repeated_and_says_it_may_be_applied(
    mock: respx.MockRouter, client: VendorHTTP, lost: Exception | httpx.Response
) -> None:
    route = mock.post("/leads").mock(side_effect=[lost, httpx.Response(201, json={"id": "L2"})])
    with pytest.raises(VendorError) as caught:
        client.json("POST", "/leads", json={})
    assert route.call_count == 1 and caught.value.maybe_applied
    assert_one_line(str(caught.value))


def test_a_refused_write_is_known_not_applied(mock: respx.MockRouter, client: VendorHTTP) -> None:
    mock.post("/leads").mock(return_value=httpx.Response(422, json={"error": "phone"}))
    with pytest.raises(VendorError) as caught:
        client.json("POST", "/leads", json={})
    assert not caught.value.maybe_applied


# --- writes in doubt: looked up before being sent again (poc_harness.transport.writes) ---------------------


def test_write_once_looks_up_before_sending_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from poc_harness.transport import writes

    monkeypatch.setattr(writes, "_sleep", lambda seconds: None)
    sent: list[int] = []

    def send() -> str:
        sent.append(1)
        raise VendorError("POST /tickets: HTTP 503", maybe_applied=True, status=503, retry_after=0)

    assert writes.write_once(send, lambda: "T1") == "T1" and len(sent) == 1, "found: never sent again"
    sent.clear()
    answers = iter([VendorError("HTTP 503", maybe_applied=True, status=503), None])

    def flaky() -> str:
        sent.append(1)
        error = next(answers)
        if error:
            raise error
        return "T2"

    assert writes.write_once(flaky, lambda: None) == "T2" and len(sent) == 2, "not found: sent again"
    with pytest.raises(VendorError):  # in doubt, and no way to look: raised, not repeated
        writes.write_once(send, None)
    refused = iter(
        [VendorError("HTTP 503", maybe_applied=True, status=503), VendorError("HTTP 409", status=409)]
    )

    def survey() -> bool:
        raise next(refused)

    assert writes.write_once(survey, None, refused_as_repeat=True) is True, "a 409 to the repeat: applied"
    with pytest.raises(VendorError, match="422"):  # refused outright: never in doubt, never repeated
        writes.write_once(lambda: (_ for _ in ()).throw(VendorError("HTTP 422")), lambda: "x")
