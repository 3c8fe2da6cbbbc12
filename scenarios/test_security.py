"""Security and identity: access control as a matrix (every kind of record the run creates, every
operation, the rep's own team allowed and another team refused, checked with the real credentials of two
reps of different teams), every endpoint refusing requests without valid credentials, anonymous sign-up
unable to make a privileged user, the audit log showing the harness's single, batch and child writes
with actor and time and kept at least 180 days, and single sign-on: the vendor's SAML 2.0
service-provider metadata, validated with pysaml2, and the identity standards it offers.

What the adapter cannot exercise for its vendor is *not measured* (our gap: the check ends as a harness
error naming it, the verdict incomplete), never a pass and never the vendor's finding.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from poc_harness.contract.adapter import Capability, NotExercised, RecordKind
from poc_harness.errors import HarnessError, VendorError
from poc_harness.plugin import verify
from poc_harness.probes.security import (
    GARBAGE,
    NO_TOKEN,
    RepPair,
    access_matrix,
    audited_writes,
    endpoint_ids,
    forget_deleted,
    guarded,
    holdings,
    matrix_holdings,
    needs,
    rep_pair,
    security_tag,
    self_registrations,
)
from poc_harness.run.seeding import Seeder
from poc_harness.run.trial import Check, Outcome, Trial


@pytest.fixture(scope="module")
def tag(trial: Trial) -> str:
    """The tag of the probes' records: apart from the run's, so its reports and exports never count them."""
    return security_tag(trial.tag)


@pytest.fixture(scope="module")
def seeder(trial: Trial, tag: str) -> Seeder:
    """Creates the probes' records through the ledger, under their tag (a lost answer is looked up by it)."""
    return Seeder(trial.adapter, trial.ledger, trial.run_id, tag, trial.now)


@pytest.fixture(scope="module", autouse=True)
def gone_from_ledger(trial: Trial, tag: str) -> Iterator[None]:
    """After the suite, the probes' records the probes deleted (a rep's allowed deletes, and what went with
    a deleted lead) are marked deleted in the ledger, so cleanup does not look for them."""
    yield
    forget_deleted(trial.adapter, trial.ledger, trial.run_id, tag)


@pytest.fixture(scope="module")
def reps(trial: Trial, tag: str, seeder: Seeder) -> Iterator[RepPair | HarnessError | VendorError]:
    """The two sales reps, made once for the module; why not, where they cannot be (each check says)."""
    try:
        pair: RepPair | HarnessError | VendorError = rep_pair(trial.adapter, trial.vendor, seeder.create, tag)
    except (HarnessError, VendorError) as exc:
        pair = exc
    yield pair
    if isinstance(pair, RepPair):
        pair.close()


def _the(reps: RepPair | HarnessError | VendorError) -> RepPair:
    if not isinstance(reps, RepPair):
        raise reps
    return reps


def conclude(settled: Outcome, unmeasured: list[str]) -> None:
    """Fail with every wrong expectation; else, where part was not measured, a harness error naming it."""
    if settled.failures:
        pytest.fail(settled.summary(limit=len(settled.failures)), pytrace=False)
    if unmeasured:
        raise NotExercised(
            f"not measured: {len(unmeasured)} part(s) the adapter cannot exercise, the first: "
            f"{unmeasured[0].removeprefix('not measured: ')}"
        )
    verify(settled)


@pytest.mark.severity("critical")
@pytest.mark.criterion("security")
def test_sales_rep_confined_to_own_team(
    trial: Trial, tag: str, seeder: Seeder, reps: RepPair | HarnessError | VendorError, check: Check
) -> None:
    """Every kind of record (account, contact, lead, deal, ticket, task, activity) times every operation
    (read, list, update, delete, the reads under a record: a lead's tasks and alerts, a ticket's surveys,
    and the writes under a record: log activity, convert, move stage, reply, close, complete): the rep is
    allowed on their own team's record and refused on another team's, and what each write left (an update
    applied or not, a record gone or still there) is read back.  "Own team" is tried on the rep's own
    records and on a team mate's (where there is one).  Each cell is its own expectation."""
    pair = _the(reps)
    held = matrix_holdings(pair, seeder.create, tag)
    matrix = access_matrix(pair, held, seeder.create, tag, trial.adapter)
    check.observe("rbac_users", pair.source)
    if pair.team_mate is None:
        check.observe("team_mate", "none: rbac_users.team_mate is not set, only the rep's own records")
    check.observe("access_matrix", [cell.as_dict() for cell in matrix.cells])
    check.observe("not_measured", [f"{cell.name}: {cell.observed}" for cell in matrix.unmeasured])
    now = trial.now()
    for cell in matrix.measured:
        check.expect("access_cell", cell.record_id, cell.params(), due_at=now)
    conclude(check.settle(), [f"{cell.name}: {cell.observed}" for cell in matrix.unmeasured])


@pytest.mark.severity("critical")
@pytest.mark.criterion("security")
def test_requests_without_valid_credentials_refused(
    trial: Trial, tag: str, seeder: Seeder, check: Check
) -> None:
    """Every endpoint the adapter uses (the reference CRM: every route it serves), called with no token
    and with a made-up one, answers 401 or 403; the endpoints public by design are listed apart."""
    adapter = trial.adapter
    adapter.api_endpoints({})  # not measured at once where the adapter cannot list them
    held = holdings(adapter, seeder.create, tag, "unauthenticated")
    endpoints = adapter.api_endpoints(endpoint_ids(adapter, held))
    check.observe("public_endpoints", [f"{e.method} {e.route}" for e in endpoints if e.public])
    now = trial.now()
    for endpoint in guarded(endpoints):
        for credential in (NO_TOKEN, GARBAGE):
            params = {"method": endpoint.method, "route": endpoint.route, "credential": credential}
            check.expect("refused_without_credentials", endpoint.path, params, due_at=now)
    conclude(check.settle(), [])


@pytest.mark.severity("critical")
@pytest.mark.criterion("security")
def test_anonymous_sign_up_cannot_make_a_privileged_user(
    trial: Trial, tag: str, seeder: Seeder, check: Check
) -> None:
    """Where the vendor offers self-registration, signing up anonymously and asking for the
    administrator's or a manager's role gives a lesser role (or no user at all)."""
    registered = self_registrations(trial.adapter, seeder.create, tag)
    check.observe("self_registrations", registered)
    now = trial.now()
    for role, user_id in registered.items():
        check.expect("self_registered_role", user_id or "", {"requested": role}, due_at=now)
    conclude(check.settle(), [])


@pytest.mark.severity("major")
@pytest.mark.criterion("security")
def test_audit_log_records_harness_writes(
    trial: Trial, tag: str, seeder: Seeder, reps: RepPair | HarnessError | VendorError, check: Check
) -> None:
    """Each write shows up in the audit log with its action, record, actor and time (± tolerance): as the
    API user a single create, a batch create, an update, an activity, a conversion, a reply and a delete;
    as a sales rep a create, an update, an activity, a conversion and a delete, each naming the rep, not
    the API user."""
    needs(trial.adapter, Capability.AUDIT_LOG)

    def gone(key: str) -> None:
        trial.ledger.mark_deleted(trial.run_id, RecordKind.LEAD.value, key, datetime.now(UTC))

    rep = reps.rep if isinstance(reps, RepPair) else None
    plan = audited_writes(trial.adapter, rep, seeder.create, seeder.create_many, trial.now, gone, tag)
    if rep is None:
        plan.unmeasured[-1] += f": {reps}"
    check.observe("audited_writes", [{**w.params(0), "record_id": w.record_id} for w in plan.writes])
    tolerance = trial.settings.audit_tolerance_seconds
    now = trial.now()
    for write in plan.writes:
        check.expect("audit_entry", write.record_id, write.params(tolerance), due_at=now)
    conclude(check.settle(), plan.unmeasured)


@pytest.mark.severity("major")
@pytest.mark.criterion("security")
def test_audit_log_kept_180_days(trial: Trial, check: Check) -> None:
    """The retention the vendor's settings give the audit log (a finding where its API does not tell)."""
    needs(trial.adapter, Capability.AUDIT_LOG)
    params = {"min_days": trial.settings.audit_retention_days}
    check.expect("audit_retention", "audit_log", params, due_at=trial.now())
    verify(check.settle())


@pytest.mark.severity("major")
@pytest.mark.criterion("security")
@pytest.mark.requires(Capability.SSO)
def test_saml_sp_metadata_valid(trial: Trial, check: Check) -> None:
    """The SAML 2.0 SP metadata validates, with an entityID and an HTTP-POST assertion consumer service
    over https; the identity standards the vendor names (SAML 2.0, OIDC, LDAP, MFA...) are reported."""
    try:
        standards: list[str] | str = trial.adapter.identity_standards()
    except VendorError as exc:  # CapabilityMissing too: the API does not tell
        standards = f"not told by the vendor's API ({exc})"
    check.observe("identity_standards", standards)
    check.expect("saml_sp_metadata", "sso", {}, due_at=trial.now())
    verify(check.settle())
