"""The reference CRM's security API: who am I, user tokens, the public sign-up, lead updates, the
records a rep reads and changes by collection, the audit log and its settings, the identity standards
it offers, and its SAML service-provider metadata.

The public sign-up (``POST /signup``, no token) creates a guest (no rights until an administrator
gives some) whatever role it is asked for, except the roles the profile's ``signup_roles`` grant.

The metadata is built with pysaml2's SAML metadata classes, for the host the request
reached (the CRM is taken to sit behind a TLS proxy, so its URLs are ``https``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.params import Depends
from pydantic import BaseModel, ConfigDict, Field

from poc_harness.sandbox.access import GUEST_ROLE, AccessControl, Principal
from poc_harness.sandbox.audit import EXPORT_FORMATS, AuditTrail
from poc_harness.sandbox.engine import CRMState, NotFound

IDENTITY_STANDARDS = ("saml2", "oidc", "mfa")
SAML_METADATA_TYPE = "application/samlmetadata+xml"
EMAIL_NAME_ID = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
LABEL_FIELDS = {
    "accounts": "name",
    "contacts": "last_name",
    "leads": "title",
    "deals": "name",
    "tickets": "subject",
    "tasks": "subject",
    "activities": "subject",
    "users": "name",
}
"""collection -> the one descriptive field ``PATCH /{collection}/{id}`` changes (``{"label": ...}``)."""
PUBLIC_ROUTES = frozenset({("GET", "/health"), ("GET", "/saml/metadata"), ("POST", "/signup")})
"""The routes open without a token by design (the SAML metadata is public by the standard)."""


class SignUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2)
    email: str
    role: str = "sales_rep"
    tag: str | None = None
    external_ref: str | None = None


class LabelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=3)


class LeadPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=3)
    company: str | None = None
    contact_name: str | None = None
    email: str | None = None
    phone: str | None = None
    city: str | None = None
    estimated_value: int | None = Field(default=None, gt=0)


def sp_metadata(host: str, valid: bool = True) -> bytes:
    """The CRM's SAML 2.0 service-provider metadata; ``valid=False`` gives the broken profile's."""
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, samlp

    scheme, binding = ("https", BINDING_HTTP_POST) if valid else ("http", BINDING_HTTP_REDIRECT)
    descriptor = md.EntityDescriptor(
        entity_id=f"https://{host}/saml/metadata",
        spsso_descriptor=[
            md.SPSSODescriptor(
                protocol_support_enumeration=samlp.NAMESPACE,
                authn_requests_signed="false",
                want_assertions_signed="true",
                name_id_format=[md.NameIDFormat(text=EMAIL_NAME_ID)],
                assertion_consumer_service=[
                    md.AssertionConsumerService(
                        binding=binding, location=f"{scheme}://{host}/saml/acs", index="0", is_default="true"
                    )
                ],
            )
        ],
    )
    return bytes(descriptor.to_string())


def security_router(
    state: CRMState, access: AccessControl, trail: AuditTrail, auth: list[Depends]
) -> APIRouter:
    router = APIRouter()

    @router.get("/me", dependencies=auth)
    def me(request: Request) -> dict[str, Any]:
        principal: Principal = request.state.principal
        return {"id": principal.id, "role": principal.role, "team": principal.team}

    @router.post("/users/{user_id}/tokens", status_code=201, dependencies=auth)
    def issue_token(user_id: str) -> dict[str, Any]:
        with state.lock:
            return {"user_id": user_id, "token": access.issue_token(user_id)}

    @router.post("/signup", status_code=201)
    def sign_up(body: SignUpIn) -> dict[str, Any]:
        role = body.role if body.role in state.profile.signup_roles else GUEST_ROLE
        fields = {**body.model_dump(), "role": role, "team": None, "in_assignment_pool": False}
        with state.lock:
            user = state.insert("users", {**fields, "active": True})
            return {"id": user["id"], "role": role, "token": access.issue_token(user["id"])}

    @router.patch("/leads/{lead_id}", dependencies=auth)
    def update_lead(lead_id: str, body: LeadPatch) -> dict[str, Any]:
        with state.lock:
            lead = state.get("leads", lead_id)
            lead.update(body.model_dump(exclude_none=True))
            return lead

    @router.get("/audit", dependencies=auth)
    def audit_log(
        record_type: str | None = None,
        record_id: str | None = None,
        actor_id: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        return trail.query(record_type=record_type, record_id=record_id, actor_id=actor_id, since=since)

    @router.get("/settings/audit", dependencies=auth)
    def audit_settings() -> dict[str, Any]:
        return {"retention_days": trail.retention.days, "export_formats": list(EXPORT_FORMATS)}

    @router.get("/auth/methods", dependencies=auth)
    def identity_standards() -> dict[str, Any]:
        return {"standards": list(IDENTITY_STANDARDS), "saml_metadata": "/saml/metadata"}

    @router.get("/saml/metadata")
    def saml_metadata(request: Request) -> Response:
        host = request.headers.get("host") or "localhost"
        return Response(sp_metadata(host, state.profile.saml_metadata_valid), media_type=SAML_METADATA_TYPE)

    def record(collection: str, record_id: str) -> dict[str, Any]:
        if collection not in LABEL_FIELDS:
            raise NotFound(collection)
        return state.get(collection, record_id)

    @router.get("/{collection}/{record_id}", dependencies=auth)
    def read_record(collection: str, record_id: str) -> dict[str, Any]:
        with state.lock:
            return record(collection, record_id)

    @router.patch("/{collection}/{record_id}", dependencies=auth)
    def update_record(collection: str, record_id: str, body: LabelPatch) -> dict[str, Any]:
        with state.lock:
            found = record(collection, record_id)
            found[LABEL_FIELDS[collection]] = body.label
            return found

    return router
