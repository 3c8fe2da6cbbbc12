"""The one HTTP client every adapter uses: timeouts, bounded retries, one-line redacted errors.

Retries (tenacity) happen on 429, 502/503/504 and connection failures, honouring
``Retry-After`` and bounded in attempts and total wait.  A non-idempotent request
(POST, PATCH) is retried only when the vendor provably did not process it: a
connection never made, or a 429 (a rate limit refuses before processing).  Any 5xx (a 503
with ``Retry-After`` and a gateway's 502/504 too: the gateway may have passed the write on), a
read timeout or a dropped connection after a POST may have committed the write, so it is
reported instead of repeated, marked ``maybe_applied`` (with the ``Retry-After`` asked, if any):
the caller looks the record up before sending it again (``poc_harness.transport.writes``), so there are no
duplicates and nothing is lost.  Reads are also retried on read timeouts and dropped connections.

During a trial every call also reports to the installed ``OutageWatch`` (``poc_harness.transport.outage``):
once the vendor is down, calls raise ``VendorDown`` (an outage, never a defect) without being sent.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from tenacity import (
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)
from tenacity import Retrying as _Retrying

from poc_harness.errors import NoAnswer, VendorDown, VendorError, VendorUnreachable
from poc_harness.redaction import REDACTOR
from poc_harness.transport.answers import decode_json
from poc_harness.transport.outage import OutageWatch, installed, signals_down

LOG = logging.getLogger("poc_harness.transport.http")
T = TypeVar("T")
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
WRITE_RETRY_STATUSES = frozenset({429})
"""What ``VendorHTTP`` and the load probe repeat for a write: only a rate limit, which refuses before
processing (any 5xx may have applied it)."""
READ_RETRY_STATUSES = frozenset({429, 502, 503, 504})
SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-api-token", "api-key", "cookie", "proxy-authorization"}
)
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    max_total_wait: float = 60.0
    max_single_wait: float = 30.0
    initial_backoff: float = 0.5


@dataclass
class CallStats:
    """What the client did: counted for the reliability criterion."""

    calls: int = 0
    retries: int = 0
    failures: int = 0
    rate_limit_pauses: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class _Retryable(Exception):
    def __init__(self, response: httpx.Response | None, cause: Exception | None = None) -> None:
        super().__init__("retryable")
        self.response = response
        self.cause = cause


def retry_after_seconds(response: httpx.Response | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or HTTP date), if any."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000" means UTC with no zone information (RFC 5322)
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class _WaitRetryAfter:
    """tenacity wait strategy: the vendor's Retry-After when given, else exponential backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.backoff = wait_exponential(
            multiplier=policy.initial_backoff, max=policy.max_single_wait
        ) + wait_random(0, policy.initial_backoff)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc.response) if isinstance(exc, _Retryable) else None
        wait = asked if asked is not None else self.backoff(state)
        return min(wait, self.policy.max_single_wait)


class VendorHTTP:
    """A thin httpx wrapper: ``request`` returns a 2xx response or raises a one-line ``VendorError``."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        pause_after: Callable[[httpx.Response], float | None] | None = None,
        error_detail: Callable[[httpx.Response], str] | None = None,
        credential: str | None = None,
    ) -> None:
        """``pause_after`` reads a vendor's rate-limit headers (e.g. ``X-RateLimit-Remaining`` at 0) and
        returns the seconds to wait before the next call; the wait is capped by the retry policy.
        ``error_detail`` picks the readable part of the vendor's error body (default: the body itself).
        ``credential`` names what the user fixes when the vendor answers 401 (e.g. ``the token in
        HUBSPOT_TOKEN``): the message then says so (never the credential's value)."""
        self.vendor = vendor
        self.credential = credential
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        self._pause_after = pause_after
        self._error_detail = error_detail or (lambda response: response.text)
        self._sleep = time.sleep
        for name, value in (headers or {}).items():
            if name.lower() in SENSITIVE_HEADERS:
                REDACTOR.add(value)
                REDACTOR.add(value.split()[-1])
        self._client = httpx.Client(
            base_url=base_url, headers=headers or {}, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def _retrying(self) -> _Retrying:
        return _Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
            stop=stop_after_attempt(self.policy.attempts) | stop_before_delay(self.policy.max_total_wait),
            wait=_WaitRetryAfter(self.policy),
            before_sleep=self._note_retry,
            reraise=True,
        )

    def _note_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        LOG.info("%s: retrying after attempt %d", self.vendor, state.attempt_number)

    def _send_once(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        self.stats.calls += 1
        try:
            response = self._client.request(method, path, **kwargs)
        except NEVER_SENT as exc:
            raise _Retryable(None, exc) from exc
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            if method in IDEMPOTENT:  # a read timeout, a reset or a dropped connection: safe to repeat
                raise _Retryable(None, exc) from exc
            raise
        self.stats.by_status[response.status_code] = self.stats.by_status.get(response.status_code, 0) + 1
        pause = self._pause_after(response) if self._pause_after else None
        if pause and pause > 0:
            self.stats.rate_limit_pauses += 1
            self._sleep(min(pause, self.policy.max_single_wait))
        retryable = READ_RETRY_STATUSES if method in IDEMPOTENT else WRITE_RETRY_STATUSES
        if response.status_code in retryable:
            raise _Retryable(response)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A 2xx answer, or one ``VendorError`` line; in a trial, ``VendorDown`` once the vendor is down."""
        watch = installed()
        try:
            if watch is None:
                return self._request(method.upper(), path, kwargs)
            return self._watched(watch, method.upper(), path, kwargs)
        except VendorError as exc:
            if exc.maybe_applied:
                exc.on_resolved = self._resolved
            raise

    def _resolved(self) -> None:
        """A write in doubt was settled by its caller (found, or sent again): a retry, not a failure."""
        self.stats.failures -= 1
        self.stats.retries += 1

    def _watched(self, watch: OutageWatch, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        """``_request``, reporting to the trial's outage watch: no answer or a gateway error counts toward
        an outage, any other answer resets the count; once down, nothing more is sent."""
        if watch.outage is not None:
            raise VendorDown(
                f"{self.vendor}: {method} {path} not sent: the vendor is down since "
                f"{watch.outage.started_at:%H:%M:%S} UTC ({watch.outage.what})"
            )
        try:
            response = self._request(method, path, kwargs)
        except VendorError as exc:
            if not signals_down(exc):
                watch.answered()
                raise
            outage = watch.failed(str(exc), unreachable=isinstance(exc, VendorUnreachable))
            if outage is None:
                raise
            streak = f"{outage.calls} calls in a row got no answer since {outage.started_at:%H:%M:%S} UTC; "
            raise VendorDown(REDACTOR(f"{streak if outage.calls > 1 else ''}{exc}")) from None
        watch.answered()
        return response

    def _request(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        where = f"{self.vendor}: {method} {path}"
        retrying = self._retrying()
        try:
            response = retrying(self._send_once, method, path, kwargs)
        except _Retryable as exc:
            self.stats.failures += 1
            attempts = retrying.statistics.get("attempt_number", self.policy.attempts)
            if exc.response is not None:
                raise self._status_error(
                    where, exc.response, f"still failing after {attempts} attempts"
                ) from None
            cause = exc.cause.__class__.__name__ if exc.cause else "connection failed"
            if isinstance(exc.cause, httpx.TimeoutException) and not isinstance(exc.cause, NEVER_SENT):
                raise NoAnswer(
                    REDACTOR(f"{where}: no answer within the timeout ({cause}) after {attempts} attempts")
                ) from None
            if exc.cause is not None and not isinstance(exc.cause, NEVER_SENT):
                raise NoAnswer(
                    REDACTOR(f"{where}: connection dropped mid-answer ({cause}) after {attempts} attempts")
                ) from None
            raise VendorUnreachable(
                REDACTOR(
                    f"{where}: vendor unreachable at {self._client.base_url} ({cause}) "
                    f"after {attempts} attempts: check base_url and that the CRM is up"
                )
            ) from None
        except httpx.HTTPError as exc:  # a timeout or a dropped connection the policy does not retry
            self.stats.failures += 1
            kind, timed_out = exc.__class__.__name__, isinstance(exc, httpx.TimeoutException)
            what = f"timed out ({kind})" if timed_out else f"{kind}: {exc}"
            raise NoAnswer(
                REDACTOR(f"{where}: {what}; not retried: a write may have been applied"),
                maybe_applied=timed_out or method not in IDEMPOTENT,
            ) from None
        if response.status_code >= 400:
            self.stats.failures += 1
            raise self._status_error(where, response, "")
        return response

    def _status_error(self, where: str, response: httpx.Response, note: str) -> VendorError:
        body = REDACTOR(" ".join(self._error_detail(response).split()))[:200]
        suffix = f" ({note})" if note else ""
        if response.status_code == 401 and self.credential:
            suffix += f" (check {self.credential})"
        write_unknown = response.status_code >= 500 and response.request.method not in IDEMPOTENT
        if write_unknown:
            suffix += " (not repeated: the write may have been applied; look it up first)"
        return VendorError(
            REDACTOR(f"{where}: HTTP {response.status_code}{suffix}: {body}"),
            maybe_applied=write_unknown,
            status=response.status_code,
            retry_after=retry_after_seconds(response),
        )

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and decode JSON; a body that is not JSON is the vendor's fault."""
        response = self.request(method, path, **kwargs)
        try:
            return decode_json(response, self.vendor, f"{method.upper()} {path}")
        except VendorError:
            self.stats.failures += 1
            raise


def renewing_once(call: Callable[[], T], renew: Callable[[], None], expired: Sequence[str]) -> T:
    """``call()``; when it fails with a ``VendorError`` whose text shows an expired credential (any of
    ``expired``, e.g. ``"HTTP 401"``), ``renew()`` the credential and ``call()`` once more."""
    try:
        return call()
    except VendorError as exc:
        if not any(sign in str(exc) for sign in expired):
            raise
    renew()
    return call()
