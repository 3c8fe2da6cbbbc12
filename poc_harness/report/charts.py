"""Charts for the reports, drawn with matplotlib as inline SVG.

Text stays text (``svg.fonttype = none``) so the browser shapes Persian labels and the
page stays self-contained and small.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

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
    scenarios: Sequence[str], counts: dict[str, Sequence[int]], labels: dict[str, str], title: str
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
