"""The reference CRM's connector endpoints: the paged bulk export a DWH loads, and the VoIP call log.

- ``GET /export/{collection}?tag=&cursor=&limit=``: the collection's records in id order, a page
  at a time; ``next_cursor`` is null on the last page.
- ``POST /leads/{id}/calls``: a call pushed by a VoIP system, stored on the lead's timeline as an
  activity of kind ``call`` with its number, direction and duration; ``GET /leads/{id}/activities``
  reads the timeline back.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from poc_harness.sandbox.engine import CRMState, NotFound
from poc_harness.sandbox.profiles import Profile

EXPORTABLE = ("users", "accounts", "contacts", "leads", "activities", "deals", "tickets")
PAGE_SIZE = 50


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(pattern=r"^\+\d{8,15}$")
    direction: Literal["inbound", "outbound"]
    duration_seconds: int = Field(ge=0)
    started_at: AwareDatetime


def router(state: CRMState, profile: Profile) -> APIRouter:
    api = APIRouter()

    @api.get("/export/{collection}")
    def export(
        collection: str,
        tag: str | None = None,
        cursor: Annotated[str, Query(pattern=r"^\d+$")] = "0",
        limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
    ) -> dict[str, Any]:
        if collection not in EXPORTABLE:
            raise NotFound(collection)
        with state.lock:
            rows = sorted(state.query(collection, tag=tag), key=lambda record: str(record["id"]))
        start = int(cursor)
        end = start + limit
        following = str(end + profile.export_page_skip) if end < len(rows) else None
        return {"records": rows[start:end], "next_cursor": following}

    @api.post("/leads/{lead_id}/calls", status_code=201)
    def log_call(lead_id: str, body: CallIn) -> dict[str, Any]:
        fields = {
            "kind": "call",
            "subject": f"{body.direction} call {body.number}",
            "user_id": None,
            **body.model_dump(exclude={"started_at"}),
        }
        if profile.calls_lose_duration:
            fields["duration_seconds"] = 0
        with state.lock:
            return state.log_activity(lead_id, fields, body.started_at)

    @api.get("/leads/{lead_id}/activities")
    def lead_activities(lead_id: str) -> list[dict[str, Any]]:
        with state.lock:
            state.get("leads", lead_id)
            return state.query("activities", lead_id=lead_id)

    return api
