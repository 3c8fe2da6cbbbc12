"""SAML 2.0 SP metadata checks (poc_harness.probes.saml, on pysaml2): a valid document passes, and each way a
vendor's metadata can be wrong is named, including documents that are not metadata or not XML."""

from __future__ import annotations

import pytest

from poc_harness.probes.saml import inspect_sp_metadata
from poc_harness.sandbox.security import sp_metadata

ENTITY = "https://crm.example.com/saml/metadata"
ACS = "https://crm.example.com/saml/acs"
GOOD = sp_metadata("crm.example.com").decode()
EXPIRED = '<ns0:EntityDescriptor validUntil="2001-01-01T00:00:00Z" '


def test_the_reference_crm_metadata_is_valid() -> None:
    report = inspect_sp_metadata(GOOD.encode())
    assert report.valid, report.problems
    assert report.entity_id == ENTITY
    assert report.services == {"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST": [ACS]}


def test_a_hand_written_metadata_with_two_services_is_valid() -> None:
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:example:crm">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="{ACS}/redirect" index="1"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="{ACS}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"""
    report = inspect_sp_metadata(document)
    assert report.valid, report.problems
    assert report.entity_id == "urn:example:crm"
    assert len(report.services) == 2


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (GOOD.replace(f' entityID="{ENTITY}"', ""), "no entityID"),
        (GOOD.replace(f' entityID="{ENTITY}"', ""), "missing required attribute 'entityID'"),
        (GOOD.replace(ENTITY, "crm"), "entityID 'crm' is not an absolute URI"),
        (GOOD.replace(ACS, "http://crm.example.com/saml/acs"), "is not an https URL"),
        (
            GOOD.replace("bindings:HTTP-POST", "bindings:HTTP-Redirect"),
            "no AssertionConsumerService with the HTTP-POST binding (offered: "
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect)",
        ),
        (GOOD.replace("Binding=", "Bogus="), "missing required attribute 'Binding'"),
        (GOOD.replace("SAML:2.0:protocol", "SAML:1.1:protocol"), "no SPSSODescriptor supporting"),
        (
            GOOD.replace("<ns0:EntityDescriptor ", EXPIRED),
            "the metadata expired",
        ),
        ("<html><body>Sign in</body></html>", "not a SAML 2.0 md:EntityDescriptor"),
        ("<ns0:EntityDescriptor", "not well-formed XML"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&b;"/>',
            "not well-formed XML: EntitiesForbidden",
        ),
    ],
    ids=[
        "no-entity-id",
        "schema-refuses-no-entity-id",
        "relative-entity-id",
        "http-acs",
        "redirect-only",
        "acs-without-binding",
        "saml-1-only",
        "expired",
        "html-page",
        "truncated",
        "not-utf8",
        "entity-expansion",
    ],
)
def test_each_defect_is_named(document: str | bytes, problem: str) -> None:
    report = inspect_sp_metadata(document)
    assert not report.valid
    assert any(problem in found for found in report.problems), report.problems


def test_the_broken_profile_serves_redirect_over_http() -> None:
    report = inspect_sp_metadata(sp_metadata("crm.example.com", valid=False))
    assert report.entity_id == ENTITY
    assert report.services == {
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect": ["http://crm.example.com/saml/acs"]
    }
    assert not report.valid
