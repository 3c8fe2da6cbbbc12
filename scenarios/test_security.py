"""Security and identity: a sales rep confined to their own team's leads (checked with the real
credentials of two reps of different teams), the audit log showing the harness's own writes with
actor and time and kept at least 180 days, and single sign-on: the vendor's SAML 2.0
service-provider metadata, validated with pysaml2, and the identity standards it offers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from poc_harness.adapter import Capability, RecordKind
from poc_harness.errors import VendorError
from poc_harness.plugin import verify
from poc_harness.security import audited_writes, rbac_probe, rep_pair, security_tag
from poc_harness.seeding import Seeder
from poc_harness.trial import Check, Trial


@pytest.fixture(scope="module")
def tag(trial: Trial) -> str:
    """The tag of the probes' records: apart from the run's, so its reports and exports never count them."""
    return security_tag(trial.tag)


@pytest.fixture(scope="module")
def seeder(trial: Trial, tag: str) -> Seeder:
    """Creates the probes' records through the ledger, under their tag (a lost answer is looked up by it)."""
    return Seeder(trial.adapter, trial.ledger, trial.run_id, tag, trial.now)


@pytest.mark.severity("critical")
@pytest.mark.criterion("security")
@pytest.mark.requires(Capability.RBAC)
def test_sales_rep_confined_to_own_team(trial: Trial, tag: str, seeder: Seeder, check: Check) -> None:
    """A rep reads and updates a lead of their own; another team's lead they can neither read nor change,
    and the refused change really left it as it was."""
    pair = rep_pair(trial.adapter, trial.vendor, seeder.create, tag)
    try:
        outcome = rbac_probe(pair, seeder.create, tag)
    finally:
        pair.close()
    check.observe("rbac_users", pair.source)
    check.observe("rbac_steps", [step.as_dict() for step in outcome.steps])
    now = trial.now()
    for lead_id, title in outcome.titles.items():
        check.expect("lead_title", lead_id, {"title": title}, due_at=now)
    settled = check.settle()
    if outcome.wrong:
        lines = [f"- {s.action} ({s.lead_id}): {s.observed}, expected {s.expected}" for s in outcome.wrong]
        if settled.failures:
            lines.append(settled.summary())
        pytest.fail(
            f"{len(outcome.wrong)} of {len(outcome.steps)} access steps went wrong:\n" + "\n".join(lines),
            pytrace=False,
        )
    verify(settled)


@pytest.mark.severity("major")
@pytest.mark.criterion("security")
@pytest.mark.requires(Capability.AUDIT_LOG)
def test_audit_log_records_harness_writes(trial: Trial, tag: str, seeder: Seeder, check: Check) -> None:
    """The lead the harness creates, updates and deletes shows up three times in the audit log, each
    entry with the harness's user as actor and the time of the write."""

    def gone(key: str) -> None:
        trial.ledger.mark_deleted(trial.run_id, RecordKind.LEAD.value, key, datetime.now(UTC))

    writes = audited_writes(trial.adapter, seeder.create, trial.now, gone, tag)
    tolerance = trial.settings.audit_tolerance_seconds
    now = trial.now()
    for write in writes:
        params = {
            "kind": write.kind.value,
            "action": write.action.value,
            "actor": write.actor,
            "at": write.at.isoformat(),
            "tolerance_s": tolerance,
        }
        check.expect("audit_entry", write.record_id, params, due_at=now)
    verify(check.settle())


@pytest.mark.severity("major")
@pytest.mark.criterion("security")
@pytest.mark.requires(Capability.AUDIT_LOG)
def test_audit_log_kept_180_days(trial: Trial, check: Check) -> None:
    """The retention the vendor's settings give the audit log (a finding where its API does not tell)."""
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
