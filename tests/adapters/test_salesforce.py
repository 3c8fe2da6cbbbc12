"""Contract tests of the Salesforce adapter: respx mocks answering in Salesforce's documented shapes
(OAuth client credentials, REST sObjects, sObject Collections, SOQL pages, SOSL, the SOAP convertLead)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from adapters.salesforce import SalesforceAdapter
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

DOMAIN = "https://acme-poc.my.salesforce.com"
INSTANCE = "https://acme-poc.my.salesforce.com:8443"
DATA = f"{INSTANCE}/services/data/v62.0"
TOKEN_URL = f"{DOMAIN}/services/oauth2/token"
CLIENT_ID = "3MVG9VwZxxW3bBQjhE6m21CG2nSS4WC.GNbZCtKeQxFH7218ns6xOLCNnJVKnZFTZWKzt2qwSFqt2taMt5mcr"
SECRET = "8A4BE698BCA216718ECB0B1DCA294C69732EAD9472A1790F8FED38DD2E02B5FA"
TOKEN = "00DS7000000oxzo!AR8AQPXAhJNveaXDdPzbrtXqPykdVxBxtbLycpiyPmKyJm0Ku8gKKztulObJ1dhJU8Jt9W8k7FySsPA"
LEAD_ID = "00QDn00000Ab1CdEAF"
OWNER_ID = "005Dn000003RepAIAS"
ACCOUNT_ID = "001Dn00000Q1w2eIAB"
CONTACT_ID = "003Dn00000Zx9YvIAJ"
CASE_ID = "500Dn00000Tk7LmIAJ"
OPP_ID = "006Dn00000Op9QrIAJ"
TOKEN_ANSWER = {
    "access_token": TOKEN,
    "signature": "nUFHwtfIGLKDTHcLWmDBG8frv0t+HQGl/iCZFIQUarE=",
    "token_format": "opaque",
    "instance_url": INSTANCE,
    "id": f"https://login.salesforce.com/id/00DS7000000oxzoMAA/{OWNER_ID}",
    "token_type": "Bearer",
    "issued_at": "1740830400000",
    "api_instance_url": "https://api.salesforce.com",
}

LEAD = Lead(
    key="lead-0001",
    tag=TAG,
    title=f"Leak detection for Pars Pipe [{TAG}]",
    company="Pars Pipe Co",
    contact_name="Reza Karimi",
    email="reza.karimi@parspipe.example",
    phone="+989351112233",
    city="Isfahan",
    source=LeadSource.COLD_CALL,
    estimated_value=120_000,
)
TICKET = Ticket(
    key="ticket-0001",
    tag=TAG,
    subject=f"Gauge offline [{TAG}]",
    description="The pressure gauge reports nothing since Monday",
    priority=TicketPriority.HIGH,
    contact_key="contact-0001",
)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The secret in its environment variable, and sleeps recorded instead of waited."""
    monkeypatch.setenv("POC_SF_SECRET", SECRET)
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


@pytest.fixture
def mock(slept: list[float]) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL, name="token").mock(return_value=httpx.Response(200, json=TOKEN_ANSWER))
        yield router


@pytest.fixture
def adapter(mock: respx.MockRouter) -> Iterator[SalesforceAdapter]:
    built = make()
    yield built
    built.close()


def make(**options: Any) -> SalesforceAdapter:
    table = {"domain": DOMAIN, "client_id": CLIENT_ID, "client_secret_env": "POC_SF_SECRET", **options}
    built = SalesforceAdapter.from_table("acme-sf", table)
    assert isinstance(built, SalesforceAdapter)
    return built


def created(record_id: str) -> httpx.Response:
    return httpx.Response(201, json={"id": record_id, "success": True, "errors": []})


def sent(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def query_of(route: respx.Route, index: int = -1) -> str:
    return route.calls[index].request.url.params["q"]


def page(
    records: list[dict[str, Any]], next_url: str | None = None, total: int | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "totalSize": total or len(records),
        "done": next_url is None,
        "records": records,
    }
    if next_url:
        answer["nextRecordsUrl"] = next_url
    return answer


def row(sobject: str, record_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": sobject, "url": f"/services/data/v62.0/sobjects/{sobject}/{record_id}"},
        **fields,
    }


def one_line(message: str) -> str:
    assert message and "\n" not in message and "\r" not in message
    return message


# --- authentication, errors, limits ----------------------------------------------------------------


def test_client_credentials_token_then_bearer_calls_on_the_instance_url(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    limits = mock.get(f"{DATA}/limits").mock(
        return_value=httpx.Response(200, json={"DailyApiRequests": {"Max": 15000, "Remaining": 14982}})
    )
    answer = adapter.check_connection()
    adapter.check_connection()
    form = parse_qs(mock["token"].calls.last.request.content.decode())
    assert form == {"grant_type": ["client_credentials"], "client_id": [CLIENT_ID], "client_secret": [SECRET]}
    assert mock["token"].call_count == 1
    assert limits.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "14982 of 15000 daily API requests" in answer and INSTANCE in answer


def test_refused_client_credentials_are_a_one_line_config_error_without_the_secret(
    slept: list[float],
) -> None:
    with respx.mock() as router:
        router.post(TOKEN_URL).mock(
            return_value=httpx.Response(
                400, json={"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        )
        with pytest.raises(ConfigError) as caught:
            make().check_connection()
    message = one_line(str(caught.value))
    assert "invalid_client" in message and "POC_SF_SECRET" in message and SECRET not in message


def test_secrets_never_reach_an_exception(adapter: SalesforceAdapter, mock: respx.MockRouter) -> None:
    echo = [
        {"message": f"bad header Bearer {TOKEN} from secret {SECRET}", "errorCode": "INVALID_HEADER_TYPE"}
    ]
    mock.get(f"{DATA}/sobjects/Lead/{LEAD_ID}").mock(return_value=httpx.Response(400, json=echo))
    with pytest.raises(VendorError) as caught:
        adapter.get_lead(LEAD_ID)
    message = one_line(str(caught.value))
    assert TOKEN not in message and SECRET not in message and "INVALID_HEADER_TYPE" in message


def test_the_documented_error_body_becomes_a_one_line_vendor_error(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    body = [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    mock.post(f"{DATA}/sobjects/Contact").mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(VendorError) as caught:
        adapter.create_contact(CONTACT, ACCOUNT_ID)
    message = one_line(str(caught.value))
    assert "HTTP 400" in message and "REQUIRED_FIELD_MISSING" in message


def test_an_expired_session_is_renewed_once(adapter: SalesforceAdapter, mock: respx.MockRouter) -> None:
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    mock.get(f"{DATA}/limits").mock(
        side_effect=[
            httpx.Response(401, json=expired),
            httpx.Response(200, json={"DailyApiRequests": {"Max": 15000, "Remaining": 14000}}),
        ]
    )
    assert "14000" in adapter.check_connection()
    assert mock["token"].call_count == 2


def test_near_the_daily_api_limit_the_client_pauses(
    adapter: SalesforceAdapter, mock: respx.MockRouter, slept: list[float]
) -> None:
    ok = {"DailyApiRequests": {"Max": 15000, "Remaining": 100}}
    mock.get(f"{DATA}/limits").mock(
        side_effect=[
            httpx.Response(200, json=ok, headers={"Sforce-Limit-Info": "api-usage=14000/15000"}),
            httpx.Response(200, json=ok, headers={"Sforce-Limit-Info": "api-usage=14900/15000"}),
        ]
    )
    adapter.check_connection()
    assert slept == []
    adapter.check_connection()
    assert slept == [30.0]
    assert adapter.call_stats()["rate_limit_pauses"] == 1


def test_an_overloaded_server_is_retried_then_succeeds(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    route = mock.get(f"{DATA}/limits").mock(
        side_effect=[
            httpx.Response(503, text="Server Unavailable"),
            httpx.Response(200, json={"DailyApiRequests": {"Max": 15000, "Remaining": 14999}}),
        ]
    )
    assert "14999" in adapter.check_connection()
    assert route.call_count == 2 and adapter.call_stats()["retries"] == 1


# --- records -------------------------------------------------------------------------------------


def test_account_and_contact_bodies(adapter: SalesforceAdapter, mock: respx.MockRouter) -> None:
    accounts = mock.post(f"{DATA}/sobjects/Account").mock(return_value=created(ACCOUNT_ID))
    contacts = mock.post(f"{DATA}/sobjects/Contact").mock(return_value=created(CONTACT_ID))
    assert adapter.create_account(ACCOUNT) == ACCOUNT_ID
    assert adapter.create_contact(CONTACT, ACCOUNT_ID) == CONTACT_ID
    account, contact = sent(accounts), sent(contacts)
    assert account["Name"] == ACCOUNT.name and account["Industry"] == "Energy"
    assert account["BillingCity"] == "Tehran" and account["Phone"] == "+982188776655"
    assert account["Description"].endswith(f"poc-harness acct-0001 [{TAG}]")
    assert (contact["FirstName"], contact["LastName"]) == ("Sara", "Ahmadi")
    assert contact["Email"] == CONTACT.email and contact["Phone"] == CONTACT.phone
    assert contact["AccountId"] == ACCOUNT_ID and f"[{TAG}]" in contact["Description"]


def test_lead_is_created_with_assignment_rules_and_read_back(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    create = mock.post(f"{DATA}/sobjects/Lead").mock(return_value=created(LEAD_ID))
    read = mock.get(f"{DATA}/sobjects/Lead/{LEAD_ID}").mock(
        return_value=httpx.Response(
            200,
            json={
                **row("Lead", LEAD_ID),
                "Id": LEAD_ID,
                "OwnerId": OWNER_ID,
                "Status": "Open - Not Contacted",
                "IsConverted": False,
                "CreatedDate": "2025-03-01T09:30:00.000+0000",
            },
        )
    )
    assert adapter.create_lead(LEAD) == LEAD_ID
    body = sent(create)
    assert create.calls.last.request.headers["Sforce-Auto-Assign"] == "TRUE"
    assert (body["FirstName"], body["LastName"], body["Company"]) == ("Reza", "Karimi", "Pars Pipe Co")
    assert body["Email"] == LEAD.email and body["Phone"] == LEAD.phone and body["City"] == "Isfahan"
    assert body["LeadSource"] == "Phone Inquiry" and "CreatedDate" not in body
    assert body["Description"].splitlines()[0] == LEAD.title
    view = adapter.get_lead(LEAD_ID)
    assert read.calls.last.request.url.params["fields"] == "Id,OwnerId,Status,IsConverted,CreatedDate"
    assert (view.owner_id, view.status) == (OWNER_ID, "Open - Not Contacted")
    assert view.created_at == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def test_sales_reps_are_read_over_several_soql_pages(mock: respx.MockRouter) -> None:
    adapter = make(rep_profile="PoC Sales Rep")
    first = mock.get(f"{DATA}/query").mock(
        return_value=httpx.Response(
            200,
            json=page(
                [row("User", f"005Dn000003Rep{n}AA", Id=f"005Dn000003Rep{n}AA") for n in "AB"],
                "/services/data/v62.0/query/01gDn00000ABCDE-2000",
                total=5,
            ),
        )
    )
    mock.get(f"{DATA}/query/01gDn00000ABCDE-2000").mock(
        return_value=httpx.Response(
            200,
            json=page(
                [row("User", f"005Dn000003Rep{n}AA", Id=f"005Dn000003Rep{n}AA") for n in "CD"],
                "/services/data/v62.0/query/01gDn00000ABCDE-4000",
                total=5,
            ),
        )
    )
    mock.get(f"{DATA}/query/01gDn00000ABCDE-4000").mock(
        return_value=httpx.Response(
            200, json=page([row("User", "005Dn000003RepEAA", Id="005Dn000003RepEAA")], total=5)
        )
    )
    reps = adapter.list_sales_reps()
    assert reps == [f"005Dn000003Rep{n}AA" for n in "ABCDE"]
    assert "Profile.Name = 'PoC Sales Rep'" in query_of(first) and "IsActive = true" in query_of(first)
    adapter.close()


def test_a_batch_is_one_sobject_collections_request(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        records = json.loads(request.content)["records"]
        start = int(records[0]["Name"].split("-")[1])
        return httpx.Response(
            200,
            json=[
                {"id": f"001Dn{start + n:013d}", "success": True, "errors": []} for n in range(len(records))
            ],
        )

    route = mock.post(f"{DATA}/composite/sobjects").mock(side_effect=answer)
    accounts = [
        BatchItem(ACCOUNT.model_copy(update={"key": f"acct-{n:04d}", "name": f"Acct-{n:04d}"}))
        for n in range(adapter.max_batch_size)
    ]
    results = adapter.create_batch(RecordKind.ACCOUNT, accounts)
    assert route.call_count == 1 and len(sent(route, 0)["records"]) == 200
    first = sent(route, 0)
    assert first["allOrNone"] is False and first["records"][0]["attributes"] == {"type": "Account"}
    assert first["records"][0]["Name"] == "Acct-0000"
    assert [result.vendor_id for result in results] == [f"001Dn{n:013d}" for n in range(200)]


def test_a_partial_batch_failure_names_the_failed_records_and_keeps_the_successes(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    results = [
        {"id": "00QDn00000Ab1CdEA1", "success": True, "errors": []},
        {
            "success": False,
            "errors": [
                {
                    "statusCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [Company]",
                    "fields": ["Company"],
                }
            ],
        },
        {"id": "00QDn00000Ab1CdEA3", "success": True, "errors": []},
    ]
    route = mock.post(f"{DATA}/composite/sobjects").mock(return_value=httpx.Response(200, json=results))
    leads = [BatchItem(LEAD.model_copy(update={"key": f"lead-000{n}"})) for n in (1, 2, 3)]
    first, refused, third = adapter.create_batch(RecordKind.LEAD, leads)
    message = one_line(str(refused.error))
    assert refused.vendor_id is None and "lead-0002" in message and "REQUIRED_FIELD_MISSING" in message
    assert (first.vendor_id, third.vendor_id) == ("00QDn00000Ab1CdEA1", "00QDn00000Ab1CdEA3")
    assert route.calls.last.request.headers["Sforce-Auto-Assign"] == "TRUE"


def test_activities_become_tasks_events_and_notes(adapter: SalesforceAdapter, mock: respx.MockRouter) -> None:
    tasks = mock.post(f"{DATA}/sobjects/Task").mock(return_value=created("00TDn00000Tsk01IAA"))
    events = mock.post(f"{DATA}/sobjects/Event").mock(return_value=created("00UDn00000Evt01IAA"))
    notes = mock.post(f"{DATA}/sobjects/Note").mock(return_value=created("002Dn00000Nte01IAA"))
    at = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    call = Activity(kind=ActivityKind.CALL, subject=f"Discovery call [{TAG}]", user_id=OWNER_ID, at=at)
    assert adapter.log_activity(LEAD_ID, call) == "00TDn00000Tsk01IAA"
    assert sent(tasks) == {
        "WhoId": LEAD_ID,
        "Subject": f"Discovery call [{TAG}]",
        "TaskSubtype": "Call",
        "Status": "Completed",
        "ActivityDate": "2025-03-03",
        "OwnerId": OWNER_ID,
    }
    adapter.log_activity(LEAD_ID, Activity(kind=ActivityKind.EMAIL, subject="Offer sent", at=at))
    assert sent(tasks)["TaskSubtype"] == "Email" and "OwnerId" not in sent(tasks)
    adapter.log_activity(LEAD_ID, Activity(kind=ActivityKind.MEETING, subject="Site visit", at=at))
    assert sent(events)["StartDateTime"] == "2025-03-03T10:00:00Z"
    assert sent(events)["EndDateTime"] == "2025-03-03T10:30:00Z" and sent(events)["WhoId"] == LEAD_ID
    adapter.log_activity(LEAD_ID, Activity(kind=ActivityKind.NOTE, subject="Prefers Persian invoices", at=at))
    assert sent(notes) == {
        "ParentId": LEAD_ID,
        "Title": "Prefers Persian invoices",
        "Body": "Prefers Persian invoices",
    }


def test_follow_up_tasks_are_the_plain_tasks_with_their_due_times(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    rows = [
        row(
            "Task",
            "00TDn00000Fup01IAA",
            Id="00TDn00000Fup01IAA",
            WhoId=LEAD_ID,
            Subject="Follow up (T+2)",
            ActivityDate="2025-03-03",
            IsReminderSet=True,
            ReminderDateTime="2025-03-03T09:30:00.000+0000",
        ),
        row(
            "Task",
            "00TDn00000Fup02IAA",
            Id="00TDn00000Fup02IAA",
            WhoId=LEAD_ID,
            Subject="Follow up (T+5)",
            ActivityDate="2025-03-06",
            IsReminderSet=False,
            ReminderDateTime=None,
        ),
        row("Task", "00TDn00000Fup03IAA", Id="00TDn00000Fup03IAA", WhoId=LEAD_ID, Subject="Someday"),
    ]
    query = mock.get(f"{DATA}/query").mock(return_value=httpx.Response(200, json=page(rows)))
    done = mock.patch(f"{DATA}/sobjects/Task/00TDn00000Fup01IAA").mock(return_value=httpx.Response(204))
    tasks = adapter.lead_tasks(LEAD_ID)
    assert f"WhoId = '{LEAD_ID}'" in query_of(query) and "TaskSubtype = 'Task'" in query_of(query)
    assert [(t.vendor_id, t.due_at, t.automatic) for t in tasks] == [
        ("00TDn00000Fup01IAA", datetime(2025, 3, 3, 9, 30, tzinfo=UTC), True),
        ("00TDn00000Fup02IAA", datetime(2025, 3, 6, tzinfo=UTC), True),
    ]
    adapter.complete_task("00TDn00000Fup01IAA", OWNER_ID)
    assert sent(done) == {"Status": "Completed", "OwnerId": OWNER_ID}


def convert_answer(success: bool) -> str:
    result = (
        f"<accountId>{ACCOUNT_ID}</accountId><contactId>{CONTACT_ID}</contactId><leadId>{LEAD_ID}</leadId>"
        f"<opportunityId>{OPP_ID}</opportunityId><success>true</success>"
        if success
        else "<errors><message>Converted Status is invalid</message><statusCode>INVALID_STATUS</statusCode>"
        f"</errors><leadId>{LEAD_ID}</leadId><success>false</success>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
        f"<soapenv:Body><convertLeadResponse><result>{result}</result></convertLeadResponse></soapenv:Body>"
        "</soapenv:Envelope>"
    )


def mock_conversion(mock: respx.MockRouter, success: bool = True) -> respx.Route:
    mock.get(f"{DATA}/sobjects/Lead/{LEAD_ID}").mock(
        return_value=httpx.Response(
            200,
            json={"Company": "Pars Pipe Co", "Description": f"{LEAD.title}\npoc-harness lead-0001 [{TAG}]"},
        )
    )
    mock.get(f"{DATA}/query").mock(
        return_value=httpx.Response(
            200, json=page([row("LeadStatus", "01JDn", MasterLabel="Closed - Converted")])
        )
    )
    return mock.post(f"{INSTANCE}/services/Soap/u/62.0").mock(
        return_value=httpx.Response(200, text=convert_answer(success), headers={"Content-Type": "text/xml"})
    )


def test_conversion_uses_soap_convert_lead_then_sets_amount_stage_and_close_date(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    soap = mock_conversion(mock)
    update = mock.patch(f"{DATA}/sobjects/Opportunity/{OPP_ID}").mock(return_value=httpx.Response(204))
    deal = adapter.convert_lead(LEAD_ID, 120_000, datetime(2025, 3, 11, 8, 0, tzinfo=UTC))
    assert deal == OPP_ID
    envelope = soap.calls.last.request.content.decode()
    assert f"<urn:sessionId>{TOKEN}</urn:sessionId>" in envelope
    assert f"<urn:leadId>{LEAD_ID}</urn:leadId>" in envelope
    assert "<urn:convertedStatus>Closed - Converted</urn:convertedStatus>" in envelope
    assert f"<urn:opportunityName>{LEAD.title}</urn:opportunityName>" in envelope
    assert soap.calls.last.request.headers["SOAPAction"] == '""'
    assert sent(update) == {"Amount": 120_000, "StageName": "Qualification", "CloseDate": "2025-03-11"}


def test_a_refused_conversion_is_a_one_line_vendor_error(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    mock_conversion(mock, success=False)
    with pytest.raises(VendorError) as caught:
        adapter.convert_lead(LEAD_ID, 120_000)
    assert "INVALID_STATUS" in one_line(str(caught.value))


def test_deal_history_comes_from_opportunity_history(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    history = [
        ("Prospecting", "2025-03-10T08:00:00.000+0000"),
        ("Qualification", "2025-03-10T08:00:01.000+0000"),
        ("Qualification", "2025-03-10T08:00:02.000+0000"),
        ("Proposal/Price Quote", "2025-03-10T08:01:00.000+0000"),
        ("Negotiation/Review", "2025-03-10T08:02:00.000+0000"),
        ("Closed Won", "2025-03-10T08:03:00.000+0000"),
    ]
    opportunity = row(
        "Opportunity",
        OPP_ID,
        Id=OPP_ID,
        StageName="Closed Won",
        Amount=120000.0,
        OpportunityHistories=page([{"StageName": s, "CreatedDate": t} for s, t in history]),
    )
    route = mock.get(f"{DATA}/query").mock(
        side_effect=[
            httpx.Response(200, json=page([opportunity])),
            httpx.Response(200, json=page([row("Lead", LEAD_ID, Id=LEAD_ID)])),
        ]
    )
    deal = adapter.get_deal(OPP_ID)
    assert "FROM OpportunityHistories" in query_of(route, 0) and "ConvertedOpportunityId" in query_of(
        route, 1
    )
    assert [change.stage for change in deal.history] == [
        DealStage.QUALIFICATION,
        DealStage.PROPOSAL,
        DealStage.NEGOTIATION,
        DealStage.WON,
    ]
    assert (deal.stage, deal.amount, deal.lead_id) == (DealStage.WON, 120_000, LEAD_ID)
    update = mock.patch(f"{DATA}/sobjects/Opportunity/{OPP_ID}").mock(return_value=httpx.Response(204))
    adapter.move_deal(OPP_ID, DealStage.LOST)
    assert sent(update) == {"StageName": "Closed Lost"}


# --- tickets ---------------------------------------------------------------------------------------


def case_row(milestones: list[dict[str, Any]]) -> dict[str, Any]:
    return row(
        "Case",
        CASE_ID,
        Id=CASE_ID,
        Priority="High",
        Status="Closed",
        CreatedDate="2025-03-01T10:00:00.000+0000",
        ClosedDate="2025-03-01T20:00:00.000+0000",
        CaseMilestones=page(milestones) if milestones else None,
    )


def milestone(name: str, violated: bool, completed: str | None) -> dict[str, Any]:
    return {"MilestoneType": {"Name": name}, "IsViolated": violated, "CompletionDate": completed}


def test_a_ticket_is_opened_answered_closed_and_read_with_its_milestones(mock: respx.MockRouter) -> None:
    adapter = make(entitlement_id="550Dn000000Ent1IAA")
    cases = mock.post(f"{DATA}/sobjects/Case").mock(return_value=created(CASE_ID))
    comments = mock.post(f"{DATA}/sobjects/CaseComment").mock(return_value=created("00aDn00000Cmt01IAA"))
    close = mock.patch(f"{DATA}/sobjects/Case/{CASE_ID}").mock(return_value=httpx.Response(204))
    milestones = [
        milestone("First Response", False, "2025-03-01T11:30:00.000+0000"),
        milestone("Resolution Time", True, None),
    ]
    query = mock.get(f"{DATA}/query").mock(
        return_value=httpx.Response(200, json=page([case_row(milestones)]))
    )
    assert adapter.create_ticket(TICKET, CONTACT_ID) == CASE_ID
    assert sent(cases) == {
        "Subject": TICKET.subject,
        "Description": f"{TICKET.description}\npoc-harness ticket-0001 [{TAG}]",
        "Priority": "High",
        "Origin": "Web",
        "ContactId": CONTACT_ID,
        "EntitlementId": "550Dn000000Ent1IAA",
    }
    adapter.reply_ticket(CASE_ID, "We are on it")
    assert sent(comments) == {"ParentId": CASE_ID, "CommentBody": "We are on it", "IsPublished": True}
    adapter.close_ticket(CASE_ID)
    assert sent(close) == {"Status": "Closed"}
    view = adapter.get_ticket(CASE_ID)
    assert "FROM CaseMilestones" in query_of(query)
    assert view.priority is TicketPriority.HIGH and view.closed_at == datetime(2025, 3, 1, 20, tzinfo=UTC)
    assert view.first_response_at == datetime(2025, 3, 1, 11, 30, tzinfo=UTC)
    assert (view.first_response_breached, view.resolution_breached) == (False, True)
    adapter.close()


def test_a_case_without_its_milestones_is_a_vendor_error(
    adapter: SalesforceAdapter, mock: respx.MockRouter
) -> None:
    mock.get(f"{DATA}/query").mock(return_value=httpx.Response(200, json=page([case_row([])])))
    with pytest.raises(VendorError) as caught:
        adapter.get_ticket(CASE_ID)
    assert "'First Response' milestone" in one_line(str(caught.value))


def test_sla_compliance_is_counted_by_salesforce(adapter: SalesforceAdapter, mock: respx.MockRouter) -> None:
    route = mock.get(f"{DATA}/query").mock(
        side_effect=[
            httpx.Response(200, json={"totalSize": 12, "done": True, "records": []}),
            httpx.Response(200, json={"totalSize": 3, "done": True, "records": []}),
        ]
    )
    figure = adapter.report_sla_compliance(
        datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 15, tzinfo=UTC), TAG
    )
    assert (figure.tickets, figure.met, figure.rate_pct) == (12, 9, 75.0)
    closed = query_of(route, 0)
    assert "ClosedDate >= 2025-03-01T00:00:00Z" in closed and "ClosedDate < 2025-03-15T00:00:00Z" in closed
    assert f"Subject LIKE '%[{TAG}]%'" in closed
    assert "SELECT CaseId FROM CaseMilestone WHERE IsViolated = true" in query_of(route, 1)


# --- capabilities, backdating, cleanup ---------------------------------------------------------------


def test_backdating_needs_the_set_audit_fields_permission(mock: respx.MockRouter) -> None:
    arrived = datetime(2025, 2, 20, 9, 0, tzinfo=UTC)
    plain = make()
    assert not plain.has(Capability.BACKDATING)
    with pytest.raises(NotImplementedByAdapter):  # the org may grant the permission: not the vendor's lack
        plain.create_lead(LEAD, arrived)
    assert not mock.routes["token"].called
    audited = make(set_audit_fields=True)
    route = mock.post(f"{DATA}/sobjects/Lead").mock(return_value=created(LEAD_ID))
    assert audited.has(Capability.BACKDATING)
    audited.create_lead(LEAD, arrived)
    assert sent(route)["CreatedDate"] == "2025-02-20T09:00:00Z"


def test_delete_and_find_tagged(adapter: SalesforceAdapter, mock: respx.MockRouter) -> None:
    mock.delete(f"{DATA}/sobjects/Event/00UDn00000Evt01IAA").mock(return_value=httpx.Response(204))
    gone = [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]
    mock.delete(f"{DATA}/sobjects/Lead/{LEAD_ID}").mock(return_value=httpx.Response(404, json=gone))
    search = mock.get(f"{DATA}/search").mock(
        return_value=httpx.Response(200, json={"searchRecords": [row("Lead", LEAD_ID, Id=LEAD_ID)]})
    )
    assert adapter.delete(RecordKind.ACTIVITY, "00UDn00000Evt01IAA") is True
    assert adapter.delete(RecordKind.LEAD, LEAD_ID) is False
    assert adapter.find_tagged(RecordKind.LEAD, TAG) == [LEAD_ID]
    assert query_of(search) == f"FIND {{{TAG}}} IN ALL FIELDS RETURNING Lead(Id)"


def test_an_ambiguous_stage_map_is_a_config_error(slept: list[float]) -> None:
    with pytest.raises(ConfigError) as caught:
        make(stages={"won": "Closed", "lost": "Closed"})
    assert "stages" in one_line(str(caught.value))


# --- the shipped conformance suite ----------------------------------------------------------------


class TestSalesforceConformance(AdapterConformance):
    secrets = (SECRET, TOKEN)
    credential = "POC_SF_SECRET"
    adapter_class = SalesforceAdapter

    @pytest.fixture
    def router(self, mock: respx.MockRouter) -> respx.MockRouter:
        return mock

    @pytest.fixture
    def exchanges(self) -> dict[str, Exchange]:
        lead = {
            **row("Lead", LEAD_ID),
            "Id": LEAD_ID,
            "OwnerId": OWNER_ID,
            "Status": "Open - Not Contacted",
            "IsConverted": False,
            "CreatedDate": "2025-03-01T09:30:00.000+0000",
        }
        found = {"searchRecords": [row("Lead", LEAD_ID, Id=LEAD_ID)]}
        return {
            "create_account": Exchange((ACCOUNT,), _created("Account", ACCOUNT_ID)),
            "create_contact": Exchange((CONTACT, ACCOUNT_ID), _created("Contact", CONTACT_ID)),
            "create_lead": Exchange((LEAD,), _created("Lead", LEAD_ID)),
            "get_lead": Exchange((LEAD_ID,), answering("GET", f"{LEADS}/{LEAD_ID}", json=lead)),
            "find_tagged": Exchange((RecordKind.LEAD, TAG), answering("GET", f"{DATA}/search", json=found)),
            "delete": Exchange((RecordKind.LEAD, LEAD_ID), answering("DELETE", f"{LEADS}/{LEAD_ID}", 204)),
            "log_activity": Exchange((LEAD_ID, call(OWNER_ID)), _created("Task", "00TDn00000Tsk01IAA")),
        } | _capability_exchanges()


TASK_ID = "00TDn00000Fup01IAA"
QUERY = f"{DATA}/query"


def _queried(*pages: dict[str, Any]) -> Install:
    """SOQL queries answered in turn (``GET /query?q=...``)."""
    return answering_in_turn("GET", QUERY, *(httpx.Response(200, json=answer) for answer in pages))


def _capability_exchanges() -> dict[str, Exchange]:
    """Assignment, follow-ups, deals (SOAP ``convertLead``, OpportunityHistory), cases with milestones and
    the SLA counts, in the shapes of the REST and SOAP references cited in the adapter's docstring."""
    rep = row("User", OWNER_ID, Id=OWNER_ID)
    task = row(
        "Task",
        TASK_ID,
        Id=TASK_ID,
        WhoId=LEAD_ID,
        OwnerId=OWNER_ID,
        Subject="Follow up (T+2)",
        ActivityDate="2025-03-03",
        IsReminderSet=True,
        ReminderDateTime="2025-03-03T09:30:00.000+0000",
    )
    history = [{"StageName": "Qualification", "CreatedDate": "2025-03-10T08:00:01.000+0000"}]
    opportunity = row(
        "Opportunity", OPP_ID, Id=OPP_ID, StageName="Qualification", Amount=120000.0,
        OpportunityHistories=page(history),
    )
    lead = {"Company": "Pars Pipe Co", "Description": f"{LEAD.title}\npoc-harness lead-0001 [{TAG}]"}
    converted = page([row("LeadStatus", "01JDn00000Cnv01IAA", MasterLabel="Closed - Converted")])
    soap = httpx.Response(200, text=convert_answer(True), headers={"Content-Type": "text/xml"})
    milestones = [
        milestone("First Response", False, "2025-03-01T11:30:00.000+0000"),
        milestone("Resolution Time", False, "2025-03-01T19:00:00.000+0000"),
    ]
    counted = ({"totalSize": 12, "done": True, "records": []}, {"totalSize": 3, "done": True, "records": []})
    period = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 15, tzinfo=UTC), TAG)
    the_task, the_opportunity = _sobject("Task", TASK_ID), _sobject("Opportunity", OPP_ID)
    the_case, deal_lead = _sobject("Case", CASE_ID), page([row("Lead", LEAD_ID, Id=LEAD_ID)])
    return {
        "list_sales_reps": Exchange((), _queried(page([rep]))),
        "lead_tasks": Exchange((LEAD_ID,), _queried(page([task]))),
        "complete_task": Exchange((TASK_ID, OWNER_ID), answering("PATCH", the_task, 204)),
        "convert_lead": Exchange(
            (LEAD_ID, 120_000, datetime(2025, 3, 11, 8, 0, tzinfo=UTC)),
            together(
                answering("GET", f"{LEADS}/{LEAD_ID}", json=lead),
                _queried(converted),
                answering_in_turn("POST", f"{INSTANCE}/services/Soap/u/62.0", soap),
                answering("PATCH", the_opportunity, 204),
            ),
        ),
        "move_deal": Exchange((OPP_ID, DealStage.WON), answering("PATCH", the_opportunity, 204)),
        "get_deal": Exchange((OPP_ID,), _queried(page([opportunity]), deal_lead)),
        "create_ticket": Exchange((TICKET, CONTACT_ID), _created("Case", CASE_ID)),
        "get_ticket": Exchange((CASE_ID,), _queried(page([case_row(milestones)]))),
        "reply_ticket": Exchange((CASE_ID, "We are on it"), _created("CaseComment", "00aDn00000Cmt01IAA")),
        "close_ticket": Exchange((CASE_ID,), answering("PATCH", the_case, 204)),
        "report_sla_compliance": Exchange(period, _queried(*counted)),
    }


def _sobject(sobject: str, record_id: str) -> str:
    return f"{DATA}/sobjects/{sobject}/{record_id}"


LEADS = f"{DATA}/sobjects/Lead"


def _created(sobject: str, record_id: str) -> Install:
    answer = {"id": record_id, "success": True, "errors": []}
    return answering("POST", f"{DATA}/sobjects/{sobject}", 201, answer)
