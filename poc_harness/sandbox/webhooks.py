"""The reference CRM's webhooks: subscriptions, and signed deliveries retried with backoff (tenacity).

Each event (``lead.created`` when a lead is stored) goes to every subscription that wants it as a
POST with ``X-Webhook-Id`` (the event's id, the same on every retry), ``X-Webhook-Timestamp`` (Unix
seconds, real time: it is about the transport, not the CRM's virtual clock) and
``X-Webhook-Signature: v1=<hex>``, HMAC-SHA256 with the subscription's secret over
``id.timestamp.body``.  A delivery not answered 2xx is retried with exponential backoff, a few
tens of milliseconds at first, up to ``profile.webhook_attempts`` deliveries in all.  Deliveries
run on a small thread pool, so an API call never waits for a subscriber.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, HttpUrl
from tenacity import Retrying, retry_if_exception_type, retry_if_result, stop_after_attempt, wait_exponential

from poc_harness.sandbox.engine import CRMState, NotFound
from poc_harness.sandbox.profiles import Profile

EVENTS = {"leads": "lead.created"}
DELIVERY_TIMEOUT_S = 5.0
FIRST_RETRY_S = 0.05
LONGEST_WAIT_S = 0.5


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    secret: str = Field(min_length=16)
    events: list[Literal["lead.created"]] = Field(min_length=1)


class WebhookDispatcher:
    """Turns inserts into signed deliveries to the subscriptions that want them."""

    def __init__(self, state: CRMState, profile: Profile) -> None:
        self.state = state
        self.profile = profile
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self._event_ids = itertools.count(1)
        self._subscription_ids = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox-webhooks")
        state.on_insert.append(self._inserted)

    def subscribe(self, body: SubscriptionIn) -> dict[str, Any]:
        subscription_id = f"WH{next(self._subscription_ids):06d}"
        self.subscriptions[subscription_id] = {
            "url": str(body.url),
            "secret": body.secret,
            "events": list(body.events),
        }
        return {"id": subscription_id, "url": str(body.url), "events": list(body.events)}

    def unsubscribe(self, subscription_id: str) -> None:
        if self.subscriptions.pop(subscription_id, None) is None:
            raise NotFound(f"webhooks/subscriptions/{subscription_id}")

    def _inserted(self, collection: str, record: dict[str, Any]) -> None:
        event = EVENTS.get(collection)
        if event is None:
            return
        for subscription in list(self.subscriptions.values()):
            if event in subscription["events"]:
                event_id = f"EV{next(self._event_ids):08d}"
                payload = {
                    "id": event_id,
                    "type": event,
                    "occurred_at": self.state.clock.now.isoformat(),
                    "data": record,
                }
                body = json.dumps(payload, ensure_ascii=False, default=str).encode()
                self._pool.submit(self._deliver, subscription, event_id, body)

    def _deliver(self, subscription: dict[str, Any], event_id: str, body: bytes) -> None:
        """Deliver until answered 2xx or out of attempts; the last failure is dropped, as a vendor would."""
        retrying = Retrying(
            stop=stop_after_attempt(max(1, self.profile.webhook_attempts)),
            wait=wait_exponential(multiplier=FIRST_RETRY_S, max=LONGEST_WAIT_S),
            retry=retry_if_result(lambda status: not 200 <= status < 300)
            | retry_if_exception_type(httpx.HTTPError),
            retry_error_callback=lambda _: None,
        )
        with httpx.Client(timeout=DELIVERY_TIMEOUT_S) as client:
            retrying(self._post, client, subscription, event_id, body)

    def _post(self, client: httpx.Client, subscription: dict[str, Any], event_id: str, body: bytes) -> int:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Id": event_id,
            "X-Webhook-Timestamp": timestamp,
        }
        if self.profile.webhooks_signed:
            signed = f"{event_id}.{timestamp}.".encode() + body
            digest = hmac.new(subscription["secret"].encode(), signed, hashlib.sha256).hexdigest()
            headers["X-Webhook-Signature"] = f"v1={digest}"
        return client.post(subscription["url"], content=body, headers=headers).status_code


def router(state: CRMState, profile: Profile) -> APIRouter:
    """``/webhooks/subscriptions``: subscribe (a URL, a signing secret, events) and unsubscribe."""
    dispatcher = WebhookDispatcher(state, profile)
    api = APIRouter()

    @api.post("/webhooks/subscriptions", status_code=201)
    def subscribe(body: SubscriptionIn) -> dict[str, Any]:
        with state.lock:
            return dispatcher.subscribe(body)

    @api.delete("/webhooks/subscriptions/{subscription_id}", status_code=204)
    def unsubscribe(subscription_id: str) -> Response:
        with state.lock:
            dispatcher.unsubscribe(subscription_id)
        return Response(status_code=204)

    return api
