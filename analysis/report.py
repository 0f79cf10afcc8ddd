"""``make report``: build the data, run every notebook with papermill, write an offline HTML site.

Jobs: ``episode.ipynb`` once per episode, ``compare.ipynb`` and ``patterns.ipynb`` once each. Each executed
notebook becomes an HTML page without code cells; charts are drawn by the vega scripts inlined in the page,
so no page loads anything from the network. Pages are assembled in ``.build/reports/<id>.partial`` and
published by swapping the ``reports`` symlink: a failed or killed run leaves the previous report intact.

A job whose inputs (derived data fingerprint, notebook, package code, parameters) are unchanged reuses its
cached page and figures, and when no page changed the published report is left as it is.

Besides the notebook pages the site has pages written by :mod:`analysis.site` (index with the key findings,
methods and sources, data dictionary), every chart as SVG and PNG under ``figures/`` (saved by the charts
renderer while the notebook runs: the report points ``FLIGHTS_FIGURES_DIR`` at a folder per job, and the folder
is cached with the page), and the exports of :mod:`analysis.exports` under ``exports/``.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .build import build
from .paths import PACKAGE_DIR, Project, default_project
from .schema import SAFE_ID_PATTERN

__all__ = ["report", "Job", "jobs_for", "render_page", "vega_bundle", "PAGE_CSS"]

SAFE = re.compile(SAFE_ID_PATTERN)


@dataclass(frozen=True)
class Job:
    """One notebook run: which notebook, with which parameters, written to which page."""

    notebook: str
    parameters: dict
    page: str  # file name under reports/, e.g. episode-2019-03-caracas.html
    title: str


def _safe_page(name: str) -> str:
    """A page file name that cannot leave the reports folder."""
    stem = name.removesuffix(".html")
    if not SAFE.match(stem) or "/" in name or "\\" in name or ".." in name:
        raise ValueError(f"unsafe page name {name!r}: ids used in file names must match {SAFE_ID_PATTERN}")
    return f"{stem}.html"


def jobs_for(project: Project) -> list[Job]:
    """The notebook runs the report needs, from the current data."""
    from . import queries

    eps = queries.episodes(project)
    jobs = [Job("episode.ipynb", {"episode_id": e}, _safe_page(f"episode-{e}"), f"Episode {t}")
            for e, t in zip(eps["episode_id"], eps["title"], strict=True)]
    jobs.append(Job("compare.ipynb", {}, "compare.html", "Comparison of episodes"))
    jobs.append(Job("patterns.ipynb", {}, "patterns.html", "Patterns across all episodes"))
    return jobs


def vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one script (shipped inside vl-convert-python: no download)."""
    import vl_convert

    return vl_convert.javascript_bundle()


PAGE_CSS = """
:root { --ink:#1d1d1d; --muted:#5b5b5b; --line:#dddddd; --accent:#0072B2; --bg:#fbfbf8; }
* { box-sizing: border-box; }
body { font: 15px/1.55 Helvetica, Arial, sans-serif; color: var(--ink); background: var(--bg); margin: 0; }
header.site { background: #1d2a3a; color: #fff; padding: 10px 24px; }
header.site a { color: #fff; margin-right: 16px; text-decoration: none; }
header.site a:hover { text-decoration: underline; }
main { max-width: 1180px; margin: 0 auto; padding: 12px 24px 60px; background: #fff; }
h1 { font-size: 26px; margin: 18px 0 6px; } h2 { font-size: 20px; margin-top: 28px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; }
table.data, table.kv { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
table.data th, table.data td, table.kv th, table.kv td { border: 1px solid var(--line); padding: 4px 7px; text-align: left; vertical-align: top; }
table.data th, table.kv th { background: #f2f2ee; }
.table-wrap { overflow-x: auto; }
.flights-chart { margin: 10px 0 4px; overflow-x: auto; }
.figure-links { font-size: 12px; color: var(--muted); margin: 0 0 22px; }
a.url { word-break: break-all; }
a.anchor-link { visibility: hidden; margin-left: 6px; text-decoration: none; color: var(--muted); }
h1:hover a.anchor-link, h2:hover a.anchor-link, h3:hover a.anchor-link { visibility: visible; }
ul.toc { columns: 3; font-size: 13px; } .conflict { margin-bottom: 18px; } small { color: var(--muted); font-weight: normal; }
ol.findings li { margin-bottom: 12px; } .finding .statement { margin: 0; font-weight: 600; }
.finding .meta { margin: 2px 0; color: var(--muted); font-size: 13px; }
.confidence-high { color: #006d4e; } .confidence-moderate { color: #8a5a00; } .confidence-low { color: #a33; }
details summary { cursor: pointer; color: var(--accent); font-size: 13px; }
.jp-OutputArea-output pre, pre { white-space: pre-wrap; font-size: 12px; }
.jp-InputPrompt, .jp-OutputPrompt, .prompt { display: none; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
"""

EMBED = """
document.querySelectorAll('script.flights-spec').forEach(function (node) {
  var target = document.getElementById(node.getAttribute('data-target'));
  if (!target) { return; }
  var spec = JSON.parse(node.textContent);
  vegaEmbed(target, spec, {renderer: 'svg', actions: {export: true, source: false, compiled: false, editor: false}})
    .then(function (result) { window.flightsViews = window.flightsViews || {}; window.flightsViews[target.id] = result.view; })
    .catch(function (err) { target.textContent = 'chart failed: ' + err; console.error(err); });
});
"""


def _nav(jobs: list[Job]) -> str:
    from .site import NAV_PAGES

    links = [f'<a href="{html.escape(page)}">{html.escape(label)}</a>' for page, label in NAV_PAGES]
    return '<header class="site"><nav>' + "".join(links) + "</nav></header>"


def render_page(title: str, body: str, nav: str, bundle: str, charts: bool = True) -> str:
    """A complete offline page: inline CSS, inline vega scripts (only when the page has charts)."""
    scripts = f"<script>{bundle}</script>" if charts else ""
    embed = f"<script>{EMBED}</script>" if charts else ""
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'unsafe-eval'; "
           "font-src data:")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style>{scripts}</head>"
            f"<body>{nav}<main>{body}<footer>Built offline from data/raw by <code>make report</code>. "
            f"Times are UTC.</footer></main>{embed}</body></html>")


def _code_hash() -> str:
    """Hash of the code that shapes pages (queries, charts, HTML). Code that shapes the data (build, SQL,
    findings, tracks) reaches pages through the data fingerprint instead."""
    from .build import DATA_MODULES

    h = hashlib.sha256()
    for f in sorted(PACKAGE_DIR.rglob("*")):
        rel = f.relative_to(PACKAGE_DIR).as_posix()
        if (f.suffix == ".py" and "__pycache__" not in f.parts and rel not in DATA_MODULES
                and not rel.startswith(("tracks/", "sql/"))):
            h.update(rel.encode() + f.read_bytes())
    return h.hexdigest()


def _kernel_manager(env: dict[str, str]):
    """A kernel manager whose kernel gets ``env`` on top of ours (no shared os.environ between parallel jobs)."""
    from jupyter_client.manager import AsyncKernelManager

    class _JobKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):  # type: ignore[override]
            merged = dict(kw.pop("env", None) or os.environ)
            merged.update(env)
            return await self._async_start_kernel(env=merged, **kw)

    return _JobKernelManager(kernel_name="python3")


#: kernel options: log only errors (hides ipykernel's "Kernel is running over TCP" warning on every start)
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


def _run(job: Job, project: Project, workdir: Path, figures: Path | None = None) -> str:
    """Execute one notebook with papermill and return its HTML body (no code cells).

    Charts the notebook shows are also saved as SVG and PNG into ``figures`` (when given).
    """
    import logging

    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    from .charts import FIGURE_PREFIX_ENV, FIGURES_ENV

    logging.getLogger("traitlets").setLevel(logging.ERROR)  # "Could not destroy zmq context" noise at clean-up

    out = workdir / f"{job.page.removesuffix('.html')}.ipynb"
    env = {"FLIGHTS_ROOT": str(project.root), FIGURE_PREFIX_ENV: job.page.removesuffix(".html"),
           "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore::DeprecationWarning")}
    if figures is not None:
        env[FIGURES_ENV] = str(figures)
    papermill.execute_notebook(
        str(project.notebooks / job.notebook), str(out), parameters=job.parameters, kernel_name="python3",
        progress_bar=False, cwd=str(project.notebooks), log_output=False, km=_kernel_manager(env),
        extra_arguments=KERNEL_ARGS)
    nb = nbformat.read(str(out), as_version=4)
    nb.cells = [c for c in nb.cells if "parameters" not in c.get("metadata", {}).get("tags", [])
                and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    return body


def report(project: Project | None = None, force: bool = False, out_link: Path | None = None,
           workers: int = 2) -> dict:
    """Build data, run every notebook, publish the site. Returns what was done, with timings."""
    project = project or default_project()
    t0 = time.monotonic()
    link = out_link or project.reports
    # one lock for data and pages: no other build can publish or prune data/derived while notebooks read it
    with atomic.exclusive(project.lock):
        result = build(project)
        jobs = jobs_for(project)
        code = _code_hash()
        cache = project.build / "page-cache"
        cache.mkdir(parents=True, exist_ok=True)
        keys = {}
        for job in jobs:
            nb_hash = hashlib.sha256((project.notebooks / job.notebook).read_bytes()).hexdigest()
            keys[job.page] = hashlib.sha256(json.dumps(
                [result["fingerprint"], code, nb_hash, job.notebook, job.parameters], sort_keys=True).encode()).hexdigest()
        site_key = hashlib.sha256(json.dumps(sorted(keys.items())).encode()).hexdigest()
        current = link / "site.json"
        if not force and current.exists():
            try:
                if json.loads(current.read_text())["site_key"] == site_key:
                    print(f"reports/ is up to date ({len(jobs)} pages); nothing to do", flush=True)
                    return {"status": "up-to-date", "pages": len(jobs), "seconds": round(time.monotonic() - t0, 1)}
            except (KeyError, json.JSONDecodeError):
                pass
        todo = [j for j in jobs if force or not (cache / f"{keys[j.page]}.html").exists()
                or not (cache / f"{keys[j.page]}.figures").is_dir()]
        print(f"report: {len(jobs)} pages, {len(jobs) - len(todo)} unchanged, {len(todo)} notebook run(s) to do", flush=True)
        done = started = 0
        with tempfile.TemporaryDirectory(prefix="nb-", dir=project.build) as tmp:
            def run(job: Job) -> tuple[Job, float]:
                nonlocal done, started
                s = time.monotonic()
                started += 1
                print(f"  [start {started}/{len(todo)}] {job.notebook} {json.dumps(job.parameters)} -> {job.page}",
                      flush=True)
                figs = Path(tmp) / f"{job.page.removesuffix('.html')}.figures"
                body = _run(job, project, Path(tmp), figs)
                figs.mkdir(exist_ok=True)
                final_figs = cache / f"{keys[job.page]}.figures"
                shutil.rmtree(final_figs, ignore_errors=True)
                shutil.copytree(figs, cache / f"{keys[job.page]}.figures.partial-{os.getpid()}-{id(job)}")
                os.replace(cache / f"{keys[job.page]}.figures.partial-{os.getpid()}-{id(job)}", final_figs)
                part = cache / f"{keys[job.page]}.html.partial-{os.getpid()}"
                part.write_text(body, encoding="utf-8")
                os.replace(part, cache / f"{keys[job.page]}.html")
                done += 1
                print(f"  [{done}/{len(todo)}] {job.notebook} {json.dumps(job.parameters)} -> {job.page} "
                      f"in {time.monotonic() - s:.1f} s ({len(todo) - done} remaining)", flush=True)
                return job, time.monotonic() - s

            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                timings = list(pool.map(run, todo))
        builds = project.build / "reports"
        partial = atomic.new_build_dir(builds)
        try:
            bundle = vega_bundle()
            nav = _nav(jobs)
            (partial / "figures").mkdir()
            for job in jobs:
                body = (cache / f"{keys[job.page]}.html").read_text(encoding="utf-8")
                (partial / job.page).write_text(render_page(job.title, body, nav, bundle), encoding="utf-8")
                for fig in sorted((cache / f"{keys[job.page]}.figures").iterdir()):
                    shutil.copy2(fig, partial / "figures" / fig.name)
            _site_pages(project, partial, nav, bundle)
            (partial / "site.json").write_text(json.dumps({"site_key": site_key, "pages": [j.page for j in jobs]}), encoding="utf-8")
            final = atomic.publish(partial, link)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        atomic.prune(builds, link)
        secs = round(time.monotonic() - t0, 1)
        print(f"report written: {link}/index.html ({len(jobs)} pages, {len(todo)} run) in {secs} s", flush=True)
        return {"status": "built", "pages": len(jobs), "ran": len(todo), "seconds": secs, "path": str(final),
                "timings": {j.page: round(t, 1) for j, t in timings}}


def _site_pages(project: Project, partial: Path, nav: str, bundle: str) -> None:
    """The index, methods and dictionary pages, and the exports, written into the partial build."""
    from . import exports, site

    t = time.monotonic()
    pages = [("index.html", "Russian state flights to Latin America", site.index_body),
             ("methods.html", "Methods and sources", site.methods_body),
             ("dictionary.html", "Data dictionary", site.dictionary_body)]
    for page, title, body in pages:
        (partial / page).write_text(render_page(title, body(project), nav, bundle, charts=False), encoding="utf-8")
    exports.write_exports(partial / "exports", project)
    print(f"  site pages and exports written in {time.monotonic() - t:.1f} s", flush=True)


def _index(project: Project, jobs: list[Job]) -> str:
    from . import present, queries

    eps = queries.episodes(project)
    findings = queries.findings(project=project)
    sources = queries.sources(project)
    rows = "".join(
        f'<tr><td><a href="{html.escape(_safe_page("episode-" + r["episode_id"]))}">{html.escape(r["episode_id"])}</a></td>'
        f"<td>{html.escape(r['title'])}</td><td>{html.escape(present.fmt(r['aircraft_labels']))}</td>"
        f"<td>{html.escape(present.fmt(r['first_time_utc']))}</td></tr>"
        for r in eps.iter_rows(named=True))
    return (
        "<h1>Russian state and military transport flights to Latin America, 2008 to today</h1>"
        f"<p>{eps.height} episodes, {findings.height} findings computed from the data, {sources.height} sources. "
        "Every number traces back to rows in data/raw and their sources.</p>"
        '<p><a href="patterns.html">Patterns across all episodes</a> · <a href="compare.html">Comparison of episodes</a></p>'
        "<h2>Episodes</h2><table class='data'><thead><tr><th>Episode</th><th>Title</th><th>Aircraft</th>"
        f"<th>First dated milestone</th></tr></thead><tbody>{rows}</tbody></table>"
        "<h2>Findings</h2>" + present.findings_list(findings, sources).data
    )

