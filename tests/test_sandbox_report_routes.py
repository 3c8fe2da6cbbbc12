"""The reference CRM's period reports: each answers over ``[from, to)`` for one run's tag, behind
the token."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from poc_harness.sandbox.app import create_app

TOKEN = "report-token"
PERIOD_REPORTS = ("conversion", "first-response", "sla-compliance", "forecast")


@pytest.fixture
def crm() -> TestClient:
    client = TestClient(create_app(token=TOKEN))
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


def test_the_conversion_report_counts_only_the_tagged_leads_of_the_period(crm: TestClient) -> None:
    lead = {
        "title": "Report lead",
        "company": "Acme",
        "contact_name": "Sara Ahmadi",
        "email": "sara@example.com",
        "phone": "+982100000000",
        "city": "Tehran",
        "source": "website",
        "estimated_value": 1000,
        "tag": "run-a",
    }
    assert crm.post("/leads", json=lead).status_code == 201
    at = datetime.fromisoformat(crm.get("/leads", params={"tag": "run-a"}).json()[0]["created_at"])
    inside = {"from": (at - timedelta(hours=1)).isoformat(), "to": (at + timedelta(hours=1)).isoformat()}
    after = {"from": (at + timedelta(hours=1)).isoformat(), "to": (at + timedelta(hours=2)).isoformat()}
    assert crm.get("/reports/conversion", params={**inside, "tag": "run-a"}).json()["leads"] == 1
    assert crm.get("/reports/conversion", params={**inside, "tag": "run-b"}).json()["leads"] == 0
    assert crm.get("/reports/conversion", params={**after, "tag": "run-a"}).json()["leads"] == 0


@pytest.mark.parametrize("name", PERIOD_REPORTS)
def test_every_period_report_wants_the_token_and_its_period(crm: TestClient, name: str) -> None:
    period = {"from": "2026-01-01T00:00:00+00:00", "to": "2026-02-01T00:00:00+00:00"}
    assert crm.get(f"/reports/{name}", params=period).status_code == 200
    assert crm.get(f"/reports/{name}", params={"to": period["to"]}).status_code == 422
    wrong = {"Authorization": "Bearer wrong"}
    assert crm.get(f"/reports/{name}", params=period, headers=wrong).status_code == 401
