"""The harness's webhook receiver: verifies each delivery's signature and tests the vendor's retries.

Served by uvicorn in a background thread (``[webhooks]`` in poc.toml says where), it answers the
*first* delivery of each event id with 500 and every later one with 200, so a vendor that retries
shows it, and records every delivery: event id, attempt, timestamp and signature headers, raw body,
and whether it verified (and why not).

Signature scheme (the reference CRM's; an adapter documents how its vendor maps to it): headers
``X-Webhook-Id``, ``X-Webhook-Timestamp`` (Unix seconds) and ``X-Webhook-Signature: v1=<hex>``
(several ``v1=`` values, space separated, during a key rotation), where ``<hex>`` is
HMAC-SHA256 with the shared secret over ``id.timestamp.raw_body``.  A delivery verifies when a
signature matches (compared with ``hmac.compare_digest``) and the timestamp is within the tolerance.
Its payload is readable only then: an unverified payload is never evidence.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from poc_harness.errors import HarnessError
from poc_harness.probes.serving import BackgroundUvicorn

ID_HEADER = "X-Webhook-Id"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300.0
MAX_BODY_BYTES = 1_000_000
PATH = "/webhooks"


class UnverifiedPayload(HarnessError):
    """Someone read the payload of a delivery that did not verify."""


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str


def signature(secret: bytes, event_id: str, timestamp: str, body: bytes) -> str:
    """The expected ``v1`` signature (hex) of one delivery."""
    message = event_id.encode() + b"." + timestamp.encode() + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    event_id: str | None,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verification:
    """Whether one delivery is authentic and fresh, and if not, why."""
    if not signature_header:
        return Verification(False, f"no {SIGNATURE_HEADER} header")
    if not event_id or not timestamp:
        return Verification(False, f"no {ID_HEADER} or {TIMESTAMP_HEADER} header")
    try:
        sent = int(timestamp)
    except ValueError:
        return Verification(False, f"{TIMESTAMP_HEADER} is not Unix seconds")
    age = now - sent
    if abs(age) > tolerance_s:
        when = f"{age:.0f} s old" if age > 0 else f"{-age:.0f} s in the future"
        return Verification(False, f"timestamp {when}, tolerance {tolerance_s:g} s")
    given = [
        value.removeprefix(f"{SCHEME}=").lower()
        for value in signature_header.replace(",", " ").split()
        if value.startswith(f"{SCHEME}=")
    ]
    if not given:
        return Verification(False, f"no {SCHEME}= signature in {SIGNATURE_HEADER}")
    wanted = signature(secret, event_id, timestamp, body)
    # every candidate is compared, in constant time, so timing says nothing about the secret
    matched = [hmac.compare_digest(wanted.encode(), value.encode()) for value in given]
    if not any(matched):
        return Verification(False, "signature does not match the shared secret")
    return Verification(True, "")


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got; ``attempt`` counts the deliveries of its event id so far."""

    event_id: str | None
    attempt: int
    received_at: datetime
    timestamp: str | None
    signature: str | None
    body: bytes
    answered: int
    verification: Verification

    @property
    def verified(self) -> bool:
        return self.verification.ok

    def payload(self) -> Any:
        """The decoded body, only for a verified delivery."""
        if not self.verified:
            raise UnverifiedPayload(f"delivery {self.event_id} did not verify: {self.verification.reason}")
        return json.loads(self.body)

    def summary(self) -> dict[str, Any]:
        """What reports and the ledger keep (never the body: it may carry personal data)."""
        return {
            "event_id": self.event_id,
            "attempt": self.attempt,
            "received_at": self.received_at.isoformat(),
            "answered": self.answered,
            "verified": self.verified,
            "reason": self.verification.reason,
        }


class WebhookReceiver:
    """``with WebhookReceiver(secret) as receiver:`` listens; ``receiver.url`` is what the vendor posts to."""

    def __init__(
        self,
        secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret.encode()
        self._tolerance_s = tolerance_s
        self._clock = clock
        self._public_url = public_url
        self._deliveries: list[Delivery] = []
        self._seen: dict[str | None, int] = {}
        self._changed = threading.Condition()
        self.app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self._server = BackgroundUvicorn(self.app, host, port, what="the webhook receiver")
        self.url = ""

    def __enter__(self) -> WebhookReceiver:
        base = self._server.__enter__()
        self.url = self._public_url or f"{base}{PATH}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    async def _receive(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("payload too large", status_code=413)
        headers = request.headers
        event_id = headers.get(ID_HEADER)
        timestamp, signed = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
        checked = verify(self._secret, event_id, timestamp, signed, body, self._clock(), self._tolerance_s)
        with self._changed:
            attempt = self._seen.get(event_id, 0) + 1
            self._seen[event_id] = attempt
            answered = 500 if attempt == 1 else 200
            self._deliveries.append(
                Delivery(event_id, attempt, datetime.now(UTC), timestamp, signed, body, answered, checked)
            )
            self._changed.notify_all()
        if answered == 500:
            return PlainTextResponse("first delivery refused on purpose: retry it", status_code=500)
        return PlainTextResponse("ok")

    def deliveries(self) -> list[Delivery]:
        with self._changed:
            return list(self._deliveries)

    def wait_for(self, done: Callable[[list[Delivery]], bool], timeout_s: float) -> list[Delivery]:
        """Every delivery so far, once ``done`` holds for them or ``timeout_s`` has passed."""
        with self._changed:
            self._changed.wait_for(lambda: done(list(self._deliveries)), timeout=timeout_s)
            return list(self._deliveries)
