"""The reference CRM's audit log: every write request it applied, with actor, time and target record.

An ASGI middleware sees each write request (POST, PUT, PATCH, DELETE) through to its
answer; when the CRM applied it (2xx), one entry per target is logged: the records of
the path's collection the request created (and, for a write under a record such as an
activity on a lead or a reply to a ticket, an update of that parent record), else the
record the path names (updated, or deleted).  The actor is the user the request's token
acts as.  Entries older than the retention are dropped.  Moving the reference CRM's
clock is the harness's control, not a write of the CRM, and is not logged.
"""

from __future__ import annotations

import itertools
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from poc_harness.sandbox.access import ADMIN_ID
from poc_harness.sandbox.engine import CRMState

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNAUDITED_PREFIXES = ("/clock",)
SINGULAR = {
    "users": "user",
    "accounts": "account",
    "contacts": "contact",
    "leads": "lead",
    "tasks": "task",
    "alerts": "alert",
    "activities": "activity",
    "deals": "deal",
    "tickets": "ticket",
    "replies": "reply",
    "surveys": "survey",
}
EXPORT_FORMATS = ("json",)

_INSERTED: ContextVar[list[tuple[str, str]] | None] = ContextVar("audit_inserted", default=None)
"""(collection, id) of the records the current request inserted."""


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: datetime
    actor_id: str | None
    actor_role: str | None
    action: str
    record_type: str
    record_id: str
    request: str

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}


def _singular(collection: str) -> str:
    return SINGULAR.get(collection, collection.removesuffix("s"))


def _named(segments: list[str], pattern: list[str]) -> tuple[str, str] | None:
    """(record type, id) of the last record the path names (``/leads/LE1/activities``: the lead)."""
    for index in range(len(pattern) - 1, 0, -1):
        if pattern[index].startswith("{") and pattern[index] != "{collection}":
            return _singular(segments[index - 1]), segments[index]
    return None


def targets(
    method: str, path: str, route: str, inserted: list[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """(action, record type, record id) of each record a write request touched."""
    segments, pattern = path.strip("/").split("/"), route.strip("/").split("/")
    if len(pattern) != len(segments):
        pattern = segments
    named = _named(segments, pattern)
    if method == "POST":  # the records it created in a collection the path names (/leads, /batch/leads)
        for name in reversed(segments):
            created = [record_id for collection, record_id in inserted if collection == name]
            if created:
                parent = [("update", *named)] if named else []  # the record it was written under
                return [("create", _singular(name), record_id) for record_id in created] + parent
    action = "delete" if method == "DELETE" else "update"
    return [(action, *named)] if named else []


def write_path(method: str, route: str) -> str:
    """How a write reached the CRM: ``batch``, ``child`` (a POST under a record) or ``single``."""
    if route.startswith("/batch/"):
        return "batch"
    if method == "POST" and any(p.startswith("{") for p in route.strip("/").split("/")):
        return "child"
    return "single"


class AuditTrail:
    """The audit log of one reference CRM."""

    def __init__(self, state: CRMState) -> None:
        self.state = state
        self.retention = timedelta(days=state.profile.audit_retention_days)
        self._entries: list[AuditEntry] = []
        self._ids = itertools.count(1)
        state.on_insert.append(self._note_insert)

    @staticmethod
    def _note_insert(collection: str, record: dict[str, Any]) -> None:
        inserted = _INSERTED.get()
        if inserted is not None:
            inserted.append((collection, str(record["id"])))

    def record(self, scope: Scope, inserted: list[tuple[str, str]]) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        route = getattr(scope.get("route"), "path", path)
        principal = (scope.get("state") or {}).get("principal")
        profile = self.state.profile
        if write_path(method, route) not in profile.audit_paths:
            return
        actor = ADMIN_ID if profile.audit_actor_is_api_user else getattr(principal, "id", None)
        with self.state.lock:
            now = self.state.clock.now
            at = now + timedelta(hours=profile.audit_time_shift_hours)
            for action, record_type, record_id in targets(method, path, route, inserted):
                if action not in profile.audit_actions:
                    continue
                self._entries.append(
                    AuditEntry(
                        id=f"AU{next(self._ids):06d}",
                        at=at,
                        actor_id=actor,
                        actor_role=getattr(principal, "role", None),
                        action=action,
                        record_type=record_type,
                        record_id=record_id,
                        request=f"{method} {path}",
                    )
                )
            self._prune(now)

    def _prune(self, now: datetime) -> None:
        cutoff = now - self.retention
        if self._entries and self._entries[0].at < cutoff:
            self._entries = [entry for entry in self._entries if entry.at >= cutoff]

    def query(self, **filters: Any) -> list[dict[str, Any]]:
        """Entries oldest first; ``since`` bounds the time, other filters match fields exactly."""
        since: datetime | None = filters.pop("since", None)
        wanted = {key: value for key, value in filters.items() if value is not None}
        with self.state.lock:
            self._prune(self.state.clock.now)
            return [
                entry.as_json()
                for entry in self._entries
                if (since is None or entry.at >= since)
                and all(getattr(entry, key) == value for key, value in wanted.items())
            ]


class AuditMiddleware:
    """Logs each write the CRM applied; added first, so it sits innermost, next to the routes."""

    def __init__(self, app: ASGIApp, trail: AuditTrail) -> None:
        self.app = app
        self.trail = trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITES
            or scope["path"].startswith(UNAUDITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        inserted: list[tuple[str, str]] = []
        token = _INSERTED.set(inserted)
        try:
            await self.app(scope, receive, watch)
        finally:
            _INSERTED.reset(token)
            if 200 <= status < 300:
                self.trail.record(scope, inserted)
