"""A vendor's SAML 2.0 service-provider metadata, checked with pysaml2.

pysaml2 parses the document (through defusedxml, so a hostile document cannot blow up
the parser), validates it against the SAML 2.0 metadata XML schema it ships and against
its own model of the elements, and finds the SP's assertion consumer services.  The
harness then requires an entityID that is an absolute URI and an assertion consumer
service on the HTTP-POST binding over https.  No signature is checked, so the xmlsec1
binary pysaml2 uses for signatures is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

MAX_ENTITY_ID = 1024  # SAML 2.0 core, 8.3.6: an entity identifier is at most 1024 characters
SP_DESCRIPTOR = "spsso_descriptor"
ACS = "assertion_consumer_service"


@dataclass(frozen=True)
class SpMetadataReport:
    """What the metadata says and what is wrong with it (nothing, when ``valid``)."""

    entity_id: str | None = None
    services: dict[str, list[str]] = field(default_factory=dict)
    """assertion consumer service locations by binding"""
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def evidence(self) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "assertion_consumer_services": self.services}


def _short(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _schema_problem(text: str) -> str | None:
    from saml2.xml.schema import XMLSchemaError, validate

    try:
        validate(text)
    except XMLSchemaError as exc:
        reason = getattr(exc.__cause__, "reason", None) or str(exc.__cause__ or exc).split("\n\n")[0]
        return f"not valid against the SAML 2.0 metadata schema: {_short(str(reason))}"
    return None


def _entity_id_problem(entity_id: str | None) -> str | None:
    if not entity_id:
        return "no entityID"
    if len(entity_id) > MAX_ENTITY_ID:
        return f"entityID longer than {MAX_ENTITY_ID} characters"
    parts = urlsplit(entity_id)
    if not parts.scheme or (parts.scheme in ("http", "https") and not parts.netloc):
        return f"entityID {entity_id!r} is not an absolute URI"
    return None


def inspect_sp_metadata(document: bytes | str) -> SpMetadataReport:
    """Check one SP metadata document (an ``md:EntityDescriptor``)."""
    from saml2 import BINDING_HTTP_POST, SAMLError, md
    from saml2.attribute_converter import ac_factory
    from saml2.mdstore import InMemoryMetaData
    from saml2.validate import NotValid, OutsideCardinality, valid_instance

    try:
        text = document.decode("utf-8") if isinstance(document, bytes) else document
    except UnicodeDecodeError:
        return SpMetadataReport(problems=["the metadata is not UTF-8 text"])
    try:
        descriptor = md.entity_descriptor_from_string(text)
    except (ParseError, ValueError, SAMLError) as exc:  # defusedxml refusals are ValueErrors
        return SpMetadataReport(problems=[f"not well-formed XML: {_short(str(exc))}"])
    if descriptor is None:
        return SpMetadataReport(problems=["the document is not a SAML 2.0 md:EntityDescriptor"])
    problems = [problem for problem in (_schema_problem(text),) if problem]
    try:
        valid_instance(descriptor)
    except (NotValid, OutsideCardinality, ValueError) as exc:  # pysaml2's value errors are ValueErrors
        problems.append(f"invalid metadata: {_short(str(exc))}")
    entity_id = descriptor.entity_id
    refused = bool(problems)  # a document the schema refuses is not looked into further
    if problem := _entity_id_problem(entity_id):
        problems.append(problem)
    if refused:
        return SpMetadataReport(entity_id=entity_id, problems=problems)
    store = InMemoryMetaData(ac_factory(), text, check_validity=True)
    store.load()
    if entity_id in store.to_old:
        problems.append(f"the metadata expired (validUntil {descriptor.valid_until})")
        return SpMetadataReport(entity_id=entity_id, problems=problems)
    found = store.service(entity_id, SP_DESCRIPTOR, ACS) if entity_id in store else None
    services = {binding: [srv["location"] for srv in srvs] for binding, srvs in (found or {}).items()}
    if entity_id not in store or SP_DESCRIPTOR not in store[entity_id]:
        problems.append("no SPSSODescriptor supporting the SAML 2.0 protocol")
    posts = services.get(BINDING_HTTP_POST, [])
    if not posts:
        offered = ", ".join(sorted(services)) or "none"
        problems.append(f"no AssertionConsumerService with the HTTP-POST binding (offered: {offered})")
    for location in posts:
        parts = urlsplit(location)
        if parts.scheme != "https" or not parts.netloc:
            problems.append(f"the HTTP-POST AssertionConsumerService {location!r} is not an https URL")
    return SpMetadataReport(entity_id=entity_id, services=services, problems=problems)
