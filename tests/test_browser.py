"""The built report in headless Chromium, with the network refused: pages load cleanly and every chart draws.

Uses Debian's chromium (``/usr/bin/chromium``; ``.ci/run`` installs it) through playwright's sync API. Every
request that is not ``file://`` (or an inline ``data:``/``blob:`` URL) is aborted and counted; the count must be
zero. With ``FLIGHTS_SCREENSHOTS=1`` (``make screenshots``) a full-page screenshot of every page goes to the test's
temporary folder and, outside CI, to ``.build/screenshots/`` (for a person to look at: they test nothing, and take a
third of the visit time, so `make test` leaves them out); the README screenshot ``docs/screenshot-report.png`` (map and timeline of an episode) is refreshed when
``FLIGHTS_UPDATE_SCREENSHOT=1``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from analysis.paths import REPO_DIR

CHROMIUM = Path(os.environ.get("FLIGHTS_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
README_SHOT = REPO_DIR / "docs" / "screenshot-report.png"
EPISODE = "episode-2025-10-caracas.html"
#: full-page screenshots of every page (``make screenshots``)
SCREENSHOTS = os.environ.get("FLIGHTS_SCREENSHOTS") == "1"

DRAWN = """
() => Array.from(document.querySelectorAll('.flights-chart')).map(el => ({
  id: el.id,
  marks: el.querySelectorAll('svg g[class*="mark-"] path, svg g[class*="mark-"] line, canvas').length,
  failed: el.textContent.includes('chart failed'),
}))
"""
ALL_DRAWN = """
() => Array.from(document.querySelectorAll('.flights-chart')).every(
  el => el.textContent.includes('chart failed') || el.querySelectorAll('svg g[class*="mark-"] path').length > 0)
"""
# paths drawn by the highlight layer (black, 5 px) of the episode map
HIGHLIGHTED = """
() => Array.from(document.querySelectorAll('.flights-chart svg g.mark-line path')).filter(
  p => p.getAttribute('stroke') === '#000000' && p.getAttribute('d')).length
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does "
            "this) or point FLIGHTS_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _shots_dirs(tmp_path: Path) -> list[Path]:
    dirs = [tmp_path / "screenshots"]
    if not os.environ.get("CI"):
        dirs.append(REPO_DIR / ".build" / "screenshots")
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs


@pytest.fixture(scope="module")
def visited(built_report, browser, tmp_path_factory) -> dict:
    """Every page of the report opened once, offline: its console errors, refused requests, drawn charts and
    axe-core's violations (one visit serves the loading test and the accessibility test), and a full-page
    screenshot with ``make screenshots``."""
    t0 = time.monotonic()
    site = built_report.reports.resolve()
    pages = sorted(site.glob("*.html"))
    shots = _shots_dirs(tmp_path_factory.mktemp("browser")) if SCREENSHOTS else []
    axe = AXE.read_text(encoding="utf-8")
    refused: list[str] = []
    errors: list[str] = []
    drawn: dict[str, list[dict]] = {}
    violations: dict[str, list[dict]] = {}
    context = browser.new_context(viewport={"width": 1100, "height": 900}, device_scale_factor=1)

    def route(r):
        url = r.request.url
        if url.startswith(("file://", "data:", "blob:")):
            r.continue_()
        else:
            refused.append(url)
            r.abort()

    context.route("**/*", route)
    try:
        for path in pages:
            page = context.new_page()
            page.on(
                "console",
                lambda m, n=path.name: errors.append(f"{n}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e, n=path.name: errors.append(f"{n}: {e}"))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_function(ALL_DRAWN, timeout=30_000)
            drawn[path.name] = page.evaluate(DRAWN)
            if SCREENSHOTS:
                name = f"{path.stem}.png"
                page.screenshot(
                    path=str(shots[0] / name), full_page=True, timeout=120_000
                )  # a busy machine is slow
                for extra in shots[1:]:
                    shutil.copy2(shots[0] / name, extra / name)
            page.evaluate(
                axe
            )  # after the screenshot: axe adds nothing visible, but the picture is the page's own
            violations[path.name] = page.evaluate(AXE_RUN)
            page.close()
    finally:
        context.close()
    return {
        "pages": pages,
        "refused": refused,
        "errors": errors,
        "drawn": drawn,
        "violations": violations,
        "seconds": time.monotonic() - t0,
    }


def test_every_page_loads_offline_without_errors_and_draws_its_charts(visited):
    pages, drawn = visited["pages"], visited["drawn"]
    assert len(pages) >= 12  # the report's episodes, compare, patterns, index, methods, dictionary...
    assert sorted(drawn) == sorted(p.name for p in pages)
    for name, charts in drawn.items():
        for chart in charts:
            assert not chart["failed"] and chart["marks"] > 0, (name, chart)
    refused = visited["refused"]
    assert refused == [], f"{len(refused)} network request(s) attempted: {refused[:5]}"
    assert visited["errors"] == [], visited["errors"][:10]
    charts = sum(len(c) for c in drawn.values())
    assert charts >= 20
    print(
        f"browser: {len(pages)} pages, {charts} charts, {len(refused)} network attempts, "
        f"{visited['seconds']:.1f} s (with axe-core on every page)"
    )


def test_clicking_a_milestone_highlights_its_legs(built_report, browser, tmp_path):
    """The episode view: a click on a timeline milestone draws the legs touching that stop in black."""
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, device_scale_factor=1)
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(("file://", "data:", "blob:")) else r.abort(),
    )
    page = context.new_page()
    page.goto((built_report.reports.resolve() / EPISODE).as_uri(), wait_until="load")
    page.wait_for_function(ALL_DRAWN, timeout=30_000)
    assert page.evaluate(HIGHLIGHTED) == 0
    view = page.locator(".flights-chart").first
    view.scroll_into_view_if_needed()
    # the timeline's milestone dots: symbols whose aria description names a departure or an arrival
    dots = page.locator(
        '.flights-chart >> nth=0 >> svg g.mark-symbol path[aria-label*="What: Arrival at Caracas"]'
    )
    assert dots.count() > 0
    dots.first.click(force=True)
    page.wait_for_function(f"() => ({HIGHLIGHTED})() > 0", timeout=5_000)
    assert page.evaluate(HIGHLIGHTED) >= 2  # the legs into and out of Caracas
    page.mouse.move(5, 5)  # no tooltip over the picture
    page.wait_for_timeout(300)
    view.screenshot(path=str(tmp_path / "episode-view.png"))
    if os.environ.get("FLIGHTS_UPDATE_SCREENSHOT") or not README_SHOT.exists():
        README_SHOT.parent.mkdir(parents=True, exist_ok=True)
        view.screenshot(path=str(README_SHOT))
    if not os.environ.get("CI"):
        d = REPO_DIR / ".build" / "screenshots"
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tmp_path / "episode-view.png", d / "episode-view-selected.png")
    context.close()


AXE = REPO_DIR / "tests" / "vendor" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                 nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def _offline_context(browser, **kw):
    context = browser.new_context(viewport={"width": 1100, "height": 900}, device_scale_factor=1, **kw)
    context.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(("file://", "data:", "blob:")) else r.abort(),
    )
    return context


def test_axe_finds_no_serious_or_critical_violation_on_any_page(visited):
    """axe-core (vendored, tests/vendor/axe-core) on every page once its charts are drawn."""
    tally = visited["violations"]
    assert sorted(tally) == sorted(p.name for p in visited["pages"])
    bad = {
        name: [v for v in found if v["impact"] in ("serious", "critical")] for name, found in tally.items()
    }
    bad = {k: v for k, v in bad.items() if v}
    minor = sum(len(v) for v in tally.values())
    print(f"axe-core: {len(tally)} pages, {minor} violation kinds in all, serious or critical: {bad}")
    assert bad == {}


def test_keyboard_reaches_search_results_and_the_episode_picker(built_report, browser):
    context = _offline_context(browser)
    page = context.new_page()
    page.goto((built_report.reports.resolve() / "compare.html").as_uri(), wait_until="load")
    page.wait_for_function(ALL_DRAWN, timeout=30_000)
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(12):  # through the navigation to the search box
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "site-search":
            break
    assert page.evaluate("document.activeElement.id") == "site-search"
    page.keyboard.type("RA-78765")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("[document.activeElement.tagName, document.activeElement.getAttribute('href')]")
    assert focused[0] == "A" and focused[1].endswith(".html") or "#" in focused[1]
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "site-search"
    # the episode picker: native checkboxes; unticking one hides its rows and filters the charts
    box = page.locator('.episode-picker input[value="2025-10-caracas"]')
    box.focus()
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    assert page.locator('tr[data-episode="2025-10-caracas"]').first.is_hidden()
    assert page.locator('tr[data-episode="2019-03-caracas"]').first.is_visible()
    shown = page.evaluate(
        "Object.values(window.flightsViews).map(v => { try { return v.signal('shown_episodes') }"
        " catch (e) { return null } }).filter(Boolean)"
    )
    assert shown and all("2025-10-caracas" not in s for s in shown)
    context.close()


def test_timeline_zooms_with_the_wheel(built_report, browser):
    context = _offline_context(browser)
    page = context.new_page()
    page.goto((built_report.reports.resolve() / EPISODE).as_uri(), wait_until="load")
    page.wait_for_function(ALL_DRAWN, timeout=30_000)
    # the timeline is the second view of the episode's map-and-timeline chart: its x scale is concat_1_x
    domain = (
        "() => { const s = Object.values(window.flightsViews)[0].scale('concat_1_x');"
        " return s.domain().map(Number); }"
    )
    before = page.evaluate(domain)
    bars = page.locator(".flights-chart").first.locator("g.mark-rect").first  # the timeline's interval bars
    bars.scroll_into_view_if_needed()
    box = bars.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(500)
    after = page.evaluate(domain)
    assert after[1] - after[0] < 0.9 * (before[1] - before[0]), (before, after)  # zoomed in on the time axis
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    page.wait_for_timeout(300)
    panned = page.evaluate(domain)
    assert (
        panned[0] < after[0] and abs((panned[1] - panned[0]) - (after[1] - after[0])) < 1000
    )  # dragged later
    context.close()
