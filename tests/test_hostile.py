"""Hostile data: markup in the evidence base shows as text and never runs; arguments never become SQL or code;
ids used in file names cannot leave the reports folder."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from analysis import pageplan, provenance, queries
from analysis import report as report_mod
from analysis.build import build
from analysis.paths import Project
from analysis.validate import RawValidationError

P_SCRIPT = "<script>window.__pwned=1</script>"
P_IMG = '"><img src=x onerror="window.__pwned=2">'
P_BREAK = "</script><script>window.__pwned=3</script>"
PAYLOADS = (P_SCRIPT, P_IMG, P_BREAK)
EPISODE = "2019-03-caracas"
SQL_ARGS = ("x' OR 1=1 --", "'; DROP TABLE core_legs; --", '" OR ""="', "2019-03-caracas' --")


def _edit(path: Path, pick, **cells: str) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    n = 0
    for r in rows[1:]:
        if pick(dict(zip(header, r, strict=True))):
            for col, v in cells.items():
                r[header.index(col)] = v
            n += 1
    assert n, f"no row of {path.name} was edited"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def make_hostile(project: Project) -> None:
    raw = project.raw
    _edit(
        raw / "sources.csv",
        lambda r: r["source_id"] == "S1",
        title=f"Title {P_SCRIPT} {P_IMG}",
        outlet=f"Outlet {P_BREAK}",
        notes=f"Notes {P_IMG}",
    )
    _edit(
        raw / "episodes.csv",
        lambda r: r["episode_id"] == EPISODE,
        title=f"Caracas {P_SCRIPT} {P_BREAK}",
        summary=f"Summary {P_IMG} {P_SCRIPT}",
        notes=P_BREAK,
    )
    _edit(
        raw / "claims.csv",
        lambda r: r["episode_id"] == EPISODE,
        subject=f"Subject {P_SCRIPT} {P_IMG}",
        claimant=f"Claimant {P_BREAK}",
    )
    _edit(raw / "places.csv", lambda r: r["place_id"] == "SVMI", name=f"Maiquetía {P_IMG}")
    _edit(raw / "aircraft.csv", lambda r: r["aircraft_id"] == "RA-86496", name=f"Board {P_BREAK}")
    provenance.accept(raw)


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory) -> Project:
    from analysis.paths import REPO_DIR

    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(REPO_DIR / "data" / "raw", root / "data" / "raw")
    project = Project(root)
    make_hostile(project)
    build(project, quiet=True)
    return project


def test_javascript_url_is_rejected(fresh_project: Project) -> None:
    _edit(fresh_project.raw / "sources.csv", lambda r: r["source_id"] == "S1", url="javascript:alert(1)")
    provenance.accept(fresh_project.raw, check=False)
    with pytest.raises(RawValidationError, match=r"sources\.csv, line \d+, field 'url': expected an http"):
        build(fresh_project, quiet=True)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "..", "a/b", "x\\y", "EPISODE", "-lead-dash", "a" * 81])
def test_unsafe_ids_rejected(bad: str, fresh_project: Project) -> None:
    with pytest.raises(ValueError, match="unsafe page name"):
        pageplan.safe_page(bad)
    _edit(fresh_project.raw / "episodes.csv", lambda r: r["episode_id"] == EPISODE, episode_id=bad)
    provenance.accept(fresh_project.raw, check=False)
    with pytest.raises(
        RawValidationError, match=r"episodes\.csv, line \d+, field 'episode_id': expected an id"
    ):
        build(fresh_project, quiet=True)
    assert not (fresh_project.root / "etc").exists()


def test_safe_page_accepts_good_ids() -> None:
    assert pageplan.safe_page("episode-2019-03-caracas") == "episode-2019-03-caracas.html"
    assert pageplan.safe_page("compare.html") == "compare.html"


@pytest.mark.parametrize("arg", SQL_ARGS)
def test_query_arguments_are_bound_not_pasted(arg: str, hostile_project: Project) -> None:
    p = hostile_project
    legs_before = queries.legs(project=p).height
    with pytest.raises(queries.UnknownEpisodeError):
        queries.episode(arg, project=p)
    with pytest.raises(queries.UnknownEpisodeError):
        queries.check_episodes([EPISODE, arg], project=p)
    for fn in (
        queries.stops,
        queries.legs,
        queries.claims,
        queries.conflicts,
        queries.findings,
        queries.route_summary,
        queries.gaps,
    ):
        try:
            out = fn(arg, project=p)
        except queries.UnknownEpisodeError:
            continue
        assert out.height == 0, f"{fn.__name__}({arg!r}) returned rows"
    assert queries.findings(category=arg, project=p).height == 0
    assert queries.sources_for([arg], project=p).height == 0
    with pytest.raises(ValueError, match="unknown table"):
        queries.table(f"core_legs; {arg}", project=p)
    assert queries.sql("SELECT count(*) AS n FROM core_episodes WHERE episode_id = ?", [arg], p)["n"][0] == 0
    assert queries.legs(project=p).height == legs_before > 0


def test_hostile_text_survives_as_data(hostile_project: Project) -> None:
    ep = queries.episode(EPISODE, project=hostile_project)
    assert P_SCRIPT in ep["title"] and P_IMG in ep["summary"]


def _pages(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.html")}


def _assert_inert(name: str, page: str) -> None:
    for bad in ("<script>window.__pwned", "<img src=x", '<img src="x'):
        assert bad not in page, f"{name}: raw markup {bad!r} reached the HTML"
    # an event handler inside a real tag (outside a tag, escaped '<' keeps it as text)
    assert not re.search(r"<[a-zA-Z][^<>]*onerror=", page), f"{name}: an onerror attribute reached a tag"
    # every <script> element is ours: data (application/json that parses whole) or code free of the payloads
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S | re.I)
    for attrs, content in scripts:
        if 'type="application/json"' in attrs:
            json.loads(content)  # a payload that closed the element would leave broken JSON behind
        else:
            assert "__pwned" not in content, f"{name}: a payload is inside executable script"
    assert page.lower().count("<script") == len(scripts)


@pytest.mark.slow
def test_hostile_report_shows_markup_as_text(hostile_project: Project, monkeypatch) -> None:
    """The episode page and the index of a hostile study: payloads appear escaped, never as markup."""
    real_jobs = report_mod.jobs_for
    monkeypatch.setattr(
        report_mod,
        "jobs_for",
        lambda project, *a, **k: [
            j for j in real_jobs(project, *a, **k) if j.parameters.get("episode_id") == EPISODE
        ],
    )
    result = report_mod.report(hostile_project, workers=1)
    assert result["pages"] == 1
    pages = _pages(hostile_project.reports.resolve())
    assert {f"episode-{EPISODE}.html", "index.html"} <= set(pages), sorted(pages)
    for name, page in pages.items():
        _assert_inert(name, page)
    episode = pages[f"episode-{EPISODE}.html"]
    index = pages["index.html"]
    assert "Caracas &lt;script&gt;window.__pwned=1&lt;/script&gt;" in episode  # shown, as text
    assert "Subject &lt;script&gt;window.__pwned=1&lt;/script&gt;" in episode
    assert "Title &lt;script&gt;" in episode  # the cited source's title
    assert "Caracas &lt;script&gt;window.__pwned=1&lt;/script&gt;" in index
    assert 'type="application/json"' in episode, (
        "the episode page has no charts: the JSON check tested nothing"
    )
    assert "<title>Caracas &lt;script&gt;" in episode  # the page title is the episode title, escaped
    _browser_check(hostile_project.reports.resolve() / f"episode-{EPISODE}.html")


def _browser_check(page: Path) -> None:
    """Open the page in chromium (if playwright and /usr/bin/chromium are here): no payload ran."""
    if not Path("/usr/bin/chromium").exists():
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(page.as_uri())
            tab.wait_for_timeout(1500)
            for svg in tab.query_selector_all(".flights-chart svg path")[:20]:  # tooltips render the data too
                try:
                    svg.hover(timeout=500)
                except Exception:  # noqa: BLE001 - a hidden mark cannot be hovered; that's fine
                    pass
            assert tab.evaluate("typeof window.__pwned") == "undefined", "a payload ran in the browser"
            assert tab.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
            assert "Caracas <script>window.__pwned=1</script>" in tab.inner_text("body")
        finally:
            browser.close()


@pytest.mark.slow
def test_notebook_parameters_are_literals(hostile_project: Project, tmp_path: Path) -> None:
    """A parameter holding SQL and Python injection stops with UnknownEpisodeError and runs nothing."""
    import os

    import papermill
    from papermill.exceptions import PapermillExecutionError

    marker = tmp_path / "PWNED"
    bad = f"x' OR 1=1 --\"\nimport pathlib; pathlib.Path({str(marker)!r}).touch()\n#"
    env = os.environ.get("FLIGHTS_ROOT")
    os.environ["FLIGHTS_ROOT"] = str(hostile_project.root)
    try:
        with pytest.raises(PapermillExecutionError, match="UnknownEpisodeError"):
            papermill.execute_notebook(
                str(hostile_project.notebooks / "episode.ipynb"),
                str(tmp_path / "out.ipynb"),
                parameters={"episode_id": bad},
                kernel_name="python3",
                progress_bar=False,
                cwd=str(hostile_project.notebooks),
                log_output=False,
            )
    finally:
        if env is None:
            os.environ.pop("FLIGHTS_ROOT", None)
        else:
            os.environ["FLIGHTS_ROOT"] = env
    assert not marker.exists(), "the parameter ran as code"


def _hashes(folder: Path) -> dict[str, str]:
    import hashlib

    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_two_clean_builds_in_different_folders_are_byte_identical(tmp_path: Path) -> None:
    """data/derived is a function of the inputs and the code: two copies of the study, one in a folder whose path
    holds an apostrophe, spaces and non-ASCII letters (no SQL is assembled from paths), build to the same bytes,
    and the one in the odd folder answers queries."""
    from studykit import copy_study

    plain = copy_study(tmp_path / "plain")
    odd = copy_study(tmp_path / "O'Brien's data — Ñandú ü" / "study 2")
    first, second = build(plain, quiet=True), build(odd, quiet=True)
    a, b = _hashes(plain.current.resolve()), _hashes(odd.current.resolve())
    assert a == b, sorted(k for k in a if a[k] != b.get(k))
    assert plain.current.resolve().name == odd.current.resolve().name  # the build id comes from the inputs
    assert first["fingerprint"] == second["fingerprint"]
    legs = queries.legs("2019-03-caracas", project=odd)
    assert legs.height >= 2 and set(legs["episode_id"]) == {"2019-03-caracas"}
    with queries.connect(odd) as con:
        assert con.execute("SELECT count(*) FROM core_legs").fetchone()[0] == first["rows"]["core_legs"]
    # a forced rebuild in the same folder writes the same bytes again, beside the first
    again = build(odd, force=True, quiet=True)
    assert _hashes(Path(again["path"])) == b and Path(again["path"]).name.endswith(".2")


def test_source_date_epoch_sets_the_build_stamp(fresh_project: Project, monkeypatch) -> None:
    import json

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build(fresh_project, quiet=True)
    manifest = json.loads((fresh_project.current / "manifest.json").read_text())
    assert manifest["built_utc"] == "2023-11-14T22:13:20Z"
    assert manifest["build_id"] == manifest["fingerprint"][:20]


def test_observed_tracks_build_in_a_folder_with_an_apostrophe(tmp_path: Path) -> None:
    """The positions store and its merge of several track inputs take paths as parameters, not pasted SQL."""
    from studykit import add_observed_tracks, copy_study

    project = copy_study(tmp_path / "d'Arcy & Ñuñez data")
    add_observed_tracks(project.raw)
    provenance.accept(project.raw)
    result = build(project, quiet=True)
    assert result["status"] == "built"
    assert any(
        p.name.startswith("merged-") for p in (project.positions_cache / "positions").glob("*.parquet")
    )
    episodes = queries.episodes(project=project)
    assert episodes.filter(episodes["episode_id"].str.starts_with("obs-")).height >= 1
