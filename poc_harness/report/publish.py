"""Publishing a run: results JSON -> grade -> acceptance JSON -> acceptance HTML (and comparisons).

The HTML renderer (jinja2, matplotlib, jdatetime) is imported only when a page is written, so importing
this module (and the pytest plugin) stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poc_harness.config import PocConfig
from poc_harness.grading.evidence import evidence_for
from poc_harness.grading.verdict import Grade, grade
from poc_harness.report import acceptance, history
from poc_harness.run.results import read_results

if TYPE_CHECKING:
    from poc_harness.report.i18n import Lang

__all__ = ["compare", "evidence_for", "publish", "sibling_links"]


def sibling_links(results_path: Path, html: Path | None = None, junit: Path | None = None) -> dict[str, str]:
    """Links from the acceptance report to the engineers' files, relative to the reports folder."""
    stem = results_path.with_suffix("")
    found = {
        "pytest-html (engineers)": html or stem.with_suffix(".html"),
        "JUnit XML": junit or stem.with_suffix(".xml"),
        "results JSON": results_path,
    }
    return {
        name: os.path.relpath(path, results_path.parent)
        for name, path in found.items()
        if path in (html, junit) or path.exists()
    }


def publish(
    results_path: Path,
    config: PocConfig,
    lang: Lang = "en",
    satisfaction: Path | None = None,
    scorecard: Path | None = None,
    links: dict[str, str] | None = None,
    ledger: Path | None = None,
) -> tuple[Path, Path]:
    """Grade a run's results and write ``<stem>.acceptance.json`` then ``<stem>.acceptance[.fa].html``;
    the trial's timeline comes from the other documents next to the results and from the ledger
    (``ledger``, else the configured one) when it holds this run."""
    results = read_results(results_path)
    survey, card = evidence_for(config, results["run"]["vendor"], satisfaction, scorecard)
    matrix = config.matrix

    def graded_by_the_matrix(run: dict[str, Any]) -> Grade:
        return grade(run, survey, card, matrix.weights, matrix.measured_share, matrix.target)

    graded = graded_by_the_matrix(results)
    stem = results_path.with_suffix("")
    document = acceptance.build(results, graded, links if links is not None else sibling_links(results_path))
    document["timeline"] = history.build(
        document, results_path.parent, ledger or config.harness.ledger, graded_by_the_matrix
    )
    json_path = acceptance.write(Path(f"{stem}.acceptance.json"), document)
    html_path = Path(f"{stem}.acceptance{'.fa' if lang == 'fa' else ''}.html")
    from poc_harness.report.render import render_acceptance  # heavy: only when a page is written

    html_path.write_text(render_acceptance(document, lang), encoding="utf-8")
    return json_path, html_path


def compare(folder: Path, lang: Lang = "en", out: Path | None = None) -> Path:
    """Every vendor's latest acceptance document in ``folder``, side by side."""
    documents = acceptance.latest_per_vendor(folder)
    if not documents:
        raise FileNotFoundError(f"no *.acceptance.json in {folder}: run the scenarios first")
    path = out or folder / f"comparison{'.fa' if lang == 'fa' else ''}.html"
    from poc_harness.report.render import render_compare  # heavy: only when a page is written

    path.write_text(render_compare(documents, lang), encoding="utf-8")
    return path
