"""The reference CRM's identities and role-based access control.

Two kinds of bearer token: the API token (an administrator: every route, every record)
and per-user tokens issued by an administrator (``POST /users/{id}/tokens``).  A user's
role decides which routes the token may call; the user's team decides which leads it
reaches: a lead is reachable when its owner is the user or a member of the user's team.
A lead out of reach answers 404, exactly as a lead that does not exist.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request

from poc_harness.sandbox.engine import CRMState, NotFound

ADMIN_ID = "api-admin"

LEAD_WORK = frozenset(
    {
        ("GET", "/clock"),
        ("GET", "/me"),
        ("GET", "/auth/methods"),
        ("POST", "/leads"),
        ("GET", "/leads/{lead_id}"),
        ("PATCH", "/leads/{lead_id}"),
        ("GET", "/leads/{lead_id}/tasks"),
        ("GET", "/leads/{lead_id}/alerts"),
        ("POST", "/leads/{lead_id}/activities"),
        ("POST", "/leads/{lead_id}/convert"),
        ("GET", "/leads/{lead_id}/activities"),
        ("POST", "/leads/{lead_id}/calls"),
    }
)
ROLE_ROUTES: dict[str, frozenset[tuple[str, str]]] = {"sales_rep": LEAD_WORK, "manager": LEAD_WORK}
"""(method, route) pairs each role's token may call; the API token may call every route."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts as."""

    id: str
    role: str
    team: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ADMIN = Principal(ADMIN_ID, "admin")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccessControl:
    """Tokens and the access rules of one reference CRM."""

    def __init__(self, state: CRMState, api_token: str) -> None:
        self.state = state
        self._api_token = api_token.encode()
        self._user_tokens: dict[str, str] = {}  # sha256 of the token -> user id

    def issue_token(self, user_id: str) -> str:
        """A new bearer token acting as the user (an active user of the CRM)."""
        self.state.get("users", user_id)
        token = secrets.token_urlsafe(24)
        self._user_tokens[_digest(token)] = user_id
        return token

    def authenticate(self, authorization: str | None) -> Principal:
        supplied = (authorization or "").removeprefix("Bearer ")
        if secrets.compare_digest(supplied.encode(), self._api_token):
            return ADMIN
        user = self.state.data["users"].get(self._user_tokens.get(_digest(supplied), ""))
        if user is None or not user["active"]:
            raise HTTPException(401, "missing or wrong bearer token")
        return Principal(user["id"], user["role"], user.get("team"))

    def authorise(self, request: Request, authorization: str | None) -> Principal:
        """The request's principal, refused (403, or 404 for a lead out of reach) where it may not go."""
        with self.state.lock:
            principal = self.authenticate(authorization)
            request.state.principal = principal
            if principal.is_admin:
                return principal
            route = getattr(request.scope.get("route"), "path", request.url.path)
            if (request.method, route) not in ROLE_ROUTES.get(principal.role, frozenset()):
                raise HTTPException(403, f"role {principal.role} may not call {request.method} {route}")
            lead_id = request.path_params.get("lead_id")
            if (
                lead_id is not None
                and self.state.profile.rbac_team_scope
                and not self.reaches(principal, lead_id)
            ):
                raise NotFound(f"leads/{lead_id}")
            return principal

    def reaches(self, principal: Principal, lead_id: str) -> bool:
        """Whether the principal may read and change the lead (an unknown lead is left to the route)."""
        lead = self.state.data["leads"].get(lead_id)
        if principal.is_admin or lead is None or lead.get("owner_id") == principal.id:
            return True
        owner = self.state.data["users"].get(lead.get("owner_id") or "")
        return principal.team is not None and owner is not None and owner.get("team") == principal.team

    @staticmethod
    def owner_of_new_lead(request: Request) -> str | None:
        """A lead a user creates is theirs; the API token's leads go to automatic assignment."""
        principal: Principal | None = getattr(request.state, "principal", None)
        return None if principal is None or principal.is_admin else principal.id
