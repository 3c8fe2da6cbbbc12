"""Contract tests of the Dynamics 365 (Dataverse Web API) adapter against respx mocks in the documented
shapes: the Entra ID token request, bodies field by field, OData-EntityId parsing, $batch with a failed
part, @odata.nextLink paging, error bodies, 429 + Retry-After, and capabilities declared vs implemented."""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from adapters.dynamics import DynamicsAdapter, DynamicsOptions, parse_batch
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
from poc_harness.errors import ConfigError, NotImplementedByAdapter, VendorError
from poc_harness.testing import AdapterConformance, Exchange, answering, answering_in_turn, together
from poc_harness.testing.exchange import Install
from poc_harness.transport.http import CallStats, RetryPolicy
from tests.adapters.samples import ACCOUNT, CONTACT, call

ORG = "https://contoso.crm.dynamics.com"
API = f"{ORG}/api/data/v9.2/"
TOKEN_URL = "https://login.microsoftonline.com/tenant-0001/oauth2/v2.0/token"
SECRET = "dyn-client-secret-Q7x~9f2LmP"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake-access-token-4411"
TAG = "poc20250301120000ab12"
LEAD_ID = "7a1f3c2e-5b6d-ef11-8409-000d3a4f1c21"
DEAL_ID = "c4a2b1d0-5b6d-ef11-8409-000d3a4f1c99"
CASE_ID = "0f9e8d7c-6b5a-ef11-8409-000d3a4f1c55"
USER_ID = "4026be43-6b69-e111-8f65-78e7d1620f5e"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=3, max_total_wait=2, max_single_wait=0.01, initial_backoff=0.001)


def entity(entity_set: str, record_id: str) -> httpx.Response:
    return httpx.Response(
        204, headers={"OData-EntityId": f"{API}{entity_set}({record_id})", "OData-Version": "4.0"}
    )


def dataverse_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}}, headers=headers)


def body_of(route: respx.Route, call: int = -1) -> dict:
    return json.loads(route.calls[call].request.content)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL).mock(
            return_value=httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "ext_expires_in": 3599,
                    "access_token": TOKEN,
                },
            )
        )
        yield router


@pytest.fixture(scope="module")
def built() -> Iterator[tuple[DynamicsAdapter, DynamicsOptions]]:
    """One adapter for the module (building its HTTP clients is the slow part); ``adapter`` resets it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("D365_SECRET", SECRET)
        made = DynamicsAdapter.from_table(
            "d365",
            {
                "org": "contoso",
                "tenant_id": "tenant-0001",
                "client_id": "app-0002",
                "client_secret_env": "D365_SECRET",
            },
        )
    assert isinstance(made, DynamicsAdapter)
    yield made, made.options
    made.close()


@pytest.fixture
def adapter(built: tuple[DynamicsAdapter, DynamicsOptions]) -> DynamicsAdapter:
    made, options = built
    made.options = options
    made.http.policy = made.login.policy = FAST
    made.http._sleep = lambda seconds: None
    made.http.stats = CallStats()
    made._token, made._token_expiry = None, 0.0
    return made


def lead(n: int = 1) -> Lead:
    return Lead(
        key=f"lead-{n:04d}",
        tag=TAG,
        title=f"ERP rollout {n} [{TAG}]",
        company="Pars Sanat",
        contact_name="Sara Ahmadi Rad",
        email=f"sara{n}@pars.example",
        phone="+989121234567",
        city="Tehran",
        source=LeadSource.WEBSITE,
        estimated_value=120000,
    )


# --- authentication and secrets ----------------------------------------------------------------


def test_token_request_is_client_credentials_and_api_calls_carry_the_bearer(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    who = mock.get(f"{API}WhoAmI").mock(
        return_value=httpx.Response(
            200, json={"BusinessUnitId": "b1", "UserId": USER_ID, "OrganizationId": "o1"}
        )
    )
    assert USER_ID in adapter.check_connection()
    adapter.check_connection()
    token_calls = mock.routes[0].calls
    assert len(token_calls) == 1, "the token is cached until it nears expiry"
    form = parse_qs(token_calls[0].request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["app-0002"],
        "client_secret": [SECRET],
        "scope": [f"{ORG}/.default"],
    }
    request = who.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["OData-Version"] == "4.0"


def test_refused_credentials_are_a_one_line_config_error_without_the_secret(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.routes[0].mock(
        return_value=httpx.Response(
            401,
            json={
                "error": "invalid_client",
                "error_description": f"AADSTS7000215: Invalid client secret provided ({SECRET}).\r\n"
                "Trace ID: 0d1e\r\nCorrelation ID: 9f8e",
                "error_codes": [7000215],
            },
        )
    )
    mock.get(f"{API}WhoAmI").mock(return_value=httpx.Response(200, json={}))
    with pytest.raises(ConfigError) as caught:
        adapter.check_connection()
    message = str(caught.value)
    assert "\n" not in message and SECRET not in message
    assert "invalid_client: AADSTS7000215" in message and "D365_SECRET" in message


def test_dataverse_error_body_becomes_one_line_without_the_token(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.get(f"{API}leads({LEAD_ID})").mock(
        return_value=dataverse_error(
            404, "0x80040217", f"lead With Id = {LEAD_ID} Does Not Exist\n(Bearer {TOKEN})"
        )
    )
    with pytest.raises(VendorError) as caught:
        adapter.get_lead(LEAD_ID)
    message = str(caught.value)
    assert "\n" not in message and TOKEN not in message
    assert "HTTP 404" in message and "0x80040217: lead With Id" in message


def test_missing_secret_and_missing_org_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("D365_SECRET", raising=False)
    table = {"org": "contoso", "tenant_id": "t", "client_id": "c", "client_secret_env": "D365_SECRET"}
    with pytest.raises(ConfigError, match="D365_SECRET is not set"):
        DynamicsAdapter.from_table("d365", table)
    with pytest.raises(ConfigError, match="give org"):
        DynamicsAdapter.from_table("d365", {**table, "org": None})


# --- seeding -----------------------------------------------------------------------------------


def test_create_account_and_contact_send_documented_fields_and_parse_the_entity_id(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    accounts = mock.post(f"{API}accounts").mock(
        return_value=entity("accounts", "00AA00AA-BB11-CC22-DD33-44EE44EE44EE")
    )
    contacts = mock.post(f"{API}contacts").mock(
        return_value=entity("contacts", "11aa00aa-bb11-cc22-dd33-44ee44ee44ee")
    )
    account = Account(
        key="acc-1", tag=TAG, name="Pars Sanat", industry="Steel", city="Isfahan", phone="+983112345678"
    )
    contact = Contact(
        key="con-1",
        tag=TAG,
        first_name="Reza",
        last_name="Karimi",
        email="reza@pars.example",
        phone="+989121112233",
        account_key="acc-1",
    )
    account_id = adapter.create_account(account)
    assert account_id == "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    assert adapter.create_contact(contact, account_id) == "11aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    assert body_of(accounts) == {
        "name": "Pars Sanat",
        "telephone1": "+983112345678",
        "address1_city": "Isfahan",
        "description": f"Steel\npoc-harness {TAG} acc-1",
    }
    assert body_of(contacts) == {
        "firstname": "Reza",
        "lastname": "Karimi",
        "emailaddress1": "reza@pars.example",
        "telephone1": "+989121112233",
        "parentcustomerid_account@odata.bind": f"/accounts({account_id})",
        "description": f"poc-harness {TAG} con-1",
    }


def test_create_lead_never_sets_an_owner_and_backdates_with_overriddencreatedon(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    route = mock.post(f"{API}leads").mock(return_value=entity("leads", LEAD_ID))
    assert adapter.create_lead(lead(), arrived_at=T0) == LEAD_ID
    assert body_of(route) == {
        "subject": f"ERP rollout 1 [{TAG}]",
        "companyname": "Pars Sanat",
        "firstname": "Sara Ahmadi",
        "lastname": "Rad",
        "emailaddress1": "sara1@pars.example",
        "telephone1": "+989121234567",
        "address1_city": "Tehran",
        "leadsourcecode": 8,
        "estimatedamount": 120000,
        "description": f"poc-harness {TAG} lead-0001",
        "overriddencreatedon": "2025-03-01T12:00:00Z",
    }


def test_create_without_entity_id_header_is_a_vendor_error(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.post(f"{API}leads").mock(return_value=httpx.Response(204))
    with pytest.raises(VendorError, match="no record id in the OData-EntityId header"):
        adapter.create_lead(lead())


def test_log_activity_creates_regarding_activities_and_notes(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    calls = mock.post(f"{API}phonecalls").mock(
        return_value=entity("phonecalls", "aaaaaaaa-0000-0000-0000-000000000001")
    )
    notes = mock.post(f"{API}annotations").mock(
        return_value=entity("annotations", "bbbbbbbb-0000-0000-0000-000000000002")
    )
    call = Activity(kind=ActivityKind.CALL, subject=f"Discovery call [{TAG}]", user_id=USER_ID, at=T0)
    assert adapter.log_activity(LEAD_ID, call) == "phonecalls:aaaaaaaa-0000-0000-0000-000000000001"
    assert body_of(calls) == {
        "subject": f"Discovery call [{TAG}]",
        "regardingobjectid_lead_phonecall@odata.bind": f"/leads({LEAD_ID})",
        "actualstart": "2025-03-01T12:00:00Z",
        "actualend": "2025-03-01T12:00:00Z",
        "directioncode": True,
        "ownerid@odata.bind": f"/systemusers({USER_ID})",
    }
    note = Activity(kind=ActivityKind.NOTE, subject=f"note [{TAG}]")
    assert adapter.log_activity(LEAD_ID, note) == "annotations:bbbbbbbb-0000-0000-0000-000000000002"
    assert body_of(notes)["objectid_lead@odata.bind"] == f"/leads({LEAD_ID})"


def test_delete_parses_activity_ids_and_reports_404_as_gone(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    gone = mock.delete(f"{API}phonecalls(aaaaaaaa-0000-0000-0000-000000000001)").mock(
        return_value=httpx.Response(204)
    )
    mock.delete(f"{API}leads({LEAD_ID})").mock(
        return_value=dataverse_error(404, "0x80040217", "Does Not Exist")
    )
    assert adapter.delete(RecordKind.ACTIVITY, "phonecalls:aaaaaaaa-0000-0000-0000-000000000001") is True
    assert gone.called
    assert adapter.delete(RecordKind.LEAD, LEAD_ID) is False
    with pytest.raises(NotImplementedByAdapter, match="user_admin"):  # Dynamics has users: our gap
        adapter.delete(RecordKind.REP, USER_ID)


# --- batch ---------------------------------------------------------------------------------------

BATCH_ANSWER = (
    "--batchresponse_f44bd09d\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n"
    "--changesetresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    "Content-ID: 1\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n"
    f"Location: {API}leads(11111111-0000-0000-0000-000000000001)\r\n"
    f"OData-EntityId: {API}leads(11111111-0000-0000-0000-000000000001)\r\n\r\n\r\n"
    "--changesetresponse_1--\r\n"
    "--batchresponse_f44bd09d\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 400 Bad Request\r\nREQ_ID: de4c5227\r\n"
    "Content-Type: application/json; odata.metadata=minimal\r\n"
    "OData-Version: 4.0\r\n\r\n"
    '{"error":{"code":"0x80044331","message":"A validation error occurred.  The length of the '
    "'subject' attribute of the 'lead' entity exceeded the maximum allowed length of '300' (سرنخ).\"}}\r\n"
    "--batchresponse_f44bd09d\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_3\r\n\r\n"
    "--changesetresponse_3\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    "Content-ID: 3\r\n\r\n"
    "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n"
    f"OData-EntityId: {API}leads(33333333-0000-0000-0000-000000000003)\r\n\r\n\r\n"
    "--changesetresponse_3--\r\n"
    "--batchresponse_f44bd09d--\r\n"
)


def guid(n: int) -> str:
    return f"{str(n) * 8}-0000-0000-0000-{n:012d}"


def batch_reply(text: str = BATCH_ANSWER) -> httpx.Response:
    return httpx.Response(
        200,
        content=text.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=batchresponse_f44bd09d"},
    )


def test_batch_body_is_well_formed_multipart_with_one_changeset_per_lead(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    route = mock.post(f"{API}$batch").mock(return_value=batch_reply())
    adapter.create_batch(RecordKind.LEAD, leads(1, 2, 3))
    request = route.calls[0].request
    assert request.headers["Prefer"] == "odata.continue-on-error"
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + request.content)
    changesets = list(message.iter_parts())
    assert [part.get_content_type() for part in changesets] == ["multipart/mixed"] * 3
    inner = [next(part.iter_parts()) for part in changesets]
    assert [part["Content-ID"] for part in inner] == ["1", "2", "3"]
    http_lines = [part.get_payload(decode=True).decode().split("\r\n") for part in inner]
    assert all(lines[0] == f"POST {API}leads HTTP/1.1" for lines in http_lines)
    assert json.loads(http_lines[1][-1])["subject"] == f"ERP rollout 2 [{TAG}]"


def leads(*numbers: int) -> list[BatchItem]:
    return [BatchItem(lead(n)) for n in numbers]


def test_batch_with_a_failed_part_names_it_and_keeps_the_successes(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.post(f"{API}$batch").mock(return_value=batch_reply())
    first, refused, third = adapter.create_batch(RecordKind.LEAD, leads(1, 2, 3))
    assert refused.vendor_id is None and not refused.maybe_applied
    assert "\n" not in str(refused.error)
    assert "part 2 (lead lead-0002) HTTP 400: 0x80044331" in str(refused.error)
    assert (first.vendor_id, third.vendor_id) == (guid(1), guid(3))


def test_batch_all_successful_returns_ids_in_order(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    def one_part(n: int) -> str:
        return (
            "--batchresponse_f44bd09d\r\nContent-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n\r\n"
            f"HTTP/1.1 204 No Content\r\nOData-EntityId: {API}leads({guid(n)})\r\n\r\n"
        )

    route = mock.post(f"{API}$batch").mock(
        return_value=batch_reply("".join(one_part(n) for n in (1, 2, 3)) + "--batchresponse_f44bd09d--\r\n")
    )
    results = adapter.create_batch(RecordKind.LEAD, leads(1, 2, 3))
    assert [result.vendor_id for result in results] == [guid(n) for n in (1, 2, 3)]
    assert route.call_count == 1


def test_batch_answer_with_wrong_part_count_is_a_vendor_error(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.post(f"{API}$batch").mock(return_value=batch_reply())
    with pytest.raises(VendorError, match="answered 3 parts for 2 requests"):
        adapter.create_batch(RecordKind.LEAD, leads(1, 2))


def test_parse_batch_keeps_non_ascii_error_text() -> None:
    parts = parse_batch("multipart/mixed; boundary=batchresponse_f44bd09d", BATCH_ANSWER.encode())
    assert [part.status for part in parts] == [204, 400, 204]
    assert "سرنخ" in parts[1].body


# --- paging, retries, rate limits ------------------------------------------------------------------


def test_sales_reps_follow_odata_nextlink_over_three_pages(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    next1 = f"{API}systemusers?$select=systemuserid&$skiptoken=page2"
    next2 = f"{API}systemusers?$select=systemuserid&$skiptoken=page3"
    route = mock.get(f"{API}systemusers").mock(
        side_effect=[
            httpx.Response(
                200,
                json={"value": [{"systemuserid": "u1"}, {"systemuserid": "u2"}], "@odata.nextLink": next1},
            ),
            httpx.Response(200, json={"value": [{"systemuserid": "u3"}], "@odata.nextLink": next2}),
            httpx.Response(200, json={"value": [{"systemuserid": "u4"}]}),
        ]
    )
    assert adapter.list_sales_reps() == ["u1", "u2", "u3", "u4"]
    first, second = route.calls[0].request, route.calls[1].request
    assert first.url.params["$filter"] == "isdisabled eq false and accessmode eq 0 and applicationid eq null"
    assert first.headers["Prefer"] == "odata.maxpagesize=500"
    assert second.url.params["$skiptoken"] == "page2"


def test_429_with_retry_after_is_retried_then_succeeds(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    throttled = dataverse_error(
        429,
        "0x80072322",
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        **{"Retry-After": "0"},
    )
    mock.get(f"{API}WhoAmI").mock(
        side_effect=[throttled, httpx.Response(200, json={"UserId": USER_ID, "OrganizationId": "o1"})]
    )
    assert USER_ID in adapter.check_connection()
    assert adapter.call_stats()["retries"] == 1


def test_burst_remaining_header_at_the_floor_pauses(mock: respx.MockRouter, adapter: DynamicsAdapter) -> None:
    waits: list[float] = []
    adapter.http._sleep = waits.append
    adapter.http.policy = RetryPolicy(max_single_wait=30)
    who = {"UserId": USER_ID, "OrganizationId": "o1"}
    mock.get(f"{API}WhoAmI").mock(
        side_effect=[
            httpx.Response(200, json=who, headers={"x-ms-ratelimit-burst-remaining-xrm-requests": "5832"}),
            httpx.Response(200, json=who, headers={"x-ms-ratelimit-burst-remaining-xrm-requests": "3"}),
        ]
    )
    adapter.check_connection()
    assert waits == []
    adapter.check_connection()
    assert waits == [5.0]
    assert adapter.call_stats()["rate_limit_pauses"] == 1


# --- lead -> contract --------------------------------------------------------------------------


def test_get_lead_reads_owner_state_and_creation(mock: respx.MockRouter, adapter: DynamicsAdapter) -> None:
    route = mock.get(f"{API}leads({LEAD_ID})").mock(
        return_value=httpx.Response(
            200,
            json={
                "@odata.etag": 'W/"1234"',
                "_ownerid_value": USER_ID,
                "statecode": 1,
                "createdon": "2025-03-01T12:00:05Z",
                "leadid": LEAD_ID,
            },
        )
    )
    view = adapter.get_lead(LEAD_ID)
    assert (view.owner_id, view.status, view.created_at) == (
        USER_ID,
        "qualified",
        datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC),
    )
    assert route.calls[0].request.url.params["$select"] == "_ownerid_value,statecode,createdon"


def test_lead_tasks_are_tasks_regarding_the_lead_due_at_scheduledend(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    route = mock.get(f"{API}tasks").mock(
        return_value=httpx.Response(
            200,
            json={
                "value": [
                    {
                        "activityid": "t2",
                        "subject": "Follow up (T+2)",
                        "scheduledend": "2025-03-03T12:00:00Z",
                        "_ownerid_value": "rep-7",
                    },
                    {
                        "activityid": "t5",
                        "subject": "Follow up (T+5)",
                        "scheduledend": "2025-03-06T12:00:00Z",
                    },
                    {"activityid": "tx", "subject": "no due date", "scheduledend": None},
                ]
            },
        )
    )
    tasks = adapter.lead_tasks(LEAD_ID)
    assert [(t.vendor_id, t.due_at.day, t.automatic) for t in tasks] == [("t2", 3, True), ("t5", 6, True)]
    assert [t.owner_id for t in tasks] == ["rep-7", None]  # the follow-up check judges who owns it
    assert "_ownerid_value" in route.calls[0].request.url.params["$select"]
    assert route.calls[0].request.url.params["$filter"] == f"_regardingobjectid_value eq {LEAD_ID}"


def test_complete_task_assigns_to_the_rep_then_completes(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    route = mock.patch(f"{API}tasks(t2)").mock(return_value=httpx.Response(204))
    adapter.complete_task("t2", USER_ID)
    assert [body_of(route, n) for n in (0, 1)] == [
        {"ownerid@odata.bind": f"/systemusers({USER_ID})"},
        {"statecode": 1, "statuscode": 5},
    ]


def test_convert_lead_qualifies_and_sets_amount_and_first_stage(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    qualify = mock.post(f"{API}leads({LEAD_ID})/Microsoft.Dynamics.CRM.QualifyLead").mock(
        return_value=httpx.Response(
            200,
            json={
                "@odata.context": f"{API}$metadata#Collection(Microsoft.Dynamics.CRM.crmbaseentity)",
                "value": [{"@odata.type": "#Microsoft.Dynamics.CRM.opportunity", "opportunityid": DEAL_ID}],
            },
        )
    )
    patch = mock.patch(f"{API}opportunities({DEAL_ID})").mock(return_value=httpx.Response(204))
    assert adapter.convert_lead(LEAD_ID, 99000, expected_close=T0) == DEAL_ID
    assert body_of(qualify) == {
        "CreateAccount": False,
        "CreateContact": False,
        "CreateOpportunity": True,
        "Status": 3,
    }
    assert body_of(patch) == {
        "estimatedvalue": 99000,
        "salesstage": 0,
        "stepname": "1-Qualify",
        "estimatedclosedate": "2025-03-01",
    }


def test_qualify_lead_creating_no_opportunity_is_a_vendor_error(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.post(f"{API}leads({LEAD_ID})/Microsoft.Dynamics.CRM.QualifyLead").mock(
        return_value=httpx.Response(
            200, json={"value": [{"@odata.type": "#Microsoft.Dynamics.CRM.account", "accountid": "a"}]}
        )
    )
    with pytest.raises(VendorError, match="created no opportunity"):
        adapter.convert_lead(LEAD_ID, 1)


def test_move_deal_patches_open_stages_and_wins_or_loses_through_actions(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    patch = mock.patch(f"{API}opportunities({DEAL_ID})").mock(return_value=httpx.Response(204))
    win = mock.post(f"{API}WinOpportunity").mock(return_value=httpx.Response(204))
    lose = mock.post(f"{API}LoseOpportunity").mock(return_value=httpx.Response(204))
    adapter.move_deal(DEAL_ID, DealStage.NEGOTIATION)
    adapter.move_deal(DEAL_ID, DealStage.WON)
    adapter.move_deal(DEAL_ID, DealStage.LOST)
    assert body_of(patch) == {"salesstage": 3, "stepname": "4-Close"}
    close = {"opportunityid@odata.bind": f"/opportunities({DEAL_ID})"}
    assert body_of(win)["Status"] == 3 and body_of(win)["OpportunityClose"].items() >= close.items()
    assert body_of(lose)["Status"] == 4 and body_of(lose)["OpportunityClose"].items() >= close.items()


def audit(at: str, old: dict, new: dict) -> dict:
    return {
        "@odata.type": "#Microsoft.Dynamics.CRM.AttributeAuditDetail",
        "AuditRecord": {
            "@odata.type": "#Microsoft.Dynamics.CRM.audit",
            "createdon": at,
            "action": 2,
            "operation": 2,
        },
        "OldValue": {"@odata.type": "#Microsoft.Dynamics.CRM.opportunity", **old},
        "NewValue": {"@odata.type": "#Microsoft.Dynamics.CRM.opportunity", **new},
        "InvalidNewValueAttributes": [],
        "LocLabelLanguageCode": 0,
        "DeletedAttributes": {"Count": 0, "Keys": [], "Values": []},
    }


def test_get_deal_builds_the_stage_history_from_the_audit_log(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.get(f"{API}opportunities({DEAL_ID})").mock(
        return_value=httpx.Response(
            200,
            json={
                "salesstage": 3,
                "statecode": 1,
                "estimatedvalue": 99000.0,
                "createdon": "2025-03-01T12:00:00Z",
                "_originatingleadid_value": LEAD_ID,
            },
        )
    )
    history = mock.get(f"{API}RetrieveRecordChangeHistory(Target=@t)").mock(
        return_value=httpx.Response(
            200,
            json={
                "AuditDetailCollection": {
                    "MoreRecords": False,
                    "PagingCookie": "",
                    "TotalRecordCount": 5,
                    "AuditDetails": [  # newest first, as Dataverse answers
                        audit("2025-03-01T12:03:00Z", {"statecode": 0}, {"statecode": 1, "statuscode": 3}),
                        audit("2025-03-01T12:02:00Z", {"salesstage": 2}, {"salesstage": 3}),
                        audit("2025-03-01T12:01:00Z", {"salesstage": 0}, {"salesstage": 2}),
                        audit("2025-03-01T12:00:00Z", {}, {"salesstage": 0, "name": "ERP rollout"}),  # create
                        {"@odata.type": "#Microsoft.Dynamics.CRM.ShareAuditDetail", "AuditRecord": {}},
                    ],
                }
            },
        )
    )
    deal = adapter.get_deal(DEAL_ID)
    assert (deal.stage, deal.amount, deal.lead_id) == (DealStage.WON, 99000, LEAD_ID)
    assert [(c.stage.value, c.at.minute) for c in deal.history] == [
        ("qualification", 0),
        ("proposal", 1),
        ("negotiation", 2),
        ("won", 3),
    ]
    target = json.loads(history.calls[0].request.url.params["@t"])
    assert target == {"@odata.id": f"opportunities({DEAL_ID})"}


def test_get_deal_with_an_unmapped_salesstage_is_a_config_error(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.get(f"{API}opportunities({DEAL_ID})").mock(
        return_value=httpx.Response(
            200,
            json={"salesstage": 1, "statecode": 0, "estimatedvalue": 1, "createdon": "2025-03-01T12:00:00Z"},
        )
    )
    mock.get(f"{API}RetrieveRecordChangeHistory(Target=@t)").mock(
        return_value=httpx.Response(200, json={"AuditDetailCollection": {"AuditDetails": []}})
    )
    with pytest.raises(ConfigError, match="salesstage 1 is not in sales_stages"):
        adapter.get_deal(DEAL_ID)


# --- tickets and SLA ---------------------------------------------------------------------------


def test_create_ticket_maps_priority_customer_and_backdating(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    route = mock.post(f"{API}incidents").mock(return_value=entity("incidents", CASE_ID))
    ticket = Ticket(
        key="tkt-1",
        tag=TAG,
        subject="Invoice wrong",
        description="Amount differs",
        priority=TicketPriority.LOW,
        contact_key="con-1",
    )
    assert adapter.create_ticket(ticket, "11aa00aa-bb11-cc22-dd33-44ee44ee44ee", opened_at=T0) == CASE_ID
    assert body_of(route) == {
        "title": "Invoice wrong",
        "description": f"Amount differs\npoc-harness {TAG} tkt-1",
        "prioritycode": 3,
        "customerid_contact@odata.bind": "/contacts(11aa00aa-bb11-cc22-dd33-44ee44ee44ee)",
        "overriddencreatedon": "2025-03-01T12:00:00Z",
    }


def incident(state: int, first: dict | None, resolve: dict | None) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "prioritycode": 1,
            "statecode": state,
            "createdon": "2025-03-01T12:00:00Z",
            "firstresponsebykpiid": first,
            "resolvebykpiid": resolve,
        },
    )


def test_get_ticket_reads_breaches_and_first_response_from_sla_kpi_instances(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    route = mock.get(f"{API}incidents({CASE_ID})").mock(
        return_value=incident(
            1, {"status": 4, "succeededon": "2025-03-01T12:20:00Z"}, {"status": 1, "succeededon": None}
        )
    )
    mock.get(f"{API}incidentresolutions").mock(
        return_value=httpx.Response(200, json={"value": [{"createdon": "2025-03-01T18:00:00Z"}]})
    )
    view = adapter.get_ticket(CASE_ID)
    assert view.priority is TicketPriority.HIGH and view.status == "resolved"
    assert view.first_response_at == datetime(2025, 3, 1, 12, 20, tzinfo=UTC)
    assert view.closed_at == datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
    assert (view.first_response_breached, view.resolution_breached) == (False, True)
    expand = route.calls[0].request.url.params["$expand"]
    assert (
        expand
        == "firstresponsebykpiid($select=status,succeededon),resolvebykpiid($select=status,succeededon)"
    )


def test_get_ticket_without_kpi_instances_is_a_vendor_error(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    mock.get(f"{API}incidents({CASE_ID})").mock(return_value=incident(0, None, None))
    with pytest.raises(VendorError, match="no SLA KPI instance"):
        adapter.get_ticket(CASE_ID)


def test_reply_logs_an_email_and_marks_first_response_then_close_resolves(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    emails = mock.post(f"{API}emails").mock(
        return_value=entity("emails", "eeeeeeee-0000-0000-0000-000000000001")
    )
    patch = mock.patch(f"{API}incidents({CASE_ID})").mock(return_value=httpx.Response(204))
    close = mock.post(f"{API}CloseIncident").mock(return_value=httpx.Response(204))
    adapter.reply_ticket(CASE_ID, "We are on it", USER_ID)
    adapter.close_ticket(CASE_ID)
    sent = body_of(emails)
    assert sent["description"] == "We are on it" and sent["directioncode"] is True
    assert sent["regardingobjectid_incident_email@odata.bind"] == f"/incidents({CASE_ID})"
    assert body_of(patch) == {"firstresponsesent": True}
    assert body_of(close)["Status"] == 5
    assert body_of(close)["IncidentResolution"]["incidentid@odata.bind"] == f"/incidents({CASE_ID})"


def test_sla_compliance_is_counted_by_dataverse(mock: respx.MockRouter, adapter: DynamicsAdapter) -> None:
    route = mock.get(f"{API}incidents").mock(
        side_effect=[
            httpx.Response(200, json={"@odata.count": 8, "value": [{"incidentid": "x"}]}),
            httpx.Response(200, json={"@odata.count": 6, "value": [{"incidentid": "x"}]}),
        ]
    )
    figure = adapter.report_sla_compliance(T0, datetime(2025, 3, 31, tzinfo=UTC), TAG)
    assert (figure.tickets, figure.met, figure.rate_pct) == (8, 6, 75.0)
    closed, met = (call.request.url.params["$filter"] for call in route.calls)
    assert closed == (
        f"contains(description,'{TAG}') and statecode eq 1 and "
        "createdon ge 2025-03-01T12:00:00Z and createdon lt 2025-03-31T00:00:00Z"
    )
    assert met == f"{closed} and firstresponsebykpiid/status ne 1 and resolvebykpiid/status ne 1"


def test_find_tagged_searches_descriptions_and_activity_subjects(
    mock: respx.MockRouter, adapter: DynamicsAdapter
) -> None:
    leads = mock.get(f"{API}leads").mock(
        return_value=httpx.Response(200, json={"value": [{"leadid": LEAD_ID}]})
    )
    mock.get(f"{API}activitypointers").mock(
        return_value=httpx.Response(
            200, json={"value": [{"activityid": "a1", "activitytypecode": "phonecall"}]}
        )
    )
    mock.get(f"{API}annotations").mock(
        return_value=httpx.Response(200, json={"value": [{"annotationid": "n1"}]})
    )
    assert adapter.find_tagged(RecordKind.LEAD, TAG) == [LEAD_ID]
    assert leads.calls[0].request.url.params["$filter"] == f"contains(description,'{TAG}')"
    assert adapter.find_tagged(RecordKind.ACTIVITY, TAG) == ["phonecalls:a1", "annotations:n1"]
    assert adapter.find_tagged(RecordKind.REP, TAG) == []


# --- the shipped conformance suite ----------------------------------------------------------------


class TestDynamicsConformance(AdapterConformance):
    secrets = (SECRET, TOKEN)
    credential = "D365_SECRET"
    adapter_class = DynamicsAdapter

    @pytest.fixture
    def router(self, mock: respx.MockRouter) -> respx.MockRouter:
        return mock

    @pytest.fixture
    def exchanges(self) -> dict[str, Exchange]:
        row = {"_ownerid_value": USER_ID, "statecode": 0, "createdon": "2025-03-01T12:00:05Z"}
        found, the_lead = {"value": [{"leadid": LEAD_ID}]}, f"{API}leads({LEAD_ID})"
        return {
            "create_account": Exchange((ACCOUNT,), _created("accounts", ACCOUNT_ID)),
            "create_contact": Exchange((CONTACT, ACCOUNT_ID), _created("contacts", CONTACT_ID)),
            "create_lead": Exchange((lead(),), _created("leads", LEAD_ID)),
            "get_lead": Exchange((LEAD_ID,), answering("GET", the_lead, json={**row, "leadid": LEAD_ID})),
            "find_tagged": Exchange((RecordKind.LEAD, TAG), answering("GET", f"{API}leads", json=found)),
            "delete": Exchange((RecordKind.LEAD, LEAD_ID), answering("DELETE", the_lead, 204)),
            "log_activity": Exchange((LEAD_ID, call(USER_ID)), _created("phonecalls", CALL_ID)),
        } | _capability_exchanges()


TASK_ID = "bbbbbbbb-0000-0000-0000-000000000002"
EMAIL_ID = "eeeeeeee-0000-0000-0000-000000000001"


def _capability_exchanges() -> dict[str, Exchange]:
    """systemusers, tasks regarding the lead, QualifyLead, the opportunity and its audit history
    (RetrieveRecordChangeHistory), incidents with their SLA KPI instances, the reply e-mail, CloseIncident
    and the ``$count`` of cases, in the Web API shapes the adapter's docstring cites."""
    due, created = "2025-03-03T12:00:00Z", "2025-03-01T12:00:00Z"
    task = {"activityid": TASK_ID, "subject": "Follow up", "scheduledend": due, "_ownerid_value": USER_ID}
    made = {"@odata.type": "#Microsoft.Dynamics.CRM.opportunity", "opportunityid": DEAL_ID}
    opportunity = {"salesstage": 0, "statecode": 0, "estimatedvalue": 99000.0, "createdon": created}
    opportunity["_originatingleadid_value"] = LEAD_ID
    changes = {"AuditDetailCollection": {"AuditDetails": [audit(created, {}, {"salesstage": 0})]}}
    succeeded = {"status": 4, "succeededon": "2025-03-01T12:20:00Z"}
    resolved = {"value": [{"createdon": "2025-03-01T18:00:00Z"}]}
    page = [{"incidentid": CASE_ID}]
    counted = [httpx.Response(200, json={"@odata.count": n, "value": page}) for n in (8, 6)]
    the_deal, the_case = f"{API}opportunities({DEAL_ID})", f"{API}incidents({CASE_ID})"
    users = {"value": [{"systemuserid": USER_ID}]}
    qualify = f"{API}leads({LEAD_ID})/Microsoft.Dynamics.CRM.QualifyLead"
    return {
        "list_sales_reps": Exchange((), answering("GET", f"{API}systemusers", json=users)),
        "lead_tasks": Exchange((LEAD_ID,), answering("GET", f"{API}tasks", json={"value": [task]})),
        "complete_task": Exchange((TASK_ID, USER_ID), answering("PATCH", f"{API}tasks({TASK_ID})", 204)),
        "convert_lead": Exchange(
            (LEAD_ID, 99000, T0),
            together(
                answering("POST", qualify, json={"value": [made]}),
                answering("PATCH", the_deal, 204),
            ),
        ),
        "move_deal": Exchange((DEAL_ID, DealStage.WON), answering("POST", f"{API}WinOpportunity", 204)),
        "get_deal": Exchange(
            (DEAL_ID,),
            together(
                answering("GET", the_deal, json=opportunity),
                answering("GET", f"{API}RetrieveRecordChangeHistory(Target=@t)", json=changes),
            ),
        ),
        "create_ticket": Exchange((TICKET, CONTACT_ID), _created("incidents", CASE_ID)),
        "get_ticket": Exchange(
            (CASE_ID,),
            together(
                answering_in_turn("GET", the_case, incident(1, succeeded, succeeded)),
                answering("GET", f"{API}incidentresolutions", json=resolved),
            ),
        ),
        "reply_ticket": Exchange(
            (CASE_ID, "We are on it", USER_ID),
            together(_created("emails", EMAIL_ID), answering("PATCH", the_case, 204)),
        ),
        "close_ticket": Exchange((CASE_ID,), answering("POST", f"{API}CloseIncident", 204)),
        "report_sla_compliance": Exchange(
            (T0, datetime(2025, 3, 31, tzinfo=UTC), TAG),
            answering_in_turn("GET", f"{API}incidents", *counted),
        ),
    }


ACCOUNT_ID = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
CONTACT_ID = "11aa00aa-bb11-cc22-dd33-44ee44ee44ee"
CALL_ID = "aaaaaaaa-0000-0000-0000-000000000001"
TICKET = Ticket(
    key="tkt-1",
    tag=TAG,
    subject=f"Invoice wrong [{TAG}]",
    description="Amount differs",
    priority=TicketPriority.HIGH,
    contact_key="con-1",
)


def _created(entity_set: str, record_id: str) -> Install:
    """A create answered the Web API's way: 204 and the new record's URL in ``OData-EntityId``."""

    def install(router: respx.MockRouter) -> None:
        router.post(f"{API}{entity_set}").mock(return_value=entity(entity_set, record_id))

    return install
