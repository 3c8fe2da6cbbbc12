"""HTML views rendered from acceptance documents with Jinja2: one vendor, or vendors side by side."""

from __future__ import annotations

from collections import Counter
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from poc_harness.report import charts, timeline_view
from poc_harness.report.i18n import (
    Lang,
    calendar_day,
    check_title,
    criterion_title,
    label,
    moment,
    number,
    scenario_title,
)

ENV = Environment(
    loader=PackageLoader("poc_harness.report", "templates"),
    autoescape=select_autoescape(),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _helpers(lang: Lang) -> dict[str, Any]:
    return {
        "lang": lang,
        "rtl": lang == "fa",
        "t": lambda key: label(key, lang),
        "num": lambda value, digits=1: number(value, lang, digits),
        "when": lambda iso: moment(iso, lang),
        "criterion": lambda key, english: criterion_title(key, english, lang),
        "scenario": lambda check: scenario_title(check, lang),
        "check_title": lambda check: check_title(check, lang),
        "day_date": lambda iso: calendar_day(iso, lang),
    }


def _charts(document: dict[str, Any], lang: Lang) -> list[str]:
    criteria = document["criteria"]
    drawn = [
        charts.criterion_scores(
            [criterion_title(c["criterion"], c["title"], lang) for c in criteria],
            [c["score"] for c in criteria],
            [c["source"] for c in criteria],
            document["target"],
            f"{label('score', lang)} / {label('criterion', lang)}",
        )
    ]
    scenarios = sorted({c["scenario"] for c in document["checks"]})
    counts: dict[str, list[int]] = {"passed": [], "failed": [], "pending": []}
    for scenario in scenarios:
        tally = Counter(c["outcome"] for c in document["checks"] if c["scenario"] == scenario)
        counts["passed"].append(tally["passed"])
        counts["failed"].append(tally["failed"] + tally["error"])
        counts["pending"].append(tally["pending"])
    if scenarios:
        drawn.append(
            charts.scenario_outcomes(
                [scenario_title(s, lang) for s in scenarios],
                counts,
                {k: label(k, lang) for k in counts},
                label("scenario", lang),
            )
        )
    if document["latency"]:
        drawn.append(
            charts.latency(
                [row["report"].replace("_", " ") for row in document["latency"]],
                [row["p50"] for row in document["latency"]],
                [row["p95"] for row in document["latency"]],
                label("latency", lang),
            )
        )
    return drawn


def render_acceptance(document: dict[str, Any], lang: Lang = "en") -> str:
    by_criterion: dict[str, list[dict[str, Any]]] = {}
    for check in document["checks"]:
        by_criterion.setdefault(check["criterion"] or "other", []).append(check)
    timeline = document.get("timeline") or {}  # optional: documents written before it lack one
    return ENV.get_template("acceptance.html.j2").render(
        doc=document,
        by_criterion=by_criterion,
        charts=_charts(document, lang),
        timeline_rows=timeline_view.rows(timeline),
        timeline_summary=timeline_view.summary(timeline),
        trend=timeline_view.trend_chart(timeline, lang),
        **_helpers(lang),
    )


def render_compare(documents: list[dict[str, Any]], lang: Lang = "en") -> str:
    """Vendors side by side.  A vendor whose shown run does not count (no full acceptance run yet: see
    ``acceptance.latest_per_vendor``) is listed with why, and left out of every figure compared."""
    vendors = [d["run"].get("label") or d["run"]["vendor"] for d in documents]
    scored = [d for d in documents if d.get("counted", True)]
    names = [v for v, d in zip(vendors, documents, strict=True) if d.get("counted", True)]
    checks = sorted({c["check"] for d in scored for c in d["checks"]})
    outcomes = {
        check: [next((c["outcome"] for c in d["checks"] if c["check"] == check), "–") for d in scored]
        for check in checks
    }
    differing = [check for check, row in outcomes.items() if len(set(row)) > 1]
    criteria = [
        (
            c["criterion"],
            c["title"],
            [next(x for x in d["criteria"] if x["criterion"] == c["criterion"]) for d in scored],
        )
        for c in (scored[0]["criteria"] if scored else [])
    ]
    target = float(documents[0]["target"])
    chart = (
        charts.vendor_totals(
            names,
            [d["total"] for d in scored],
            target,
            f"{label('total', lang)} / {label('target', lang)} {target:.0f}",
        )
        if scored
        else ""
    )
    return ENV.get_template("compare.html.j2").render(
        docs=documents,
        vendors=vendors,
        scored=scored,
        names=names,
        outcomes=outcomes,
        differing=differing,
        criteria=criteria,
        chart=chart,
        trend=timeline_view.vendor_trend_chart(names, scored, lang) if scored else None,
        **_helpers(lang),
    )
