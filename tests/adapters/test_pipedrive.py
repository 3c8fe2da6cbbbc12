"""Contract tests of the Pipedrive adapter against respx mocks shaped like Pipedrive's documented payloads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
import tenacity.nap

from adapters.pipedrive import PipedriveAdapter, rate_limit_pause
from poc_harness.contract.adapter import RecordKind
from poc_harness.contract.model import Account, Activity, ActivityKind, Contact, DealStage, Lead, LeadSource
from poc_harness.errors import CapabilityMissing, ConfigError, NotImplementedByAdapter, VendorError
from poc_harness.testing import AdapterConformance, Exchange, answering
from poc_harness.testing.exchange import Install
from tests.adapters.samples import CONTACT, call

BASE = "https://acme.pipedrive.test"
TOKEN = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
TAG = "poc20250301120000ab12"
ME = 111
LEAD_ID = "adf21080-0e10-11eb-879b-05d71fb426ec"
CONVERSION_ID = "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8"
KEYS = {
    "personFields": "1f5cf8b1d2b7a3c4e5f60718293a4b5c6d7e8f90",
    "organizationFields": "2a6bf8b1d2b7a3c4e5f60718293a4b5c6d7e8f91",
    "dealFields": "3b7cf8b1d2b7a3c4e5f60718293a4b5c6d7e8f92",
}
STAGES = [(1, "Qualified"), (2, "Contact Made"), (3, "Proposal Made"), (4, "Negotiations Started")]
V1 = "/api/v1"
ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."


# --- payloads in Pipedrive's shapes ---------------------------------------------------------


def ok(data: Any, **additional: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "additional_data": additional or None}


def cursor_page(items: list[Any], next_cursor: str | None = None) -> dict[str, Any]:
    return {"success": True, "data": items, "additional_data": {"next_cursor": next_cursor}}


def offset_page(items: list[Any], start: int, more: bool) -> dict[str, Any]:
    pagination = {"start": start, "limit": 100, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + 100
    return {"success": True, "data": items, "additional_data": {"pagination": pagination}}


def pipedrive_error(status: int, error: str, **extra: Any) -> httpx.Response:
    body = {"success": False, "error": error, "error_info": ERROR_INFO, "data": None, "additional_data": None}
    return httpx.Response(status, json={**body, **extra})


def v1_lead(**fields: Any) -> dict[str, Any]:
    return {
        "id": LEAD_ID,
        "title": "ERP rollout for Pars",
        "owner_id": 222,
        "creator_id": ME,
        "label_ids": [],
        "person_id": 12,
        "organization_id": None,
        "source_name": "API",
        "origin": "API",
        "is_archived": False,
        "was_seen": False,
        "value": {"amount": 25000, "currency": "USD"},
        "expected_close_date": None,
        "next_activity_id": None,
        "add_time": "2025-03-01T12:00:00.000Z",
        "update_time": "2025-03-01T12:00:00.000Z",
        "visible_to": "3",
        KEYS["dealFields"]: TAG,
        **fields,
    }


def activity(
    activity_id: int, creator: int, due_date: str, due_time: str | None, **fields: Any
) -> dict[str, Any]:
    return {
        "id": activity_id,
        "subject": f"Follow up {activity_id}",
        "type": "task",
        "owner_id": 222,
        "creator_user_id": creator,
        "is_deleted": False,
        "add_time": "2025-03-01T12:00:01Z",
        "update_time": "2025-03-01T12:00:01Z",
        "deal_id": None,
        "lead_id": LEAD_ID,
        "person_id": 12,
        "org_id": None,
        "due_date": due_date,
        "due_time": due_time,
        "duration": None,
        "busy": False,
        "done": False,
        **fields,
    }


def change(field: str, old: str | None, new: str, at: str) -> dict[str, Any]:
    return {
        "field_key": field,
        "old_value": old,
        "new_value": new,
        "actor_user_id": ME,
        "time": at,
        "change_source": "api",
        "change_source_user_agent": "python-httpx",
        "is_bulk_update_flag": False,
    }


def sent(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=recorded.append))
    return recorded


def build(monkeypatch: pytest.MonkeyPatch, **options: Any) -> PipedriveAdapter:
    monkeypatch.setenv("PIPEDRIVE_TEST_TOKEN", TOKEN)
    table = {"token_env": "PIPEDRIVE_TEST_TOKEN", "base_url": BASE, **options}
    built = PipedriveAdapter.from_table("pipedrive", table)
    assert isinstance(built, PipedriveAdapter)
    return built


@pytest.fixture
def adapter(monkeypatch: pytest.MonkeyPatch) -> Iterator[PipedriveAdapter]:
    built = build(monkeypatch)
    yield built
    built.close()


@pytest.fixture
def pauses(adapter: PipedriveAdapter) -> list[float]:
    recorded: list[float] = []
    adapter.http._sleep = recorded.append
    return recorded


@pytest.fixture
def polls(adapter: PipedriveAdapter) -> list[float]:
    recorded: list[float] = []
    adapter._sleep = recorded.append
    return recorded


@pytest.fixture
def me(mock: respx.MockRouter) -> respx.Route:
    return install_me(mock)


def install_me(router: respx.MockRouter) -> respx.Route:
    """The token's own user (what tells the harness's writes from the CRM's automation)."""
    user = {
        "id": ME,
        "name": "PoC integration",
        "email": "poc@acme.example",
        "company_id": 9,
        "company_name": "Acme",
        "company_domain": "acme",
        "active_flag": True,
        "is_admin": 0,
    }
    return router.get("/api/v1/users/me").respond(200, json=ok(user))


def install_fields(router: respx.MockRouter) -> dict[str, respx.Route]:
    """The custom-field listings, each holding the PoC tag field."""
    routes = {}
    for listing, key in KEYS.items():
        items = [
            {"id": 1, "key": "name", "name": "Name", "field_type": "varchar"},
            {"id": 9050, "key": key, "name": "PoC tag", "field_type": "varchar"},
        ]
        routes[listing] = router.get(f"/api/v1/{listing}").respond(200, json=offset_page(items, 0, False))
    return routes


@pytest.fixture
def fields(mock: respx.MockRouter) -> dict[str, respx.Route]:
    return install_fields(mock)


@pytest.fixture
def stages(mock: respx.MockRouter) -> respx.Route:
    return install_stages(mock)


def install_stages(router: respx.MockRouter) -> respx.Route:
    """The pipelines and the stages of the first one (by order)."""
    pipelines = [{"id": 7, "name": "Renewals", "order_nr": 2}, {"id": 1, "name": "Sales", "order_nr": 1}]
    router.get("/api/v2/pipelines").respond(200, json=cursor_page(pipelines))
    items = [
        {"id": i, "name": name, "pipeline_id": 1, "order_nr": i, "deal_probability": 100}
        for i, name in STAGES
    ]
    return router.get("/api/v2/stages").respond(200, json=cursor_page(items))


def account() -> Account:
    return Account(
        key="acc-1", tag=TAG, name="Pars Trading", industry="Retail", city="Tehran", phone="+982112345678"
    )


def lead() -> Lead:
    return Lead(
        key="lead-1",
        tag=TAG,
        title="ERP rollout for Pars",
        company="Pars Trading",
        contact_name="Reza Karimi",
        email="reza@pars.example",
        phone="+989351234567",
        city="Shiraz",
        source=LeadSource.REFERRAL,
        estimated_value=25000,
    )


@pytest.fixture
def converted(
    mock: respx.MockRouter, adapter: PipedriveAdapter, fields: Any, stages: respx.Route, polls: list[float]
) -> dict[str, respx.Route]:
    """A lead converted to deal 9001 through the convert endpoint (one 'running' status, then done)."""
    routes = {
        "lead": mock.get(f"/api/v1/leads/{LEAD_ID}").respond(200, json=ok(v1_lead())),
        "convert": mock.post(f"/api/v2/leads/{LEAD_ID}/convert/deal").respond(
            200, json=ok({"conversion_id": CONVERSION_ID})
        ),
        "status": mock.get(f"/api/v2/leads/{LEAD_ID}/convert/status/{CONVERSION_ID}").mock(
            side_effect=[
                httpx.Response(200, json=ok({"conversion_id": CONVERSION_ID, "status": "running"})),
                *[
                    httpx.Response(
                        200,
                        json=ok(
                            {
                                "conversion_id": CONVERSION_ID,
                                "status": "completed",
                                "lead_id": LEAD_ID,
                                "deal_id": 9001,
                            }
                        ),
                    )
                    for _ in range(5)
                ],
            ]
        ),
        "patch": mock.patch("/api/v2/deals/9001").respond(200, json=ok({"id": 9001})),
    }
    assert adapter.convert_lead(LEAD_ID, 25000, datetime(2025, 3, 11, 12, tzinfo=UTC)) == "9001"
    return routes


# --- authentication and errors ------------------------------------------------------------


def test_401_sends_the_token_header_only_and_never_shows_it(
    mock: respx.MockRouter, adapter: PipedriveAdapter
) -> None:
    route = mock.get("/api/v1/users/me").mock(
        return_value=pipedrive_error(401, "unauthorized access", errorCode=401)
    )
    with pytest.raises(VendorError) as caught:
        adapter.check_connection()
    request = route.calls[0].request
    assert request.headers["x-api-token"] == TOKEN
    assert "api_token" not in request.url.params
    assert TOKEN not in str(request.url)
    message = str(caught.value)
    assert message.startswith("pipedrive: GET /api/v1/users/me: HTTP 401")
    assert "unauthorized access" in message
    assert TOKEN not in message
    assert "\n" not in message


def test_400_validation_error_is_one_line_naming_the_call(
    mock: respx.MockRouter, adapter: PipedriveAdapter, fields: Any
) -> None:
    mock.post("/api/v2/organizations").mock(
        return_value=pipedrive_error(
            400,
            "Validation failed: name: Parameter 'name' must be a string",
            code="ERR_SCHEMA_VALIDATION_FAILED",
        )
    )
    with pytest.raises(VendorError) as caught:
        adapter.create_account(account())
    message = str(caught.value)
    assert message.startswith("pipedrive: POST /api/v2/organizations: HTTP 400")
    assert "Validation failed: name" in message
    assert "\n" not in message and TOKEN not in message


def test_check_connection_pages_v1_fields_and_needs_the_tag_field(
    mock: respx.MockRouter, adapter: PipedriveAdapter, me: respx.Route
) -> None:
    persons = mock.get("/api/v1/personFields").mock(
        side_effect=[
            httpx.Response(200, json=offset_page([{"id": 1, "key": "name", "name": "Name"}], 0, True)),
            httpx.Response(
                200, json=offset_page([{"id": 2, "key": KEYS["personFields"], "name": "PoC tag"}], 100, False)
            ),
        ]
    )
    mock.get("/api/v1/organizationFields").respond(
        200, json=offset_page([{"id": 3, "key": KEYS["organizationFields"], "name": "PoC tag"}], 0, False)
    )
    mock.get("/api/v1/dealFields").respond(
        200, json=offset_page([{"id": 4, "key": "title", "name": "Title"}], 0, False)
    )
    with pytest.raises(ConfigError, match="no custom field named 'PoC tag' in dealFields"):
        adapter.check_connection()
    assert [call.request.url.params["start"] for call in persons.calls] == ["0", "100"]


def test_check_connection_answers_with_company_and_user(
    mock: respx.MockRouter, adapter: PipedriveAdapter, me: respx.Route, fields: Any
) -> None:
    assert adapter.check_connection() == "Pipedrive company 'Acme' as user 111, tag field present"


def test_v1_path_follows_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build(monkeypatch, base_url="https://api.pipedrive.com").v1 == "/v1"
    company = build(monkeypatch, company_domain="acme")
    assert company.v1 == "/api/v1"
    assert str(company.http._client.base_url) == "https://acme.pipedrive.com"


# --- seeding ------------------------------------------------------------------------------


def test_create_account_sends_organization_fields(
    mock: respx.MockRouter, adapter: PipedriveAdapter, fields: Any
) -> None:
    route = mock.post("/api/v2/organizations").respond(200, json=ok({"id": 5, "name": "Pars Trading"}))
    assert adapter.create_account(account()) == "5"
    assert sent(route) == {
        "name": "Pars Trading",
        "address": {"value": "Tehran"},
        "custom_fields": {KEYS["organizationFields"]: TAG},
    }


def test_create_contact_sends_person_fields(
    mock: respx.MockRouter, adapter: PipedriveAdapter, fields: Any
) -> None:
    route = mock.post("/api/v2/persons").respond(200, json=ok({"id": 12}))
    contact = Contact(
        key="c-1",
        tag=TAG,
        first_name="Sara",
        last_name="Ahmadi",
        email="sara@pars.example",
        phone="+989121234567",
        account_key="acc-1",
    )
    assert adapter.create_contact(contact, "5") == "12"
    assert sent(route) == {
        "name": "Sara Ahmadi",
        "emails": [{"value": "sara@pars.example", "primary": True, "label": "work"}],
        "phones": [{"value": "+989121234567", "primary": True, "label": "work"}],
        "custom_fields": {KEYS["personFields"]: TAG},
        "org_id": 5,
    }


def test_create_lead_creates_its_person_then_a_v1_lead(
    mock: respx.MockRouter, adapter: PipedriveAdapter, fields: Any
) -> None:
    persons = mock.post("/api/v2/persons").respond(200, json=ok({"id": 12}))
    leads = mock.post("/api/v1/leads").respond(201, json=ok(v1_lead()))
    assert adapter.create_lead(lead()) == LEAD_ID
    person = sent(persons)
    assert person["name"] == "Reza Karimi"
    assert person["emails"][0]["value"] == "reza@pars.example"
    assert "org_id" not in person
    assert sent(leads) == {
        "title": "ERP rollout for Pars",
        "person_id": 12,
        "value": {"amount": 25000, "currency": "USD"},
        KEYS["dealFields"]: TAG,
    }


def test_backdated_lead_is_not_measured_without_any_call(
    mock: respx.MockRouter, adapter: PipedriveAdapter
) -> None:
    with pytest.raises(NotImplementedByAdapter, match="the pipedrive adapter does not implement backdating"):
        adapter.create_lead(lead(), arrived_at=datetime(2025, 2, 1, tzinfo=UTC))
    assert not mock.calls


def test_get_lead_reads_owner_and_creation(mock: respx.MockRouter, adapter: PipedriveAdapter) -> None:
    mock.get(f"/api/v1/leads/{LEAD_ID}").respond(200, json=ok(v1_lead()))
    view = adapter.get_lead(LEAD_ID)
    assert (view.vendor_id, view.owner_id, view.status) == (LEAD_ID, "222", "open")
    assert view.created_at == datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_sales_reps_exclude_the_token_user_and_inactive_users(
    mock: respx.MockRouter, adapter: PipedriveAdapter, me: respx.Route
) -> None:
    users = [
        {"id": ME, "active_flag": True},
        {"id": 222, "active_flag": True},
        {"id": 333, "active_flag": False},
        {"id": 444, "active_flag": True},
    ]
    mock.get("/api/v1/users").respond(200, json=ok(users))
    assert adapter.list_sales_reps() == ["222", "444"]


# --- activities and follow-ups ------------------------------------------------------------


def test_log_call_sends_a_done_activity_on_the_lead(
    mock: respx.MockRouter, adapter: PipedriveAdapter
) -> None:
    route = mock.post("/api/v2/activities").respond(200, json=ok({"id": 501}))
    at = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
    done = Activity(kind=ActivityKind.CALL, subject=f"Discovery [{TAG}]", user_id="222", at=at)
    assert adapter.log_activity(LEAD_ID, done) == "501"
    assert sent(route) == {
        "subject": f"Discovery [{TAG}]",
        "type": "call",
        "done": True,
        "due_date": "2025-03-03",
        "due_time": "09:30",
        "lead_id": LEAD_ID,
        "owner_id": 222,
    }


def test_log_note_uses_v1_notes(mock: respx.MockRouter, adapter: PipedriveAdapter) -> None:
    route = mock.post("/api/v1/notes").respond(200, json=ok({"id": 77, "content": "x"}))
    assert adapter.log_activity(LEAD_ID, Activity(kind=ActivityKind.NOTE, subject="Met at fair")) == "note:77"
    assert sent(route) == {"content": "Met at fair", "lead_id": LEAD_ID}


def test_lead_tasks_follow_cursor_pages_and_flag_automation(
    mock: respx.MockRouter, adapter: PipedriveAdapter, me: respx.Route
) -> None:
    route = mock.get("/api/v2/activities").mock(
        side_effect=[
            httpx.Response(200, json=cursor_page([activity(1, 999, "2025-03-03", "12:00")], "eyJpZCI6Mn0")),
            httpx.Response(
                200,
                json=cursor_page(
                    [activity(2, 999, "2025-03-06", None), activity(3, ME, "2025-03-04", "08:00")]
                ),
            ),
        ]
    )
    tasks = adapter.lead_tasks(LEAD_ID)
    assert [call.request.url.params.get("cursor") for call in route.calls] == [None, "eyJpZCI6Mn0"]
    assert route.calls[0].request.url.params["lead_id"] == LEAD_ID
    assert [(t.vendor_id, t.automatic) for t in tasks] == [("1", True), ("2", True), ("3", False)]
    assert tasks[0].due_at == datetime(2025, 3, 3, 12, tzinfo=UTC)
    assert tasks[1].due_at == datetime(2025, 3, 6, tzinfo=UTC)


def test_complete_task_marks_the_activity_done(mock: respx.MockRouter, adapter: PipedriveAdapter) -> None:
    route = mock.patch("/api/v2/activities/1").respond(200, json=ok({"id": 1, "done": True}))
    adapter.complete_task("1", "222")
    assert sent(route) == {"done": True}


# --- conversion and deals -----------------------------------------------------------------


def test_convert_lead_uses_the_convert_endpoint_and_polls_its_status(
    converted: dict[str, respx.Route], polls: list[float]
) -> None:
    assert sent(converted["convert"]) == {"stage_id": 1}
    assert converted["status"].call_count == 2
    assert polls == [1.0]
    assert sent(converted["patch"]) == {
        "value": 25000,
        "currency": "USD",
        "expected_close_date": "2025-03-11",
        "custom_fields": {KEYS["dealFields"]: TAG},
    }


def test_a_converted_lead_reads_as_converted_and_its_activities_go_to_the_deal(
    mock: respx.MockRouter, adapter: PipedriveAdapter, converted: dict[str, respx.Route]
) -> None:
    assert adapter.get_lead(LEAD_ID).status == "converted"
    route = mock.post("/api/v2/activities").respond(200, json=ok({"id": 502}))
    adapter.log_activity(LEAD_ID, Activity(kind=ActivityKind.MEETING, subject="Kick-off"))
    assert sent(route)["deal_id"] == 9001
    assert "lead_id" not in sent(route)


def test_failed_conversion_is_a_vendor_error(
    mock: respx.MockRouter, adapter: PipedriveAdapter, fields: Any, stages: respx.Route, polls: list[float]
) -> None:
    mock.get(f"/api/v1/leads/{LEAD_ID}").respond(200, json=ok(v1_lead()))
    mock.post(f"/api/v2/leads/{LEAD_ID}/convert/deal").respond(200, json=ok({"conversion_id": CONVERSION_ID}))
    mock.get(f"/api/v2/leads/{LEAD_ID}/convert/status/{CONVERSION_ID}").respond(
        200, json=ok({"conversion_id": CONVERSION_ID, "status": "failed"})
    )
    with pytest.raises(VendorError, match=f"converting lead {LEAD_ID} to a deal failed"):
        adapter.convert_lead(LEAD_ID, 25000)


def test_move_deal_sets_stage_or_status(
    mock: respx.MockRouter, adapter: PipedriveAdapter, stages: respx.Route
) -> None:
    route = mock.patch("/api/v2/deals/9001").respond(200, json=ok({"id": 9001}))
    adapter.move_deal("9001", DealStage.NEGOTIATION)
    adapter.move_deal("9001", DealStage.WON)
    assert [sent(route, 0), sent(route, 1)] == [{"stage_id": 4}, {"status": "won"}]
    assert stages.calls[0].request.url.params["pipeline_id"] == "1"  # the first pipeline by order


def test_get_deal_builds_history_from_the_changelog_pages(
    mock: respx.MockRouter, adapter: PipedriveAdapter, converted: dict[str, respx.Route]
) -> None:
    deal = {
        "id": 9001,
        "title": "ERP rollout for Pars",
        "stage_id": 4,
        "status": "won",
        "value": 25000.0,
        "currency": "USD",
        "add_time": "2025-03-01T12:00:00Z",
        "pipeline_id": 1,
        "person_id": 12,
    }
    mock.get("/api/v2/deals/9001").respond(200, json=ok(deal))
    log = mock.get("/api/v1/deals/9001/changelog").mock(
        side_effect=[
            httpx.Response(
                200,
                json=cursor_page(
                    [
                        change("status", "open", "won", "2025-03-01 12:03:00"),
                        change("value", "0", "25000", "2025-03-01 12:00:05"),
                    ],
                    "eyJjIjoyfQ",
                ),
            ),
            httpx.Response(
                200,
                json=cursor_page(
                    [
                        change("stage_id", "3", "4", "2025-03-01 12:02:00"),
                        change("stage_id", "1", "3", "2025-03-01 12:01:00"),
                    ]
                ),
            ),
        ]
    )
    view = adapter.get_deal("9001")
    assert log.calls[1].request.url.params["cursor"] == "eyJjIjoyfQ"
    assert [(c.stage, c.at.minute) for c in view.history] == [
        (DealStage.QUALIFICATION, 0),
        (DealStage.PROPOSAL, 1),
        (DealStage.NEGOTIATION, 2),
        (DealStage.WON, 3),
    ]
    assert (view.stage, view.amount, view.lead_id) == (DealStage.WON, 25000, LEAD_ID)


def test_get_deal_not_converted_here_has_no_lead_link(
    mock: respx.MockRouter, adapter: PipedriveAdapter, stages: respx.Route
) -> None:
    deal = {"id": 42, "stage_id": 1, "status": "open", "value": 10.0, "add_time": "2025-03-01T12:00:00Z"}
    mock.get("/api/v2/deals/42").respond(200, json=ok(deal))
    mock.get("/api/v1/deals/42/changelog").respond(200, json=cursor_page([]))
    view = adapter.get_deal("42")
    assert (view.lead_id, view.stage, [c.stage for c in view.history]) == (
        None,
        DealStage.QUALIFICATION,
        [DealStage.QUALIFICATION],
    )


def test_a_stage_name_missing_from_the_pipeline_is_a_config_error(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, stages: respx.Route
) -> None:
    wrong = build(monkeypatch, deal_stages={"proposal": "Quote sent"})
    with pytest.raises(ConfigError, match="'Quote sent' is not a stage of pipeline 1"):
        wrong.move_deal("9001", DealStage.PROPOSAL)


# --- tags and cleanup ---------------------------------------------------------------------


def search_hit(item_id: Any) -> dict[str, Any]:
    return {"result_score": 1.0, "item": {"id": item_id, "type": "person", "name": "x"}}


def test_find_tagged_searches_custom_fields_over_cursor_pages(
    mock: respx.MockRouter, adapter: PipedriveAdapter
) -> None:
    route = mock.get("/api/v2/persons/search").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "success": True,
                    "data": {"items": [search_hit(12), search_hit(13)]},
                    "additional_data": {"next_cursor": "c2"},
                },
            ),
            httpx.Response(
                200,
                json={
                    "success": True,
                    "data": {"items": [search_hit(14)]},
                    "additional_data": {"next_cursor": None},
                },
            ),
        ]
    )
    assert adapter.find_tagged(RecordKind.CONTACT, TAG) == ["12", "13", "14"]
    params = route.calls[0].request.url.params
    assert (params["term"], params["fields"], params["exact_match"]) == (TAG, "custom_fields", "true")
    assert route.calls[1].request.url.params["cursor"] == "c2"


def test_find_tagged_activities_cover_leads_and_deals(
    mock: respx.MockRouter, adapter: PipedriveAdapter
) -> None:
    mock.get("/api/v2/leads/search").respond(
        200, json={"success": True, "data": {"items": [search_hit(LEAD_ID)]}}
    )
    mock.get("/api/v2/deals/search").respond(
        200, json={"success": True, "data": {"items": [search_hit(9001)]}}
    )
    activities = mock.get("/api/v2/activities").mock(
        side_effect=[
            httpx.Response(200, json=cursor_page([{"id": 501}])),
            httpx.Response(200, json=cursor_page([{"id": 502}])),
        ]
    )
    mock.get("/api/v1/notes").mock(
        side_effect=[
            httpx.Response(200, json=offset_page([{"id": 77}], 0, False)),
            httpx.Response(200, json=offset_page([], 0, False)),
        ]
    )
    assert adapter.find_tagged(RecordKind.ACTIVITY, TAG) == ["501", "note:77", "502"]
    assert activities.calls[1].request.url.params["deal_id"] == "9001"
    assert adapter.find_tagged(RecordKind.TICKET, TAG) == []


def test_delete_lead_also_deletes_its_tagged_person(
    mock: respx.MockRouter, adapter: PipedriveAdapter, fields: Any
) -> None:
    mock.get(f"/api/v1/leads/{LEAD_ID}").respond(200, json=ok(v1_lead()))
    lead_route = mock.delete(f"/api/v1/leads/{LEAD_ID}").respond(200, json=ok({"id": LEAD_ID}))
    mock.get("/api/v2/persons/12").respond(
        200, json=ok({"id": 12, "custom_fields": {KEYS["personFields"]: TAG}})
    )
    person_route = mock.delete("/api/v2/persons/12").respond(200, json=ok({"id": 12}))
    assert adapter.delete(RecordKind.LEAD, LEAD_ID) is True
    assert lead_route.called and person_route.called


def test_delete_notes_activities_and_gone_records(mock: respx.MockRouter, adapter: PipedriveAdapter) -> None:
    note = mock.delete("/api/v1/notes/77").respond(200, json=ok(True))
    act = mock.delete("/api/v2/activities/501").respond(200, json=ok({"id": 501}))
    mock.delete("/api/v2/organizations/5").mock(return_value=pipedrive_error(404, "Organization not found"))
    assert adapter.delete(RecordKind.ACTIVITY, "note:77") is True
    assert adapter.delete(RecordKind.ACTIVITY, "501") is True
    assert adapter.delete(RecordKind.ACCOUNT, "5") is False
    assert note.called and act.called
    with pytest.raises(CapabilityMissing, match="tickets"):
        adapter.delete(RecordKind.TICKET, "1")


# --- rate limits --------------------------------------------------------------------------


def test_429_with_pipedrive_headers_is_retried_then_succeeds(
    mock: respx.MockRouter, adapter: PipedriveAdapter, waits: list[float], pauses: list[float]
) -> None:
    limited = httpx.Response(
        429,
        headers={
            "x-ratelimit-limit": "40",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": "2",
            "Retry-After": "2",
        },
        json={"success": False, "error": "Request over limit", "errorCode": 429, "error_info": ERROR_INFO},
    )
    good = httpx.Response(
        200,
        headers={"x-ratelimit-limit": "40", "x-ratelimit-remaining": "39", "x-ratelimit-reset": "2"},
        json=ok([{"id": 222, "active_flag": True}]),
    )
    route = mock.get("/api/v1/users").mock(side_effect=[limited, good])
    mock.get("/api/v1/users/me").respond(200, json=ok({"id": ME}))
    assert adapter.list_sales_reps() == ["222"]
    assert route.call_count == 2
    assert waits == [2.0]
    assert pauses == [2.0]  # the 429 also said none was left in the window
    assert adapter.http.stats.retries == 1


def test_remaining_zero_pauses_until_the_window_resets(
    mock: respx.MockRouter, adapter: PipedriveAdapter, pauses: list[float]
) -> None:
    mock.get(f"/api/v1/leads/{LEAD_ID}").respond(
        200,
        headers={"x-ratelimit-limit": "40", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1.5"},
        json=ok(v1_lead()),
    )
    adapter.get_lead(LEAD_ID)
    assert pauses == [1.5]
    assert adapter.http.stats.rate_limit_pauses == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-ratelimit-remaining": "3", "x-ratelimit-reset": "2"}, None),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"}, 2.0),
        ({"x-ratelimit-remaining": "0"}, 2.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "-1"}, 0.0),
        ({"x-ratelimit-remaining": "?"}, None),
        ({}, None),
    ],
)
def test_rate_limit_pause_reads_the_documented_headers(
    headers: dict[str, str], expected: float | None
) -> None:
    assert rate_limit_pause(httpx.Response(200, headers=headers)) == expected


# --- the shipped conformance suite ----------------------------------------------------------------


class TestPipedriveConformance(AdapterConformance):
    secrets = (TOKEN,)
    credential = "PIPEDRIVE_TEST_TOKEN"
    adapter_class = PipedriveAdapter

    @pytest.fixture
    def router(self, mock: respx.MockRouter) -> respx.MockRouter:
        return mock

    @pytest.fixture
    def exchanges(self) -> dict[str, Exchange]:
        search = {"success": True, "data": {"items": [search_hit(12)]}}
        done = ok({"id": 1, "done": True})
        return {
            "create_account": Exchange((account(),), _with_fields(_created("organizations"))),
            "create_contact": Exchange((CONTACT, "5"), _with_fields(_created("persons"))),
            "create_lead": Exchange((lead(),), _with_fields(_new_lead)),
            "get_lead": Exchange((LEAD_ID,), answering("GET", f"{V1}/leads/{LEAD_ID}", json=ok(v1_lead()))),
            "find_tagged": Exchange(
                (RecordKind.CONTACT, TAG), answering("GET", "/api/v2/persons/search", json=search)
            ),
            "delete": Exchange((RecordKind.LEAD, LEAD_ID), _with_fields(_deleted_lead)),
            "log_activity": Exchange(
                (LEAD_ID, call("222")), answering("POST", "/api/v2/activities", json=ok({"id": 5}))
            ),
            "list_sales_reps": Exchange((), _after(install_me, _users)),
            "lead_tasks": Exchange((LEAD_ID,), _after(install_me, _tasks)),
            "complete_task": Exchange(("1", None), answering("PATCH", "/api/v2/activities/1", json=done)),
            "move_deal": Exchange(("9001", DealStage.NEGOTIATION), _after(install_stages, _moved)),
            "convert_lead": Exchange((LEAD_ID, 25000), _with_fields(_after(install_stages, _conversion))),
            "get_deal": Exchange(("9001",), _after(install_stages, _deal)),
        }


def _after(first: Install, then: Install) -> Install:
    """``then`` after ``first`` (what the adapter reads once before, e.g. its own user or the stages)."""

    def both(router: respx.MockRouter) -> None:
        first(router)
        then(router)

    return both


def _with_fields(install: Install) -> Install:
    """``install`` after the custom-field listings (read before the first write)."""
    return _after(install_fields, install)


def _users(router: respx.MockRouter) -> None:
    users = [{"id": ME, "active_flag": True}, {"id": 222, "active_flag": True}]
    router.get("/api/v1/users").respond(200, json=ok(users))


def _tasks(router: respx.MockRouter) -> None:
    router.get("/api/v2/activities").respond(200, json=cursor_page([activity(1, 999, "2025-03-03", "12:00")]))


def _conversion(router: respx.MockRouter) -> None:
    """The lead (tagged), the convert job, its status (completed) and the new deal's value and tag."""
    done = {"conversion_id": CONVERSION_ID, "status": "completed", "lead_id": LEAD_ID, "deal_id": 9001}
    router.get(f"{V1}/leads/{LEAD_ID}").respond(200, json=ok(v1_lead(**{KEYS["dealFields"]: TAG})))
    started = ok({"conversion_id": CONVERSION_ID})
    router.post(f"/api/v2/leads/{LEAD_ID}/convert/deal").respond(200, json=started)
    router.get(f"/api/v2/leads/{LEAD_ID}/convert/status/{CONVERSION_ID}").respond(200, json=ok(done))
    _moved(router)


def _deal(router: respx.MockRouter) -> None:
    """A won deal of the first pipeline and its changelog (one page)."""
    deal = {"id": 9001, "stage_id": 4, "status": "won", "value": 25000.0, "add_time": "2025-03-01T12:00:00Z"}
    moves = [
        change("stage_id", "1", "4", "2025-03-01 12:02:00"),
        change("status", "open", "won", "2025-03-01 12:03:00"),
    ]
    router.get("/api/v2/deals/9001").respond(200, json=ok(deal))
    router.get(f"{V1}/deals/9001/changelog").respond(200, json=cursor_page(moves))


def _moved(router: respx.MockRouter) -> None:
    router.patch("/api/v2/deals/9001").respond(200, json=ok({"id": 9001}))


def _created(collection: str) -> Install:
    return answering("POST", f"/api/v2/{collection}", json=ok({"id": 12}))


def _new_lead(router: respx.MockRouter) -> None:
    router.post("/api/v2/persons").respond(200, json=ok({"id": 12}))
    router.post("/api/v1/leads").respond(201, json=ok(v1_lead()))


def _deleted_lead(router: respx.MockRouter) -> None:
    tagged = ok({"id": 12, "custom_fields": {KEYS["personFields"]: TAG}})
    router.get(f"/api/v1/leads/{LEAD_ID}").respond(200, json=ok(v1_lead()))
    router.delete(f"/api/v1/leads/{LEAD_ID}").respond(200, json=ok({"id": LEAD_ID}))
    router.get("/api/v2/persons/12").respond(200, json=tagged)
    router.delete("/api/v2/persons/12").respond(200, json=ok({"id": 12}))
