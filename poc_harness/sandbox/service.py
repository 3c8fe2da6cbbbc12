"""The reference CRM's service desk and reports: tickets with SLA timers, NPS surveys on close, and
the management reports (conversion, first response, weekly activity, SLA compliance, forecast, NPS)."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from poc_harness.config import SlaPolicy
from poc_harness.sandbox.engine import Conflict, CRMState

SLA = SlaPolicy()  # the reference CRM is configured with the buyer's default SLA policy
COMMIT_STAGES = frozenset({"negotiation"})


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class ServiceDesk:
    """Tickets, surveys and reports over one ``CRMState``."""

    def __init__(self, state: CRMState) -> None:
        self.state = state
        self.profile = state.profile

    # --- tickets ------------------------------------------------------------------------
    def targets(self, priority: str) -> tuple[timedelta, timedelta]:
        chosen = priority if self.profile.sla_by_priority else "normal"
        return timedelta(minutes=SLA.first_response_minutes[chosen]), timedelta(
            minutes=SLA.resolution_minutes[chosen]
        )

    def create_ticket(self, fields: dict[str, Any], opened_at: datetime | None) -> dict[str, Any]:
        self.state.get("contacts", fields["contact_id"])
        opened = self.state.past_or_now(opened_at)
        ticket = self.state.insert(
            "tickets",
            {
                **fields,
                "status": "new",
                "created_at": opened.isoformat(),
                "replied_at": None,
                "closed_at": None,
            },
        )
        return self.view(ticket)

    def view(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """The ticket as the API shows it, with breach flags evaluated at the CRM's current time."""
        now = self.state.clock.now
        created = datetime.fromisoformat(ticket["created_at"])
        replied, closed = _at(ticket["replied_at"]), _at(ticket["closed_at"])
        first_target, resolve_target = self.targets(ticket["priority"])
        shown_first = closed if self.profile.first_response_from_close else replied
        return {
            **ticket,
            "first_response_at": shown_first.isoformat() if shown_first else None,
            "first_response_due": (created + first_target).isoformat(),
            "resolution_due": (created + resolve_target).isoformat(),
            "first_response_breached": (replied or now) > created + first_target,
            "resolution_breached": (closed or now) > created + resolve_target,
        }

    def reply(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        ticket = self.state.get("tickets", ticket_id)
        if ticket["status"] == "closed":
            raise Conflict(f"ticket {ticket_id} is closed")
        now = self.state.clock.now.isoformat()
        self.state.insert("replies", {**fields, "ticket_id": ticket_id, "at": now})
        if ticket["replied_at"] is None:
            ticket["replied_at"] = now
        ticket["status"] = "answered"
        return self.view(ticket)

    def close(self, ticket_id: str) -> dict[str, Any]:
        ticket = self.state.get("tickets", ticket_id)
        if ticket["status"] == "closed":
            raise Conflict(f"ticket {ticket_id} is already closed")
        now = self.state.clock.now.isoformat()
        ticket["status"], ticket["closed_at"] = "closed", now
        for _ in range(self.profile.surveys_per_close):
            self.state.insert(
                "surveys",
                {
                    "ticket_id": ticket_id,
                    "contact_id": ticket["contact_id"],
                    "tag": ticket.get("tag"),
                    "sent_at": now,
                    "score": None,
                },
            )
        return self.view(ticket)

    def respond_to_survey(self, survey_id: str, score: int) -> dict[str, Any]:
        survey = self.state.get("surveys", survey_id)
        if survey["score"] is not None:
            raise Conflict(f"survey {survey_id} was already answered")
        survey["score"], survey["answered_at"] = score, self.state.clock.now.isoformat()
        return survey

    def complete_task(self, task_id: str, user_id: str | None) -> dict[str, Any]:
        task = self.state.get("tasks", task_id)
        task["status"], task["done_at"], task["done_by"] = "done", self.state.clock.now.isoformat(), user_id
        return task

    # --- reports --------------------------------------------------------------------------
    def _tagged(self, collection: str, tag: str | None) -> list[dict[str, Any]]:
        return [r for r in self.state.data[collection].values() if tag is None or r.get("tag") == tag]

    def _lead_tag(self, record: dict[str, Any]) -> str | None:
        lead = self.state.data["leads"].get(record.get("lead_id", ""))
        return lead.get("tag") if lead else None

    def conversion(self, start: datetime, end: datetime, tag: str | None) -> dict[str, Any]:
        leads = [
            le for le in self._tagged("leads", tag) if start <= datetime.fromisoformat(le["created_at"]) < end
        ]
        winning = {"won", "lost"} if self.profile.conversion_counts_lost else {"won"}
        lead_ids = {le["id"] for le in leads}
        won = {
            d["lead_id"]
            for d in self.state.data["deals"].values()
            if d["lead_id"] in lead_ids and d["stage"] in winning
        }
        rate = 100.0 * len(won) / len(leads) if leads else 0.0
        return {"leads": len(leads), "won": len(won), "rate_pct": round(rate, 2)}

    def first_response(self, start: datetime, end: datetime, tag: str | None) -> dict[str, Any]:
        minutes = []
        for ticket in self._tagged("tickets", tag):
            shown = self.view(ticket)
            created = datetime.fromisoformat(ticket["created_at"])
            if start <= created < end and shown["first_response_at"]:
                minutes.append(
                    (datetime.fromisoformat(shown["first_response_at"]) - created).total_seconds() / 60
                )
        return {
            "tickets": len(minutes),
            "mean_minutes": round(statistics.fmean(minutes), 2) if minutes else 0.0,
            "median_minutes": round(statistics.median(minutes), 2) if minutes else 0.0,
        }

    def weekly_activity(self, week_start: datetime, tag: str | None) -> dict[str, Any]:
        end = week_start + timedelta(days=7)
        reps: dict[str, dict[str, int]] = {}
        for activity in self.state.data["activities"].values():
            if (
                (tag is None or self._lead_tag(activity) == tag)
                and activity.get("user_id")
                and week_start <= datetime.fromisoformat(activity["at"]) < end
                and activity["kind"] != "note"
            ):
                counts = reps.setdefault(activity["user_id"], {})
                counts[activity["kind"]] = counts.get(activity["kind"], 0) + 1
        for task in self.state.data["tasks"].values() if self.profile.report_tasks_done else ():
            done = _at(task.get("done_at"))
            if (
                done
                and task.get("done_by")
                and week_start <= done < end
                and (tag is None or self._lead_tag(task) == tag)
            ):
                counts = reps.setdefault(task["done_by"], {})
                counts["tasks_done"] = counts.get("tasks_done", 0) + 1
        return {"week_start": week_start.isoformat(), "reps": reps}

    def sla_compliance(self, start: datetime, end: datetime, tag: str | None) -> dict[str, Any]:
        closed = [
            self.view(t)
            for t in self._tagged("tickets", tag)
            if t["closed_at"] and start <= datetime.fromisoformat(t["closed_at"]) < end
        ]
        met = [
            t
            for t in closed
            if self.profile.sla_report_ignores_breaches
            or not (t["first_response_breached"] or t["resolution_breached"])
        ]
        rate = 100.0 * len(met) / len(closed) if closed else 0.0
        return {"tickets": len(closed), "met": len(met), "rate_pct": round(rate, 2)}

    def forecast(self, start: datetime, end: datetime, tag: str | None) -> dict[str, Any]:
        committed = won = 0.0
        for deal in self._tagged("deals", tag):
            expected, won_at = _at(deal.get("expected_close")), _at(deal.get("won_at"))
            if deal["stage"] in COMMIT_STAGES and expected and start <= expected < end:
                committed += deal["amount"]
            if deal["stage"] == "won" and won_at and start <= won_at < end:
                won += deal["amount"]
        return {
            "forecast_amount": round((committed + won) * self.profile.forecast_factor, 2),
            "won_amount": won,
        }

    def nps(self, tag: str | None) -> dict[str, Any]:
        scores = [s["score"] for s in self._tagged("surveys", tag) if s["score"] is not None]
        promoters = sum(1 for score in scores if score >= 9)
        detractors = sum(1 for score in scores if score <= 6)
        value = 100.0 * (promoters - detractors) / len(scores) if scores else 0.0
        return {"responses": len(scores), "nps": round(value, 2)}
