"""The reference CRM's service desk and reports: tickets with SLA timers, NPS surveys on close, and
the management reports (conversion, first response, weekly activity, SLA compliance, forecast, NPS)."""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta
from typing import Any

from poc_harness.config import PriorityName, SlaPolicy
from poc_harness.sandbox.engine import Conflict, CRMState

SLA = SlaPolicy()  # the reference CRM is configured with the buyer's default SLA policy
COMMIT_STAGES = frozenset({"negotiation"})
OPEN_STAGES = frozenset({"qualification", "proposal", "negotiation"})


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class ServiceDesk:
    """Tickets, surveys and reports over one ``CRMState``."""

    def __init__(self, state: CRMState) -> None:
        self.state = state
        self.profile = state.profile

    # --- tickets ------------------------------------------------------------------------
    def targets(self, priority: PriorityName) -> tuple[timedelta, timedelta]:
        chosen: PriorityName = priority if self.profile.sla_by_priority else "normal"
        if chosen == "urgent" and self.profile.urgent_as_high:
            chosen = "high"
        return timedelta(minutes=SLA.first_response_minutes[chosen]), timedelta(
            minutes=SLA.resolution_minutes[chosen]
        )

    def _due(self, created: datetime, target: timedelta) -> datetime:
        if self.profile.sla_business_hours:  # the defect: SLA clocks run in the CRM's business hours only
            return self.state.calendar.add_business_time(created, target)
        return created + target

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
                "noted_at": None,
                "closed_at": None,
                "first_closed_at": None,
                "closes": 0,
            },
        )
        return self.view(ticket)

    def view(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """The ticket as the API shows it, with breach flags evaluated at the CRM's current time.

        First response is the first public reply; closing a ticket without one ends the first-response
        clock (no breach if closed in time).  Resolution runs to the last close (a reopened ticket is
        unresolved again)."""
        now = self.state.clock.now
        created = datetime.fromisoformat(ticket["created_at"])
        replied, closed = _at(ticket["replied_at"]), _at(ticket["closed_at"])
        if self.profile.resolution_to_first_close:
            closed = _at(ticket.get("first_closed_at"))
        if self.profile.first_response_counts_notes and ticket.get("noted_at"):
            replied = min(filter(None, (replied, _at(ticket["noted_at"]))))
        first_target, resolve_target = self.targets(ticket["priority"])
        first_due, resolve_due = self._due(created, first_target), self._due(created, resolve_target)
        answered = replied
        if answered is None and self.profile.close_ends_first_response_clock:
            answered = _at(ticket.get("first_closed_at"))
        shown_first = closed if self.profile.first_response_from_close else replied
        hidden = {"noted_at", "first_closed_at", "closes"}
        return {
            **{k: v for k, v in ticket.items() if k not in hidden},
            "first_response_at": shown_first.isoformat() if shown_first else None,
            "first_response_due": first_due.isoformat(),
            "resolution_due": resolve_due.isoformat(),
            "first_response_breached": (answered or now) > first_due,
            "resolution_breached": (closed or now) > resolve_due,
        }

    def reply(self, ticket_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A public reply, or an internal note (``internal``), which the customer does not see."""
        ticket = self.state.get("tickets", ticket_id)
        if ticket["status"] == "closed":
            raise Conflict(f"ticket {ticket_id} is closed")
        now = self.state.clock.now.isoformat()
        self.state.insert("replies", {**fields, "ticket_id": ticket_id, "at": now})
        if fields.get("internal"):
            ticket["noted_at"] = ticket["noted_at"] or now
            return self.view(ticket)
        if ticket["replied_at"] is None:
            ticket["replied_at"] = now
        ticket["status"] = "answered"
        return self.view(ticket)

    def close(self, ticket_id: str) -> dict[str, Any]:
        """Close the ticket; each close sends one NPS survey to the ticket's requester."""
        ticket = self.state.get("tickets", ticket_id)
        if ticket["status"] == "closed":
            raise Conflict(f"ticket {ticket_id} is already closed")
        now = self.state.clock.now.isoformat()
        ticket["status"], ticket["closed_at"] = "closed", now
        ticket["first_closed_at"] = ticket["first_closed_at"] or now
        ticket["closes"] += 1
        surveyed = (ticket["closes"] == 1 or self.profile.survey_after_reopen) and not (
            self.profile.survey_needs_reply and ticket["replied_at"] is None
        )
        for _ in range(self.profile.surveys_per_close if surveyed else 0):
            self._send_survey(ticket)
        return self.view(ticket)

    def _send_survey(self, ticket: dict[str, Any]) -> None:
        self.state.insert(
            "surveys",
            {
                "ticket_id": ticket["id"],
                "contact_id": self._recipient(ticket),
                "tag": ticket.get("tag"),
                "sent_at": self.state.clock.now.isoformat(),
                "score": None,
            },
        )

    def _recipient(self, ticket: dict[str, Any]) -> str:
        requester = self.state.get("contacts", ticket["contact_id"])
        if not self.profile.survey_to_account_first_contact:
            return str(requester["id"])
        colleagues = self.state.query("contacts", account_id=requester["account_id"])
        return str(min(contact["id"] for contact in colleagues))

    def reopen(self, ticket_id: str) -> dict[str, Any]:
        ticket = self.state.get("tickets", ticket_id)
        if ticket["status"] != "closed":
            raise Conflict(f"ticket {ticket_id} is not closed")
        ticket["status"], ticket["closed_at"] = "reopened", None
        if self.profile.survey_on_reopen:
            self._send_survey(ticket)
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
        """Leads created in the period, and how many of them became a won deal (rate: 2 decimals)."""
        profile = self.profile
        leads = [
            le for le in self._tagged("leads", tag) if start <= datetime.fromisoformat(le["created_at"]) < end
        ]
        winning = {"won"} | ({"lost"} if profile.conversion_counts_lost else set())
        winning |= OPEN_STAGES if profile.conversion_counts_open else set()
        lead_ids = {le["id"] for le in leads}
        deals = [d for d in self.state.data["deals"].values() if d["lead_id"] in lead_ids]
        won = {d["lead_id"] for d in deals if d["stage"] in winning}
        whole = len(deals) if profile.conversion_per_deal else len(leads)
        rate = 100.0 * len(won) / whole if whole else 0.0
        shown = float(math.floor(rate)) if profile.conversion_rate_floor else round(rate, 2)
        return {"leads": len(leads), "won": len(won), "rate_pct": shown}

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
        """Per rep: calls, meetings and e-mails logged in the week (notes are not sales activity) and the
        tasks they completed in it."""
        profile, end = self.profile, week_start + timedelta(days=7)
        reps: dict[str, dict[str, int]] = {}

        def count(rep: str, what: str) -> None:
            counts = reps.setdefault(rep, {})
            counts[what] = counts.get(what, 0) + 1

        for activity in self.state.data["activities"].values():
            kind = activity["kind"]
            if kind == "note" and profile.weekly_notes_as_calls:
                kind = "call"
            if (
                (tag is None or self._lead_tag(activity) == tag)
                and activity.get("user_id")
                and week_start <= datetime.fromisoformat(activity["at"]) < end
                and kind in profile.weekly_kinds
            ):
                count(activity["user_id"], kind)
        for task in self.state.data["tasks"].values() if profile.report_tasks_done else ():
            done = _at(task.get("done_at"))
            rep = task.get("owner_id") if profile.weekly_tasks_to_owner else task.get("done_by")
            if done and rep and week_start <= done < end and (tag is None or self._lead_tag(task) == tag):
                count(rep, "tasks_done")
        return {"week_start": week_start.isoformat(), "reps": reps}

    def sla_compliance(self, start: datetime, end: datetime, tag: str | None) -> dict[str, Any]:
        """Tickets closed in the period, and how many met both their targets (rate: 2 decimals)."""
        closed = [
            self.view(t)
            for t in self._tagged("tickets", tag)
            if t["status"] == "closed" and start <= datetime.fromisoformat(t["closed_at"]) < end
        ]
        met = [
            t
            for t in closed
            if self.profile.sla_report_ignores_breaches
            or not (t["first_response_breached"] or t["resolution_breached"])
        ]
        rate = 100.0 * len(met) / len(closed) if closed else 0.0
        shown = float(math.floor(rate)) if self.profile.sla_rate_floor else round(rate, 2)
        return {"tickets": len(closed), "met": len(met), "rate_pct": shown}

    def forecast(self, start: datetime, end: datetime, tag: str | None) -> dict[str, Any]:
        """Committed deals (negotiation) expected to close in the period, plus what was won in it."""
        profile = self.profile
        forecast_stages = OPEN_STAGES if profile.forecast_counts_uncommitted else COMMIT_STAGES
        committed = won = 0.0
        for deal in self._tagged("deals", tag):
            expected, won_at = _at(deal.get("expected_close")), _at(deal.get("won_at"))
            in_period = expected is not None and (profile.forecast_ignores_period or start <= expected < end)
            if deal["stage"] in forecast_stages and in_period:
                committed += deal["amount"]
            if deal["stage"] == "won" and won_at and start <= won_at < end:
                won += deal["amount"]
        return {
            "forecast_amount": round((committed + won) * profile.forecast_factor, 2),
            "won_amount": won,
        }

    def _answer_counted(self, survey: dict[str, Any]) -> bool:
        window, answered = self.profile.nps_answer_window_hours, _at(survey.get("answered_at"))
        if window is None or answered is None:
            return True
        return answered - datetime.fromisoformat(survey["sent_at"]) <= timedelta(hours=window)

    def nps(self, tag: str | None) -> dict[str, Any]:
        """Net promoter score of the answered surveys: % promoters (9-10) minus % detractors (0-6)."""
        profile = self.profile
        surveys = [s for s in self._tagged("surveys", tag) if self._answer_counted(s)]
        scores = [
            0 if s["score"] is None else s["score"]
            for s in surveys
            if s["score"] is not None or profile.nps_unanswered_as_zero
        ]
        worst_detractor = 8 if profile.nps_passives_as_detractors else 6
        promoters = sum(1 for score in scores if score >= 9)
        detractors = sum(1 for score in scores if score <= worst_detractor)
        value = 100.0 * (promoters - detractors) / len(scores) if scores else 0.0
        return {"responses": len(scores), "nps": round(value, 2)}
