"""The security checks' probes: act as two sales reps of different teams (access control), and make
writes whose entries the vendor's audit log must then show.

The two reps come from ``[vendors.<name>.rbac_users]`` (tokens in environment variables)
or, where the vendor lets the harness administer users, are created by it in two teams
and given credentials.  Every record a probe creates goes through the seeder, so the
ledger knows it (cleanup); probe records carry a tag of their own (``pocsec...``), so the
run's management reports and exports never count them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from poc_harness.adapter import Capability, CRMAdapter, RecordKind, UserCredential
from poc_harness.config import secret_from_env
from poc_harness.errors import AccessDenied, ConfigError, VendorError
from poc_harness.model import AuditAction, Lead, LeadChanges, LeadSource, Record, TeamMember, TeamRole

Create = Callable[[RecordKind, Record, str, Callable[[], str]], str]
"""The seeder's ``create``: ledger first, then the vendor's create call, then the vendor id."""

PROBE_TEAMS = ("poc-security-team-a", "poc-security-team-b")
ALLOWED, REFUSED = "allowed", "refused"


def security_tag(run_tag: str) -> str:
    """``pocsec...`` does not contain the run's tag ``poc...``: even a substring search cannot mix them."""
    return f"pocsec{run_tag.removeprefix('poc')}"


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


# --- the two sales reps ------------------------------------------------------------------------
@dataclass
class RepPair:
    """The adapter acting as a sales rep, and as a sales rep of another team; close after use."""

    rep: CRMAdapter
    other_team_rep: CRMAdapter
    source: str

    def close(self) -> None:
        self.rep.close()
        self.other_team_rep.close()


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
        for role, user in (("rep", users.rep), ("other_team_rep", users.other_team_rep))
    ]


def _created(adapter: CRMAdapter, create: Create, tag: str) -> list[UserCredential]:
    credentials = []
    for index, team in enumerate(PROBE_TEAMS, start=1):
        key = f"security-rep-{index}"
        member = TeamMember(
            key=key,
            tag=tag,
            name=f"PoC Security Rep {index}",
            email=f"{key}.{tag}@example.com",
            role=TeamRole.SALES_REP,
            team=team,
        )
        user_id = create(RecordKind.REP, member, key, lambda m=member: adapter.create_team_user(m))
        credentials.append(adapter.issue_credential(user_id))
    return credentials


def rep_pair(adapter: CRMAdapter, vendor: str, create: Create, tag: str) -> RepPair:
    """The configured reps, else two the harness creates; a one-line ConfigError when neither can be."""
    credentials, source = _configured(adapter, vendor), "configured in rbac_users"
    if credentials is None:
        if not adapter.has(Capability.USER_ADMIN):
            raise ConfigError(
                f"[vendors.{vendor}] rbac_users is not set and the {adapter.name} adapter cannot create "
                "users: name two sales reps of different teams (rbac_users.rep and "
                "rbac_users.other_team_rep, each with token_env)"
            )
        credentials, source = _created(adapter, create, tag), "created by the harness"
    rep = adapter.as_user(credentials[0])
    try:
        return RepPair(rep, adapter.as_user(credentials[1]), source)
    except BaseException:
        rep.close()
        raise


# --- access control ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One request a rep made, and whether the vendor let it through."""

    action: str
    lead_id: str
    expected: str
    observed: str

    @property
    def ok(self) -> bool:
        return self.observed == self.expected

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def attempt(call: Callable[[], object]) -> str:
    """``allowed``, ``refused`` (the vendor said no to this user), or the vendor's error."""
    try:
        call()
    except AccessDenied:
        return REFUSED
    except VendorError as exc:
        return f"error: {exc}"
    return ALLOWED


@dataclass
class RbacOutcome:
    own_lead: str
    other_lead: str
    steps: list[Step] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    """lead id -> the title it must have now (updated for the own lead, unchanged for the other)"""

    @property
    def wrong(self) -> list[Step]:
        return [step for step in self.steps if not step.ok]


def rbac_probe(pair: RepPair, create: Create, tag: str) -> RbacOutcome:
    """The rep reads and updates a lead of their own (allowed), then one of another team's rep (refused)."""
    own = probe_lead("security-rbac-own", tag, "Access probe: own team's lead")
    other = probe_lead("security-rbac-other", tag, "Access probe: other team's lead")
    own_id = create(RecordKind.LEAD, own, own.key, lambda: pair.rep.create_lead(own))
    other_id = create(RecordKind.LEAD, other, other.key, lambda: pair.other_team_rep.create_lead(other))
    updated = LeadChanges(title=f"{own.title} (updated by its rep)")
    hostile = LeadChanges(title=f"{other.title} (changed by another team)")
    outcome = RbacOutcome(own_id, other_id, titles={own_id: str(updated.title), other_id: other.title})
    rep = pair.rep
    for action, lead_id, expected, call in (
        ("read own lead", own_id, ALLOWED, lambda: rep.get_lead(own_id)),
        ("update own lead", own_id, ALLOWED, lambda: rep.update_lead(own_id, updated)),
        ("read other team's lead", other_id, REFUSED, lambda: rep.get_lead(other_id)),
        ("update other team's lead", other_id, REFUSED, lambda: rep.update_lead(other_id, hostile)),
    ):
        outcome.steps.append(Step(action, lead_id, expected, attempt(call)))
    return outcome


# --- audit log ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Write:
    """A write the harness made: the audit log must show it with this actor at this time."""

    action: AuditAction
    kind: RecordKind
    record_id: str
    actor: str
    at: datetime


def audited_writes(
    adapter: CRMAdapter,
    create: Create,
    now: Callable[[], datetime],
    mark_deleted: Callable[[str], None],
    tag: str,
) -> list[Write]:
    """Create, update and delete one lead; ``mark_deleted(key)`` tells the ledger it is gone."""
    actor = adapter.acting_user_id()
    lead = probe_lead(f"security-audit-{secrets.token_hex(3)}", tag, "Audit probe lead")
    created_at = now()
    lead_id = create(RecordKind.LEAD, lead, lead.key, lambda: adapter.create_lead(lead))
    updated_at = now()
    adapter.update_lead(lead_id, LeadChanges(title=f"{lead.title} (updated)"))
    deleted_at = now()
    adapter.delete(RecordKind.LEAD, lead_id)
    mark_deleted(lead.key)
    return [
        Write(AuditAction.CREATE, RecordKind.LEAD, lead_id, actor, created_at),
        Write(AuditAction.UPDATE, RecordKind.LEAD, lead_id, actor, updated_at),
        Write(AuditAction.DELETE, RecordKind.LEAD, lead_id, actor, deleted_at),
    ]
