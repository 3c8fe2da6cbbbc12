"""Contract tests of the HubSpot adapter against respx mocks shaped like HubSpot's documented payloads."""

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

from adapters.hubspot import HubSpotAdapter, rate_limit_pause
from poc_harness.contract.adapter import RecordKind
from poc_harness.contract.batches import BatchItem
from poc_harness.contract.model import (
    Account,
    Activity,
    ActivityKind,
    Contact,
    DealStage,
    Lead,
    LeadSource,
    Ticket,
    TicketPriority,
)
from poc_harness.errors import (
    ConfigError,
    NotConfigured,
    NotExercised,
    NotImplementedByAdapter,
    VendorError,
)
from poc_harness.testing import AdapterConformance, Exchange, answering
from tests.adapters.samples import call

BASE = "https://api.hubspot.test"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
TAG = "poc20250301120000ab12"
WHEN = "2025-03-01T12:00:00.000Z"
CORRELATION = "aeb5f871-7f07-4993-9211-075dc63e7cbf"
DEAL_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", 0),
    ("qualifiedtobuy", "Qualified To Buy", 1),
    ("presentationscheduled", "Presentation Scheduled", 2),
    ("contractsent", "Contract Sent", 4),
    ("closedwon", "Closed Won", 5),
    ("closedlost", "Closed Lost", 6),
]
TICKET_STAGES = [
    ("1", "New", 0, "OPEN"),
    ("2", "Waiting on contact", 1, "OPEN"),
    ("4", "Closed", 3, "CLOSED"),
]


# --- payloads in HubSpot's shapes ----------------------------------------------------------


def record(record_id: str, **properties: Any) -> dict[str, Any]:
    """A CRM object as HubSpot returns it (``SimplePublicObject``)."""
    return {
        "id": record_id,
        "properties": {"hs_object_id": record_id, "createdate": WHEN, **properties},
        "createdAt": WHEN,
        "updatedAt": WHEN,
        "archived": False,
    }


def page(results: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"results": results}
    if after:
        body["paging"] = {"next": {"after": after, "link": f"{BASE}/?after={after}"}}
    return body


def associations(*ids: int, after: str | None = None) -> dict[str, Any]:
    results = [
        {"toObjectId": i, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}]}
        for i in ids
    ]
    return page(results, after)


def pipeline(pipeline_id: str, stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": pipeline_id, "label": "Pipeline", "displayOrder": 0, "archived": False, "stages": stages}


def stage(stage_id: str, label: str, order: int, **metadata: str) -> dict[str, Any]:
    return {"id": stage_id, "label": label, "displayOrder": order, "metadata": metadata, "archived": False}


def hubspot_error(status: int, category: str, message: str) -> httpx.Response:
    body = {"status": "error", "message": message, "correlationId": CORRELATION, "category": category}
    return httpx.Response(status, json=body)


def sent(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits tenacity was asked for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=recorded.append))
    return recorded


@pytest.fixture
def adapter(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotAdapter]:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", TOKEN)
    built = HubSpotAdapter.from_table("hubspot", {"token_env": "HUBSPOT_TEST_TOKEN", "base_url": BASE})
    assert isinstance(built, HubSpotAdapter)
    yield built
    built.close()


@pytest.fixture
def pauses(adapter: HubSpotAdapter) -> list[float]:
    recorded: list[float] = []
    adapter.http._sleep = recorded.append
    return recorded


@pytest.fixture
def deal_pipeline(mock: respx.MockRouter) -> respx.Route:
    stages = [stage(i, label, order, probability="0.5") for i, label, order in DEAL_STAGES]
    return mock.get("/crm/v3/pipelines/deals/default").respond(200, json=pipeline("default", stages))


@pytest.fixture
def ticket_pipeline(mock: respx.MockRouter) -> respx.Route:
    stages = [stage(i, label, order, ticketState=state) for i, label, order, state in TICKET_STAGES]
    return mock.get("/crm/v3/pipelines/tickets/0").respond(200, json=pipeline("0", stages))


def account() -> Account:
    return Account(
        key="acc-1", tag=TAG, name="Pars Trading", industry="Retail", city="Tehran", phone="+982112345678"
    )


def contact() -> Contact:
    return Contact(
        key="con-1",
        tag=TAG,
        first_name="Sara",
        last_name="Ahmadi",
        email="sara@pars.example",
        phone="+989121234567",
        account_key="acc-1",
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
        source=LeadSource.WEBSITE,
        estimated_value=25000,
    )


# --- authentication and errors ------------------------------------------------------------


def test_401_sends_bearer_token_and_never_shows_it(mock: respx.MockRouter, adapter: HubSpotAdapter) -> None:
    route = mock.get("/crm/v3/owners").mock(
        return_value=hubspot_error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
            "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    )
    with pytest.raises(VendorError) as caught:
        adapter.list_sales_reps()
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    message = str(caught.value)
    assert message.startswith("hubspot: GET /crm/v3/owners: HTTP 401")
    assert "Authentication credentials not found" in message
    assert TOKEN not in message
    assert "\n" not in message


def test_400_validation_error_is_one_line_naming_the_call(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    mock.post("/crm/v3/objects/companies").mock(
        return_value=hubspot_error(
            400,
            "VALIDATION_ERROR",
            'Property values were not valid: [{"isValid":false,"message":"Property \\"poc_harness_tag\\" '
            'does not exist","error":"PROPERTY_DOESNT_EXIST","name":"poc_harness_tag"}]',
        )
    )
    with pytest.raises(VendorError) as caught:
        adapter.create_account(account())
    message = str(caught.value)
    assert message.startswith("hubspot: POST /crm/v3/objects/companies: HTTP 400")
    assert "Property values were not valid" in message
    assert "\n" not in message
    assert TOKEN not in message


def test_missing_token_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBSPOT_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match="HUBSPOT_NOT_SET is not set"):
        HubSpotAdapter.from_table("hubspot", {"token_env": "HUBSPOT_NOT_SET"})


def test_check_connection_names_objects_missing_the_tag_property(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    mock.get("/crm/v3/owners").respond(200, json=page([]))
    mock.get(url__regex=r"/crm/v3/properties/(contacts|companies|leads)/poc_harness_tag").respond(
        200, json={"name": "poc_harness_tag", "type": "string", "fieldType": "text"}
    )
    mock.get(url__regex=r"/crm/v3/properties/(deals|tickets)/poc_harness_tag").mock(
        return_value=hubspot_error(404, "OBJECT_NOT_FOUND", "Unable to find property poc_harness_tag")
    )
    with pytest.raises(ConfigError, match="missing on tickets, deals:"):
        adapter.check_connection()


# --- seeding: accounts, contacts, leads ---------------------------------------------------


def test_create_account_sends_company_properties(mock: respx.MockRouter, adapter: HubSpotAdapter) -> None:
    route = mock.post("/crm/v3/objects/companies").respond(201, json=record("901", name="Pars Trading"))
    assert adapter.create_account(account()) == "901"
    properties = sent(route)["properties"]
    assert properties["name"] == "Pars Trading"
    assert properties["phone"] == "+982112345678"
    assert properties["city"] == "Tehran"
    assert properties["description"] == "Industry: Retail"
    assert properties["poc_harness_tag"] == TAG
    assert "associations" not in sent(route)


def test_create_contact_sends_properties_and_primary_company(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    route = mock.post("/crm/v3/objects/contacts").respond(201, json=record("301"))
    assert adapter.create_contact(contact(), "901") == "301"
    body = sent(route)
    assert body["properties"] == {
        "firstname": "Sara",
        "lastname": "Ahmadi",
        "email": "sara@pars.example",
        "phone": "+989121234567",
        "poc_harness_tag": TAG,
    }
    assert body["associations"] == [
        {"to": {"id": "901"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}
    ]


def test_create_lead_creates_its_contact_then_the_lead(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    contacts = mock.post("/crm/v3/objects/contacts").respond(201, json=record("302"))
    leads = mock.post("/crm/v3/objects/leads").respond(
        201, json=record("7001", hs_lead_name="ERP rollout for Pars")
    )
    assert adapter.create_lead(lead()) == "7001"
    person = sent(contacts)["properties"]
    assert person["firstname"] == "Reza"
    assert person["lastname"] == "Karimi"
    assert person["email"] == "reza@pars.example"
    assert person["company"] == "Pars Trading"
    assert person["city"] == "Shiraz"
    assert person["lifecyclestage"] == "lead"
    assert person["poc_harness_tag"] == TAG
    body = sent(leads)
    assert body["properties"] == {"hs_lead_name": "ERP rollout for Pars", "poc_harness_tag": TAG}
    assert body["associations"] == [
        {"to": {"id": "302"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 578}]}
    ]


def test_backdated_lead_and_ticket_are_not_measured_without_any_call(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    past = datetime(2025, 2, 1, tzinfo=UTC)
    with pytest.raises(NotImplementedByAdapter, match="the hubspot adapter does not implement backdating"):
        adapter.create_lead(lead(), arrived_at=past)
    ticket = Ticket(
        key="t-1", tag=TAG, subject="Login", description="Cannot log in", priority="high", contact_key="c"
    )
    with pytest.raises(NotImplementedByAdapter, match="backdating"):
        adapter.create_ticket(ticket, "302", opened_at=past)
    assert not mock.calls


def test_get_lead_reads_owner_stage_label_and_creation(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    route = mock.get("/crm/v3/objects/leads/7001").respond(
        200, json=record("7001", hubspot_owner_id="41629779", hs_pipeline_stage="qualified-stage-id")
    )
    mock.get("/crm/v3/pipelines/leads").respond(
        200,
        json=page(
            [
                pipeline(
                    "lead-pipeline-id",
                    [stage("new-stage-id", "New", 0), stage("qualified-stage-id", "Qualified", 3)],
                )
            ]
        ),
    )
    view = adapter.get_lead("7001")
    assert route.calls[0].request.url.params["properties"] == "hubspot_owner_id,hs_pipeline_stage"
    assert view.owner_id == "41629779"
    assert view.status == "qualified"
    assert view.created_at == datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_lead_without_owner_reads_as_unowned(mock: respx.MockRouter, adapter: HubSpotAdapter) -> None:
    mock.get("/crm/v3/objects/leads/7002").respond(
        200, json=record("7002", hubspot_owner_id="", hs_pipeline_stage="new-stage-id")
    )
    mock.get("/crm/v3/pipelines/leads").respond(200, json=page([]))
    view = adapter.get_lead("7002")
    assert view.owner_id is None
    assert view.status == "new-stage-id"


# --- activities and follow-up tasks ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "object_type", "title_property"),
    [
        (ActivityKind.CALL, "calls", "hs_call_title"),
        (ActivityKind.MEETING, "meetings", "hs_meeting_title"),
        (ActivityKind.EMAIL, "emails", "hs_email_subject"),
        (ActivityKind.NOTE, "notes", "hs_note_body"),
    ],
)
def test_log_activity_creates_the_engagement_and_associates_it(
    mock: respx.MockRouter, adapter: HubSpotAdapter, kind: ActivityKind, object_type: str, title_property: str
) -> None:
    created = mock.post(f"/crm/v3/objects/{object_type}").respond(201, json=record("55"))
    linked = mock.put(f"/crm/v4/objects/{object_type}/55/associations/default/leads/7001").respond(
        200, json={"status": "COMPLETE", "results": []}
    )
    at = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
    activity = Activity(kind=kind, subject=f"Discovery [{TAG}]", user_id="41629779", at=at)
    assert adapter.log_activity("7001", activity) == f"{object_type}:55"
    properties = sent(created)["properties"]
    assert properties[title_property] == f"Discovery [{TAG}]"
    assert properties["hs_timestamp"] == "2025-03-03T09:30:00.000Z"
    assert properties["hubspot_owner_id"] == "41629779"
    assert linked.called


def test_lead_tasks_follow_association_pages_and_flag_workflow_tasks(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    assoc = mock.get("/crm/v4/objects/leads/7001/associations/tasks").mock(
        side_effect=[
            httpx.Response(200, json=associations(81, 82, after="MjAw")),
            httpx.Response(200, json=associations(83)),
        ]
    )
    batch = mock.post("/crm/v3/objects/tasks/batch/read").respond(
        200,
        json={
            "status": "COMPLETE",
            "results": [
                record(
                    "81",
                    hs_task_subject="Call back",
                    hs_timestamp="2025-03-03T12:00:00Z",
                    hs_object_source="AUTOMATION_PLATFORM",
                    hs_task_status="NOT_STARTED",
                ),
                record(
                    "82",
                    hs_task_subject="Send offer",
                    hs_timestamp="2025-03-06T12:00:00Z",
                    hs_object_source="AUTOMATION_PLATFORM",
                    hs_task_status="NOT_STARTED",
                ),
                record(
                    "83",
                    hs_task_subject="Manual",
                    hs_timestamp="2025-03-04T08:00:00Z",
                    hs_object_source="CRM_UI",
                    hs_task_status="COMPLETED",
                ),
            ],
            "startedAt": WHEN,
            "completedAt": WHEN,
        },
    )
    tasks = adapter.lead_tasks("7001")
    assert assoc.calls[1].request.url.params["after"] == "MjAw"
    assert sent(batch)["inputs"] == [{"id": "81"}, {"id": "82"}, {"id": "83"}]
    assert [(t.vendor_id, t.automatic) for t in tasks] == [("81", True), ("82", True), ("83", False)]
    assert tasks[0].due_at == datetime(2025, 3, 3, 12, tzinfo=UTC)
    assert {t.lead_id for t in tasks} == {"7001"}


def test_complete_task_patches_status(mock: respx.MockRouter, adapter: HubSpotAdapter) -> None:
    route = mock.patch("/crm/v3/objects/tasks/81").respond(200, json=record("81", hs_task_status="COMPLETED"))
    adapter.complete_task("81", "41629779")
    assert sent(route) == {"properties": {"hs_task_status": "COMPLETED"}}


# --- owners and tags: pagination ----------------------------------------------------------


def owner(owner_id: str, team: str | None = None) -> dict[str, Any]:
    teams = [{"id": team, "name": "Sales", "primary": True}] if team else []
    return {
        "id": owner_id,
        "email": f"{owner_id}@acme.example",
        "type": "PERSON",
        "firstName": "A",
        "lastName": "B",
        "userId": int(owner_id),
        "archived": False,
        "teams": teams,
    }


def test_list_sales_reps_walks_every_owner_page(mock: respx.MockRouter, adapter: HubSpotAdapter) -> None:
    route = mock.get("/crm/v3/owners").mock(
        side_effect=[
            httpx.Response(200, json=page([owner("1"), owner("2")], after="Mg%3D%3D")),
            httpx.Response(200, json=page([owner("3")], after="Mw%3D%3D")),
            httpx.Response(200, json=page([owner("4")])),
        ]
    )
    assert adapter.list_sales_reps() == ["1", "2", "3", "4"]
    assert [call.request.url.params.get("after") for call in route.calls] == [None, "Mg%3D%3D", "Mw%3D%3D"]
    assert route.calls[0].request.url.params["limit"] == "100"


def test_list_sales_reps_keeps_only_the_configured_team(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", TOKEN)
    scoped = HubSpotAdapter.from_table(
        "hubspot", {"token_env": "HUBSPOT_TEST_TOKEN", "base_url": BASE, "owner_team_id": "77"}
    )
    mock.get("/crm/v3/owners").respond(200, json=page([owner("1", "77"), owner("2", "88"), owner("3")]))
    assert scoped.list_sales_reps() == ["1"]


def test_find_tagged_searches_the_tag_property_over_pages(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    route = mock.post("/crm/v3/objects/deals/search").mock(
        side_effect=[
            httpx.Response(200, json={"total": 3, **page([record("1"), record("2")], after="2")}),
            httpx.Response(200, json={"total": 3, **page([record("3")])}),
        ]
    )
    assert adapter.find_tagged(RecordKind.DEAL, TAG) == ["1", "2", "3"]
    first, second = sent(route, 0), sent(route, 1)
    assert first["filterGroups"] == [
        {"filters": [{"propertyName": "poc_harness_tag", "operator": "EQ", "value": TAG}]}
    ]
    assert "after" not in first
    assert second["after"] == "2"


def test_find_tagged_activities_follows_the_tagged_leads(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    mock.post("/crm/v3/objects/leads/search").respond(200, json=page([record("7001")]))
    mock.get("/crm/v4/objects/leads/7001/associations/calls").respond(200, json=associations(55))
    mock.get(url__regex=r"/crm/v4/objects/leads/7001/associations/(meetings|emails)").respond(
        200, json=associations()
    )
    mock.get("/crm/v4/objects/leads/7001/associations/notes").respond(200, json=associations(56))
    assert adapter.find_tagged(RecordKind.ACTIVITY, TAG) == ["calls:55", "notes:56"]
    assert adapter.find_tagged(RecordKind.REP, TAG) == []


def test_delete_lead_archives_the_lead_and_its_contact(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    mock.get("/crm/v4/objects/leads/7001/associations/contacts").respond(200, json=associations(302))
    lead_route = mock.delete("/crm/v3/objects/leads/7001").respond(204)
    contact_route = mock.delete("/crm/v3/objects/contacts/302").respond(204)
    assert adapter.delete(RecordKind.LEAD, "7001") is True
    assert lead_route.called and contact_route.called


def test_delete_activity_and_already_gone(mock: respx.MockRouter, adapter: HubSpotAdapter) -> None:
    mock.delete("/crm/v3/objects/calls/55").respond(204)
    mock.delete("/crm/v3/objects/companies/9").mock(
        return_value=hubspot_error(404, "OBJECT_NOT_FOUND", "resource not found")
    )
    assert adapter.delete(RecordKind.ACTIVITY, "calls:55") is True
    assert adapter.delete(RecordKind.ACCOUNT, "9") is False


# --- deals --------------------------------------------------------------------------------


def test_convert_lead_creates_a_deal_linked_to_lead_and_contact(
    mock: respx.MockRouter, adapter: HubSpotAdapter, deal_pipeline: respx.Route
) -> None:
    mock.get("/crm/v3/objects/leads/7001").respond(
        200, json=record("7001", hs_lead_name="ERP rollout for Pars", poc_harness_tag=TAG)
    )
    mock.get("/crm/v4/objects/leads/7001/associations/contacts").respond(200, json=associations(302))
    deals = mock.post("/crm/v3/objects/deals").respond(201, json=record("9001"))
    link = mock.put("/crm/v4/objects/deals/9001/associations/default/leads/7001").respond(200, json={})
    qualify = mock.patch("/crm/v3/objects/leads/7001").respond(200, json=record("7001"))
    close = datetime(2025, 3, 11, 12, tzinfo=UTC)
    assert adapter.convert_lead("7001", 25000, close) == "9001"
    body = sent(deals)
    assert body["properties"] == {
        "dealname": "ERP rollout for Pars",
        "amount": "25000",
        "pipeline": "default",
        "dealstage": "qualifiedtobuy",
        "poc_harness_tag": TAG,
        "closedate": "2025-03-11T12:00:00.000Z",
    }
    assert body["associations"] == [
        {"to": {"id": "302"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}
    ]
    assert link.called
    assert sent(qualify) == {"properties": {"hs_pipeline_stage": "qualified-stage-id"}}


def test_move_deal_maps_stage_labels_to_pipeline_ids(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", TOKEN)
    stages = {
        "qualification": "Qualified To Buy",
        "proposal": "presentation scheduled",
        "negotiation": "contractsent",
        "won": "Closed Won",
        "lost": "closedlost",
    }
    by_label = HubSpotAdapter.from_table(
        "hubspot", {"token_env": "HUBSPOT_TEST_TOKEN", "base_url": BASE, "deal_stages": stages}
    )
    mock.get("/crm/v3/pipelines/deals/default").respond(
        200, json=pipeline("default", [stage(i, label, order) for i, label, order in DEAL_STAGES])
    )
    route = mock.patch("/crm/v3/objects/deals/9001").respond(200, json=record("9001"))
    by_label.move_deal("9001", DealStage.PROPOSAL)
    by_label.move_deal("9001", DealStage.WON)
    assert [sent(route, i)["properties"]["dealstage"] for i in (0, 1)] == [
        "presentationscheduled",
        "closedwon",
    ]


def test_a_stage_missing_from_the_pipeline_is_a_config_error(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TEST_TOKEN", TOKEN)
    wrong = HubSpotAdapter.from_table(
        "hubspot", {"token_env": "HUBSPOT_TEST_TOKEN", "base_url": BASE, "deal_stages": {"won": "signed"}}
    )
    mock.get("/crm/v3/pipelines/deals/default").respond(
        200, json=pipeline("default", [stage(i, label, order) for i, label, order in DEAL_STAGES])
    )
    with pytest.raises(ConfigError, match=r"deal_stages\.won = 'signed' is not a stage"):
        wrong.move_deal("9001", DealStage.WON)


def test_get_deal_reads_stage_history_in_time_order(
    mock: respx.MockRouter, adapter: HubSpotAdapter, deal_pipeline: respx.Route
) -> None:
    deal = record("9001", dealstage="closedwon", amount="25000.0")
    deal["propertiesWithHistory"] = {
        "dealstage": [  # HubSpot lists the newest version first
            {
                "value": "closedwon",
                "timestamp": "2025-03-01T12:03:00.000Z",
                "sourceType": "API",
                "sourceId": "x",
            },
            {"value": "contractsent", "timestamp": "2025-03-01T12:02:00.000Z", "sourceType": "API"},
            {"value": "presentationscheduled", "timestamp": "2025-03-01T12:01:00.000Z", "sourceType": "API"},
            {"value": "qualifiedtobuy", "timestamp": "2025-03-01T12:00:00.000Z", "sourceType": "API"},
        ]
    }
    route = mock.get("/crm/v3/objects/deals/9001").respond(200, json=deal)
    mock.get("/crm/v4/objects/deals/9001/associations/leads").respond(200, json=associations(7001))
    view = adapter.get_deal("9001")
    assert route.calls[0].request.url.params["propertiesWithHistory"] == "dealstage"
    assert [change.stage for change in view.history] == [
        DealStage.QUALIFICATION,
        DealStage.PROPOSAL,
        DealStage.NEGOTIATION,
        DealStage.WON,
    ]
    assert view.history[0].at == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert (view.stage, view.amount, view.lead_id) == (DealStage.WON, 25000, "7001")


def test_get_deal_in_an_unmapped_stage_is_a_vendor_error(
    mock: respx.MockRouter, adapter: HubSpotAdapter, deal_pipeline: respx.Route
) -> None:
    mock.get("/crm/v3/objects/deals/9001").respond(200, json=record("9001", dealstage="appointmentscheduled"))
    mock.get("/crm/v4/objects/deals/9001/associations/leads").respond(200, json=associations())
    with pytest.raises(VendorError, match="stage 'appointmentscheduled', which no harness stage maps to"):
        adapter.get_deal("9001")


# --- tickets ------------------------------------------------------------------------------


def test_create_ticket_opens_it_in_the_pipeline_with_priority(
    mock: respx.MockRouter, adapter: HubSpotAdapter, ticket_pipeline: respx.Route
) -> None:
    route = mock.post("/crm/v3/objects/tickets").respond(201, json=record("4401"))
    ticket = Ticket(
        key="t-1",
        tag=TAG,
        subject="Login fails",
        description="Since today",
        priority="normal",
        contact_key="con-1",
    )
    assert adapter.create_ticket(ticket, "301") == "4401"
    body = sent(route)
    assert body["properties"] == {
        "subject": "Login fails",
        "content": "Since today",
        "hs_pipeline": "0",
        "hs_pipeline_stage": "1",
        "hs_ticket_priority": "MEDIUM",
        "poc_harness_tag": TAG,
    }
    assert body["associations"][0]["types"][0]["associationTypeId"] == 16


def test_get_ticket_reads_times_and_sla_breaches(
    mock: respx.MockRouter, adapter: HubSpotAdapter, ticket_pipeline: respx.Route
) -> None:
    mock.get("/crm/v3/objects/tickets/4401").respond(
        200,
        json=record(
            "4401",
            hs_ticket_priority="URGENT",
            hs_pipeline_stage="4",
            first_agent_reply_date="2025-03-01T13:30:00.000Z",
            closed_date="2025-03-01T17:00:00.000Z",
            hs_time_to_first_response_sla_status="4",
            hs_time_to_close_sla_status="3",
        ),
    )
    view = adapter.get_ticket("4401")
    assert view.priority is TicketPriority.URGENT
    assert view.status == "closed"
    assert view.first_response_at == datetime(2025, 3, 1, 13, 30, tzinfo=UTC)
    assert view.closed_at == datetime(2025, 3, 1, 17, tzinfo=UTC)
    assert (view.first_response_breached, view.resolution_breached) == (True, False)


def test_ticket_without_sla_status_is_pending_the_buyers_setup_never_a_finding(
    mock: respx.MockRouter, adapter: HubSpotAdapter, ticket_pipeline: respx.Route
) -> None:
    mock.get("/crm/v3/objects/tickets/4401").respond(
        200, json=record("4401", hs_ticket_priority="LOW", hs_pipeline_stage="1")
    )
    with pytest.raises(NotConfigured, match="configure SLAs") as raised:
        adapter.get_ticket("4401")
    assert not isinstance(raised.value, VendorError | NotExercised)  # neither the vendor's nor our gap


def test_reply_logs_an_email_on_the_ticket_and_close_moves_it(
    mock: respx.MockRouter, adapter: HubSpotAdapter, ticket_pipeline: respx.Route
) -> None:
    email = mock.post("/crm/v3/objects/emails").respond(201, json=record("66"))
    link = mock.put("/crm/v4/objects/emails/66/associations/default/tickets/4401").respond(200, json={})
    close = mock.patch("/crm/v3/objects/tickets/4401").respond(200, json=record("4401"))
    adapter.reply_ticket("4401", f"On it [{TAG}]", user_id="41629779")
    adapter.close_ticket("4401")
    properties = sent(email)["properties"]
    assert properties["hs_email_direction"] == "EMAIL"
    assert properties["hs_email_text"] == f"On it [{TAG}]"
    assert properties["hubspot_owner_id"] == "41629779"
    assert link.called
    assert sent(close) == {"properties": {"hs_pipeline_stage": "4"}}


# --- batch create -------------------------------------------------------------------------


def test_batch_create_multi_status_answer_is_read_per_input(
    mock: respx.MockRouter, adapter: HubSpotAdapter
) -> None:
    created = {**record("1000"), "objectWriteTraceId": "con-2"}  # HubSpot does not promise the order
    route = mock.post("/crm/v3/objects/contacts/batch/create").respond(
        207,
        json={
            "status": "COMPLETE",
            "results": [created],
            "numErrors": 1,
            "errors": [
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "Property values were not valid",
                    "context": {"objectWriteTraceId": ["con-1"]},
                }
            ],
            "startedAt": WHEN,
            "completedAt": WHEN,
        },
    )
    other = contact().model_copy(update={"key": "con-2", "email": "ali@pars.example"})
    items = [BatchItem(contact(), parent_id="901"), BatchItem(other, parent_id="901")]
    refused, made = adapter.create_batch(RecordKind.CONTACT, items)
    assert made.vendor_id == "1000" and refused.vendor_id is None and not refused.maybe_applied
    assert "con-1" in str(refused.error) and "Property values were not valid" in str(refused.error)
    inputs = sent(route)["inputs"]
    assert [i["objectWriteTraceId"] for i in inputs] == ["con-1", "con-2"]
    assert inputs[0]["associations"][0]["to"] == {"id": "901"}


# --- rate limits --------------------------------------------------------------------------

RATE_HEADERS = {
    "X-HubSpot-RateLimit-Daily": "250000",
    "X-HubSpot-RateLimit-Daily-Remaining": "249000",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    "X-HubSpot-RateLimit-Max": "100",
}


def test_429_with_hubspot_headers_is_retried_then_succeeds(
    mock: respx.MockRouter, adapter: HubSpotAdapter, waits: list[float], pauses: list[float]
) -> None:
    limited = httpx.Response(
        429,
        headers={**RATE_HEADERS, "X-HubSpot-RateLimit-Remaining": "0", "Retry-After": "1"},
        json={
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": CORRELATION,
            "policyName": "SECONDLY",
        },
    )
    ok = httpx.Response(
        201, headers={**RATE_HEADERS, "X-HubSpot-RateLimit-Remaining": "99"}, json=record("901")
    )
    route = mock.post("/crm/v3/objects/companies").mock(side_effect=[limited, ok])
    assert adapter.create_account(account()) == "901"
    assert route.call_count == 2
    assert waits == [1.0]  # Retry-After honoured
    assert adapter.http.stats.retries == 1
    assert adapter.http.stats.by_status == {429: 1, 201: 1}


def test_remaining_zero_pauses_for_the_interval(
    mock: respx.MockRouter, adapter: HubSpotAdapter, pauses: list[float]
) -> None:
    mock.get("/crm/v3/owners").respond(
        200, headers={**RATE_HEADERS, "X-HubSpot-RateLimit-Remaining": "0"}, json=page([owner("1")])
    )
    assert adapter.list_sales_reps() == ["1"]
    assert pauses == [10.0]
    assert adapter.http.stats.rate_limit_pauses == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-HubSpot-RateLimit-Remaining": "5", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, None),
        ({"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "2000"}, 2.0),
        ({"X-HubSpot-RateLimit-Remaining": "0"}, 10.0),
        ({"X-HubSpot-RateLimit-Secondly-Remaining": "0"}, 1.0),
        ({"X-HubSpot-RateLimit-Remaining": "many"}, None),
        ({}, None),
    ],
)
def test_rate_limit_pause_reads_the_documented_headers(
    headers: dict[str, str], expected: float | None
) -> None:
    assert rate_limit_pause(httpx.Response(200, headers=headers)) == expected


# --- the shipped conformance suite ----------------------------------------------------------------


def _lead_answers(router: respx.MockRouter) -> None:
    router.get("/crm/v3/objects/leads/7001").respond(
        200, json=record("7001", hubspot_owner_id="41629779", hs_pipeline_stage="qualified-stage-id")
    )
    router.get("/crm/v3/pipelines/leads").respond(
        200, json=page([pipeline("lead-pipeline-id", [stage("qualified-stage-id", "Qualified", 3)])])
    )


def _new_lead(router: respx.MockRouter) -> None:
    router.post("/crm/v3/objects/contacts").respond(201, json=record("302"))
    router.post("/crm/v3/objects/leads").respond(201, json=record("7001"))


def _deleted_lead(router: respx.MockRouter) -> None:
    router.get("/crm/v4/objects/leads/7001/associations/contacts").respond(200, json=associations(302))
    router.delete("/crm/v3/objects/leads/7001").respond(204)
    router.delete("/crm/v3/objects/contacts/302").respond(204)


def _logged_call(router: respx.MockRouter) -> None:
    router.post("/crm/v3/objects/calls").respond(201, json=record("55"))
    router.put("/crm/v4/objects/calls/55/associations/default/leads/7001").respond(200, json={})


OBJECTS = "/crm/v3/objects"
TICKET = Ticket(key="t-1", tag=TAG, subject="Login", description="Today", priority="high", contact_key="c")


def _deal_pipeline(router: respx.MockRouter) -> None:
    stages = [stage(i, label, order, probability="0.5") for i, label, order in DEAL_STAGES]
    router.get("/crm/v3/pipelines/deals/default").respond(200, json=pipeline("default", stages))


def _ticket_pipeline(router: respx.MockRouter) -> None:
    stages = [stage(i, label, order, ticketState=state) for i, label, order, state in TICKET_STAGES]
    router.get("/crm/v3/pipelines/tickets/0").respond(200, json=pipeline("0", stages))


def _lead_tasks(router: respx.MockRouter) -> None:
    router.get("/crm/v4/objects/leads/7001/associations/tasks").respond(200, json=associations(81))
    task = record("81", hs_task_subject="Call", hs_timestamp=WHEN, hs_object_source="AUTOMATION_PLATFORM")
    task["properties"]["hubspot_owner_id"] = "41629779"
    router.post(f"{OBJECTS}/tasks/batch/read").respond(200, json={"status": "COMPLETE", "results": [task]})


def _deal_answers(router: respx.MockRouter) -> None:
    _deal_pipeline(router)
    deal = record("9001", dealstage="closedwon", amount="25000.0")
    deal["propertiesWithHistory"] = {"dealstage": [{"value": "closedwon", "timestamp": WHEN}]}
    router.get(f"{OBJECTS}/deals/9001").respond(200, json=deal)
    router.get("/crm/v4/objects/deals/9001/associations/leads").respond(200, json=associations(7001))


def _converted_lead(router: respx.MockRouter) -> None:
    """The lead and its contact, the new deal (associated with the contact, then the lead), the lead
    moved to its qualified stage."""
    _deal_pipeline(router)
    lead = record("7001", hs_lead_name="ERP rollout for Pars", poc_harness_tag=TAG)
    router.get(f"{OBJECTS}/leads/7001").respond(200, json=lead)
    router.get("/crm/v4/objects/leads/7001/associations/contacts").respond(200, json=associations(302))
    router.post(f"{OBJECTS}/deals").respond(201, json=record("9001"))
    router.put("/crm/v4/objects/deals/9001/associations/default/leads/7001").respond(200, json={})
    router.patch(f"{OBJECTS}/leads/7001").respond(200, json=record("7001"))


def _replied_ticket(router: respx.MockRouter) -> None:
    """An e-mail engagement associated with the ticket."""
    router.post(f"{OBJECTS}/emails").respond(201, json=record("66"))
    router.put("/crm/v4/objects/emails/66/associations/default/tickets/4401").respond(200, json={})


def _moved_deal(router: respx.MockRouter) -> None:
    _deal_pipeline(router)
    router.patch(f"{OBJECTS}/deals/9001").respond(200, json=record("9001"))


def _new_ticket(router: respx.MockRouter) -> None:
    _ticket_pipeline(router)
    router.post(f"{OBJECTS}/tickets").respond(201, json=record("4401"))


def _ticket_answers(router: respx.MockRouter) -> None:
    _ticket_pipeline(router)
    answer = record(
        "4401",
        hs_ticket_priority="HIGH",
        hs_pipeline_stage="1",
        hs_time_to_first_response_sla_status="3",
        hs_time_to_close_sla_status="3",
    )
    router.get(f"{OBJECTS}/tickets/4401").respond(200, json=answer)


def _closed_ticket(router: respx.MockRouter) -> None:
    _ticket_pipeline(router)
    router.patch(f"{OBJECTS}/tickets/4401").respond(200, json=record("4401"))


class TestHubSpotConformance(AdapterConformance):
    secrets = (TOKEN,)
    credential = "HUBSPOT_TEST_TOKEN"
    adapter_class = HubSpotAdapter

    @pytest.fixture
    def exchanges(self) -> dict[str, Exchange]:
        owners, task = page([owner("7")]), record("81", hs_task_status="COMPLETED")
        return {
            "create_account": Exchange(
                (account(),), answering("POST", f"{OBJECTS}/companies", 201, record("9"))
            ),
            "create_contact": Exchange(
                (contact(), "9"), answering("POST", f"{OBJECTS}/contacts", 201, record("3"))
            ),
            "create_lead": Exchange((lead(),), _new_lead),
            "get_lead": Exchange(("7001",), _lead_answers),
            "find_tagged": Exchange(
                (RecordKind.LEAD, TAG),
                answering("POST", f"{OBJECTS}/leads/search", json=page([record("7001")])),
            ),
            "delete": Exchange((RecordKind.LEAD, "7001"), _deleted_lead),
            "log_activity": Exchange(("7001", call("41629779")), _logged_call),
            "list_sales_reps": Exchange((), answering("GET", "/crm/v3/owners", json=owners)),
            "lead_tasks": Exchange(("7001",), _lead_tasks),
            "complete_task": Exchange(("81", None), answering("PATCH", f"{OBJECTS}/tasks/81", json=task)),
            "get_deal": Exchange(("9001",), _deal_answers),
            "move_deal": Exchange(("9001", DealStage.WON), _moved_deal),
            "create_ticket": Exchange((TICKET, "301"), _new_ticket),
            "get_ticket": Exchange(("4401",), _ticket_answers),
            "close_ticket": Exchange(("4401",), _closed_ticket),
            "convert_lead": Exchange(("7001", 25000), _converted_lead),
            "reply_ticket": Exchange(("4401", f"On it [{TAG}]", "41629779"), _replied_ticket),
        }

    @pytest.fixture
    def router(self, mock: respx.MockRouter) -> respx.MockRouter:
        return mock
