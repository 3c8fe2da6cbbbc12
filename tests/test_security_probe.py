"""The security probes against the reference CRM: two reps' real tokens and team-scoped leads, the audit
log of every write with actor, time and retention, where the reps' credentials come from, and what the
reference CRM's access rules refuse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import ClassVar

import pytest

from adapters.sandbox import SandboxAdapter, SandboxOptions
from poc_harness.adapter import Capability, RbacUserOption, RbacUsers, RecordKind
from poc_harness.errors import AccessDenied, ConfigError
from poc_harness.model import LeadChanges, Record, SalesRep, TeamMember, TeamRole
from poc_harness.redaction import REDACTOR
from poc_harness.rules.security import audit_entry, audit_retention, lead_title
from poc_harness.sandbox.audit import targets
from poc_harness.sandbox.server import BackgroundServer
from poc_harness.security import (
    REFUSED,
    audited_writes,
    probe_lead,
    rbac_probe,
    rep_pair,
)

TAG = "unit-sec"


def create(kind: RecordKind, record: Record, key: str, call: Callable[[], str]) -> str:
    """The seeder's create without a ledger."""
    return call()


@pytest.fixture
def crm(request: pytest.FixtureRequest) -> Iterator[SandboxAdapter]:
    adapter = SandboxAdapter(SandboxOptions(profile=getattr(request, "param", "healthy")))
    yield adapter
    adapter.close()


def _member(adapter: SandboxAdapter, key: str, team: str) -> SandboxAdapter:
    member = TeamMember(
        key=key, tag=TAG, name=key, email=f"{key}@example.com", role=TeamRole.SALES_REP, team=team
    )
    return adapter.as_user(adapter.issue_credential(adapter.create_team_user(member)))


def test_a_rep_reaches_their_own_lead_and_not_another_teams(crm: SandboxAdapter) -> None:
    pair = rep_pair(crm, "sandbox", create, TAG)
    try:
        outcome = rbac_probe(pair, create, TAG)
    finally:
        pair.close()
    assert pair.source == "created by the harness"
    assert [(step.action, step.observed) for step in outcome.steps] == [
        ("read own lead", "allowed"),
        ("update own lead", "allowed"),
        ("read other team's lead", "refused"),
        ("update other team's lead", "refused"),
    ]
    assert outcome.wrong == []
    for lead_id, title in outcome.titles.items():
        assert lead_title(crm, lead_id, {"title": title}).passed
    assert crm.get_lead(outcome.own_lead).title == "Access probe: own team's lead (updated by its rep)"


@pytest.mark.parametrize("crm", ["rep_reads_everything"], indirect=True)
def test_rbac_not_enforced_is_caught(crm: SandboxAdapter) -> None:
    pair = rep_pair(crm, "sandbox", create, TAG)
    try:
        outcome = rbac_probe(pair, create, TAG)
    finally:
        pair.close()
    assert [step.action for step in outcome.wrong] == ["read other team's lead", "update other team's lead"]
    verdict = lead_title(crm, outcome.other_lead, {"title": outcome.titles[outcome.other_lead]})
    assert not verdict.passed
    assert verdict.observed == "Access probe: other team's lead (changed by another team)"


def test_team_mates_share_leads_and_a_rep_token_is_confined(crm: SandboxAdapter) -> None:
    first, mate, stranger = (_member(crm, key, team) for key, team in (("a1", "a"), ("a2", "a"), ("b1", "b")))
    lead_id = first.create_lead(probe_lead("team-lead", TAG, "Team lead"))
    assert mate.get_lead(lead_id).owner_id == first.acting_user_id()
    mate.update_lead(lead_id, LeadChanges(title="Changed by a team mate"))
    with pytest.raises(AccessDenied, match="HTTP 404"):
        stranger.get_lead(lead_id)
    with pytest.raises(AccessDenied, match="HTTP 403"):
        first.list_sales_reps()  # users are the administrator's business
    with pytest.raises(AccessDenied, match="HTTP 403"):
        first.advance_clock(timedelta(days=1))
    with pytest.raises(AccessDenied, match="HTTP 403"):
        first.audit_settings()
    crm.delete(RecordKind.REP, mate.acting_user_id())
    with pytest.raises(AccessDenied, match="HTTP 401"):
        mate.get_lead(lead_id)  # a removed user's token no longer works
    for adapter in (first, mate, stranger):
        adapter.close()
    assert crm.get_lead(lead_id).title == "Changed by a team mate"  # the shared transport still works


def test_probe_users_stay_out_of_automatic_assignment(crm: SandboxAdapter) -> None:
    rep_id = crm.create_sales_rep(SalesRep(key="rep", tag=TAG, name="Reza", email="reza@example.com"))
    probe = _member(crm, "probe", "a")
    owners = {crm.get_lead(crm.create_lead(probe_lead(f"l{i}", TAG, f"Lead {i}"))).owner_id for i in range(3)}
    assert owners == {rep_id}
    probe.close()


def test_an_issued_token_is_redacted_and_never_in_an_error(crm: SandboxAdapter) -> None:
    user_id = crm.create_team_user(
        TeamMember(key="r", tag=TAG, name="Rana", email="rana@example.com", role=TeamRole.SALES_REP, team="t")
    )
    credential = crm.issue_credential(user_id)
    token = credential.token.get_secret_value()
    assert token not in repr(credential)
    assert REDACTOR(f"Bearer {token}") == "Bearer ***"
    rep = crm.as_user(credential)
    with pytest.raises(AccessDenied) as refused:
        rep.audit_entries(RecordKind.LEAD, "LE000001", crm.now())
    assert token not in str(refused.value)
    rep.close()


def test_the_audit_log_shows_each_write_with_actor_and_time(crm: SandboxAdapter) -> None:
    gone: list[str] = []
    writes = audited_writes(crm, create, crm.now, gone.append, TAG)
    assert [write.action.value for write in writes] == ["create", "update", "delete"]
    assert len(gone) == 1 and gone[0].startswith("security-audit-")  # the ledger is told it is gone
    for write in writes:
        params = {
            "kind": "lead",
            "action": write.action.value,
            "actor": write.actor,
            "at": write.at.isoformat(),
            "tolerance_s": 60,
        }
        assert audit_entry(crm, write.record_id, params).passed, write
        assert not audit_entry(crm, write.record_id, {**params, "actor": "someone-else"}).passed
        later = (write.at + timedelta(minutes=5)).isoformat()
        assert not audit_entry(crm, write.record_id, {**params, "at": later}).passed


def test_a_reps_writes_name_the_rep(crm: SandboxAdapter) -> None:
    rep = _member(crm, "writer", "a")
    lead_id = rep.create_lead(probe_lead("rep-lead", TAG, "Rep's lead"))
    rep.update_lead(lead_id, LeadChanges(estimated_value=5))
    entries = crm.audit_entries(RecordKind.LEAD, lead_id, crm.now() - timedelta(minutes=1))
    assert [(e.action.value, e.actor_id) for e in entries] == [
        ("create", rep.acting_user_id()),
        ("update", rep.acting_user_id()),
    ]
    rep.close()


@pytest.mark.parametrize("crm", ["audit_log_missing_actions"], indirect=True)
def test_unlogged_updates_and_deletes_are_caught(crm: SandboxAdapter) -> None:
    writes = audited_writes(crm, create, crm.now, lambda _: None, TAG)
    verdicts = {
        write.action.value: audit_entry(
            crm,
            write.record_id,
            {
                "kind": "lead",
                "action": write.action.value,
                "actor": write.actor,
                "at": write.at.isoformat(),
                "tolerance_s": 60,
            },
        )
        for write in writes
    }
    assert {action: v.passed for action, v in verdicts.items()} == {
        "create": True,
        "update": False,
        "delete": False,
    }
    assert verdicts["update"].note == "no update entry"


def test_entries_older_than_the_retention_are_dropped(crm: SandboxAdapter) -> None:
    start = crm.now()
    lead_id = crm.create_lead(probe_lead("old", TAG, "Old lead"))
    assert crm.audit_settings().retention_days == 365
    crm.advance_clock(timedelta(days=364))
    assert len(crm.audit_entries(RecordKind.LEAD, lead_id, start)) == 1
    crm.advance_clock(timedelta(days=2))
    assert crm.audit_entries(RecordKind.LEAD, lead_id, start) == []


@pytest.mark.parametrize(
    ("crm", "passed"), [("healthy", True), ("short_audit_retention", False)], indirect=["crm"]
)
def test_retention_rule(crm: SandboxAdapter, passed: bool) -> None:
    verdict = audit_retention(crm, "audit_log", {"min_days": 180})
    assert verdict.passed is passed
    assert verdict.extra == {"export_formats": ["json"]}


def test_identity_standards_are_read_from_the_crm(crm: SandboxAdapter) -> None:
    assert crm.identity_standards() == ["saml2", "oidc", "mfa"]


@pytest.mark.parametrize(
    ("method", "path", "route", "inserted", "expected"),
    [
        ("POST", "/leads", "/leads", [("leads", "LE1"), ("tasks", "TA2")], [("create", "lead", "LE1")]),
        (
            "POST",
            "/leads/LE1/activities",
            "/leads/{lead_id}/activities",
            [("activities", "AC3")],
            [("create", "activity", "AC3")],
        ),
        (
            "POST",
            "/leads/LE1/convert",
            "/leads/{lead_id}/convert",
            [("deals", "DE4")],
            [("update", "lead", "LE1")],
        ),
        ("PATCH", "/leads/LE1", "/leads/{lead_id}", [], [("update", "lead", "LE1")]),
        ("DELETE", "/leads/LE1", "/{collection}/{record_id}", [], [("delete", "lead", "LE1")]),
        (
            "POST",
            "/tickets/TI5/replies",
            "/tickets/{ticket_id}/replies",
            [("replies", "RE6")],
            [("create", "reply", "RE6")],
        ),
        ("POST", "/users/US7/tokens", "/users/{user_id}/tokens", [], [("update", "user", "US7")]),
        (
            "POST",
            "/batch/leads",
            "/batch/{collection}",
            [("leads", "LE8"), ("leads", "LE9")],
            [
                ("create", "lead", "LE8"),
                ("create", "lead", "LE9"),
            ],
        ),
        (
            "DELETE",
            "/webhooks/subscriptions/WH1",
            "/webhooks/subscriptions/{subscription_id}",
            [],
            [("delete", "subscription", "WH1")],
        ),
        ("POST", "/webhooks/subscriptions", "/webhooks/subscriptions", [], []),
    ],
)
def test_what_an_audit_entry_names(
    method: str, path: str, route: str, inserted: list[tuple[str, str]], expected: list[tuple[str, str, str]]
) -> None:
    assert targets(method, path, route, inserted) == expected


# --- where the reps' credentials come from ---------------------------------------------------
def _configured_crm() -> SandboxAdapter:
    users = RbacUsers(
        rep=RbacUserOption(token_env="POC_TEST_REP_TOKEN"),
        other_team_rep=RbacUserOption(token_env="POC_TEST_OTHER_REP_TOKEN"),
    )
    return SandboxAdapter(SandboxOptions(rbac_users=users))


def test_configured_reps_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    crm = _configured_crm()
    for variable, team in (("POC_TEST_REP_TOKEN", "north"), ("POC_TEST_OTHER_REP_TOKEN", "south")):
        member = TeamMember(
            key=team, tag=TAG, name=team, email=f"{team}@example.com", role=TeamRole.SALES_REP, team=team
        )
        token = crm.issue_credential(crm.create_team_user(member)).token.get_secret_value()
        monkeypatch.setenv(variable, token)
    created: list[str] = []

    def tracked(kind: RecordKind, record: Record, key: str, call: Callable[[], str]) -> str:
        created.append(kind.value)
        return call()

    pair = rep_pair(crm, "crm", tracked, TAG)
    outcome = rbac_probe(pair, tracked, TAG)
    pair.close()
    crm.close()
    assert pair.source == "configured in rbac_users"
    assert created == ["lead", "lead"]  # no user created
    assert outcome.wrong == []


def test_a_configured_rep_without_the_variable_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POC_TEST_REP_TOKEN", raising=False)
    crm = _configured_crm()
    with pytest.raises(ConfigError) as error:
        rep_pair(crm, "crm", create, TAG)
    crm.close()
    assert str(error.value) == (
        "environment variable POC_TEST_REP_TOKEN is not set: export it "
        "(the API token of [vendors.crm.rbac_users] rep)"
    )


class _NoUserAdmin(SandboxAdapter):
    capabilities: ClassVar[frozenset[Capability]] = SandboxAdapter.capabilities - {Capability.USER_ADMIN}


def test_no_reps_and_no_user_admin_is_a_config_error() -> None:
    crm = _NoUserAdmin(SandboxOptions())
    with pytest.raises(ConfigError, match=r"\[vendors.crm\] rbac_users is not set"):
        rep_pair(crm, "crm", create, TAG)
    crm.close()


def test_a_wrong_rbac_users_key_is_one_line() -> None:
    with pytest.raises(ConfigError) as error:
        SandboxAdapter.from_table("crm", {"rbac_users": {"rep": {"token": "x"}, "other_team_rep": {}}})
    assert "\n" not in str(error.value)
    assert str(error.value).startswith("[vendors.crm] rbac_users.rep.token_env: Field required")


def test_the_probes_over_a_real_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POC_TEST_SERVED_TOKEN", "served-security-token")
    with BackgroundServer(token="served-security-token") as url:
        crm = SandboxAdapter(SandboxOptions(base_url=url, token_env="POC_TEST_SERVED_TOKEN"))
        pair = rep_pair(crm, "served", create, TAG)
        outcome = rbac_probe(pair, create, TAG)
        pair.close()
        metadata = crm.saml_sp_metadata()
        crm.close()
    assert [step.observed for step in outcome.steps][2:] == [REFUSED, REFUSED]
    assert outcome.wrong == []
    assert f'entityID="https://{url.removeprefix("http://")}/saml/metadata"'.encode() in metadata
