"""The reference CRM's identities and role-based access control.

Two kinds of bearer token: the API token (an administrator: every route, every record)
and per-user tokens issued by an administrator (``POST /users/{id}/tokens``) or by the
public sign-up (``POST /signup``).  A user's role decides which routes the token may call;
the user's team decides which records it reaches: a record is reachable when its owner
(its ``owner_id``, else whoever created it, else its parent record's owner: a task's or
deal's lead, a contact's account, a ticket's contact) is the user or a member of the
user's team.  A record out of reach answers 404, exactly as one that does not exist, and
is left out of the collection listings.
"""

from __future__ import annotations

import hashlib
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from poc_harness.sandbox.engine import CRMState, NotFound
from poc_harness.sandbox.profiles import REP_COLLECTIONS

ADMIN_ID = "api-admin"
GUEST_ROLE = "guest"
"""The role of a self-registered user: no route at all until an administrator gives it one."""

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
RECORD_WORK = frozenset(
    {
        ("POST", "/accounts"),
        ("POST", "/contacts"),
        ("POST", "/tickets"),
        ("GET", "/{collection}"),
        ("GET", "/{collection}/{record_id}"),
        ("PATCH", "/{collection}/{record_id}"),
        ("DELETE", "/{collection}/{record_id}"),
        ("GET", "/deals/{deal_id}"),
        ("POST", "/deals/{deal_id}/stage"),
        ("GET", "/tickets/{ticket_id}"),
        ("GET", "/tickets/{ticket_id}/surveys"),
        ("GET", "/tickets/{ticket_id}/replies"),
        ("POST", "/tickets/{ticket_id}/replies"),
        ("POST", "/tickets/{ticket_id}/close"),
        ("POST", "/tasks/{task_id}/complete"),
    }
)
ROLE_ROUTES: dict[str, frozenset[tuple[str, str]]] = {
    "sales_rep": LEAD_WORK | RECORD_WORK,
    "manager": LEAD_WORK | RECORD_WORK,
}
"""(method, route) pairs each role's token may call; the API token may call every route."""

ID_PARAMS = {
    "lead_id": "leads",
    "deal_id": "deals",
    "ticket_id": "tickets",
    "task_id": "tasks",
    "survey_id": "surveys",
}
"""A route's path parameter naming a record -> the record's collection (``record_id``: ``{collection}``)."""
PARENTS = {
    "contacts": ("account_id", "accounts"),
    "tickets": ("contact_id", "contacts"),
    "deals": ("lead_id", "leads"),
    "tasks": ("lead_id", "leads"),
    "activities": ("lead_id", "leads"),
    "alerts": ("lead_id", "leads"),
    "replies": ("ticket_id", "tickets"),
    "surveys": ("ticket_id", "tickets"),
}
"""collection -> (the field naming its parent record, the parent's collection): whose owner it inherits."""

_REQUEST_STATE: ContextVar[dict[str, Any] | None] = ContextVar("request_state", default=None)
"""The current request's ``scope["state"]``: who acts (``principal``, set once authorised)."""


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
UNCHECKED = Principal("unauthenticated", "admin")
"""Who a request acts as on a route that a broken profile leaves open (no token, or any token)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def operation(method: str, route: str) -> str:
    """What a rep's request does to the record its path names: read, list, update, delete or child."""
    if method == "GET":
        return "list" if route == "/{collection}" else "read"
    if method == "DELETE":
        return "delete"
    if method in ("PATCH", "PUT"):
        return "update"
    return "child"


class AccessControl:
    """Tokens and the access rules of one reference CRM."""

    def __init__(self, state: CRMState, api_token: str) -> None:
        self.state = state
        self._api_token = api_token.encode()
        self._user_tokens: dict[str, str] = {}  # sha256 of the token -> user id
        state.on_insert.append(self._stamp_creator)

    def issue_token(self, user_id: str) -> str:
        """A new bearer token acting as the user (an active user of the CRM)."""
        self.state.get("users", user_id)
        token = secrets.token_urlsafe(24)
        self._user_tokens[_digest(token)] = user_id
        return token

    def authenticate(self, authorization: str | None, method: str = "", route: str = "") -> Principal:
        profile = self.state.profile
        if authorization is None and (method, route) in profile.anonymous_routes:
            return UNCHECKED
        supplied = (authorization or "").removeprefix("Bearer ")
        if secrets.compare_digest(supplied.encode(), self._api_token):
            return ADMIN
        user = self.state.data["users"].get(self._user_tokens.get(_digest(supplied), ""))
        if user is None or not user["active"]:
            if authorization is not None and (method, route) in profile.any_token_routes:
                return UNCHECKED
            raise HTTPException(401, "missing or wrong bearer token")
        return Principal(user["id"], user["role"], user.get("team"))

    def authorise(self, request: Request, authorization: str | None) -> Principal:
        """The request's principal, refused (403, or 404 for a record out of reach) where it may not go."""
        route = getattr(request.scope.get("route"), "path", request.url.path)
        with self.state.lock:
            principal = self.authenticate(authorization, request.method, route)
            request.state.principal = principal
            if principal.is_admin:
                return principal
            if (request.method, route) not in ROLE_ROUTES.get(principal.role, frozenset()):
                raise HTTPException(403, f"role {principal.role} may not call {request.method} {route}")
            collection = request.path_params.get("collection")
            if collection is not None and collection not in REP_COLLECTIONS:
                raise HTTPException(403, f"role {principal.role} may not reach {collection}")
            target = self._target(request.path_params)
            scoped = target is not None and self._scoped(target[0], operation(request.method, route))
            if target is not None and scoped and not self.reaches(principal, *target):
                raise NotFound("/".join(target))
            return principal

    @staticmethod
    def _target(params: dict[str, Any]) -> tuple[str, str] | None:
        """(collection, id) of the record a request's path names, if it names one."""
        if "record_id" in params and "collection" in params:
            return str(params["collection"]), str(params["record_id"])
        for name, collection in ID_PARAMS.items():
            if name in params:
                return collection, str(params[name])
        return None

    def _scoped(self, collection: str, op: str) -> bool:
        """Whether the profile confines a rep to their team for this collection and operation."""
        profile = self.state.profile
        return (
            profile.rbac_team_scope
            and collection in profile.rbac_scoped_collections
            and op in profile.rbac_scoped_operations
        )

    def owner(self, collection: str, record: dict[str, Any] | None) -> str | None:
        """The record's owner: its own, else its creator's, else its parent record's owner."""
        while record is not None:
            found = record.get("owner_id") or record.get("created_by")
            if found or collection not in PARENTS:
                return found
            field, collection = PARENTS[collection]
            record = self.state.data[collection].get(record.get(field) or "")
        return None

    def reaches(self, principal: Principal, collection: str, record_id: str) -> bool:
        """Whether the principal may read and change the record (an unknown record is left to the route)."""
        record = self.state.data.get(collection, {}).get(record_id)
        if principal.is_admin or record is None:
            return True
        owner_id = self.owner(collection, record)
        if owner_id == principal.id:
            return True
        owner = self.state.data["users"].get(owner_id or "")
        if owner is None or principal.team is None or not self.state.profile.rbac_team_mates_share:
            return False
        return bool(owner.get("team") == principal.team)

    def visible(
        self, request: Request, collection: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The records of a listing the request's principal may see."""
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None or principal.is_admin or not self._scoped(collection, "list"):
            return records
        return [r for r in records if self.reaches(principal, collection, str(r["id"]))]

    def _stamp_creator(self, collection: str, record: dict[str, Any]) -> None:
        """A record a user creates names its creator (``created_by``): its owner where it has none."""
        state = _REQUEST_STATE.get()
        principal = (state or {}).get("principal")
        if isinstance(principal, Principal) and not principal.is_admin and collection != "users":
            record.setdefault("created_by", principal.id)

    @staticmethod
    def owner_of_new_lead(request: Request) -> str | None:
        """A lead a user creates is theirs; the API token's leads go to automatic assignment."""
        principal: Principal | None = getattr(request.state, "principal", None)
        return None if principal is None or principal.is_admin else principal.id


class ActingMiddleware:
    """Makes the current request's state (who acts) known to the CRM's insert listeners."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _REQUEST_STATE.set(scope.setdefault("state", {}))
        try:
            await self.app(scope, receive, send)
        finally:
            _REQUEST_STATE.reset(token)

