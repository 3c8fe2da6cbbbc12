"""Adapter for BottleCRM as PyPI ``django-crm`` 0.9.0 (the 2021 release), through its REST API.

Documentation used
------------------
- The OpenAPI 2.0 document the running server serves at ``/swagger.json`` ("Crm API" v1, drf-yasg,
  about 50 paths under ``/api``): endpoints, their parameters, and the ``Authorization`` api-key header.
- The project README, https://github.com/MicroPyramid/Django-CRM (README.rst, pointing to
  http://django-crm.readthedocs.io), found with the search tool.  The package pages the search tool
  returns for ``django-crm`` 0.10.0 (tessl.io registry) and 1.x (pypi.org) describe later releases
  (simplejwt ``Bearer`` tokens, organisations, SLA timing, CSAT surveys, webhooks): 0.9.0 has none of
  them, and the package registry here serves only 0.9.0.  What follows was checked against the running
  server (``scripts/start-real-crm.sh``).

Protocol, and the quirks handled
--------------------------------
- Auth: ``POST /api/auth/login/`` ``{email, password}`` -> ``{"token"}``; then ``Authorization: JWT
  <token>`` (``Bearer`` is refused).  The login itself must go without that header.  Tokens expire
  after 300 s: a 401 logs in again, once.
- A create answers ``{"error": false, "message": ...}`` without the new id: the record is found again
  with its list filter (``title``, ``name``, ``username``) and an exact match on its name.  Every name
  therefore carries the harness key and the run tag: BottleCRM wants lead titles, account, contact,
  opportunity and case names unique (a contact's *first name* too), and at most 64 characters, so a
  seeded name is cut to fit ``"<name> (<key>) [<tag>]"``.
- List-valued fields (``assigned_to``, ``contacts``, ``teams``, ``tags``) are JSON-encoded strings.
- Updates are PUT only and reset what they omit (assignment, contacts, teams, a case's or an
  opportunity's ``closed_on``): the adapter reads the record and sends it back whole with the change.
- A case needs ``closed_on`` (a date) even when open; the adapter gives it the opening day, then the
  closing day.  A missing case, opportunity or comment answers 500, not 404.
- Timestamps come in +05:30 (the server's Asia/Kolkata); they are read as aware times.
- A contact's e-mail and phone are unique: a run with the seed of an earlier run that was not cleaned
  up is refused when it seeds its contacts (HTTP 400), so vary the seed or clean up between runs.

What the harness's records become
---------------------------------
rep -> user (role USER, sales access; e-mail plus-addressed with the tag, since e-mails are unique);
account -> account (BottleCRM requires an e-mail and a billing address the seed data lacks: the e-mail
is made from the key, unknown address parts are ``n/a``, the country comes from the phone prefix, the
Persian or English industry goes in the description because BottleCRM's industries are a fixed English
list); contact -> contact, then added to its account's contacts; lead -> lead (status left to BottleCRM,
no owner given: BottleCRM has no assignment rule); activity -> a comment on the lead (BottleCRM 0.9.0 has
no call, meeting or e-mail records: the kind and the rep are written in the comment, whose author is the
API user; vendor id ``<lead id>:<comment id>``); conversion -> the lead's status set to ``converted``
(BottleCRM then makes an account from it) and an opportunity on that account; deal stages -> the
Salesforce-like stages (qualification, ``PROPOSAL/PRICE QUOTE``, ``NEGOTIATION/REVIEW``, ``CLOSED
WON``, ``CLOSED LOST``; the four stages between qualification and proposal read as qualification), with
the conventional probability each stage requires; ticket -> case, a reply -> a case comment, closing ->
status ``Closed``.  Amounts: an opportunity holds at most 10 digits before the decimal point.

Capabilities, and why
---------------------
Declared: ``DEALS`` (opportunities), ``TICKETS`` (cases), ``USER_ADMIN`` (``POST /api/users/``).
Not declared (``vendor_lacks`` cites the documentation of what the vendor lacks, a finding; the rest
is not measured): ``AUTO_ASSIGN`` (leads stay unassigned),
``FOLLOWUP_TASKS`` (tasks exist but nothing creates them), ``SILENCE_ALERT``, ``SLA`` (cases keep no
first-response time, timers or breach flags, so ``get_ticket`` cannot answer), ``NPS_SURVEY``,
``REPORTS`` and ``FORECAST`` (the dashboard gives only counts of open records, unfiltered: no report
the contract asks for is computed by BottleCRM itself), ``BACKDATING`` (creation times are set by the
server), ``CLOCK_CONTROL``, ``BATCH_CREATE`` (the CSV upload runs as a background task), ``WEBHOOKS``,
``AUDIT_LOG``.  BottleCRM keeps no stage history: a deal's history is its current stage alone, dated at
the opportunity's creation (the only time it keeps), so the conversion check fails on it.  Converted
leads leave the lead list, so ``find_tagged`` cannot see them (their accounts carry the tag).
The default clock is ``wall``; ``now`` is the local clock corrected by the server's ``Date`` header.
"""

from __future__ import annotations

import email.utils
import functools
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import AdapterOptions, Capability, RecordKind
from poc_harness.contract.http_adapter import HTTPAdapter
from poc_harness.contract.loadtargets import LoadClient, LoadRequest, LoadTargets
from poc_harness.contract.model import (
    Account,
    Activity,
    Contact,
    DealStage,
    DealView,
    Lead,
    LeadSource,
    LeadView,
    SalesRep,
    StageChange,
    Ticket,
    TicketView,
)
from poc_harness.errors import ConfigError, VendorError
from poc_harness.redaction import REDACTOR
from poc_harness.transport.answers import decode_json
from poc_harness.transport.http import VendorHTTP, renewing_once

NAME_LIMIT = 64
PAGE = 100
MAX_PAGES = 200
LOGIN = "/api/auth/login/"
STAGES = {
    DealStage.QUALIFICATION: "QUALIFICATION",
    DealStage.PROPOSAL: "PROPOSAL/PRICE QUOTE",
    DealStage.NEGOTIATION: "NEGOTIATION/REVIEW",
    DealStage.WON: "CLOSED WON",
    DealStage.LOST: "CLOSED LOST",
}
HARNESS_STAGES = {value: key for key, value in STAGES.items()} | {
    early: DealStage.QUALIFICATION
    for early in ("NEEDS ANALYSIS", "VALUE PROPOSITION", "ID.DECISION MAKERS", "PERCEPTION ANALYSIS")
}
PROBABILITY = {
    DealStage.QUALIFICATION: 10,
    DealStage.PROPOSAL: 75,
    DealStage.NEGOTIATION: 90,
    DealStage.WON: 100,
    DealStage.LOST: 0,
}
# BottleCRM's own lead sources (its spelling); the others become "other", the harness's in the description
LEAD_SOURCES = {LeadSource.COLD_CALL: "call", LeadSource.PARTNER: "partner", LeadSource.CAMPAIGN: "compaign"}
COUNTRY_BY_PREFIX = {"+98": "IR", "+1": "US", "+44": "GB", "+49": "DE", "+971": "AE", "+90": "TR"}
UNKNOWN = "n/a"
LEAD_FIELDS = (
    "title", "first_name", "last_name", "account_name", "phone", "email", "status", "source", "website",
    "description", "address_line", "street", "city", "state", "postcode", "country",
)  # fmt: skip
ACCOUNT_FIELDS = (
    "name", "phone", "email", "website", "industry", "description", "status", "billing_address_line",
    "billing_street", "billing_city", "billing_state", "billing_postcode", "billing_country",
)  # fmt: skip
OPPORTUNITY_FIELDS = ("name", "stage", "currency", "amount", "lead_source", "probability", "description")
CASE_FIELDS = ("name", "status", "priority", "description", "closed_on")


@dataclass(frozen=True)
class Collection:
    """Where one kind of record lives: its path, list filter, name field, list sections, detail key."""

    path: str
    search: str
    name: str
    sections: tuple[tuple[str, ...], ...]
    detail: tuple[str, ...]


COLLECTIONS = {
    RecordKind.REP: Collection(
        "/api/users/",
        "username",
        "username",
        (("active_users", "active_users"), ("inactive_users", "inactive_users")),
        ("data", "user_obj"),
    ),
    RecordKind.ACCOUNT: Collection(
        "/api/accounts/",
        "name",
        "name",
        (("active_accounts", "open_accounts"), ("closed_accounts", "close_accounts")),
        ("account_obj",),
    ),
    RecordKind.CONTACT: Collection(
        "/api/contacts/", "name", "first_name", (("contact_obj_list",),), ("contact_obj",)
    ),
    RecordKind.LEAD: Collection(
        "/api/leads/",
        "title",
        "title",
        (("open_leads", "open_leads"), ("close_leads", "close_leads")),
        ("lead_obj",),
    ),
    RecordKind.DEAL: Collection(
        "/api/opportunities/", "name", "name", (("opportunities",),), ("opportunity_obj",)
    ),
    RecordKind.TICKET: Collection("/api/cases/", "name", "name", (("cases",),), ("cases_obj",)),
}
MISSING_ANSWERS_500 = frozenset({RecordKind.DEAL, RecordKind.TICKET})


class BottleCRMOptions(AdapterOptions):
    base_url: str
    email: str
    password_env: str = "BOTTLECRM_PASSWORD"
    timeout: float = 30.0


# --- pure helpers ------------------------------------------------------------------------------


def label(name: str, key: str, tag: str, limit: int = NAME_LIMIT) -> str:
    """``"<name> (<key>) [<tag>]"`` within ``limit`` characters: unique by the key, found by the tag."""
    suffix = f" ({key}) [{tag}]"
    core = " ".join(name.replace(f"[{tag}]", " ").split())
    room = limit - len(suffix)
    if room < 1:
        raise ConfigError(f"bottlecrm: key {key!r} and tag {tag!r} leave no room in a {limit}-character name")
    return core[:room].rstrip() + suffix


def tagged_email(address: str, tag: str) -> str:
    """The address plus-tagged (``local+tag@domain``): BottleCRM wants user e-mails unique across runs."""
    local, _, domain = address.partition("@")
    if local.endswith(f"+{tag}"):  # the seed data's addresses carry the run's tag already
        return address
    return f"{local}+{tag}@{domain}"


def json_ids(items: Any) -> str:
    """A list of records or ids as BottleCRM wants list fields: a JSON-encoded string of ids."""
    return json.dumps([_id_of(item) for item in items or []])


def list_fields(record: dict[str, Any]) -> dict[str, str]:
    """The list fields a PUT resets when it omits them, read from ``record`` and sent back as BottleCRM
    wants them (JSON-encoded strings; tags by slug)."""
    fields = {
        "assigned_to": json_ids(record.get("assigned_to")),
        "contacts": json_ids(record.get("contacts")),
        "teams": json_ids(record.get("teams")),
    }
    if "tags" in record:
        fields["tags"] = json.dumps([tag["slug"] for tag in record["tags"] or []])
    return fields


def _id_of(item: Any) -> int:
    return int(item["id"] if isinstance(item, dict) else item)


def keep(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The fields of ``record`` that are set, to send back in a PUT."""
    return {name: record[name] for name in fields if record.get(name) is not None}


def aware(value: Any, where: str) -> datetime:
    """A BottleCRM timestamp (``...+05:30``) as an aware UTC time."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise VendorError(f"bottlecrm: {where}: not a timestamp: {str(value)[:40]!r}") from None
    if moment.tzinfo is None:
        raise VendorError(f"bottlecrm: {where}: timestamp without a zone: {value!r}")
    return moment.astimezone(UTC)


def amount_of(value: Any, where: str) -> int:
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise VendorError(f"bottlecrm: {where}: amount is not a number: {value!r}") from None


def country_of(phone: str) -> str:
    prefix = next((p for p in sorted(COUNTRY_BY_PREFIX, key=len, reverse=True) if phone.startswith(p)), "")
    return COUNTRY_BY_PREFIX.get(prefix, UNKNOWN)


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def comments(answer: Any) -> list[dict[str, Any]]:
    """The comments of a detail answer (leads, accounts and cases list theirs, newest first)."""
    found = answer.get("comments") if isinstance(answer, dict) else None
    return [item for item in found or [] if isinstance(item, dict)]


def _has_next(answer: Any, section: tuple[str, ...]) -> bool:
    """Whether the page holding ``section`` links a next page (sections of one answer page together)."""
    parent = _dig(answer, section[:-1])
    return isinstance(parent, dict) and bool(parent.get("next"))


# --- the adapter -------------------------------------------------------------------------------


SWAGGER = "django-crm 0.9.0's OpenAPI document (GET /swagger.json, https://github.com/MicroPyramid/Django-CRM)"
"""What BottleCRM 0.9.0 offers: every endpoint of its API (checked on the running server)."""


class BottleCRMAdapter(HTTPAdapter[BottleCRMOptions]):
    name: ClassVar[str] = "bottlecrm"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.DEALS, Capability.TICKETS, Capability.USER_ADMIN}
    )
    """BottleCRM's users see the records assigned to them (its roles: ADMIN, USER; teams; a token per user):
    RBAC is not implemented by the adapter yet (not measured), nor are VoIP, export, SSO, batch create,
    reopening and internal notes."""
    vendor_lacks: ClassVar[Mapping[Capability, str]] = {
        Capability.AUTO_ASSIGN: f"{SWAGGER}: a lead's assigned_to is set by requests only, no rule",
        Capability.FOLLOWUP_TASKS: f"{SWAGGER}: tasks are made only by requests, no workflow or automation",
        Capability.SILENCE_ALERT: f"{SWAGGER}: no alert, reminder or notification resource",
        Capability.SLA: f"{SWAGGER}: a case has no first-response time, SLA timer or breach flag",
        Capability.NPS_SURVEY: f"{SWAGGER}: no survey resource",
        Capability.REPORTS: f"{SWAGGER}: /api/dashboard/ counts open records only, unfiltered; no report",
        Capability.FORECAST: f"{SWAGGER}: /api/dashboard/ counts open records only; no forecast",
        Capability.BACKDATING: f"{SWAGGER}: created_on is read-only, set by the server",
        Capability.WEBHOOKS: f"{SWAGGER}: no webhook or subscription resource",
        Capability.AUDIT_LOG: f"{SWAGGER}: no audit log or change-history resource",
    }
    persistent = True

    def __init__(self, options: BottleCRMOptions) -> None:
        super().__init__(options)
        self._email = options.email
        self._password = secret_from_env(options.password_env, "the BottleCRM user's password")
        self._password_env = options.password_env
        self._token: str | None = None
        self._skew = timedelta(0)
        self.http = VendorHTTP(
            "bottlecrm",
            options.base_url,
            timeout=options.timeout,
            credential=f"the email option and the password in {options.password_env}",
        )
        self._base_url = options.base_url
        self._timeout = options.timeout

    def load_targets(self, tag: str, known: Mapping[RecordKind, Sequence[str]]) -> LoadTargets | None:
        """Reads only, ``GET /api/leads/{id}/`` on this run's leads, with a fresh JWT (it lives 300 s, more
        than a probe): a create answers without the new id, so the probe could not list what it made."""
        leads = [int(lead) for lead in known.get(RecordKind.LEAD, ())]
        if not leads:
            return None
        self._token = self._login()
        path = COLLECTIONS[RecordKind.LEAD].path
        read = LoadRequest(f"GET {path}{{id}}/", "GET", lambda n: f"{path}{leads[n % len(leads)]}/")
        client = LoadClient(self._base_url, {"Authorization": f"JWT {self._token}"}, self._timeout)
        return LoadTargets([read], [], client)

    # --- transport: login, JWT header, one new login on 401, Date header --------------------------
    def _login(self) -> str:
        body = {"email": self._email, "password": self._password.get_secret_value()}
        try:
            answer = self._decode(self.http.request("POST", LOGIN, json=body), f"POST {LOGIN}")
        except VendorError as exc:
            if " HTTP 400" in str(exc) or " HTTP 401" in str(exc):
                raise ConfigError(
                    f"bottlecrm: login as {self._email} refused ({str(exc).partition('HTTP ')[2][:120]}): "
                    f"check the email option and the password in {self._password_env}"
                ) from None
            raise
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise VendorError(f"bottlecrm: POST {LOGIN}: the answer holds no token")
        REDACTOR.add(token)
        return token

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        call = functools.partial(self._authorized, method, path, **kwargs)
        return renewing_once(call, self._forget_token, (" HTTP 401",))

    def _forget_token(self) -> None:
        self._token = None  # expired (tokens live 300 s): the next call logs in again

    def _authorized(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._token is None:
            self._token = self._login()
        response = self.http.request(method, path, headers={"Authorization": f"JWT {self._token}"}, **kwargs)
        self._note_clock(response)
        return response

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        data = self._decode(self._send(method, path, **kwargs), f"{method} {path}")
        if isinstance(data, dict) and data.get("error") is True:
            detail = REDACTOR(" ".join(json.dumps(data.get("errors"), ensure_ascii=False).split()))[:160]
            raise VendorError(f"bottlecrm: {method} {path}: the answer says error: {detail}")
        return data

    @staticmethod
    def _decode(response: httpx.Response, where: str) -> Any:
        return decode_json(response, "bottlecrm", where)

    def _note_clock(self, response: httpx.Response) -> None:
        """The server's clock from its ``Date`` header (whole seconds, so the largest skew seen is kept)."""
        try:
            served = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError):
            return
        skew = served.replace(tzinfo=served.tzinfo or UTC) - datetime.now(UTC)
        if abs(skew - self._skew) > timedelta(seconds=2) or skew > self._skew:
            self._skew = skew

    # --- records: detail, list pages, lookup by name ------------------------------------------------
    def _detail(self, kind: RecordKind, vendor_id: str) -> dict[str, Any]:
        collection = COLLECTIONS[kind]
        path = f"{collection.path}{int(vendor_id)}/"
        record = _dig(self._call("GET", path), collection.detail)
        if not isinstance(record, dict):
            raise VendorError(f"bottlecrm: GET {path}: no {'.'.join(collection.detail)} in the answer")
        return record

    def _pages(self, kind: RecordKind, text: str) -> Iterator[dict[str, Any]]:
        """Every record of the list filtered on ``text``, page after page (limit/offset)."""
        collection = COLLECTIONS[kind]
        for page in range(MAX_PAGES):
            params = {collection.search: text, "limit": PAGE, "offset": page * PAGE}
            answer = self._call("GET", collection.path, params=params)
            for section in collection.sections:
                items = _dig(answer, section)
                if not isinstance(items, list):
                    raise VendorError(f"bottlecrm: GET {collection.path}: no list at {'.'.join(section)}")
                yield from (item for item in items if isinstance(item, dict))
            if not any(_has_next(answer, section) for section in collection.sections):
                return
        raise VendorError(f"bottlecrm: GET {collection.path}: more than {MAX_PAGES} pages")

    def _named(self, kind: RecordKind, name: str) -> dict[str, Any]:
        """The record just created, found by its (unique) name: creates answer without the id."""
        field = COLLECTIONS[kind].name
        found = [record for record in self._pages(kind, name) if record.get(field) == name]
        if len(found) != 1:
            raise VendorError(
                f"bottlecrm: {kind.value} {name!r}: {len(found)} records found by name after the create "
                "answered success (expected exactly one)"
            )
        return found[0]

    def _create(self, kind: RecordKind, body: dict[str, Any]) -> str:
        self._call("POST", COLLECTIONS[kind].path, json=body)
        return str(self._named(kind, body[COLLECTIONS[kind].name])["id"])

    # --- contract: connection and time -------------------------------------------------------------
    def check_connection(self) -> str:
        user = _dig(self._call("GET", "/api/profile/"), ("user_obj",)) or {}
        if user.get("role") != "ADMIN" and not user.get("is_superuser"):
            raise ConfigError(
                f"bottlecrm: {self._email} is not an ADMIN user: the harness creates users and reads every "
                "record (register an admin with POST /api/auth/register/)"
            )
        document = self._decode(self.http.request("GET", "/swagger.json"), "GET /swagger.json")
        info = document.get("info", {}) if isinstance(document, dict) else {}
        return f"BottleCRM ({info.get('title')} {info.get('version')}) as {self._email}, role ADMIN"

    def now(self) -> datetime:
        return datetime.now(UTC) + self._skew

    # --- contract: seeding -------------------------------------------------------------------------
    def create_sales_rep(self, rep: SalesRep) -> str:
        password = secrets.token_urlsafe(18)  # the rep never logs in; BottleCRM requires one
        REDACTOR.add(password)
        body = {
            "username": f"{rep.key}-{rep.tag}",
            "email": tagged_email(rep.email, rep.tag),
            "first_name": rep.name,
            "role": "USER",
            "has_sales_access": True,
            "has_marketing_access": False,
            "password": password,
        }
        return self._create(RecordKind.REP, body)

    def create_account(self, account: Account) -> str:
        body = {
            "name": label(account.name, account.key, account.tag),
            "phone": account.phone,
            "email": f"{account.key}.{account.tag}@accounts.poc-harness.example",
            "description": f"industry: {account.industry}",
            "billing_address_line": UNKNOWN,
            "billing_street": UNKNOWN,
            "billing_city": account.city,
            "billing_state": UNKNOWN,
            "billing_postcode": UNKNOWN,
            "billing_country": country_of(account.phone),
            "contacts": "[]",
        }
        return self._create(RecordKind.ACCOUNT, body)

    def create_contact(self, contact: Contact, account_id: str) -> str:
        body = {
            "first_name": label(contact.first_name, contact.key, contact.tag),
            "last_name": contact.last_name,
            "email": contact.email,
            "phone": contact.phone,
            "assigned_to": "[]",
        }
        contact_id = self._create(RecordKind.CONTACT, body)
        account = self._detail(RecordKind.ACCOUNT, account_id)
        self._put_account(account_id, account, contacts=[*account.get("contacts", []), int(contact_id)])
        return contact_id

    def _put_account(self, account_id: str, account: dict[str, Any], **changes: Any) -> None:
        body = keep(account, ACCOUNT_FIELDS) | list_fields(account | changes)
        if isinstance(account.get("lead"), dict):
            body["lead"] = account["lead"]["id"]
        self._call("PUT", f"/api/accounts/{int(account_id)}/", json=body)

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        if arrived_at is not None:
            raise self._lacks(Capability.BACKDATING)
        first, _, last = lead.contact_name.partition(" ")
        body = {
            "title": label(lead.title, lead.key, lead.tag),
            "first_name": first,
            "account_name": label(lead.company, lead.key, lead.tag),
            "email": lead.email,
            "phone": lead.phone,
            "city": lead.city,
            "source": LEAD_SOURCES.get(lead.source, "other"),
            "description": f"{lead.key}: source {lead.source.value}, estimated value {lead.estimated_value}",
        }
        if last:
            body["last_name"] = last
        return self._create(RecordKind.LEAD, body)

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        text = f"[{activity.kind.value}] {activity.subject}"
        if activity.user_id:
            text += f" (rep {activity.user_id})"
        answer = self._call("POST", f"/api/leads/{int(lead_id)}/", json={"comment": text})
        mine = [comment["id"] for comment in comments(answer) if comment.get("comment") == text]
        if not mine:
            raise VendorError(f"bottlecrm: POST /api/leads/{lead_id}/: the comment is not in the answer")
        return f"{int(lead_id)}:{max(mine)}"

    # --- contract: delete and find -----------------------------------------------------------------
    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        if kind is RecordKind.ACTIVITY:
            return self._delete_comment(vendor_id)
        if kind is RecordKind.LEAD:
            return self._delete_lead(vendor_id)
        return self._delete(kind, vendor_id)

    def _delete(self, kind: RecordKind, vendor_id: str) -> bool:
        path = f"{COLLECTIONS[kind].path}{int(vendor_id)}/"
        try:
            self._send("DELETE", path)
        except VendorError as exc:
            if " HTTP 404" in str(exc):
                return False
            if " HTTP 500" in str(exc) and kind in MISSING_ANSWERS_500 and not self._exists(kind, vendor_id):
                return False
            raise
        return True

    def _exists(self, kind: RecordKind, vendor_id: str) -> bool:
        """For cases and opportunities, whose detail answers 500 when the record is missing."""
        try:
            self._detail(kind, vendor_id)
        except VendorError:
            return False
        return True

    def _delete_lead(self, lead_id: str) -> bool:
        """The lead, and the account BottleCRM made from it when it was converted."""
        try:
            lead = self._detail(RecordKind.LEAD, lead_id)
        except VendorError as exc:
            if " HTTP 404" in str(exc):
                return False
            raise
        if lead.get("status") == "converted" and lead.get("account_name"):
            self._delete(RecordKind.ACCOUNT, str(self._conversion_account(lead)["id"]))
        return self._delete(RecordKind.LEAD, lead_id)

    def _delete_comment(self, vendor_id: str) -> bool:
        lead_id, _, comment_id = vendor_id.partition(":")
        try:
            self._send("DELETE", f"/api/leads/comment/{int(comment_id)}/")
        except VendorError as exc:
            if " HTTP 500" in str(exc) and int(comment_id) not in self._lead_comment_ids(lead_id):
                return False  # BottleCRM answers 500 for a comment that is not there
            raise
        return True

    def _lead_comment_ids(self, lead_id: str) -> set[int]:
        try:
            answer = self._call("GET", f"/api/leads/{int(lead_id)}/")
        except VendorError as exc:
            if " HTTP 404" in str(exc):
                return set()
            raise
        return {int(comment["id"]) for comment in comments(answer)}

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        if kind is RecordKind.ACTIVITY:
            return self._tagged_comments(tag)
        field = COLLECTIONS[kind].name
        return sorted(
            {str(record["id"]) for record in self._pages(kind, tag) if tag in str(record.get(field))}, key=int
        )

    def carries_tag(self, kind: RecordKind, vendor_id: str, tag: str) -> bool:
        """A converted lead leaves ``leads/`` but keeps its detail (and its tagged title), with its comments:
        a comment on it (an activity, ``lead:comment``) carries the tag in its text."""
        if kind not in (RecordKind.LEAD, RecordKind.ACTIVITY):
            return False
        lead_id, _, comment_id = vendor_id.partition(":")
        try:
            answer = self._call("GET", f"{COLLECTIONS[RecordKind.LEAD].path}{int(lead_id)}/")
        except VendorError as exc:
            if " HTTP 404" in str(exc):
                return False
            raise
        if kind is RecordKind.ACTIVITY:
            return any(
                str(comment.get("id")) == comment_id and tag in str(comment.get("comment"))
                for comment in comments(answer)
            )
        lead = _dig(answer, COLLECTIONS[kind].detail)
        return isinstance(lead, dict) and tag in str(lead.get(COLLECTIONS[kind].name))

    def _tagged_comments(self, tag: str) -> list[str]:
        """Comments carrying the tag on the tagged leads and accounts (a converted lead's comments move to
        its account)."""
        found: set[str] = set()
        for kind in (RecordKind.LEAD, RecordKind.ACCOUNT):
            for record_id in self.find_tagged(kind, tag):
                answer = self._call("GET", f"{COLLECTIONS[kind].path}{int(record_id)}/")
                found |= {
                    f"{comment['lead']}:{comment['id']}"
                    for comment in comments(answer)
                    if comment.get("lead") and tag in str(comment.get("comment"))
                }
        return sorted(found)

    # --- contract: lead -> contract ----------------------------------------------------------------
    def get_lead(self, lead_id: str) -> LeadView:
        lead = self._detail(RecordKind.LEAD, lead_id)
        owners = [str(_id_of(user)) for user in lead.get("assigned_to") or []]
        return LeadView(
            vendor_id=str(lead["id"]),
            owner_id=owners[0] if owners else None,
            status=lead.get("status") or "",
            created_at=aware(lead.get("created_on"), f"lead {lead_id} created_on"),
        )

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        """Convert the lead (BottleCRM makes an account of it), then open an opportunity on that account.
        A retry after a failure half-way (the opportunity refused) goes on from where it stopped."""
        lead = self._detail(RecordKind.LEAD, lead_id)
        owners = json_ids(lead.get("assigned_to"))
        if lead.get("status") != "converted":
            body = keep(lead, LEAD_FIELDS) | list_fields(lead) | {"status": "converted"}
            self._call("PUT", f"/api/leads/{int(lead_id)}/", json=body)
        account = self._conversion_account(lead)
        opened = [
            deal for deal in self._pages(RecordKind.DEAL, lead["title"]) if deal.get("name") == lead["title"]
        ]
        if opened:
            return str(opened[0]["id"])
        opportunity = {
            "name": lead["title"],
            "account": account["id"],
            "amount": amount,
            "stage": STAGES[DealStage.QUALIFICATION],
            "probability": PROBABILITY[DealStage.QUALIFICATION],
            "assigned_to": owners,
            "contacts": "[]",
        }
        if expected_close is not None:
            opportunity["due_date"] = expected_close.date().isoformat()
        return self._create(RecordKind.DEAL, opportunity)

    def _conversion_account(self, lead: dict[str, Any]) -> dict[str, Any]:
        name = lead.get("account_name") or ""
        for account in self._pages(RecordKind.ACCOUNT, name):
            if account.get("name") == name and (account.get("lead") or {}).get("id") == lead["id"]:
                return account
        raise VendorError(f"bottlecrm: lead {lead['id']} converted, but no account {name!r} made from it")

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        deal = self._detail(RecordKind.DEAL, deal_id)
        body = keep(deal, OPPORTUNITY_FIELDS) | list_fields(deal)
        body |= {"stage": STAGES[stage], "probability": PROBABILITY[stage]}
        if isinstance(deal.get("account"), dict):
            body["account"] = deal["account"]["id"]
        if deal.get("closed_on"):
            body["due_date"] = deal["closed_on"]  # a PUT without it clears the close date
        self._call("PUT", f"/api/opportunities/{int(deal_id)}/", json=body)

    def get_deal(self, deal_id: str) -> DealView:
        deal = self._detail(RecordKind.DEAL, deal_id)
        where = f"opportunity {deal_id}"
        stage = HARNESS_STAGES.get(str(deal.get("stage")))
        if stage is None:
            raise VendorError(f"bottlecrm: {where}: unknown stage {deal.get('stage')!r}")
        lead = _dig(deal, ("account", "lead"))
        return DealView(
            vendor_id=str(deal["id"]),
            lead_id=str(lead["id"]) if isinstance(lead, dict) else None,
            stage=stage,
            amount=amount_of(deal.get("amount"), where),
            history=[StageChange(stage=stage, at=aware(deal.get("created_on"), f"{where} created_on"))],
        )

    # --- contract: tickets (cases) -----------------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        if opened_at is not None:
            raise self._lacks(Capability.BACKDATING)
        body = {
            "name": label(ticket.subject, ticket.key, ticket.tag),
            "status": "New",
            "priority": ticket.priority.value.capitalize(),
            "description": ticket.description,
            "contacts": json.dumps([int(contact_id)]),
            "assigned_to": "[]",
            "closed_on": self._today(),  # required even for an open case (else 500)
        }
        return self._create(RecordKind.TICKET, body)

    def _today(self) -> str:
        return self.now().date().isoformat()

    def get_ticket(self, ticket_id: str) -> TicketView:
        raise self._lacks(Capability.SLA)  # a ticket's view is its SLA flags, which cases lack

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        answer = self._call("POST", f"/api/cases/{int(ticket_id)}/", json={"comment": message})
        if not any(comment.get("comment") == message for comment in comments(answer)):
            raise VendorError(f"bottlecrm: POST /api/cases/{ticket_id}/: the reply is not in the answer")

    def close_ticket(self, ticket_id: str) -> None:
        case = self._detail(RecordKind.TICKET, ticket_id)
        body = keep(case, CASE_FIELDS) | list_fields(case) | {"status": "Closed", "closed_on": self._today()}
        if case.get("case_type"):
            body["type_of_case"] = case["case_type"]
        if isinstance(case.get("account"), dict):
            body["account"] = case["account"]["id"]
        self._call("PUT", f"/api/cases/{int(ticket_id)}/", json=body)
