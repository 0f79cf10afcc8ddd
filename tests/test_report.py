"""The report: every notebook runs, pages are offline, a rerun does little, new data alone adds a page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import nbformat
import papermill
import pytest

from analysis import queries
from analysis.report import report

NOTEBOOKS = ["episode.ipynb", "compare.ipynb", "patterns.ipynb"]
NETWORK = re.compile(
    r"""(<script[^>]+src=["']?(?:https?:|//)|<link[^>]+href=|<img[^>]+src=["']?https?:|<iframe|url\(\s*["']?https?:|@import)""",
    re.I,
)
SCRIPT_SRC = re.compile(r"""<script[^>]+src=["']([^"']+)["']""", re.I)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_clean_with_one_parameters_cell(name, built_project):
    nb = nbformat.read(built_project.notebooks / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_report_has_a_page_per_episode_and_runs_every_notebook(built_report):
    site = built_report.reports
    index = (site / "index.html").read_text(encoding="utf-8")
    for episode_id in queries.episode_ids(built_report):
        page = site / f"episode-{episode_id}.html"
        assert page.exists(), episode_id
        assert f'href="episode-{episode_id}.html"' in index
        assert "Traceback" not in page.read_text(encoding="utf-8")
    for page in ("compare.html", "patterns.html"):
        assert (site / page).exists() and f'href="{page}"' in index


def test_pages_load_nothing_from_the_network(built_report):
    pages = sorted(built_report.reports.glob("*.html"))
    assert len(pages) >= 13
    for page in pages:
        text = page.read_text(encoding="utf-8")
        hits = NETWORK.findall(text)
        assert not hits, (page.name, hits[:3])
        # scripts come from the site's own folder only, never inline: the library once for the whole site
        assert set(SCRIPT_SRC.findall(text)) <= {"assets/vega.js", "assets/site.js"}, page.name
        assert re.search(r"<script>", text) is None, page.name
        if "flights-spec" in text:
            assert '<script src="assets/vega.js">' in text
        csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
        assert (
            "script-src 'self' file:;" in csp
            and "unsafe-inline' " not in csp.split("script-src")[1].split(";")[0]
        )
        assert "unsafe-eval" not in csp
    vega = built_report.reports / "assets" / "vega.js"
    assert "vegaEmbed" in vega.read_text(encoding="utf-8")
    copies = [
        p
        for p in built_report.reports.rglob("*")
        if p.is_file()
        and p.suffix in (".js", ".html")
        and "window.vegaEmbed=" in p.read_text(encoding="utf-8", errors="replace")
    ]
    assert copies == [vega]  # one copy of the chart library in the whole site


def test_charts_are_in_the_pages(built_report):
    page = (built_report.reports / "episode-2025-10-caracas.html").read_text(encoding="utf-8")
    assert page.count('class="flights-spec"') >= 2  # the map and the timeline at least


def test_second_report_with_nothing_changed_does_little(built_report):
    t0 = time.monotonic()
    result = report(built_report)
    assert result["status"] == "up-to-date"
    assert time.monotonic() - t0 < 30  # a generous bound: no notebook may run


def test_unknown_episode_stops_the_notebook_with_the_valid_ids(built_project, tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTS_ROOT", str(built_project.root))
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(built_project.notebooks / "episode.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"episode_id": "1999-01-nowhere"},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(built_project.notebooks),
        )
    assert "UnknownEpisodeError" in str(err.value) and "2019-03-caracas" in str(err.value)


def test_new_episode_by_data_alone_appears_in_the_report(extended_report):
    """As the README says: add rows to data/raw, record checksums (make accept-raw), make report."""
    project = extended_report
    assert (project.reports / "episode-2026-11-managua.html").exists()
    assert 'href="episode-2026-11-managua.html"' in (project.reports / "index.html").read_text(
        encoding="utf-8"
    )
    e = queries.episode("2026-11-managua", project=project)
    assert e["dest_dwell_h"] == pytest.approx(18 + 55 / 60, abs=0.02)  # 14:05 to 09:00 next day, Managua time
    f = queries.findings("2026-11-managua", category="recurring airframes", project=project)
    assert "2026-11-managua" in f["episode_ids"][0].split(";") and "to Managua" in f["statement"][0]
    assert "episode-2026-11-managua.html" in json.loads((project.reports / "site.json").read_text())["pages"]
    # and joins the comparison, with no notebook edit
    assert 'value="2026-11-managua"' in (project.reports / "compare.html").read_text(encoding="utf-8")


def _kernels_of(pid: int) -> list[str]:
    import psutil

    out = []
    for p in psutil.Process(pid).children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "ipykernel" in cmd:
            out.append(cmd)
    return out


def _alive_kernel(pid: int) -> bool:
    import psutil

    try:
        p = psutil.Process(pid)
        return p.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(p.cmdline())
    except psutil.Error:
        return False


def test_pages_share_kernels_and_each_page_starts_with_an_empty_namespace(
    built_project, tmp_path, monkeypatch
):
    """Four pages on one worker, two pages a kernel. Each page's setup cell says its kernel's process id, the
    names its namespace holds and its execution count: two kernel processes ran the four pages, two each; the
    names the first page of a kernel defined (``ep``, ``sources``, ``charts``...) are gone when its second page
    starts, which sees exactly what the first one saw; the execution count starts again; no kernel is alive after
    the run."""
    from analysis import kernels
    from analysis import report as report_mod

    monkeypatch.setattr(kernels, "PAGES_PER_KERNEL", 2)
    monkeypatch.setattr(
        kernels,
        "SETUP_CELL",
        kernels.SETUP_CELL
        + (
            "\nprint('kernel-pid', __import__('os').getpid(), 'count', get_ipython().execution_count, 'names',"
            " __import__('json').dumps(sorted(n for n in dir() if not n.startswith('_'))))"
        ),
    )
    jobs = report_mod.jobs_for(built_project)
    todo = [j for j in jobs if j.notebook == "episode.ipynb"][:3] + [
        j for j in jobs if j.notebook == "patterns.ipynb"
    ]
    real_run = report_mod.run_page
    pages: list[tuple[str, int, int, list[str]]] = []

    def spy(job, project, workdir, figures, pool):
        out = real_run(job, project, workdir, figures, pool)
        nb = nbformat.read(workdir / f"{job.page.removesuffix('.html')}.ipynb", as_version=4)
        text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        m = re.search(r"kernel-pid (\d+) count (\d+) names (\[.*?\])", text)
        pages.append((job.page, int(m.group(1)), int(m.group(2)), json.loads(m.group(3))))
        assert len(_kernels_of(os.getpid())) <= 2, _kernels_of(os.getpid())  # this page's and its successor
        return out

    monkeypatch.setattr(report_mod, "run_page", spy)
    built_project.build.mkdir(parents=True, exist_ok=True)
    timings, _, pids = report_mod._run_jobs(
        todo, built_project, {j.page: f"key{i}" for i, j in enumerate(todo)}, tmp_path, workers=1
    )
    assert [p for p, *_ in pages] == [
        j.page for j in sorted(todo, key=lambda j: j.notebook == "episode.ipynb")
    ]
    by_kernel = [pid for _, pid, _, _ in pages]
    assert by_kernel[0] == by_kernel[1] != by_kernel[2] == by_kernel[3], pages  # two kernels, two pages each
    assert all(pids[page] == pid for page, pid, _, _ in pages)
    assert len({count for _, _, count, _ in pages}) == 1  # the count starts again on every page
    first = pages[0][3]
    assert all(names == first for _, _, _, names in pages), pages  # the same empty namespace on every page
    assert not {
        "ep",
        "sources",
        "stops",
        "legs",
        "findings",
        "charts",
        "queries",
        "present",
        "display",
    } & set(first)
    assert not [pid for pid in set(by_kernel) if _alive_kernel(pid)] and _kernels_of(os.getpid()) == []
    assert len(timings) == 4


def test_no_kernel_outlives_its_report_and_peak_memory_is_measured(built_report):
    import os

    from studykit import REPORT_RESULTS

    assert _kernels_of(os.getpid()) == []  # every kernel was shut down when its page was done
    result = REPORT_RESULTS[built_report.root]
    assert result["ran"] == len(queries.episode_ids(built_report)) + 2
    from collections import Counter

    from analysis.kernels import PAGES_PER_KERNEL

    pids = result["kernel_pids"]  # the kernel process of every page, none of them alive
    assert len(pids) == result["ran"] and None not in pids.values()
    assert len(set(pids.values())) < len(pids) and max(Counter(pids.values()).values()) <= PAGES_PER_KERNEL
    assert not [pid for pid in pids.values() if _alive_kernel(pid)]
    assert result["peak_mb"] > 100, result  # measured (the pytest process's own memory is in it: the bound
    # on `make report` itself is checked on a command-line run, in the byte-identical test below)
    print(f"report: {result['seconds']} s, peak memory {result['peak_mb']} MB")


def test_a_changed_notebook_reruns_only_its_pages(built_report, tmp_path):
    """The page cache is keyed on data fingerprint, code, notebook and parameters: edit one notebook, one page
    runs again (in a copy of the project, so the session's report stays as it is)."""
    import shutil

    from analysis.paths import Project

    project = Project(tmp_path / "copy")
    shutil.copytree(built_report.root, project.root, symlinks=True)
    shutil.copytree(built_report.notebooks, project.root / "notebooks")
    nb = nbformat.read(project.root / "notebooks" / "compare.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A closing note."))
    nbformat.write(nb, project.root / "notebooks" / "compare.ipynb")
    # entries of an earlier build (other data or code) in the page and figure caches
    figure_cache, page_cache = project.build / "figure-cache", project.build / "page-cache"
    stale = [
        figure_cache / f"{'0' * 64}.svg",
        figure_cache / f"{'0' * 64}.png",
        page_cache / f"{'1' * 64}.html",
    ]
    for p in stale:
        p.write_text("from an earlier build", encoding="utf-8")
    (page_cache / f"{'1' * 64}.figures").mkdir()
    stale.append(page_cache / f"{'1' * 64}.figures")
    old_compare = set(page_cache.glob("*.html")) - set(stale)
    result = report(project, pdf=False, notebooks=project.root / "notebooks")  # named as code on purpose
    assert result["status"] == "built" and result["ran"] == 1 and list(result["timings"]) == ["compare.html"]
    assert "A closing note." in (project.reports / "compare.html").read_text(encoding="utf-8")
    # the caches keep what this report used, and nothing else
    from analysis.figures import figure_key

    assert [p for p in stale if p.exists()] == []
    pages = sorted(page_cache.glob("*.html"))
    assert (
        len(pages) == result["pages"] and len(old_compare - set(pages)) == 1
    )  # the edited page's old entry went
    used = {
        f"{figure_key(spec.read_bytes())}.{ext}"
        for page in pages
        for spec in page.with_suffix(".figures").glob("*.vl.json")
        for ext in ("svg", "png")
    }
    cached = {p.name for p in figure_cache.iterdir()}
    assert used <= cached  # every notebook page's figures
    import hashlib

    published = {hashlib.sha256(f.read_bytes()).hexdigest() for f in (project.reports / "figures").iterdir()}
    unused = [
        p.name for p in figure_cache.iterdir() if hashlib.sha256(p.read_bytes()).hexdigest() not in published
    ]
    assert unused == [], unused  # each cached figure is one the published report shows


def test_compare_shows_every_episode_by_default_with_a_picker(built_report):
    page = (built_report.reports / "compare.html").read_text(encoding="utf-8")
    picked = re.findall(r'<input[^>]*name="episode"[^>]*value="([^"]+)"', page) or re.findall(
        r'<input[^>]*value="([^"]+)"[^>]*name="episode"', page
    )
    assert picked == queries.episode_ids(built_report)
    assert '"name": "shown_episodes"' in page or '"name":"shown_episodes"' in page


def test_compare_takes_a_chosen_set_by_parameter(built_project, tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTS_ROOT", str(built_project.root))
    chosen = ["2019-03-caracas", "2026-02-san-antonio"]
    out = papermill.execute_notebook(
        str(built_project.notebooks / "compare.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters={"episode_ids": chosen},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(built_project.notebooks),
    )
    html_out = "".join(
        o.get("data", {}).get("text/html", "") for c in out.cells if c.cell_type == "code" for o in c.outputs
    )
    values = re.findall(r'value="([^"]+)"', html_out.split("</fieldset>")[0])
    assert values == chosen
    summary = html_out.split("</fieldset>")[1].split("</table>")[0]
    assert sorted(set(re.findall(r'<tr data-episode="([^"]+)"', summary))) == sorted(chosen)


def test_pages_read_as_prose_not_as_column_names(built_report):
    ep = queries.episode("2025-10-caracas", project=built_report)
    page = (built_report.reports / "episode-2025-10-caracas.html").read_text(encoding="utf-8")
    assert re.search(r"<h1[^>]*>" + re.escape(ep["title"].replace("&", "&amp;")), page)
    assert "<h1>Episode</h1>" not in page and "— – —" not in page and ">—<" not in page
    headings = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    for raw in ("place_precision", "dwell_min_h", "arr_reported", "source_ids", "distance_km"):
        assert raw not in headings
    assert "not reported" in page
    # distances rounded: no decimals in a km cell of the legs table
    legs = (
        page.split("<h2>Legs")[1].split("</table>")[0] if "<h2>Legs" in page else page.split('id="Legs"')[1]
    )
    assert not re.search(r"<td>\d{1,3}(,\d{3})+\.\d+</td>", legs)  # no "14,985.56"
    assert not re.search(r"<td>\d+\.\d{2,}</td>", legs)
    # a reported date carries its UTC interval for hover and focus
    assert re.search(r'<span class="reported" tabindex="0" title="UTC: [^"]+">', page)
    # the main route before its variants
    variants = re.findall(r"<td>RA-78765</td><td>(main|seed-\d+)</td>", page)
    assert variants and variants[0] == "main" and variants.index("main") == 0
    assert variants == sorted(variants, key=lambda v: v != "main")


def test_search_index_covers_every_kind_and_links_resolve(built_report):
    site = built_report.reports
    page = (site / "index.html").read_text(encoding="utf-8")
    index = json.loads(
        re.search(r'<script type="application/json" id="search-index">(.*?)</script>', page, re.S).group(1)
    )
    kinds = {e["kind"] for e in index}
    assert kinds == {"episode", "aircraft", "place", "source", "finding"}
    assert sum(e["kind"] == "episode" for e in index) == len(queries.episode_ids(built_report))
    for e in index:
        target, _, anchor = e["url"].partition("#")
        text = (site / target).read_text(encoding="utf-8")
        assert not anchor or f'id="{anchor}"' in text, e


def test_print_edition_is_a_pdf_with_every_page(built_report):
    pdf = (built_report.reports / "study.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type /Page\b", pdf))
    assert pages > len(list(built_report.reports.glob("*.html")))  # every page, most longer than a sheet
    assert b"/XObject" in pdf  # the figures


def test_two_clean_builds_in_different_folders_are_byte_identical(built_report, tmp_path):
    """Issue 10: reports/ hashed file by file after two clean builds of the same raw data in two folders: the
    session's report (built in-process) and a second one built here by the command line, in a folder of another
    name (with a space in it)."""
    import hashlib
    import shutil

    from analysis.build import build
    from analysis.paths import Project

    def digests(project) -> dict[str, str]:
        site = project.reports.resolve()
        return {
            f.relative_to(site).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(site.rglob("*"))
            if f.is_file()
        }

    project = Project(tmp_path / "second build")
    shutil.copytree(built_report.raw, project.raw)  # the same data/raw, byte for byte (its records included)
    build(project, quiet=True)
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "report"],
        capture_output=True,
        text=True,
        env={**os.environ, "FLIGHTS_ROOT": str(project.root)},
        timeout=900,
    )
    assert run.returncode == 0, run.stderr
    peak = re.search(r"peak memory (\d+) MB", run.stdout)
    assert peak and 100 < int(peak.group(1)) < 1536, run.stdout[-800:]  # issue 10: `make report` under 1.5 GB
    a, b = digests(built_report), digests(project)
    assert a.keys() == b.keys()
    differ = sorted(k for k in a if a[k] != b[k])
    assert differ == [], differ[:10]  # pages, figures, study.pdf, site.json and the exported data alike
