"""Contract tests of the Zoho CRM adapter: respx mocks answering in Zoho's documented v8 shapes (refresh
token at the data centre's accounts server, per-record statuses, ``info.more_records`` pages, 204: none)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from adapters.zoho import EMAIL_MARKER, ZohoAdapter
from poc_harness.contract.adapter import Capability, RecordKind
from poc_harness.contract.batches import BatchItem
from poc_harness.contract.model import (
    Activity,
    ActivityKind,
    DealStage,
    Lead,
    LeadSource,
    Ticket,
    TicketPriority,
)
from poc_harness.errors import ConfigError, NotImplementedByAdapter, VendorError
from poc_harness.testing import AdapterConformance, Exchange, answering, answering_in_turn, together
from poc_harness.testing.exchange import Install
from tests.adapters.samples import ACCOUNT, CONTACT, TAG, call

ACCOUNTS = "https://accounts.zoho.eu"
API = "https://www.zohoapis.eu"
CRM = f"{API}/crm/v8"
CLIENT_ID = "1000.GMB0YULZHJK411248S8I5GZ4CHUEX0"
SECRET = "122c324d3496d5d777ceeebc129470715fbb856b7"
REFRESH = "1000.86a03ca5dbfccb7445b1889b8215efb0.cad9e1ae4989a1196fe05aa729fcb4e1"
TOKEN = "1000.8cb99dc4e5f6a7b8c9d0e1f2a3b49be93.9b8f7e6d5c4b3a2910f1e2d3c4b5a6f7"
LEAD_ID = "5725767000000524157"
OWNER_ID = "5725767000000411001"
ACCOUNT_ID = "5725767000000624046"
CONTACT_ID = "5725767000000624640"
CASE_ID = "5725767000000731001"
DEAL_ID = "5725767000007603019"
TEHRAN = ZoneInfo("Asia/Tehran")
TOKEN_ANSWER = {"access_token": TOKEN, "api_domain": API, "token_type": "Bearer", "expires_in": 3600}

LEAD = Lead(
    key="lead-0001",
    tag=TAG,
    title=f"Leak detection for Pars Pipe [{TAG}]",
    company="Pars Pipe Co",
    contact_name="Reza Karimi",
    email="reza.karimi@parspipe.example",
    phone="+989351112233",
    city="Isfahan",
    source=LeadSource.EXHIBITION,
    estimated_value=120_000,
)
TICKET = Ticket(
    key="ticket-0001",
    tag=TAG,
    subject=f"Gauge offline [{TAG}]",
    description="The pressure gauge reports nothing since Monday",
    priority=TicketPriority.URGENT,
    contact_key="contact-0001",
)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The secrets in their environment variables, and sleeps recorded instead of waited."""
    monkeypatch.setenv("POC_ZOHO_SECRET", SECRET)
    monkeypatch.setenv("POC_ZOHO_REFRESH", REFRESH)
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


@pytest.fixture
def mock(slept: list[float]) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{ACCOUNTS}/oauth/v2/token", name="token").mock(
            return_value=httpx.Response(200, json=TOKEN_ANSWER)
        )
        yield router


@pytest.fixture
def adapter(mock: respx.MockRouter) -> Iterator[ZohoAdapter]:
    built = make()
    yield built
    built.close()


def make(**options: Any) -> ZohoAdapter:
    table = {
        "data_centre": "eu",
        "client_id": CLIENT_ID,
        "client_secret_env": "POC_ZOHO_SECRET",
        "refresh_token_env": "POC_ZOHO_REFRESH",
        "time_zone": "Asia/Tehran",
        **options,
    }
    built = ZohoAdapter.from_table("acme-zoho", table)
    assert isinstance(built, ZohoAdapter)
    return built


def ok(record_id: str) -> dict[str, Any]:
    user = {"name": "PoC Admin", "id": OWNER_ID}
    details = {
        "Modified_Time": "2025-03-01T12:00:00+03:30",
        "Modified_By": user,
        "Created_Time": "2025-03-01T12:00:00+03:30",
        "id": record_id,
        "Created_By": user,
        "$approval_state": "approved",
    }
    return {"code": "SUCCESS", "details": details, "message": "record added", "status": "success"}


def failed(field: str, code: str = "INVALID_DATA", message: str = "invalid data") -> dict[str, Any]:
    details = {"api_name": field, "json_path": f"$.data[0].{field}"}
    return {"code": code, "details": details, "message": message, "status": "error"}


def statuses(*entries: dict[str, Any], status: int = 201) -> httpx.Response:
    return httpx.Response(status, json={"data": list(entries)})


def listing(
    rows: list[dict[str, Any]], page: int, more: bool, key: str = "data", **info: Any
) -> httpx.Response:
    meta = {"per_page": 200, "count": len(rows), "page": page, "more_records": more, **info}
    return httpx.Response(200, json={key: rows, "info": meta})


def sent(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def params(route: respx.Route, index: int = -1) -> dict[str, str]:
    return dict(route.calls[index].request.url.params)


def one_line(message: str) -> str:
    assert message and "\n" not in message and "\r" not in message
    return message


# --- authentication, errors, limits ----------------------------------------------------------------


def test_refresh_token_flow_then_zoho_oauthtoken_calls(adapter: ZohoAdapter, mock: respx.MockRouter) -> None:
    org = mock.get(f"{CRM}/org").mock(
        return_value=httpx.Response(
            200,
            json={"org": [{"company_name": "Acme Persia", "id": "20071234567", "time_zone": "Asia/Tehran"}]},
        )
    )
    answer = adapter.check_connection()
    adapter.check_connection()
    form = parse_qs(mock["token"].calls.last.request.content.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "client_id": [CLIENT_ID],
        "client_secret": [SECRET],
        "refresh_token": [REFRESH],
    }
    assert mock["token"].call_count == 1
    assert org.calls.last.request.headers["Authorization"] == f"Zoho-oauthtoken {TOKEN}"
    assert "Acme Persia" in answer and "data centre eu" in answer


def test_a_refused_refresh_token_is_a_one_line_config_error_without_secrets(slept: list[float]) -> None:
    with respx.mock() as router:
        router.post(f"{ACCOUNTS}/oauth/v2/token").mock(
            return_value=httpx.Response(200, json={"error": "invalid_client"})
        )
        with pytest.raises(ConfigError) as caught:
            make().check_connection()
    message = one_line(str(caught.value))
    assert "invalid_client" in message and "POC_ZOHO_REFRESH" in message
    assert SECRET not in message and REFRESH not in message


def test_secrets_never_reach_an_exception(adapter: ZohoAdapter, mock: respx.MockRouter) -> None:
    echo = {
        "code": "INVALID_DATA",
        "details": {"token": TOKEN, "r": REFRESH},
        "message": SECRET,
        "status": "error",
    }
    mock.get(f"{CRM}/Leads/{LEAD_ID}").mock(return_value=httpx.Response(400, json=echo))
    with pytest.raises(VendorError) as caught:
        adapter.get_lead(LEAD_ID)
    message = one_line(str(caught.value))
    assert TOKEN not in message and SECRET not in message and REFRESH not in message


def test_the_documented_error_body_becomes_a_one_line_vendor_error(
    adapter: ZohoAdapter, mock: respx.MockRouter
) -> None:
    body = {
        "code": "INVALID_DATA",
        "details": {"resource_path_index": 0},
        "message": "the related id given seems to be invalid",
        "status": "error",
    }
    mock.get(f"{CRM}/Deals/{DEAL_ID}").mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(VendorError) as caught:
        adapter.get_deal(DEAL_ID)
    message = one_line(str(caught.value))
    assert "HTTP 400" in message and "INVALID_DATA" in message


def test_an_expired_token_is_refreshed_once(adapter: ZohoAdapter, mock: respx.MockRouter) -> None:
    expired = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}
    mock.get(f"{CRM}/org").mock(
        side_effect=[
            httpx.Response(401, json=expired),
            httpx.Response(200, json={"org": [{"company_name": "A"}]}),
        ]
    )
    adapter.check_connection()
    assert mock["token"].call_count == 2


def test_too_many_requests_then_success(
    adapter: ZohoAdapter, mock: respx.MockRouter, slept: list[float]
) -> None:
    busy = {
        "code": "TOO_MANY_REQUESTS",
        "details": {},
        "message": "concurrency limit exceeded",
        "status": "error",
    }
    route = mock.get(f"{CRM}/org").mock(
        side_effect=[
            httpx.Response(429, json=busy, headers={"Retry-After": "2"}),
            httpx.Response(200, json={"org": [{"company_name": "Acme Persia"}]}),
        ]
    )
    assert "Acme Persia" in adapter.check_connection()
    assert route.call_count == 2 and slept == [2.0] and adapter.call_stats()["retries"] == 1


def test_a_spent_rate_limit_header_pauses_the_client(
    adapter: ZohoAdapter, mock: respx.MockRouter, slept: list[float]
) -> None:
    org = {"org": [{"company_name": "Acme Persia"}]}
    mock.get(f"{CRM}/org").mock(
        side_effect=[
            httpx.Response(200, json=org, headers={"X-RATELIMIT-REMAINING": "3"}),
            httpx.Response(200, json=org, headers={"X-RATELIMIT-REMAINING": "0"}),
        ]
    )
    adapter.check_connection()
    assert slept == []
    adapter.check_connection()
    assert slept == [30.0] and adapter.call_stats()["rate_limit_pauses"] == 1


# --- records -------------------------------------------------------------------------------------


def test_account_and_contact_bodies(adapter: ZohoAdapter, mock: respx.MockRouter) -> None:
    accounts = mock.post(f"{CRM}/Accounts").mock(return_value=statuses(ok(ACCOUNT_ID)))
    contacts = mock.post(f"{CRM}/Contacts").mock(return_value=statuses(ok(CONTACT_ID)))
    assert adapter.create_account(ACCOUNT) == ACCOUNT_ID
    assert adapter.create_contact(CONTACT, ACCOUNT_ID) == CONTACT_ID
    [account] = sent(accounts)["data"]
    [contact] = sent(contacts)["data"]
    assert account["Account_Name"] == ACCOUNT.name and account["Industry"] == "Energy"
    assert account["Billing_City"] == "Tehran" and account["Phone"] == "+982188776655"
    assert account["Description"].endswith(f"poc-harness acct-0001 [{TAG}]")
    assert (contact["First_Name"], contact["Last_Name"]) == ("Sara", "Ahmadi")
    assert contact["Email"] == CONTACT.email and contact["Account_Name"] == {"id": ACCOUNT_ID}


def test_lead_is_inserted_with_the_assignment_rule_and_read_back(mock: respx.MockRouter) -> None:
    adapter = make(lead_assignment_rule="5725767000000352001")
    create = mock.post(f"{CRM}/Leads").mock(return_value=statuses(ok(LEAD_ID)))
    lead_row = {
        "id": LEAD_ID,
        "Owner": {"name": "Maryam Rahimi", "id": OWNER_ID, "email": "maryam@acme.example"},
        "Lead_Status": "Not Contacted",
        "Created_Time": "2025-03-01T12:00:00+03:30",
        "$converted": False,
    }
    mock.get(f"{CRM}/Leads/{LEAD_ID}").mock(return_value=httpx.Response(200, json={"data": [lead_row]}))
    assert adapter.create_lead(LEAD) == LEAD_ID
    payload = sent(create)
    [body] = payload["data"]
    assert payload["lar_id"] == "5725767000000352001" and "trigger" not in payload
    assert (body["First_Name"], body["Last_Name"], body["Company"]) == ("Reza", "Karimi", "Pars Pipe Co")
    assert body["Email"] == LEAD.email and body["Phone"] == LEAD.phone and body["City"] == "Isfahan"
    assert body["Lead_Source"] == "Trade Show" and body["Description"].splitlines()[0] == LEAD.title
    view = adapter.get_lead(LEAD_ID)
    assert (view.owner_id, view.status) == (OWNER_ID, "Not Contacted")
    assert view.created_at == datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
    adapter.close()


def test_sales_reps_are_read_over_several_pages(mock: respx.MockRouter) -> None:
    adapter = make(rep_profile="Sales Rep")

    def user(n: int, profile: str) -> dict[str, Any]:
        return {
            "id": f"57257670000004110{n:02d}",
            "status": "active",
            "profile": {"name": profile, "id": "1"},
        }

    route = mock.get(f"{CRM}/users").mock(
        side_effect=[
            listing([user(1, "Sales Rep"), user(2, "Administrator")], 1, True, key="users"),
            listing([user(3, "Sales Rep")], 2, True, key="users", next_page_token="c8582e7ea"),
            listing([user(4, "Sales Rep")], 3, False, key="users"),
        ]
    )
    assert adapter.list_sales_reps() == ["5725767000000411001", "5725767000000411003", "5725767000000411004"]
    assert params(route, 0) == {"type": "ActiveUsers", "page": "1", "per_page": "200"}
    assert params(route, 1)["page"] == "2" and params(route, 2)["page_token"] == "c8582e7ea"
    adapter.close()


def test_a_batch_is_one_insert_of_up_to_100(adapter: ZohoAdapter, mock: respx.MockRouter) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        rows = json.loads(request.content)["data"]
        start = int(rows[0]["Account_Name"].split("-")[1])
        return statuses(*(ok(f"57257670{start + n:011d}") for n in range(len(rows))))

    route = mock.post(f"{CRM}/Accounts").mock(side_effect=answer)
    accounts = [
        BatchItem(ACCOUNT.model_copy(update={"key": f"acct-{n:04d}", "name": f"Acct-{n:04d}"}))
        for n in range(adapter.max_batch_size)
    ]
    results = adapter.create_batch(RecordKind.ACCOUNT, accounts)
    assert route.call_count == 1 and len(sent(route, 0)["data"]) == 100
    assert [result.vendor_id for result in results] == [f"57257670{n:011d}" for n in range(100)]


def test_a_partial_batch_failure_names_the_failed_records_and_keeps_the_successes(
    adapter: ZohoAdapter, mock: respx.MockRouter
) -> None:
    answer = statuses(ok("5725767000000524201"), failed("Email"), ok("5725767000000524203"), status=207)
    mock.post(f"{CRM}/Leads").mock(return_value=answer)
    leads = [BatchItem(LEAD.model_copy(update={"key": f"lead-{n:04d}"})) for n in range(3)]
    first, refused, third = adapter.create_batch(RecordKind.LEAD, leads)
    message = one_line(str(refused.error))
    assert refused.vendor_id is None and "lead-0001" in message
    assert "INVALID_DATA: invalid data (Email)" in message
    assert (first.vendor_id, third.vendor_id) == ("5725767000000524201", "5725767000000524203")


def test_activities_are_calls_events_tasks_and_notes(adapter: ZohoAdapter, mock: respx.MockRouter) -> None:
    calls = mock.post(f"{CRM}/Calls").mock(return_value=statuses(ok("5725767000001001001")))
    events = mock.post(f"{CRM}/Events").mock(return_value=statuses(ok("5725767000001002001")))
    tasks = mock.post(f"{CRM}/Tasks").mock(return_value=statuses(ok("5725767000001003001")))
    notes = mock.post(f"{CRM}/Leads/{LEAD_ID}/Notes").mock(return_value=statuses(ok("5725767000001004001")))
    at = datetime(2025, 3, 3, 6, 30, tzinfo=UTC)
    call = Activity(kind=ActivityKind.CALL, subject=f"Discovery call [{TAG}]", user_id=OWNER_ID, at=at)
    assert adapter.log_activity(LEAD_ID, call) == "Calls:5725767000001001001"
    assert sent(calls)["data"] == [
        {
            "Subject": f"Discovery call [{TAG}]",
            "Call_Type": "Outbound",
            "Outbound_Call_Status": "Completed",
            "Call_Start_Time": "2025-03-03T10:00:00+03:30",
            "Call_Duration": "00:05",
            "Owner": {"id": OWNER_ID},
            "What_Id": {"id": LEAD_ID},
            "$se_module": "Leads",
        }
    ]
    meeting = Activity(kind=ActivityKind.MEETING, subject="Site visit", at=at)
    assert adapter.log_activity(LEAD_ID, meeting) == "Events:5725767000001002001"
    [event] = sent(events)["data"]
    assert event["Event_Title"] == "Site visit" and event["End_DateTime"] == "2025-03-03T10:30:00+03:30"
    assert adapter.log_activity(
        LEAD_ID, Activity(kind=ActivityKind.EMAIL, subject="Offer", at=at)
    ).startswith("Tasks:")
    [task] = sent(tasks)["data"]
    assert (task["Status"], task["Due_Date"], task["Description"]) == (
        "Completed",
        "2025-03-03",
        EMAIL_MARKER,
    )
    note = Activity(kind=ActivityKind.NOTE, subject="Prefers Persian invoices", at=at)
    assert adapter.log_activity(LEAD_ID, note) == "Notes:5725767000001004001"
    assert sent(notes)["data"] == [{"Note_Title": note.subject, "Note_Content": note.subject}]


def test_follow_up_tasks_are_the_lead_tasks_due_at_midnight_in_the_org_zone(
    adapter: ZohoAdapter, mock: respx.MockRouter
) -> None:
    rows = [
        {
            "id": "5725767000002001001",
            "Subject": "Follow up (T+2)",
            "Due_Date": "2025-03-03",
            "Status": "Not Started",
        },
        {
            "id": "5725767000002001002",
            "Subject": "Offer",
            "Due_Date": "2025-03-01",
            "Description": EMAIL_MARKER,
        },
        {
            "id": "5725767000002001003",
            "Subject": "Follow up (T+5)",
            "Due_Date": "2025-03-06",
            "Status": "Deferred",
        },
    ]
    route = mock.get(f"{CRM}/Leads/{LEAD_ID}/Tasks").mock(
        side_effect=[listing(rows, 1, False), httpx.Response(204)]
    )
    done = mock.put(f"{CRM}/Tasks/5725767000002001001").mock(return_value=statuses(ok("5725767000002001001")))
    tasks = adapter.lead_tasks(LEAD_ID)
    assert "Due_Date" in params(route)["fields"]
    assert [(t.vendor_id, t.due_at) for t in tasks] == [
        ("5725767000002001001", datetime(2025, 3, 3, tzinfo=TEHRAN)),
        ("5725767000002001003", datetime(2025, 3, 6, tzinfo=TEHRAN)),
    ]
    assert all(t.automatic and t.lead_id == LEAD_ID for t in tasks)
    assert adapter.lead_tasks(LEAD_ID) == []
    adapter.complete_task("5725767000002001001", OWNER_ID)
    assert sent(done) == {"data": [{"Status": "Completed", "Owner": {"id": OWNER_ID}}]}


def test_conversion_uses_the_convert_action_and_creates_the_deal(
    adapter: ZohoAdapter, mock: respx.MockRouter
) -> None:
    lead_row = {
        "id": LEAD_ID,
        "Company": "Pars Pipe Co",
        "Description": f"{LEAD.title}\npoc-harness lead-0001",
    }
    mock.get(f"{CRM}/Leads/{LEAD_ID}").mock(return_value=httpx.Response(200, json={"data": [lead_row]}))
    converted = {
        "code": "SUCCESS",
        "details": {
            "Contacts": {"name": "Reza Karimi", "id": "5725767000007603014"},
            "Deals": {"name": LEAD.title, "id": DEAL_ID},
            "Accounts": {"name": "Pars Pipe Co", "id": "5725767000000624046"},
        },
        "message": "The record has been converted successfully",
        "status": "success",
    }
    route = mock.post(f"{CRM}/Leads/{LEAD_ID}/actions/convert").mock(
        return_value=httpx.Response(200, json={"data": [converted]})
    )
    assert adapter.convert_lead(LEAD_ID, 120_000, datetime(2025, 3, 11, 22, 0, tzinfo=UTC)) == DEAL_ID
    assert sent(route) == {
        "data": [
            {
                "Deals": {
                    "Deal_Name": LEAD.title,
                    "Closing_Date": "2025-03-12",
                    "Stage": "Qualification",
                    "Amount": 120_000,
                }
            }
        ]
    }


def test_deal_history_comes_from_the_stage_history_related_list(
    adapter: ZohoAdapter, mock: respx.MockRouter
) -> None:
    mock.get(f"{CRM}/Deals/{DEAL_ID}").mock(
        return_value=httpx.Response(
            200, json={"data": [{"id": DEAL_ID, "Stage": "Closed Won", "Amount": 120000}]}
        )
    )
    history = [
        ("Closed Won", "2025-03-10T11:33:00+03:30"),
        ("Negotiation/Review", "2025-03-10T11:32:00+03:30"),
        ("Qualification", "2025-03-10T11:30:05+03:30"),
        ("Proposal/Price Quote", "2025-03-10T11:31:00+03:30"),
        ("Qualification", "2025-03-10T11:30:00+03:30"),
        ("Id. Decision Makers", "2025-03-10T11:29:00+03:30"),
    ]
    rows = [
        {"id": f"57257670000080010{n}", "Stage": s, "Modified_Time": t} for n, (s, t) in enumerate(history)
    ]
    route = mock.get(f"{CRM}/Deals/{DEAL_ID}/Stage_History").mock(
        side_effect=[listing(rows[:3], 1, True), listing(rows[3:], 2, False)]
    )
    deal = adapter.get_deal(DEAL_ID)
    assert params(route, 0)["fields"] == "Stage,Modified_Time"
    assert [change.stage for change in deal.history] == [
        DealStage.QUALIFICATION,
        DealStage.PROPOSAL,
        DealStage.NEGOTIATION,
        DealStage.WON,
    ]
    assert (deal.stage, deal.amount, deal.lead_id) == (DealStage.WON, 120_000, None)
    update = mock.put(f"{CRM}/Deals/{DEAL_ID}").mock(return_value=statuses(ok(DEAL_ID), status=200))
    adapter.move_deal(DEAL_ID, DealStage.LOST)
    assert sent(update) == {"data": [{"Stage": "Closed Lost"}]}


# --- tickets ---------------------------------------------------------------------------------------


def test_a_case_is_opened_answered_with_a_note_and_closed(
    adapter: ZohoAdapter, mock: respx.MockRouter
) -> None:
    cases = mock.post(f"{CRM}/Cases").mock(return_value=statuses(ok(CASE_ID)))
    notes = mock.post(f"{CRM}/Cases/{CASE_ID}/Notes").mock(return_value=statuses(ok("5725767000003001001")))
    close = mock.put(f"{CRM}/Cases/{CASE_ID}").mock(return_value=statuses(ok(CASE_ID), status=200))
    assert adapter.create_ticket(TICKET, CONTACT_ID) == CASE_ID
    assert sent(cases)["data"] == [
        {
            "Subject": TICKET.subject,
            "Description": f"{TICKET.description}\npoc-harness ticket-0001 [{TAG}]",
            "Priority": "Urgent",
            "Status": "New",
            "Case_Origin": "Web",
            "Related_To": {"id": CONTACT_ID},
        }
    ]
    adapter.reply_ticket(CASE_ID, "We are on it")
    assert sent(notes) == {"data": [{"Note_Title": "Reply", "Note_Content": "We are on it"}]}
    adapter.close_ticket(CASE_ID)
    assert sent(close) == {"data": [{"Status": "Closed"}]}
    with pytest.raises(NotImplementedByAdapter, match="sla"):
        adapter.get_ticket(CASE_ID)


# --- capabilities, cleanup, options ------------------------------------------------------------------


def test_backdating_is_not_implemented(adapter: ZohoAdapter, mock: respx.MockRouter) -> None:
    with pytest.raises(NotImplementedByAdapter):
        adapter.create_lead(LEAD, datetime(2025, 2, 20, tzinfo=UTC))
    with pytest.raises(NotImplementedByAdapter):
        adapter.create_ticket(TICKET, CONTACT_ID, datetime(2025, 2, 20, tzinfo=UTC))
    assert not adapter.has(Capability.BACKDATING) and not mock["token"].called


def test_delete_and_find_tagged(adapter: ZohoAdapter, mock: respx.MockRouter) -> None:
    mock.delete(f"{CRM}/Events/5725767000001002001").mock(
        return_value=statuses({**ok("5725767000001002001"), "message": "record deleted"}, status=200)
    )
    gone = {
        "code": "INVALID_DATA",
        "details": {"id": LEAD_ID},
        "message": "record not deleted",
        "status": "error",
    }
    mock.delete(f"{CRM}/Leads/{LEAD_ID}").mock(return_value=statuses(gone, status=207))
    search = mock.get(f"{CRM}/Leads/search").mock(
        return_value=listing([{"id": LEAD_ID, "Last_Name": "Karimi"}], 1, False)
    )
    mock.get(f"{CRM}/Cases/search").mock(return_value=httpx.Response(204))
    assert adapter.delete(RecordKind.ACTIVITY, "Events:5725767000001002001") is True
    assert adapter.delete(RecordKind.LEAD, LEAD_ID) is False
    assert adapter.find_tagged(RecordKind.LEAD, TAG) == [LEAD_ID]
    assert params(search)["word"] == TAG
    assert adapter.find_tagged(RecordKind.TICKET, TAG) == []


def test_an_unknown_time_zone_is_a_config_error(slept: list[float]) -> None:
    with pytest.raises(ConfigError) as caught:
        make(time_zone="Mars/Olympus")
    assert "time_zone" in one_line(str(caught.value))


# --- the shipped conformance suite ----------------------------------------------------------------


class TestZohoConformance(AdapterConformance):
    secrets = (SECRET, REFRESH, TOKEN)
    credential = "POC_ZOHO_REFRESH"
    adapter_class = ZohoAdapter

    @pytest.fixture
    def router(self, mock: respx.MockRouter) -> respx.MockRouter:
        return mock

    @pytest.fixture
    def exchanges(self) -> dict[str, Exchange]:
        lead = {
            "id": LEAD_ID,
            "Owner": {"name": "Maryam Rahimi", "id": OWNER_ID, "email": "maryam@acme.example"},
            "Lead_Status": "Not Contacted",
            "Created_Time": "2025-03-01T12:00:00+03:30",
            "$converted": False,
        }
        found = {"data": [{"id": LEAD_ID, "Last_Name": "Karimi"}], "info": {"more_records": False}}
        gone = {"data": [{**ok(LEAD_ID), "message": "record deleted"}]}
        the_lead, search = f"{CRM}/Leads/{LEAD_ID}", f"{CRM}/Leads/search"
        return {
            "create_account": Exchange((ACCOUNT,), _inserted("Accounts", ACCOUNT_ID)),
            "create_contact": Exchange((CONTACT, ACCOUNT_ID), _inserted("Contacts", CONTACT_ID)),
            "create_lead": Exchange((LEAD,), _inserted("Leads", LEAD_ID)),
            "get_lead": Exchange((LEAD_ID,), answering("GET", the_lead, json={"data": [lead]})),
            "find_tagged": Exchange((RecordKind.LEAD, TAG), answering("GET", search, json=found)),
            "delete": Exchange((RecordKind.LEAD, LEAD_ID), answering("DELETE", the_lead, json=gone)),
            "log_activity": Exchange((LEAD_ID, call(OWNER_ID)), _inserted("Calls", "5725767000001001001")),
        } | _capability_exchanges()


TASK_ID = "5725767000002001001"
NOTE_ID = "5725767000003001001"


def _listed(url: str, rows: list[dict[str, Any]], key: str = "data") -> Install:
    """A related list or listing of one page (``info.more_records`` false)."""
    return answering_in_turn("GET", url, listing(rows, 1, False, key=key))


def _capability_exchanges() -> dict[str, Exchange]:
    """Users, the lead's Tasks, convert (``details.Deals.id``), the Deal and its Stage_History, and Cases
    with a Note as the reply, in the shapes of the v8 references cited in the adapter's docstring.
    ``get_ticket`` has none: Zoho CRM Cases keep no first-response time or SLA flags (see the adapter)."""
    user = {"id": OWNER_ID, "status": "active", "profile": {"name": "Sales Rep", "id": "1"}}
    owner = {"name": "Maryam Rahimi", "id": OWNER_ID}
    task = {"id": TASK_ID, "Subject": "Follow up", "Due_Date": "2025-03-03", "Status": "Deferred"}
    task["Owner"] = owner
    lead = {"id": LEAD_ID, "Company": "Pars Pipe Co", "Description": f"{LEAD.title}\npoc-harness lead-0001"}
    converted = {
        "code": "SUCCESS",
        "details": {"Contacts": {"id": CONTACT_ID}, "Deals": {"name": LEAD.title, "id": DEAL_ID}},
        "message": "The record has been converted successfully",
        "status": "success",
    }
    deal = {"id": DEAL_ID, "Stage": "Qualification", "Amount": 120000}
    changed = {"Stage": "Qualification", "Modified_Time": "2025-03-10T11:30:00+03:30"}
    history, the_deal = [{"id": "5725767000008001001", **changed}], f"{CRM}/Deals/{DEAL_ID}"
    return {
        "list_sales_reps": Exchange((), _listed(f"{CRM}/users", [user], key="users")),
        "lead_tasks": Exchange((LEAD_ID,), _listed(f"{CRM}/Leads/{LEAD_ID}/Tasks", [task])),
        "complete_task": Exchange((TASK_ID, OWNER_ID), _updated("Tasks", TASK_ID)),
        "convert_lead": Exchange(
            (LEAD_ID, 120_000, datetime(2025, 3, 11, 22, 0, tzinfo=UTC)),
            together(
                answering("GET", f"{CRM}/Leads/{LEAD_ID}", json={"data": [lead]}),
                answering("POST", f"{CRM}/Leads/{LEAD_ID}/actions/convert", json={"data": [converted]}),
            ),
        ),
        "move_deal": Exchange((DEAL_ID, DealStage.WON), _updated("Deals", DEAL_ID)),
        "get_deal": Exchange(
            (DEAL_ID,),
            together(
                answering("GET", the_deal, json={"data": [deal]}),
                _listed(f"{the_deal}/Stage_History", history),
            ),
        ),
        "create_ticket": Exchange((TICKET, CONTACT_ID), _inserted("Cases", CASE_ID)),
        "reply_ticket": Exchange((CASE_ID, "On it"), _inserted(f"Cases/{CASE_ID}/Notes", NOTE_ID)),
        "close_ticket": Exchange((CASE_ID,), _updated("Cases", CASE_ID)),
    }


def _updated(module: str, record_id: str) -> Install:
    return answering("PUT", f"{CRM}/{module}/{record_id}", json={"data": [ok(record_id)]})


def _inserted(module: str, record_id: str) -> Install:
    return answering("POST", f"{CRM}/{module}", 201, {"data": [ok(record_id)]})
