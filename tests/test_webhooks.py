"""The webhook receiver: signature verification (wrong secret, stale timestamp, tampered body, constant-time
compare), its 500-then-200 answers over a real socket, the reference CRM's signed and retried deliveries,
and the webhook rules that judge the evidence."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from adapters.sandbox import SandboxAdapter, SandboxOptions
from poc_harness.config import load_config
from poc_harness.contract.adapter import CRMAdapter, WebhookEvent
from poc_harness.contract.model import Lead, LeadSource
from poc_harness.errors import ConfigError
from poc_harness.probes.webhooks import UnverifiedPayload, WebhookReceiver, verify
from poc_harness.rules import Judgement, Rule
from poc_harness.rules.integrations import webhook_names_record, webhook_retried, webhook_signed

SECRET = "s3cret-shared-with-the-vendor-0123456789"
NOW = 1_750_000_000.0
BODY = b'{"id":"EV1","type":"lead.created","data":{"id":"LE1"}}'


def _sign(secret: str, event_id: str, timestamp: str, body: bytes) -> str:
    """Computed here independently of the module under test."""
    mac = hmac.new(secret.encode(), f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def _verify(
    signature: str | None,
    body: bytes = BODY,
    timestamp: str = str(int(NOW)),
    event_id: str = "EV1",
    now: float = NOW,
) -> tuple[bool, str]:
    checked = verify(SECRET.encode(), event_id, timestamp, signature, body, now, 300)
    return checked.ok, checked.reason


def test_a_correct_signature_verifies() -> None:
    assert _verify(_sign(SECRET, "EV1", str(int(NOW)), BODY)) == (True, "")


def test_a_rotated_key_list_verifies_when_one_signature_matches() -> None:
    stamp = str(int(NOW))
    both = f"{_sign('old-secret-0123456789', 'EV1', stamp, BODY)} {_sign(SECRET, 'EV1', stamp, BODY)}"
    assert _verify(both)[0]


def test_the_wrong_secret_is_refused() -> None:
    ok, reason = _verify(_sign("another-secret-0123456789", "EV1", str(int(NOW)), BODY))
    assert not ok and "does not match" in reason


def test_a_tampered_body_is_refused() -> None:
    signature = _sign(SECRET, "EV1", str(int(NOW)), BODY)
    ok, reason = _verify(signature, body=BODY.replace(b"LE1", b"LE2"))
    assert not ok and "does not match" in reason


def test_a_changed_event_id_is_refused() -> None:
    ok, _ = _verify(_sign(SECRET, "EV1", str(int(NOW)), BODY), event_id="EV2")
    assert not ok


def test_a_stale_or_future_timestamp_is_refused_even_when_signed() -> None:
    stale = str(int(NOW) - 301)
    ok, reason = _verify(_sign(SECRET, "EV1", stale, BODY), timestamp=stale)
    assert not ok and "301 s old" in reason
    future = str(int(NOW) + 400)
    ok, reason = _verify(_sign(SECRET, "EV1", future, BODY), timestamp=future)
    assert not ok and "in the future" in reason
    fresh = str(int(NOW) - 299)
    assert _verify(_sign(SECRET, "EV1", fresh, BODY), timestamp=fresh)[0]


@pytest.mark.parametrize(
    ("signature", "timestamp", "reason"),
    [
        (None, str(int(NOW)), "no X-Webhook-Signature header"),
        ("sha256=abc", str(int(NOW)), "no v1= signature"),
        ("v1=abc", "yesterday", "not Unix seconds"),
    ],
)
def test_missing_or_malformed_headers_are_refused(signature: str | None, timestamp: str, reason: str) -> None:
    ok, why = _verify(signature, timestamp=timestamp)
    assert not ok and reason in why


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert _verify(_sign(SECRET, "EV1", str(int(NOW)), BODY))[0]
    assert not _verify("v1=" + "0" * 64)[0]
    assert len(compared) == 2


def _post(url: str, event_id: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"X-Webhook-Id": event_id, "X-Webhook-Timestamp": str(int(time.time()))}
    if signature:
        headers["X-Webhook-Signature"] = signature
    return httpx.post(url, content=body, headers=headers, timeout=5)


def test_the_receiver_refuses_each_first_delivery_and_hides_unverified_payloads() -> None:
    with WebhookReceiver(SECRET) as receiver:
        assert receiver.url.startswith("http://127.0.0.1:")
        stamp = str(int(time.time()))
        good = _sign(SECRET, "EV1", stamp, BODY)
        answers = [_post(receiver.url, "EV1", BODY, good).status_code for _ in range(2)]
        answers.append(_post(receiver.url, "EV2", BODY, "v1=" + "0" * 64).status_code)
        deliveries = receiver.deliveries()
    assert answers == [500, 200, 500]
    assert [(d.event_id, d.attempt, d.answered, d.verified) for d in deliveries] == [
        ("EV1", 1, 500, True),
        ("EV1", 2, 200, True),
        ("EV2", 1, 500, False),
    ]
    assert deliveries[0].payload()["data"]["id"] == "LE1"
    with pytest.raises(UnverifiedPayload):
        deliveries[2].payload()
    assert "body" not in deliveries[2].summary()


def test_the_webhooks_table_refuses_unknown_keys_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "poc.toml"
    config.write_text("[webhooks]\nport = 8099\npublik_url = 'https://hooks.example.com'\n")
    with pytest.raises(ConfigError, match=r"unknown key 'webhooks.publik_url'"):
        load_config(config)
    config.write_text("[webhooks]\nport = 70000\n")
    with pytest.raises(ConfigError, match=r"webhooks.port"):
        load_config(config)


def _lead() -> Lead:
    return Lead(
        key="lead-probe",
        tag="poctest",
        title="A probe lead",
        company="Acme",
        contact_name="Ann Lee",
        email="ann@example.com",
        phone="+989121234567",
        city="Tehran",
        source=LeadSource.WEBSITE,
        estimated_value=1000,
    )


@pytest.mark.parametrize(
    ("profile", "signed", "deliveries"), [("healthy", True, 2), ("unsigned_webhooks", False, 2)]
)
def test_the_reference_crm_signs_and_retries_under_the_same_id(
    profile: str, signed: bool, deliveries: int
) -> None:
    adapter = SandboxAdapter(SandboxOptions(profile=profile))
    try:
        with WebhookReceiver(SECRET) as receiver:
            subscription = adapter.subscribe_webhook(receiver.url, SECRET, [WebhookEvent.LEAD_CREATED])
            lead_id = adapter.create_lead(_lead())
            seen = receiver.wait_for(lambda got: len(got) >= deliveries, 5)
            adapter.unsubscribe_webhook(subscription)
            adapter.create_lead(_lead().model_copy(update={"key": "after"}))
            time.sleep(0.2)
            after = receiver.deliveries()
    finally:
        adapter.close()
    assert len(seen) == deliveries and len(after) == deliveries  # nothing after unsubscribing
    assert {d.event_id for d in seen} == {seen[0].event_id}
    assert [d.answered for d in seen] == [500, 200]
    assert all(d.verified is signed for d in seen)
    if signed:
        notice = adapter.webhook_notice(seen[1].payload())
        assert (notice.event, notice.record_id) == ("lead.created", lead_id)
        assert json.loads(seen[0].body) == json.loads(seen[1].body)


def _delivery(event_id: str, attempt: int, verified: bool = True, record: str = "LE1") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "attempt": attempt,
        "answered": 500 if attempt == 1 else 200,
        "verified": verified,
        "reason": "" if verified else "signature does not match the shared secret",
        "notice": {"event": "lead.created", "record_id": record} if verified else None,
    }


def _params(*deliveries: dict[str, Any]) -> dict[str, Any]:
    return {"event": "lead.created", "record_id": "LE1", "wait_s": 1.0, "deliveries": list(deliveries)}


def _judge(rule: Rule, params: dict[str, Any]) -> Judgement:
    return rule(cast(CRMAdapter, None), "LE1", params)  # the webhook rules never call the adapter


WEBHOOK_RULES = (webhook_signed, webhook_names_record, webhook_retried)


def test_the_webhook_rules_judge_only_verified_evidence() -> None:
    healthy = _params(_delivery("EV1", 1), _delivery("EV1", 2))
    assert all(_judge(rule, healthy).passed for rule in WEBHOOK_RULES)
    unsigned = _params(_delivery("EV1", 1, False), _delivery("EV1", 2, False))
    assert not any(_judge(rule, unsigned).passed for rule in WEBHOOK_RULES)
    not_retried = _judge(webhook_retried, _params(_delivery("EV1", 1)))
    assert not not_retried.passed and "no retry" in not_retried.note
    new_ids = _judge(webhook_retried, _params(_delivery("EV1", 1), _delivery("EV2", 1), _delivery("EV3", 1)))
    assert not new_ids.passed and "new event id" in new_ids.note
    assert not _judge(webhook_names_record, _params(_delivery("EV1", 1, record="LE9"))).passed
    nothing = _judge(webhook_signed, _params())
    assert not nothing.passed and "no webhook delivery" in nothing.note
