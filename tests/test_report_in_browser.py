"""The acceptance report as the steering committee sees it: rendered by a real (headless) Chromium.

Each test runs the scenario suites once, opens the acceptance HTML in Debian's chromium through
Playwright, checks that the parts the committee reads first are really on screen (visible, with a
non-zero size) and saves a full-page screenshot, copied to ``reports/screenshots/`` for a person to
look at.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.suite_runner import ROOT, run_suite_subprocess

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "pip install -e '.[dev]' (installs playwright; do not run `playwright install`) and "
    "apt-get install -y chromium fonts-noto-core (Debian's browser at /usr/bin/chromium); "
    ".ci/run installs both"
)
SCREENSHOTS = ROOT / "reports" / "screenshots"
CRITERIA = 8  # rows of the weighted scoring matrix, the total row apart
JALALI_YEAR = re.compile(r"۱۴۰[۰-۹]")  # 1400-1409 in Persian digits


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        # CI (.ci/run) installs the browser, so there its absence is a failure, not a skip
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{CHROMIUM} is missing: {INSTALL_HINT}")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason=f"the playwright module is missing: {INSTALL_HINT}"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    try:
        yield opened
    finally:
        context.close()


def acceptance_report(tmp_path: Path, pattern: str, *args: str) -> Path:
    """Run the suites once with ``args`` and return the acceptance HTML they wrote."""
    # a subprocess: Playwright's sync API runs an event loop in this thread, so in this process the load
    # probe's asyncio.run would be refused and the scale checks never measured
    run = run_suite_subprocess(tmp_path, *args, timeout=120)
    found = sorted((tmp_path / "reports").glob(pattern))
    assert len(found) == 1, f"expected one {pattern}, found {found}:\n{run.stdout}{run.stderr}"
    return found[0]


def assert_on_screen(locator: Any, what: str) -> dict[str, float]:
    assert locator.is_visible(), f"{what} is not visible"
    box = locator.bounding_box()
    assert box is not None, f"{what} has no layout box"
    assert box["width"] > 0 and box["height"] > 0, f"{what} has zero size: {box}"
    return box


def assert_charts_on_screen(page: Any) -> None:
    charts = page.locator("figure.chart")
    visible = [charts.nth(i) for i in range(charts.count()) if charts.nth(i).is_visible()]
    assert len(visible) >= 2, f"only {len(visible)} of {charts.count()} charts are visible"
    for number, chart in enumerate(visible, 1):
        svg = chart.locator("svg")
        assert svg.count() == 1, f"chart {number} holds {svg.count()} svg elements"
        assert_on_screen(svg, f"the svg of chart {number}")


def assert_timeline_on_screen(page: Any) -> None:
    """The trial's night-by-night table (one run so far: day 1) and its score-trend chart."""
    assert_on_screen(page.locator("h2#timeline"), "the timeline heading")
    days = page.locator("table.timeline tr[data-day]")
    assert days.count() == 1, f"{days.count()} timeline rows for a single run"
    assert_on_screen(days.first, "the timeline's day 1")
    assert days.first.get_attribute("class") == "day-ran"
    assert_on_screen(page.locator("figure.trend svg"), "the score-trend chart")


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    """A full-page PNG in ``tmp_path``, copied to ``reports/screenshots/``; both checked to exist."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    kept = Path(shutil.copyfile(shot, SCREENSHOTS / name))
    for png in (shot, kept):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
        assert png.stat().st_size > 10_000, f"{png} is only {png.stat().st_size} bytes"
    return kept


def test_rejected_vendor_report_renders(tmp_path: Path, page: Any) -> None:
    report = acceptance_report(tmp_path, "*.acceptance.html", "--vendor=sandbox:broken_reports")
    page.goto(report.as_uri())

    verdict = page.locator("section#verdict")
    assert_on_screen(verdict, "the verdict banner")
    assert "reject" in (verdict.get_attribute("class") or "").split()
    assert "REJECT" in verdict.inner_text()

    matrix = page.locator("h2#matrix + table")
    assert_on_screen(matrix, "the scoring matrix")
    criteria = matrix.locator("tr:has(> td)")
    assert criteria.count() == CRITERIA
    for row in range(CRITERIA):
        assert_on_screen(criteria.nth(row), f"matrix row {row + 1}")
    total = matrix.locator("tr").last
    assert_on_screen(total, "the matrix's total row")
    assert total.locator("th").first.inner_text().strip() == "Total"

    assert_charts_on_screen(page)
    assert_timeline_on_screen(page)
    screenshot(page, tmp_path, "acceptance.en.png")


def test_persian_report_renders_right_to_left(tmp_path: Path, page: Any) -> None:
    report = acceptance_report(tmp_path, "*.acceptance.fa.html", "--vendor=sandbox", "--report-lang=fa")
    page.goto(report.as_uri())

    assert page.locator("html[dir=rtl]").count() == 1
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    verdict = page.locator("section#verdict")
    assert_on_screen(verdict, "the verdict banner")
    assert verdict.inner_text().strip()
    assert JALALI_YEAR.search(page.locator("body").inner_text()), "no Jalali year (۱۴۰x) on the page"

    assert_charts_on_screen(page)
    assert_timeline_on_screen(page)
    screenshot(page, tmp_path, "acceptance.fa.png")
