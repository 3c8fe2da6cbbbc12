"""Charts for the reports, drawn with matplotlib as inline SVG.

Text stays text (``svg.fonttype = none``) so the browser shapes Persian labels and the
page stays self-contained and small.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Patch

plt.rcParams.update(
    {"svg.fonttype": "none", "font.size": 10, "axes.spines.top": False, "axes.spines.right": False}
)

GREEN, RED, GREY, BLUE, AMBER = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0", "#f9a825"


def _svg(figure: plt.Figure, title: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    return svg.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def criterion_scores(
    labels: Sequence[str], scores: Sequence[float], sources: Sequence[str], target: float, title: str
) -> str:
    """Horizontal bars: each criterion's score (0-100), grey where there is no evidence."""
    figure, axes = plt.subplots(figsize=(6.5, 0.42 * len(labels) + 0.8))
    colours = [
        GREY if source == "none" else (GREEN if score >= target else AMBER)
        for score, source in zip(scores, sources, strict=True)
    ]
    axes.barh(list(labels)[::-1], list(scores)[::-1], color=colours[::-1])
    axes.axvline(target, color=RED, linestyle="--", linewidth=1)
    axes.annotate(
        f"{target:g}",
        (target, 1.0),
        xycoords=("data", "axes fraction"),
        color=RED,
        fontsize=8,
        ha="center",
        va="bottom",
    )
    axes.set_xlim(0, 100)
    axes.set_title(title)
    return _svg(figure, title)


def scenario_outcomes(
    scenarios: Sequence[str], counts: Mapping[str, Sequence[int]], labels: dict[str, str], title: str
) -> str:
    """Stacked bars per scenario: passed, failed, pending."""
    figure, axes = plt.subplots(figsize=(6.5, 0.55 * len(scenarios) + 0.9))
    left = [0] * len(scenarios)
    for outcome, colour in (("passed", GREEN), ("failed", RED), ("pending", AMBER)):
        values = list(counts[outcome])
        axes.barh(list(scenarios), values, left=left, color=colour, label=labels[outcome])
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    axes.set_title(title)
    return _svg(figure, title)


def latency(reports: Sequence[str], p50: Sequence[float], p95: Sequence[float], title: str) -> str:
    """Grouped bars per report: p50 and p95 latency in milliseconds."""
    figure, axes = plt.subplots(figsize=(6.5, 2.8))
    positions = range(len(reports))
    axes.bar([p - 0.2 for p in positions], list(p50), width=0.4, color=BLUE, label="p50")
    axes.bar([p + 0.2 for p in positions], list(p95), width=0.4, color=AMBER, label="p95")
    axes.set_xticks(list(positions), list(reports), rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("ms")
    axes.legend(frameon=False)
    axes.set_title(title)
    return _svg(figure, title)


def vendor_totals(vendors: Sequence[str], totals: Sequence[float], target: float, title: str) -> str:
    figure, axes = plt.subplots(figsize=(6.5, 0.5 * len(vendors) + 0.9))
    axes.barh(list(vendors), list(totals), color=[GREEN if t >= target else AMBER for t in totals])
    axes.axvline(target, color=RED, linestyle="--", linewidth=1)
    axes.set_xlim(0, 100)
    axes.set_title(title)
    return _svg(figure, title)


VERDICT_COLOURS = {"accept": GREEN, "accept with conditions": BLUE, "reject": RED, "incomplete": AMBER}


def _trial_axes(axes: plt.Axes, ticks: Sequence[str], target: float) -> None:
    """One x position per trial day (``ticks`` labels them; shown when there are few enough), the
    score 0-100 on y, and the target as a dashed line."""
    axes.axhline(target, color=RED, linestyle="--", linewidth=1, gid="target")
    axes.annotate(
        f"{target:g}", (1.0, target), xycoords=("axes fraction", "data"), color=RED, fontsize=8, va="bottom"
    )
    axes.set_xlim(0.5, len(ticks) + 0.5)
    axes.set_ylim(0, 100)
    if len(ticks) <= 31:
        axes.set_xticks(range(1, len(ticks) + 1), list(ticks))
        axes.tick_params(axis="x", labelsize=7)


def _nan(scores: Sequence[float | None]) -> list[float]:
    return [float("nan") if s is None else s for s in scores]


def score_trend(
    scores: Sequence[float | None],
    verdicts: Sequence[str | None],
    missed: Sequence[int],
    ticks: Sequence[str],
    target: float,
    title: str,
    labels: dict[str, str],
) -> str:
    """The weighted score night by night (day n is ``scores[n-1]``, None where there is none; ``ticks``
    label every day of the trial, the days to come too): a line broken where a night has no score,
    points coloured by that night's verdict, missed nights shaded, the target as a dashed line."""
    figure, axes = plt.subplots(figsize=(6.5, 2.9))
    days = list(range(1, len(scores) + 1))
    axes.plot(days, _nan(scores), color=BLUE, linewidth=1.5, label=labels["score"], gid="trend-line")
    scored = [(d, s, v) for d, s, v in zip(days, scores, verdicts, strict=True) if s is not None]
    if scored:
        axes.scatter(
            [d for d, _, _ in scored],
            [s for _, s, _ in scored],
            c=[VERDICT_COLOURS.get(v or "", GREY) for _, _, v in scored],
            zorder=3,
            gid="trend-points",
        )
    for day in missed:
        axes.axvspan(day - 0.5, day + 0.5, color=GREY, alpha=0.25, linewidth=0, gid=f"missed-day-{day}")
    _trial_axes(axes, ticks, target)
    handles, names = axes.get_legend_handles_labels()
    if missed:
        handles.append(Patch(color=GREY, alpha=0.25, label=labels["missed"]))
        names.append(labels["missed"])
    axes.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    axes.set_title(title)
    return _svg(figure, title)


def vendor_trends(
    series: Mapping[str, Sequence[float | None]], ticks: Sequence[str], target: float, title: str
) -> str:
    """One line per vendor: its score on each of its own trial days (day n is the n-th value)."""
    figure, axes = plt.subplots(figsize=(6.5, 2.9))
    for number, (vendor, scores) in enumerate(series.items()):
        days = list(range(1, len(scores) + 1))
        axes.plot(
            days, _nan(scores), marker="o", markersize=4, linewidth=1.5, label=vendor, gid=f"trend-{number}"
        )
    _trial_axes(axes, ticks, target)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False)
    axes.set_title(title)
    return _svg(figure, title)
