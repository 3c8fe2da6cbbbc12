"""The security probes against the reference CRM: two reps' real tokens over the access-control matrix
(every kind x every operation), requests without valid credentials, anonymous sign-up, the audit log of
single, batch and child writes with actor, time and retention, where the reps' credentials come from,
what the reference CRM's access rules refuse, and what an adapter that cannot exercise a part leaves
not measured."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from adapters.sandbox import SandboxAdapter, SandboxOptions
from poc_harness.contract.adapter import (
    AccessKind,
    Capability,
    CRMAdapter,
    NotExercised,
    RbacUserOption,
    RbacUsers,
    RecordKind,
)
from poc_harness.contract.batches import BatchItem
from poc_harness.contract.model import LeadChanges, Record, SalesRep, TeamMember, TeamRole
from poc_harness.errors import AccessDenied, CapabilityMissing, ConfigError
from poc_harness.probes.security import (
    ALLOWED,
    GARBAGE,
    MATE,
    NO_TOKEN,
    OTHER,
    OWN,
    REFUSED,
    AuditPlan,
    Matrix,
    RepPair,
    access_matrix,
    audited_writes,
    endpoint_ids,
    guarded,
    holdings,
    matrix_holdings,
    needs,
    probe_lead,
    rep_pair,
    self_registrations,
)
from poc_harness.redaction import REDACTOR
from poc_harness.rules.security import (
    access_cell,
    audit_entry,
    audit_retention,
    refused_without_credentials,
    self_registered_role,
)
from poc_harness.sandbox.audit import targets
from poc_harness.sandbox.server import BackgroundServer

TAG = "unit-sec"
KINDS = {kind.value for kind in AccessKind}


def create(kind: RecordKind, record: Record | dict[str, object], key: str, call: Callable[[], str]) -> str:
    """The seeder's create without a ledger."""
    return call()


def create_many(crm: CRMAdapter) -> Callable[[RecordKind, list[BatchItem]], dict[str, str]]:
    """The seeder's create_many without a ledger."""

    def run(kind: RecordKind, items: list[BatchItem]) -> dict[str, str]:
        results = crm.create_batch(kind, items)
        return {item.record.key: str(result.vendor_id) for item, result in zip(items, results, strict=True)}

    return run


def matrix_of(crm: CRMAdapter, pair: RepPair) -> Matrix:
    return access_matrix(pair, matrix_holdings(pair, create, TAG), create, TAG, crm)


def judged_matrix(crm: SandboxAdapter) -> tuple[Matrix, set[tuple[str, str, str]]]:
    """The matrix over the CRM and its wrong cells as the rule judges them: (kind, operation, team)."""
    pair = rep_pair(crm, "sandbox", create, TAG)
    try:
        matrix = matrix_of(crm, pair)
    finally:
        pair.close()
    wrong = {
        (c.kind.value, c.operation, c.team)
        for c in matrix.measured
        if not access_cell(crm, c.record_id, c.params()).passed
    }
    return matrix, wrong


def audit_plan(crm: SandboxAdapter, with_rep: bool = True) -> tuple[AuditPlan, dict[str, bool]]:
    """The audit probe's writes and, per write (``what``, ``nth``), whether the audit log shows it."""
    pair = rep_pair(crm, "sandbox", create, TAG) if with_rep else None
    try:
        rep = pair.rep if pair is not None else None
        plan = audited_writes(crm, rep, create, create_many(crm), crm.now, lambda _: None, TAG)
    finally:
        if pair is not None:
            pair.close()
    shown = {f"{w.what} #{w.nth}": audit_entry(crm, w.record_id, w.params(60)).passed for w in plan.writes}
    return plan, shown


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


CHILD_READS = {("lead", "read its tasks"), ("lead", "read its alerts"), ("ticket", "read its surveys")}
CHILD_WRITES = {
    ("lead", "log activity"),
    ("lead", "convert"),
    ("deal", "move stage"),
    ("ticket", "reply"),
    ("ticket", "close"),
    ("task", "complete"),
}
CHILD_CELLS = CHILD_READS | CHILD_WRITES
EVERY_OP = {"read", "list", "update", "delete"}


def test_a_rep_is_allowed_every_operation_on_their_own_records_and_refused_on_another_teams(
    crm: SandboxAdapter,
) -> None:
    matrix, wrong = judged_matrix(crm)
    assert wrong == set() and matrix.wrong == [] and matrix.unmeasured == []
    assert crm.call_stats()["failures"] == 0  # reading back never costs the vendor a failed call
    assert {c.kind.value for c in matrix.cells} == KINDS
    assert {c.operation for c in matrix.cells} == EVERY_OP | {op for _, op in CHILD_CELLS}
    assert len(matrix.cells) == 3 * (4 * len(KINDS) + len(CHILD_CELLS))  # own, team mate's, other team's
    assert {c.observed for c in matrix.cells if c.team == OTHER} == {REFUSED}
    assert {c.observed for c in matrix.cells if c.team != OTHER} == {ALLOWED}
    updates = {(c.team, c.applied) for c in matrix.cells if c.operation in ("update", "delete")}
    assert updates == {(OWN, True), (MATE, True), (OTHER, False)}  # read back by the API user


def _every_cell(team: str) -> set[tuple[str, str, str]]:
    return {(k, o, team) for k in KINDS for o in EVERY_OP} | {(k, o, team) for k, o in CHILD_CELLS}


def _other(kinds: set[str], operations: set[str]) -> set[tuple[str, str, str]]:
    return {(kind, op, OTHER) for kind in kinds for op in operations}




@pytest.mark.parametrize(
    ("crm", "leaked"),
    [
        ("rep_reads_everything", _every_cell(OTHER)),
        (
            "rbac_leads_only",
            _other(KINDS - {"lead"}, EVERY_OP) | {(k, o, OTHER) for k, o in CHILD_CELLS if k != "lead"},
        ),
        ("list_leaks_other_teams", _other(KINDS, {"list"})),
        ("rep_deletes_other_teams", _other(KINDS, {"delete"})),
        ("child_writes_unscoped", {(k, o, OTHER) for k, o in CHILD_WRITES}),
        ("rbac_owner_only", _every_cell(MATE)),
    ],
    indirect=["crm"],
)
def test_each_broken_rbac_is_caught_in_exactly_its_cells(
    crm: SandboxAdapter, leaked: set[tuple[str, str, str]]
) -> None:
    assert judged_matrix(crm)[1] == leaked


def test_a_refused_change_that_was_applied_anyway_fails_its_cell(crm: SandboxAdapter) -> None:
    params = {"kind": "lead", "operation": "update", "team": OTHER, "expected": REFUSED, "observed": REFUSED}
    verdict = access_cell(crm, "LE1", {**params, "applied": True, "left": "label now 'hostile'"})
    assert not verdict.passed
    cell = "lead x update on another team's record"
    assert verdict.note == f"{cell}: the write took effect (label now 'hostile')"
    assert access_cell(crm, "LE1", {**params, "applied": False, "left": "label now 'kept'"}).passed


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
    pair = rep_pair(crm, "sandbox", create, TAG)
    plan = audited_writes(crm, pair.rep, create, create_many(crm), crm.now, gone.append, TAG)
    rep_id = pair.rep.acting_user_id()
    pair.close()
    assert len(gone) == 2 and all(key.startswith("security-audit-") for key in gone)  # the ledger knows
    assert {(w.path, w.action.value, w.kind.value) for w in plan.writes} == {
        ("single", "create", "lead"),
        ("single", "update", "lead"),
        ("single", "delete", "lead"),
        ("batch", "create", "lead"),
        ("child", "create", "activity"),
        ("child", "update", "lead"),
        ("child", "update", "ticket"),
    }
    assert {w.actor for w in plan.writes} == {"api-admin", rep_id}
    assert plan.unmeasured == []
    for write in plan.writes:
        params = write.params(60)
        assert audit_entry(crm, write.record_id, params).passed, write
        assert not audit_entry(crm, write.record_id, {**params, "actor": "someone-else"}).passed
        later = (write.at + timedelta(minutes=5)).isoformat()
        assert not audit_entry(crm, write.record_id, {**params, "at": later}).passed
    convert = next(w for w in plan.writes if w.what == "convert the lead (API user)")
    assert convert.nth == 2  # the update and the conversion of one lead are two entries
    # the log shows three updates of that lead: the update, the activity logged on it, the conversion
    assert not audit_entry(crm, convert.record_id, {**convert.params(60), "nth": 4}).passed


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


@pytest.mark.parametrize(
    ("crm", "unshown"),
    [
        (
            "audit_log_missing_actions",
            {
                "update the lead (API user) #1",
                "convert the lead (API user) #2",
                "delete the lead (API user) #1",
                "reply to a ticket (API user) #1",
                "update the lead (sales rep) #1",
                "convert the lead (sales rep) #2",
                "delete the lead (sales rep) #1",
            },
        ),
        ("batch_creates_unaudited", {"batch-create a lead (API user) #1"}),
        (
            "child_writes_unaudited",
            {
                "log an activity on the lead (API user) #1",
                "convert the lead (API user) #2",
                "reply to a ticket (API user) #1",
                "log an activity on the lead (sales rep) #1",
                "convert the lead (sales rep) #2",
            },
        ),
        (
            "audit_actor_is_api_user",
            {
                "create a lead (sales rep) #1",
                "update the lead (sales rep) #1",
                "log an activity on the lead (sales rep) #1",
                "convert the lead (sales rep) #2",
                "delete the lead (sales rep) #1",
            },
        ),
    ],
    indirect=["crm"],
)
def test_each_unaudited_path_or_wrong_actor_is_caught_in_exactly_its_writes(
    crm: SandboxAdapter, unshown: set[str]
) -> None:
    assert {what for what, shown in audit_plan(crm)[1].items() if not shown} == unshown


@pytest.mark.parametrize("crm", ["audit_time_local"], indirect=True)
def test_audit_times_hours_off_fail_every_write(crm: SandboxAdapter) -> None:
    plan, shown = audit_plan(crm)
    assert plan.writes and not any(shown.values())
    write = plan.writes[0]
    note = audit_entry(crm, write.record_id, write.params(60)).note
    assert note == "create entry with another actor or time"


def test_without_a_rep_the_reps_writes_are_not_measured(crm: SandboxAdapter) -> None:
    plan, shown = audit_plan(crm, with_rep=False)
    assert all(shown.values()) and {w.actor for w in plan.writes} == {"api-admin"}
    assert plan.unmeasured == ["not measured: writes by a sales rep (no rep to act as)"]


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
            [("create", "activity", "AC3"), ("update", "lead", "LE1")],
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
            [("create", "reply", "RE6"), ("update", "ticket", "TI5")],
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
def _configured_crm(team_mate: bool = False) -> SandboxAdapter:
    users = RbacUsers(
        rep=RbacUserOption(token_env="POC_TEST_REP_TOKEN"),
        other_team_rep=RbacUserOption(token_env="POC_TEST_OTHER_REP_TOKEN"),
        team_mate=RbacUserOption(token_env="POC_TEST_MATE_TOKEN") if team_mate else None,
    )
    return SandboxAdapter(SandboxOptions(rbac_users=users))


@pytest.mark.parametrize("team_mate", [False, True])
def test_configured_reps_are_used(monkeypatch: pytest.MonkeyPatch, team_mate: bool) -> None:
    crm = _configured_crm(team_mate)
    users = [("POC_TEST_REP_TOKEN", "north", "n1"), ("POC_TEST_OTHER_REP_TOKEN", "south", "s1")]
    for variable, team, key in users + ([("POC_TEST_MATE_TOKEN", "north", "n2")] if team_mate else []):
        member = TeamMember(
            key=key, tag=TAG, name=key, email=f"{key}@example.com", role=TeamRole.SALES_REP, team=team
        )
        token = crm.issue_credential(crm.create_team_user(member)).token.get_secret_value()
        monkeypatch.setenv(variable, token)
    created: list[str] = []

    def tracked(kind: RecordKind, record: Record, key: str, call: Callable[[], str]) -> str:
        created.append(kind.value)
        return call()

    pair = rep_pair(crm, "crm", tracked, TAG)
    matrix = access_matrix(pair, matrix_holdings(pair, tracked, TAG), tracked, TAG, crm)
    pair.close()
    crm.close()
    assert pair.source == "configured in rbac_users"
    assert "rep" not in created  # no user created
    assert matrix.wrong == [] and matrix.unmeasured == []
    assert (pair.team_mate is not None) is team_mate
    assert {c.team for c in matrix.cells} == ({OWN, MATE, OTHER} if team_mate else {OWN, OTHER})


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
        matrix = matrix_of(crm, pair)
        pair.close()
        endpoints = guarded(crm.api_endpoints({}))
        statuses = {crm.call_anonymously(e.method, e.path, None) for e in endpoints}
        metadata = crm.saml_sp_metadata()
        crm.close()
    assert {c.observed for c in matrix.cells if c.team == OTHER} == {REFUSED}
    assert matrix.wrong == []
    assert len(endpoints) > 40 and statuses == {401}
    assert f'entityID="https://{url.removeprefix("http://")}/saml/metadata"'.encode() in metadata


# --- requests without valid credentials, anonymous sign-up -------------------------------------------
def _unrefused(crm: SandboxAdapter) -> set[tuple[str, str, str]]:
    held = holdings(crm, create, TAG, "anonymous")
    endpoints = crm.api_endpoints(endpoint_ids(crm, held))
    return {
        (e.method, e.route, credential)
        for e in guarded(endpoints)
        for credential in (NO_TOKEN, GARBAGE)
        if not refused_without_credentials(
            crm, e.path, {"method": e.method, "route": e.route, "credential": credential}
        ).passed
    }


def test_every_route_but_the_public_ones_refuses_requests_without_valid_credentials(
    crm: SandboxAdapter,
) -> None:
    endpoints = crm.api_endpoints({})
    public = {(e.method, e.route) for e in endpoints if e.public}
    assert public == {("GET", "/health"), ("GET", "/saml/metadata"), ("POST", "/signup")}
    routes = {(e.method, e.route) for e in guarded(endpoints)}
    wanted = {("GET", "/{collection}"), ("GET", "/{collection}/{record_id}"), ("POST", "/batch/{collection}")}
    assert wanted <= routes
    assert _unrefused(crm) == set()


@pytest.mark.parametrize(
    ("crm", "open_routes"),
    [
        ("garbage_token_on_one_route", {("GET", "/deals/{deal_id}", GARBAGE)}),
        ("unauthenticated_list", {("GET", "/{collection}", NO_TOKEN)}),
    ],
    indirect=["crm"],
)
def test_a_route_open_without_valid_credentials_is_caught(
    crm: SandboxAdapter, open_routes: set[tuple[str, str, str]]
) -> None:
    assert _unrefused(crm) == open_routes


@pytest.mark.parametrize(
    ("crm", "privileged"),
    [("healthy", set()), ("signup_picks_admin", {"admin", "manager"})],
    indirect=["crm"],
)
def test_anonymous_sign_up_asking_for_a_privileged_role(crm: SandboxAdapter, privileged: set[str]) -> None:
    registered = self_registrations(crm, create, TAG)
    assert set(registered) == {"admin", "manager"} and all(registered.values())
    verdicts = {r: self_registered_role(crm, str(u), {"requested": r}) for r, u in registered.items()}
    assert {role for role, verdict in verdicts.items() if not verdict.passed} == privileged
    roles = {crm.user_role(str(uid)) for uid in registered.values()}
    assert roles == (privileged or {"guest"})
    assert crm.list_sales_reps() == []  # a sign-up never joins the sales team (nor lead assignment)


def test_a_refused_sign_up_passes() -> None:
    verdict = self_registered_role(SandboxAdapter(SandboxOptions()), "", {"requested": "admin"})
    assert verdict.passed and verdict.observed == "asked admin: the sign-up was refused"


# --- what an adapter cannot exercise is not measured ------------------------------------------------
class _NoRecordReads(SandboxAdapter):
    """An adapter that cannot read or list records by kind (the contract's defaults)."""

    read_record = CRMAdapter.read_record  # type: ignore[assignment]
    list_records = CRMAdapter.list_records  # type: ignore[assignment]


def test_cells_an_adapter_cannot_exercise_are_not_measured_never_passed() -> None:
    crm = _NoRecordReads(SandboxOptions())
    pair = rep_pair(crm, "sandbox", create, TAG)
    matrix = matrix_of(crm, pair)
    pair.close()
    crm.close()
    unmeasured = {(c.kind.value, c.operation) for c in matrix.unmeasured}
    assert unmeasured == {(kind, op) for kind in KINDS for op in ("read", "list")}
    gap = "not measured: the sandbox adapter does not"
    assert all(c.observed.startswith(gap) for c in matrix.unmeasured)
    assert matrix.wrong == []
    written = [c for c in matrix.measured if c.operation in ("update", "delete")]
    assert written and all(c.applied is None and c.left.startswith("not read back") for c in written)


class _Unported(SandboxAdapter):
    capabilities = SandboxAdapter.capabilities - {Capability.RBAC, Capability.AUDIT_LOG}
    vendor_lacks: ClassVar[Mapping[Capability, str]] = {Capability.AUDIT_LOG: "https://crm.example/doc"}


def test_a_capability_the_adapter_cannot_exercise_is_our_gap_one_it_lacks_a_finding() -> None:
    crm = _Unported(SandboxOptions())
    with pytest.raises(NotExercised, match=r"^not measured: the sandbox adapter does not implement rbac$"):
        needs(crm, Capability.RBAC)
    with pytest.raises(NotExercised, match=r"^not measured"):
        rep_pair(crm, "crm", create, TAG)
    with pytest.raises(CapabilityMissing, match=r"sandbox does not offer audit_log \(https://crm.example/doc\)"):
        needs(crm, Capability.AUDIT_LOG)
    with pytest.raises(NotExercised, match=r"^not measured: the sandbox adapter does not list"):
        CRMAdapter.api_endpoints(crm, {})
    crm.close()


@pytest.mark.parametrize(
    "module", ["hubspot", "salesforce", "zoho", "pipedrive", "dynamics", "odoo", "bottlecrm", "mapping"]
)
def test_real_vendor_adapters_leave_the_security_probes_not_measured(module: str) -> None:
    """Their vendors have roles and teams; the adapters do not act as users or read an audit log yet: the
    checks are our gap (not measured), never the vendor's finding (but BottleCRM's documented lack of an
    audit log)."""
    import importlib

    from poc_harness.contract.adapter import SecurityProbes

    name = f"adapters.{module}"
    found = vars(importlib.import_module(name)).values()
    adapter_class = next(
        value
        for value in found
        if isinstance(value, type) and issubclass(value, CRMAdapter) and value.__module__ == name
    )
    assert not adapter_class.capabilities & {Capability.RBAC, Capability.AUDIT_LOG}
    assert Capability.RBAC not in adapter_class.vendor_lacks  # not implemented: our gap
    lacked = {Capability.AUDIT_LOG} if module == "bottlecrm" else set()  # its API documents no audit log
    assert set(adapter_class.vendor_lacks) & {Capability.AUDIT_LOG} == lacked
    for name in ("api_endpoints", "self_register", "read_record"):
        assert getattr(adapter_class, name) is getattr(SecurityProbes, name)


def test_records_the_probes_deleted_are_marked_deleted_in_the_ledger(
    crm: SandboxAdapter, tmp_path: Path
) -> None:
    from poc_harness.probes.security import forget_deleted
    from poc_harness.run.ledger import Ledger
    from poc_harness.run.seeding import Seeder

    ledger = Ledger(tmp_path / "ledger.sqlite")
    seeder = Seeder(crm, ledger, "run-1", TAG, crm.now)
    pair = rep_pair(crm, "sandbox", seeder.create, TAG)
    held = matrix_holdings(pair, seeder.create, TAG)
    access_matrix(pair, held, seeder.create, TAG, crm)  # the rep deletes their own and a team mate's
    pair.close()
    forgotten = forget_deleted(crm, ledger, "run-1", TAG)
    gone = {"account", "contact", "lead", "deal", "ticket", "activity"}
    assert {key.removeprefix("security-rep-own-") for key in forgotten if "rep-own" in key} >= gone
    assert any(key.startswith("security-matrix-activity-") for key in forgotten)  # went with its lead
    live = {r.key for r in ledger.records("run-1", live_only=True)}
    assert "security-rep-other-lead" in live and "security-rep-own-parent" in live
    assert forget_deleted(crm, ledger, "run-1", TAG) == []
    ledger.close()


class _NoBatchNoTickets(SandboxAdapter):
    """Batch create not implemented by the adapter (our gap); tickets lacked by this vendor variant."""

    capabilities = SandboxAdapter.capabilities - {
        Capability.BATCH_CREATE, Capability.TICKETS, Capability.SLA, Capability.NPS_SURVEY,
        Capability.TICKET_REOPEN, Capability.TICKET_NOTES,
    }
    vendor_lacks: ClassVar[Mapping[Capability, str]] = {Capability.TICKETS: "https://crm.example/doc"}


def test_an_audit_path_the_adapter_does_not_implement_is_not_measured_one_lacked_is_absent() -> None:
    crm = _NoBatchNoTickets(SandboxOptions())
    try:
        plan, shown = audit_plan(crm, with_rep=False)
    finally:
        crm.close()
    assert any("a batch create (API user)" in note and "batch_create" in note for note in plan.unmeasured)
    assert not any("ticket" in note for note in plan.unmeasured)  # no tickets to reply to: nothing to audit
    assert not any("batch" in what or "ticket" in what for what in shown) and all(shown.values())


def test_a_sign_up_is_in_the_ledger_before_the_vendor_call_and_a_refusal_leaves_nothing_to_clean(
    crm: SandboxAdapter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like seeding: the ledger row first, the vendor's call, then its id; a crash mid-call (the user made,
    the answer lost) still leaves the row for cleanup; a refused sign-up closes its row."""
    from poc_harness.run.ledger import Ledger
    from poc_harness.run.seeding import Seeder

    ledger = Ledger(tmp_path / "ledger.sqlite")
    seeder = Seeder(crm, ledger, "run-1", TAG, crm.now)
    made = crm.self_register

    def crash(name: str, email: str, role: str, tag: str) -> str | None:
        made(name, email, role, tag)
        raise KeyboardInterrupt  # killed after the vendor made the user, before its id came back

    monkeypatch.setattr(crm, "self_register", crash)
    with pytest.raises(KeyboardInterrupt):
        self_registrations(crm, seeder.create, TAG)
    [left] = ledger.unbound("run-1")
    assert left.kind == "rep" and left.key.startswith("security-signup-admin-"), "cleanup must find it"
    monkeypatch.setattr(crm, "self_register", lambda *args: None)  # the vendor refuses every sign-up
    assert self_registrations(crm, seeder.create, TAG) == {"admin": None, "manager": None}
    assert [r.key for r in ledger.unbound("run-1")] == [left.key]  # the refusals left no row to clean
    monkeypatch.setattr(crm, "self_register", made)
    registered = self_registrations(crm, seeder.create, TAG)
    bound = {r.key.split("-")[2]: r.vendor_id for r in ledger.records("run-1", live_only=True) if r.vendor_id}
    assert bound == registered and all(registered.values())
    ledger.close()
