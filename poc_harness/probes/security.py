"""The security checks' probes: act as two sales reps of different teams over every kind of record
and every operation (the access-control matrix), call every endpoint without credentials or with a
made-up token, register anonymously asking for a privileged role, and make single, batch and child
writes, as the API user and as a rep, whose entries the vendor's audit log must then show.

The two reps come from ``[vendors.<name>.rbac_users]`` (tokens in environment variables)
or, where the vendor lets the harness administer users, are created by it in two teams
and given credentials.  Every record a probe creates goes through the seeder, so the
ledger knows it (cleanup); probe records carry a tag of their own (``pocsec...``), so the
run's management reports and exports never count them.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import (
    AccessKind,
    Capability,
    CRMAdapter,
    Endpoint,
    NotExercised,
    RecordKind,
    Support,
    UserCredential,
)
from poc_harness.contract.batches import BatchItem
from poc_harness.contract.model import (
    Account,
    Activity,
    ActivityKind,
    AuditAction,
    Contact,
    DealStage,
    Lead,
    LeadChanges,
    LeadSource,
    Record,
    TeamMember,
    TeamRole,
    Ticket,
    TicketPriority,
)
from poc_harness.errors import (
    AccessDenied,
    CapabilityMissing,
    ConfigError,
    Refused,
    VendorError,
    VendorUnreachable,
)
from poc_harness.run.ledger import Ledger

Create = Callable[[RecordKind, Record | dict[str, object], str, Callable[[], str]], str]
"""The seeder's ``create``: ledger first, then the vendor's create call, then the vendor id."""
CreateMany = Callable[[RecordKind, list[BatchItem]], dict[str, str]]
"""The seeder's ``create_many``: a batch through the vendor's batch API, key -> vendor id."""

PROBE_TEAMS = ("poc-security-team-a", "poc-security-team-b")
ALLOWED, REFUSED = "allowed", "refused"
NOT_MEASURED, NOT_APPLICABLE = "not measured", "not applicable"
OWN, MATE, OTHER = "the rep's own", "a team mate's", "another team's"
"""Whose record a matrix cell's operation is tried on: the first two must be allowed, the last refused."""


def needs(adapter: CRMAdapter, capability: Capability) -> None:
    """Go on where the adapter implements ``capability``; the vendor's finding (``CapabilityMissing``)
    where the vendor lacks it; else our gap (``NotImplementedByAdapter``: not measured)."""
    adapter.require(capability)


def security_tag(run_tag: str) -> str:
    """``pocsec...`` does not contain the run's tag ``poc...``: even a substring search cannot mix them."""
    return f"pocsec{run_tag.removeprefix('poc')}"


def probe_payload(key: str, tag: str) -> dict[str, object]:
    """The ledger's payload of a probe record made by a call with no seed record (an activity, a deal, a
    signed-up user): its tag, so cleanup looks for it under the probes' tag, not the run's."""
    return {"probe": key, "tag": tag}


def probe_lead(key: str, tag: str, title: str) -> Lead:
    return Lead(
        key=key,
        tag=tag,
        title=title,
        company="PoC Security Probe",
        contact_name="Security Probe",
        email=f"{key}@example.com",
        phone="+982100000000",
        city="Tehran",
        source=LeadSource.WEBSITE,
        estimated_value=1000,
    )


# --- the two sales reps (and a team mate) --------------------------------------------------------
@dataclass
class RepPair:
    """The adapter acting as a sales rep, as a sales rep of another team and, where there is one, as a
    team mate of the first rep; close after use."""

    rep: CRMAdapter
    other_team_rep: CRMAdapter
    source: str
    team_mate: CRMAdapter | None = None

    def close(self) -> None:
        for user in (self.rep, self.other_team_rep, self.team_mate):
            if user is not None:
                user.close()


REP_ROLES = ("rep", "other_team_rep", "team_mate")
"""The users of ``[vendors.<name>.rbac_users]``, in the order the harness creates them."""


def _configured(adapter: CRMAdapter, vendor: str) -> list[UserCredential] | None:
    users = getattr(adapter.options, "rbac_users", None)
    if users is None:
        return None
    return [
        UserCredential(
            token=secret_from_env(user.token_env, f"the API token of [vendors.{vendor}.rbac_users] {role}"),
            login=user.login,
            user_id=user.user_id,
        )
        for role in REP_ROLES
        if (user := getattr(users, role)) is not None
    ]


def _created(adapter: CRMAdapter, create: Create, tag: str) -> list[UserCredential]:
    """A rep in team a, one in team b, and a team mate of the first in team a."""
    credentials = []
    for index, team in enumerate((*PROBE_TEAMS, PROBE_TEAMS[0]), start=1):
        key = f"security-rep-{index}"
        member = TeamMember(
            key=key,
            tag=tag,
            name=f"PoC Security Rep {index}",
            email=f"{key}.{tag}@example.com",
            role=TeamRole.SALES_REP,
            team=team,
        )
        user_id = create(RecordKind.REP, member, key, functools.partial(adapter.create_team_user, member))
        credentials.append(adapter.issue_credential(user_id))
    return credentials


def rep_pair(adapter: CRMAdapter, vendor: str, create: Create, tag: str) -> RepPair:
    """The configured reps, else three the harness creates; a one-line ConfigError when neither can be."""
    needs(adapter, Capability.RBAC)  # the adapter acts as another user: else our gap, or the vendor's
    credentials, source = _configured(adapter, vendor), "configured in rbac_users"
    if credentials is None:
        if not adapter.has(Capability.USER_ADMIN):
            raise ConfigError(
                f"[vendors.{vendor}] rbac_users is not set and the {adapter.name} adapter cannot create "
                "users: name two sales reps of different teams (rbac_users.rep and "
                "rbac_users.other_team_rep, each with token_env; rbac_users.team_mate optional)"
            )
        credentials, source = _created(adapter, create, tag), "created by the harness"
    users: list[CRMAdapter] = []
    try:
        users += [adapter.as_user(credential) for credential in credentials]
    except BaseException:
        for user in users:
            user.close()
        raise
    return RepPair(users[0], users[1], source, users[2] if len(users) > 2 else None)


def forget_deleted(adapter: CRMAdapter, ledger: Ledger, run_id: str, tag: str) -> list[str]:
    """Mark deleted in the ledger the probes' records (under ``tag``) the vendor no longer has: a rep's
    allowed deletes, and what went with a deleted lead; their keys.  Cleanup then does not look for them."""
    live = [r for r in ledger.records(run_id, live_only=True) if r.payload.get("tag") == tag and r.vendor_id]
    forgotten = []
    for kind in dict.fromkeys(record.kind for record in live):
        try:
            present = set(adapter.find_tagged(RecordKind(kind), tag))
            gone = [
                record
                for record in live
                if record.kind == kind
                and record.vendor_id not in present
                and not adapter.carries_tag(RecordKind(kind), str(record.vendor_id), tag)
            ]
        except (VendorError, NotExercised):
            continue  # cleanup looks again (or the adapter keeps no such records)
        for record in gone:
            ledger.mark_deleted(run_id, kind, record.key, datetime.now(UTC))
            forgotten.append(record.key)
    return forgotten


# --- the records each rep owns ------------------------------------------------------------------
@dataclass
class Holdings:
    """One user's probe records by kind; a kind that could not be made says why (``gaps``)."""

    ids: dict[AccessKind, str] = field(default_factory=dict)
    gaps: dict[AccessKind, str] = field(default_factory=dict)

    def make(self, kind: AccessKind, call: Callable[[], str], under: AccessKind | None = None) -> None:
        """Create the record of ``kind`` (under the record of kind ``under``), or note why it is missing."""
        if under is not None and under not in self.ids:
            self.gaps[kind] = f"{NOT_MEASURED}: no {under.value} to make it under ({self.gaps.get(under)})"
            return
        try:
            self.ids[kind] = call()
        except (NotExercised, CapabilityMissing, AccessDenied) as exc:
            outcome = _outcome_of(exc)
            refused = f"{NOT_MEASURED}: its user may not create it ({exc})"
            self.gaps[kind] = refused if outcome == REFUSED else outcome


def _outcome_of(exc: Exception) -> str:
    """How an exception reads in the matrix: our gap, the vendor lacking the kind, a refusal, or an error."""
    if isinstance(exc, NotExercised):
        return str(exc)
    if isinstance(exc, CapabilityMissing):
        return f"{NOT_APPLICABLE}: {exc}"
    if isinstance(exc, AccessDenied):
        return REFUSED
    return f"error: {exc}"


def holdings(user: CRMAdapter, create: Create, tag: str, who: str) -> Holdings:
    """An account, its contact and a ticket for it, a lead, and under a second lead a follow-up task, an
    activity and (its conversion) a deal, all created by ``user``, so that user's team owns them."""
    key, phone = f"security-{who}", "+982100000000"
    name = f"PoC Security {who}"
    account = Account(key=f"{key}-account", tag=tag, name=name, industry="Probe", city="Tehran", phone=phone)
    contact = Contact(
        key=f"{key}-contact",
        tag=tag,
        first_name="Security",
        last_name=f"Probe {who}",
        email=f"{key}.{tag}@example.com",
        phone=phone,
        account_key=account.key,
    )
    ticket = Ticket(
        key=f"{key}-ticket",
        tag=tag,
        subject=f"Access probe ticket ({who})",
        description="Access probe",
        priority=TicketPriority.NORMAL,
        contact_key=contact.key,
    )
    lead = probe_lead(f"{key}-lead", tag, f"Access probe: {who}'s lead")
    parent = probe_lead(f"{key}-parent", tag, f"Access probe: {who}'s lead with a deal")
    note = Activity(kind=ActivityKind.NOTE, subject=f"Access probe note ({who})")
    made = Holdings()
    ids = made.ids

    def first_task() -> str:
        tasks = user.lead_tasks(parent_id)
        if not tasks:
            raise CapabilityMissing(f"{user.name} made no follow-up task on the probe's lead")
        return tasks[0].vendor_id

    def seed(kind: RecordKind, record: Record, call: Callable[[], str]) -> Callable[[], str]:
        return lambda: create(kind, record, record.key, call)

    def child(kind: RecordKind, suffix: str, call: Callable[[], str]) -> Callable[[], str]:
        return lambda: create(kind, probe_payload(f"{key}-{suffix}", tag), f"{key}-{suffix}", call)

    made.make(AccessKind.ACCOUNT, seed(RecordKind.ACCOUNT, account, lambda: user.create_account(account)))
    contact_call = lambda: user.create_contact(contact, ids[AccessKind.ACCOUNT])  # noqa: E731
    made.make(AccessKind.CONTACT, seed(RecordKind.CONTACT, contact, contact_call), under=AccessKind.ACCOUNT)
    ticket_call = lambda: user.create_ticket(ticket, ids[AccessKind.CONTACT])  # noqa: E731
    made.make(AccessKind.TICKET, seed(RecordKind.TICKET, ticket, ticket_call), under=AccessKind.CONTACT)
    made.make(AccessKind.LEAD, seed(RecordKind.LEAD, lead, lambda: user.create_lead(lead)))
    parent_id = seed(RecordKind.LEAD, parent, lambda: user.create_lead(parent))()
    made.make(AccessKind.TASK, first_task)
    note_call = lambda: user.log_activity(parent_id, note)  # noqa: E731
    made.make(AccessKind.ACTIVITY, child(RecordKind.ACTIVITY, "activity", note_call))
    made.make(AccessKind.DEAL, child(RecordKind.DEAL, "deal", lambda: user.convert_lead(parent_id, 1000)))
    return made


# --- the access-control matrix ----------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One kind x operation x whose record: what the rep was expected to get and got."""

    kind: AccessKind
    operation: str
    team: str
    record_id: str
    expected: str
    observed: str
    applied: bool | None = None
    """for an update or a delete: whether the write took effect, as the API user read it back at once"""
    left: str = ""
    """what that read-back found (the record's label, gone or still there), or why it was not read"""

    @property
    def name(self) -> str:
        return f"{self.kind.value} x {self.operation} on {self.team} record"

    @property
    def measured(self) -> bool:
        return not self.observed.startswith((NOT_MEASURED, NOT_APPLICABLE))

    @property
    def ok(self) -> bool:
        return self.observed == self.expected

    def params(self) -> dict[str, Any]:
        params = {
            "kind": self.kind.value,
            "operation": self.operation,
            "team": self.team,
            "expected": self.expected,
            "observed": self.observed,
        }
        return params if not self.left else {**params, "applied": self.applied, "left": self.left}

    def as_dict(self) -> dict[str, Any]:
        return {**self.params(), "record_id": self.record_id, "ok": self.ok}


@dataclass
class Matrix:
    cells: list[Cell] = field(default_factory=list)

    @property
    def measured(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.measured]

    @property
    def wrong(self) -> list[Cell]:
        return [cell for cell in self.measured if not cell.ok]

    @property
    def unmeasured(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.observed.startswith(NOT_MEASURED)]


@dataclass(frozen=True)
class Probe:
    """What an operation needs: the rep acting, the ledger's create, the probe's tag."""

    rep: CRMAdapter
    create: Create
    tag: str


def _read(probe: Probe, kind: AccessKind, record_id: str, team: str) -> None:
    if probe.rep.read_record(kind, record_id) is None:
        raise AccessDenied(f"{kind.value} {record_id} does not exist for this user")


def _listed(probe: Probe, kind: AccessKind, record_id: str, team: str) -> None:
    if record_id not in probe.rep.list_records(kind, probe.tag):
        raise AccessDenied(f"{kind.value} {record_id} is not in this user's listing")


def _child(probe: Probe, kind: RecordKind, key: str, team: str, call: Callable[[], str]) -> None:
    """A write that creates a record under another: into the ledger first where it must be allowed; under
    another team's record (expected refused) only once the vendor let it through, so a refusal leaves no
    row."""
    if team != OTHER:
        probe.create(kind, probe_payload(key, probe.tag), key, call)
        return
    vendor_id = call()
    probe.create(kind, {**probe_payload(key, probe.tag), "leaked": True}, key, _already(vendor_id))


def _log_activity(probe: Probe, kind: AccessKind, record_id: str, team: str) -> None:
    note = Activity(kind=ActivityKind.CALL, subject="Access probe: logged by a rep")
    key = f"security-matrix-activity-{record_id}"
    _child(probe, RecordKind.ACTIVITY, key, team, lambda: probe.rep.log_activity(record_id, note))


def _convert(probe: Probe, kind: AccessKind, record_id: str, team: str) -> None:
    key = f"security-matrix-deal-{record_id}"
    _child(probe, RecordKind.DEAL, key, team, lambda: probe.rep.convert_lead(record_id, 1000))


Run = Callable[[Probe, AccessKind, str, str], object]
EVERY_KIND = tuple(AccessKind)
OPERATIONS: tuple[tuple[str, tuple[AccessKind, ...], Run], ...] = (
    ("read", EVERY_KIND, _read),
    ("list", EVERY_KIND, _listed),
    ("update", EVERY_KIND, lambda p, k, i, t: p.rep.update_record(k, i, _label(p.tag, k, t))),
    ("read its tasks", (AccessKind.LEAD,), lambda p, k, i, t: p.rep.lead_tasks(i)),
    ("read its alerts", (AccessKind.LEAD,), lambda p, k, i, t: p.rep.lead_alerts(i)),
    ("read its surveys", (AccessKind.TICKET,), lambda p, k, i, t: p.rep.ticket_surveys(i)),
    ("log activity", (AccessKind.LEAD,), _log_activity),
    ("convert", (AccessKind.LEAD,), _convert),
    ("move stage", (AccessKind.DEAL,), lambda p, k, i, t: p.rep.move_deal(i, DealStage.PROPOSAL)),
    ("reply", (AccessKind.TICKET,), lambda p, k, i, t: p.rep.reply_ticket(i, "Access probe reply")),
    ("close", (AccessKind.TICKET,), lambda p, k, i, t: p.rep.close_ticket(i)),
    ("complete", (AccessKind.TASK,), lambda p, k, i, t: p.rep.complete_task(i, None)),
    ("delete", EVERY_KIND, lambda p, k, i, t: p.rep.delete_record(k, i)),
)
"""Every operation, on the kinds it applies to, in the order tried: reads under a record, then writes
under it (child writes), deletes last."""


def _label(tag: str, kind: AccessKind, team: str) -> str:
    return f"Access probe {kind.value} changed by a rep ({team} record, {tag})"


def _read_back(
    admin: CRMAdapter, operation: str, kind: AccessKind, record_id: str, tag: str, label: str
) -> tuple[bool | None, str]:
    """(whether an update or delete took effect, what the API user finds now) for the record: a deleted
    record is looked for in the API user's listing (asking for it by id would be a failed call)."""
    try:
        if operation == "delete":
            gone = record_id not in admin.list_records(kind, tag)
            return gone, "gone" if gone else "still there"
        found = admin.read_record(kind, record_id)
    except (NotExercised, VendorError) as exc:
        return None, f"not read back: {exc}"
    now = found.label if found is not None else None
    return now == label, f"label now {now!r}"


def matrix_holdings(pair: RepPair, create: Create, tag: str) -> dict[str, Holdings]:
    """Every kind of record made by the rep, by the other team's rep and (where there is one) by a team
    mate of the rep: whose record -> its records."""
    held = {OWN: holdings(pair.rep, create, tag, "rep-own")}
    if pair.team_mate is not None:
        held[MATE] = holdings(pair.team_mate, create, tag, "rep-mate")
    held[OTHER] = holdings(pair.other_team_rep, create, tag, "rep-other")
    return held


def access_matrix(
    pair: RepPair, held: dict[str, Holdings], create: Create, tag: str, admin: CRMAdapter
) -> Matrix:
    """The rep tries every operation on every kind of record: their own and a team mate's (allowed), and
    the other team's rep's (refused); the API user (``admin``) reads back what each update and delete
    left.  A cell whose record could not be made, or whose operation the adapter cannot exercise, is not
    measured."""
    probe, matrix = Probe(pair.rep, create, tag), Matrix()
    for operation, kinds, run in OPERATIONS:
        for kind in kinds:
            for team, records in held.items():
                expected = REFUSED if team == OTHER else ALLOWED
                record_id = records.ids.get(kind)
                if record_id is None:
                    observed = records.gaps.get(kind, f"{NOT_MEASURED}: no {kind.value} was made")
                    matrix.cells.append(Cell(kind, operation, team, "", expected, observed))
                    continue
                observed = attempt(functools.partial(run, probe, kind, record_id, team))
                applied, left = None, ""
                tried = not observed.startswith((NOT_MEASURED, NOT_APPLICABLE))
                if operation in ("update", "delete") and tried:
                    label = _label(tag, kind, team)
                    applied, left = _read_back(admin, operation, kind, record_id, tag, label)
                matrix.cells.append(Cell(kind, operation, team, record_id, expected, observed, applied, left))
    return matrix


def attempt(call: Callable[[], object]) -> str:
    """``allowed``, ``refused`` (the vendor said no to this user), not measured, or the vendor's error; a
    vendor that cannot be reached at all is an outage, never a cell."""
    try:
        call()
    except VendorUnreachable:
        raise
    except (VendorError, NotExercised) as exc:
        return _outcome_of(exc)
    return ALLOWED


# --- without credentials, and anonymous sign-up -------------------------------------------------------
GARBAGE = "garbage token"
NO_TOKEN = "no token"


def endpoint_ids(adapter: CRMAdapter, held: Holdings) -> dict[str, str]:
    """The ids the unauthenticated requests name: the probe's records, and the API user's id."""
    ids = {kind.value: vendor_id for kind, vendor_id in held.ids.items()}
    with contextlib.suppress(VendorError, NotExercised):
        ids["user"] = adapter.acting_user_id()
    return ids


def guarded(endpoints: list[Endpoint]) -> list[Endpoint]:
    """The endpoints that must refuse a request without valid credentials (public ones by design aside)."""
    return [endpoint for endpoint in endpoints if not endpoint.public]


SIGNUP_ROLES = ("admin", "manager")


def _already(vendor_id: str) -> Callable[[], str]:
    """The create call of a record the vendor has already made: it answers that record's id."""
    return lambda: vendor_id


def self_registrations(adapter: CRMAdapter, create: Create, tag: str) -> dict[str, str | None]:
    """Register anonymously asking for each privileged role: role -> the new user's id (None: refused).
    Each sign-up goes through ``create``: its ledger row is written before the vendor's call (a crash
    mid-call still leaves it for cleanup), the user's id bound after; a refusal closes the row."""
    registered: dict[str, str | None] = {}
    for role in SIGNUP_ROLES:
        key = f"security-signup-{role}-{secrets.token_hex(3)}"

        def sign_up(role: str = role, key: str = key) -> str:
            user_id = adapter.self_register(f"PoC Sign-up {role}", f"{key}.{tag}@example.com", role, tag)
            if user_id is None:
                raise Refused(f"{adapter.name} refused the sign-up asking for {role}")
            return user_id

        payload = {**probe_payload(key, tag), "signup": role}
        try:
            registered[role] = create(RecordKind.REP, payload, key, sign_up)
        except Refused:
            registered[role] = None
    return registered


# --- audit log ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Write:
    """A write the harness made: the audit log must show it with this actor at this time."""

    action: AuditAction
    kind: RecordKind
    record_id: str
    actor: str
    at: datetime
    path: str = "single"
    """how the write reached the vendor: single, batch or child (a write under another record)"""
    what: str = ""
    nth: int = 1
    """this write is the n-th of its action on the record by its actor: the log must show n such entries"""

    def params(self, tolerance_s: float) -> dict[str, Any]:
        return {
            "nth": self.nth,
            "kind": self.kind.value,
            "action": self.action.value,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "tolerance_s": tolerance_s,
            "path": self.path,
            "what": self.what,
        }


@dataclass
class AuditPlan:
    """The writes the audit log must show, and the ones the probe could not make (not measured)."""

    writes: list[Write] = field(default_factory=list)
    unmeasured: list[str] = field(default_factory=list)

    def add(self, write: Write) -> None:
        """Note a write, counting the earlier ones of its action on its record by its actor."""
        same = (write.action, write.kind, write.record_id, write.actor)
        earlier = sum(1 for w in self.writes if (w.action, w.kind, w.record_id, w.actor) == same)
        self.writes.append(replace(write, nth=earlier + 1))


class _Writer:
    """Notes each write one user makes: what, on which record, when, by whom, by which path."""

    def __init__(self, user: CRMAdapter, now: Callable[[], datetime], plan: AuditPlan, who: str) -> None:
        self.user, self.now, self.plan, self.who = user, now, plan, who
        self.actor = user.acting_user_id()

    def did(
        self, what: str, action: AuditAction, kind: RecordKind, call: Callable[[], str], path: str
    ) -> str:
        """Make the write ``call`` (it returns the id of the record the entry is about) and note it."""
        at = self.now()
        record_id = call()
        self.plan.add(Write(action, kind, record_id, self.actor, at, path, f"{what} ({self.who})"))
        return record_id


def _then(record_id: str, call: Callable[[], object]) -> Callable[[], str]:
    """A write about ``record_id`` whose call answers something else (or nothing)."""

    def run() -> str:
        call()
        return record_id

    return run


def _skipped(user: CRMAdapter, capability: Capability, plan: AuditPlan, what: str) -> None:
    """Note a write path the probe skips as not measured where the adapter does not implement
    ``capability`` (a vendor lacking it has no such write for its audit log to show)."""
    if user.support(capability) is Support.NOT_IMPLEMENTED:
        plan.unmeasured.append(
            f"{NOT_MEASURED}: {what} (the {user.name} adapter does not implement {capability.value})"
        )


def _lead_story(w: _Writer, create: Create, tag: str, mark_deleted: Callable[[str], None]) -> None:
    """Create a lead, update it, log an activity on it, convert it, and delete it (``mark_deleted(key)``
    tells the ledger it is gone)."""
    user = w.user
    lead = probe_lead(f"security-audit-{secrets.token_hex(4)}", tag, "Audit probe lead")
    note = Activity(kind=ActivityKind.NOTE, subject="Audit probe note")
    lead_id = w.did(
        "create a lead",
        AuditAction.CREATE,
        RecordKind.LEAD,
        lambda: create(RecordKind.LEAD, lead, lead.key, lambda: user.create_lead(lead)),
        "single",
    )
    changes = LeadChanges(title=f"{lead.title} (updated)")
    w.did("update the lead", AuditAction.UPDATE, RecordKind.LEAD,
          _then(lead_id, lambda: user.update_lead(lead_id, changes)), "single")
    note_key = f"{lead.key}-note"
    w.did("log an activity on the lead", AuditAction.CREATE, RecordKind.ACTIVITY,
          lambda: create(RecordKind.ACTIVITY, probe_payload(note_key, tag), note_key,
                         lambda: user.log_activity(lead_id, note)), "child")
    if user.has(Capability.DEALS):
        deal_key = f"{lead.key}-deal"
        convert = _then(lead_id, lambda: create(RecordKind.DEAL, probe_payload(deal_key, tag), deal_key,
                                                lambda: user.convert_lead(lead_id, 1000)))
        w.did("convert the lead", AuditAction.UPDATE, RecordKind.LEAD, convert, "child")
    else:
        _skipped(user, Capability.DEALS, w.plan, f"converting a lead ({w.who})")
    w.did("delete the lead", AuditAction.DELETE, RecordKind.LEAD,
          _then(lead_id, lambda: user.delete(RecordKind.LEAD, lead_id)), "single")
    mark_deleted(lead.key)


def audited_writes(
    adapter: CRMAdapter,
    rep: CRMAdapter | None,
    create: Create,
    create_many: CreateMany,
    now: Callable[[], datetime],
    mark_deleted: Callable[[str], None],
    tag: str,
) -> AuditPlan:
    """Writes by every path the audit log must show: as the API user a single create, a batch create, an
    update, child writes (activity, conversion, a reply to a ticket) and a delete; as a sales rep
    (``rep``; None: not measured) the same single and child writes and the delete, which must name the
    rep.  ``mark_deleted(key)`` tells the ledger a deleted lead is gone."""
    plan = AuditPlan()
    api = _Writer(adapter, now, plan, "API user")
    _lead_story(api, create, tag, mark_deleted)
    if adapter.has(Capability.BATCH_CREATE):
        keys = [f"security-audit-batch-{secrets.token_hex(4)}" for _ in range(2)]
        leads = [probe_lead(key, tag, "Audit batch lead") for key in keys]
        at = now()
        created = create_many(RecordKind.LEAD, [BatchItem(lead) for lead in leads])
        what = "batch-create a lead (API user)"
        for lead in leads:
            lead_id = created[lead.key]
            plan.add(Write(AuditAction.CREATE, RecordKind.LEAD, lead_id, api.actor, at, "batch", what))
    else:
        _skipped(adapter, Capability.BATCH_CREATE, plan, "a batch create (API user)")
    if adapter.has(Capability.TICKETS):
        ticket_id = holdings(adapter, create, tag, f"audit-{secrets.token_hex(3)}").ids.get(AccessKind.TICKET)
        if ticket_id is not None:
            reply = _then(ticket_id, lambda: adapter.reply_ticket(ticket_id, "Audit probe reply"))
            api.did("reply to a ticket", AuditAction.UPDATE, RecordKind.TICKET, reply, "child")
    else:
        _skipped(adapter, Capability.TICKETS, plan, "a reply to a ticket (API user)")
    if rep is None:
        plan.unmeasured.append(f"{NOT_MEASURED}: writes by a sales rep (no rep to act as)")
    else:
        _lead_story(_Writer(rep, now, plan, "sales rep"), create, tag, mark_deleted)
    return plan
