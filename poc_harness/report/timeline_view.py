"""The trial timeline as the HTML reports show it: table rows (a run of missed nights in one row) and
the score-trend charts, for one vendor or several, in English or Persian."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from poc_harness.report import charts
from poc_harness.report.history import TRIAL_DAYS
from poc_harness.report.i18n import Lang, calendar_day, label, number


def rows(timeline: dict[str, Any]) -> list[dict[str, Any]]:
    """The timeline's days, consecutive missed nights folded into one row whose ``last`` is its last day."""
    folded: list[dict[str, Any]] = []
    for day in timeline.get("days", []):
        if day["status"] == "missed" and folded and folded[-1]["status"] == "missed":
            folded[-1]["last"] = day
        else:
            folded.append({**day, "last": day})
    return folded


def summary(timeline: dict[str, Any]) -> dict[str, Any]:
    days = timeline.get("days", [])
    return {
        "day": days[-1]["day"] if days else 0,
        "of": timeline.get("trial_days", TRIAL_DAYS),
        "ran": sum(1 for d in days if d["status"] != "missed"),
        "missed": [d["day"] for d in days if d["status"] == "missed"],
    }


def _ticks(first: str | None, span: int, lang: Lang) -> list[str]:
    if first is None:
        return [number(day, lang) for day in range(1, span + 1)]
    start = date.fromisoformat(first)
    dates = [(start + timedelta(days=day - 1)).isoformat() for day in range(1, span + 1)]
    return [f"{number(day, lang)}\n{calendar_day(d, lang, short=True)}" for day, d in enumerate(dates, 1)]


def trend_chart(timeline: dict[str, Any], lang: Lang) -> str | None:
    """The score of each trial day against the target, or None for a timeline without days."""
    days = timeline.get("days", [])
    if not days:
        return None
    span = max(int(timeline.get("trial_days", TRIAL_DAYS)), len(days))
    return charts.score_trend(
        [d["total"] for d in days],
        [d["verdict"] for d in days],
        [d["day"] for d in days if d["status"] == "missed"],
        _ticks(timeline.get("first_date"), span, lang),
        float(timeline.get("target", 85.0)),
        f"{label('trend', lang)} / {label('day', lang)}",
        {"score": label("score", lang), "missed": label("missed", lang)},
    )


def vendor_trend_chart(vendors: list[str], documents: list[dict[str, Any]], lang: Lang) -> str | None:
    """Each vendor's score per trial day (its own day 1 first), or None when no document has a timeline."""
    series = {
        vendor: [day["total"] for day in document["timeline"]["days"]]
        for vendor, document in zip(vendors, documents, strict=True)
        if (document.get("timeline") or {}).get("days")
    }
    if not series:
        return None
    span = max([TRIAL_DAYS, *(len(scores) for scores in series.values())])
    return charts.vendor_trends(
        series, _ticks(None, span, lang), float(documents[0]["target"]), label("trend_by_vendor", lang)
    )
