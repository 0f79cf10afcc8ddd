"""``make report``: build the data, run every notebook with papermill, write an offline HTML site.

Jobs: ``episode.ipynb`` once per episode, ``compare.ipynb`` and ``patterns.ipynb`` once each. Each executed
notebook becomes an HTML page without code cells; charts are drawn by the site's one copy of the vega scripts
(``assets/vega.js``, shipped inside vl-convert-python), so no page loads anything from the network. Pages are assembled in ``.build/reports/<id>.partial`` and
published by swapping the ``reports`` symlink: a failed or killed run leaves the previous report intact.

A job whose inputs (derived data fingerprint, notebook, package code, parameters) are unchanged reuses its
cached page and figures, and when no page changed the published report is left as it is. Once a report is
published, the page and figure caches (``.build/page-cache``, ``.build/figure-cache``) keep only what it used.

Besides the notebook pages the site has pages written by :mod:`analysis.site` (index with the key findings,
methods and sources, data dictionary), every chart as SVG and PNG under ``figures/`` (saved by the charts
renderer while the notebook runs: the report points ``FLIGHTS_FIGURES_DIR`` at a folder per job, and the folder
is cached with the page), and the exports of :mod:`analysis.exports` under ``exports/``.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .build import build
from .paths import PACKAGE_DIR, REPO_DIR, Project, as_project
from .schema import SAFE_ID_PATTERN

__all__ = ["report", "Job", "jobs_for", "render_page", "vega_bundle", "write_assets", "PAGE_CSS", "PAGE_CSP"]

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


def jobs_for(project: Project, compare: list[str] | None = None) -> list[Job]:
    """The notebook runs the report needs, from the current data.

    Pages are data: an episode page per episode row, then the cross-episode pages. The comparison takes every
    episode unless ``compare`` names some (``make report COMPARE=a,b,c``).
    """
    from . import queries

    eps = queries.episodes(project)
    jobs = [Job("episode.ipynb", {"episode_id": e}, _safe_page(f"episode-{e}"), t)
            for e, t in zip(eps["episode_id"], eps["title"], strict=True)]
    jobs.append(Job("compare.ipynb", {"episode_ids": list(compare) if compare else None}, "compare.html",
                    "Comparison of episodes"))
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
header.site nav a { color: #fff; margin-right: 16px; text-decoration: none; }
header.site nav a:hover { text-decoration: underline; }
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
ol.findings li { margin-bottom: 12px; } .finding .headline { margin: 0; font-weight: 600; } .finding .statement { margin: 4px 0 0; }
.finding .meta { margin: 2px 0; color: var(--muted); font-size: 13px; }
.confidence-high { color: #006d4e; } .confidence-moderate { color: #8a5a00; } .confidence-low { color: #a33; }
details summary { cursor: pointer; color: var(--accent); font-size: 13px; }
.jp-OutputArea-output pre, pre { white-space: pre-wrap; font-size: 12px; }
.jp-InputPrompt, .jp-OutputPrompt, .prompt { display: none; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
.sr-only, .utc-interval { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
a.skip { position: absolute; left: -9999px; } a.skip:focus { left: 8px; top: 8px; background: #fff; color: #000;
  padding: 6px 10px; z-index: 10; }
header.site { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 8px; }
.search { position: relative; } .search label { margin-right: 6px; }
.search input { width: 330px; max-width: 60vw; padding: 4px 8px; font-size: 14px; border: 1px solid #888;
  border-radius: 3px; }
#search-results { position: absolute; right: 0; top: 34px; z-index: 20; list-style: none; margin: 0; padding: 4px 0;
  width: 520px; max-width: 90vw; max-height: 70vh; overflow-y: auto; background: #fff; color: #1d1d1d;
  border: 1px solid #999; box-shadow: 0 4px 14px rgba(0,0,0,.18); }
#search-results li { padding: 0; } #search-results a { display: block; padding: 5px 10px; color: #1d1d1d !important;
  text-decoration: none; margin: 0; } #search-results a:hover, #search-results a:focus { background: #e8f1f8; }
#search-results .kind { display: inline-block; min-width: 64px; font-size: 11px; text-transform: uppercase;
  color: #444; } #search-results .detail { color: #555; font-size: 12px; }
:focus-visible { outline: 3px solid #E69F00; outline-offset: 2px; }
.reported { border-bottom: 1px dotted #777; cursor: help; }
figure.flights-figure { margin: 10px 0 22px; } details.chart-data { margin: 2px 0 4px; }
fieldset.episode-picker { border: 1px solid var(--line); padding: 8px 12px; margin: 10px 0 18px; }
fieldset.episode-picker legend { font-weight: 600; } .picker-boxes { columns: 2; font-size: 13px; }
.picker-boxes label { display: block; } .picker-status { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
p.empty { color: var(--muted); font-style: italic; }
.synthetic-banner { border: 2px solid #D55E00; background: #fff4ec; padding: 10px 14px; margin: 12px 0; }
.synthetic-mark { display: inline-block; font-size: 11px; font-weight: 600; color: #fff; background: #D55E00;
  border-radius: 3px; padding: 0 5px; text-transform: uppercase; letter-spacing: .03em; }
.missing { color: var(--muted); font-style: italic; }
ol.key-findings { list-style: none; padding: 0; counter-reset: key; }
ol.key-findings > li.finding { display: grid; grid-template-columns: minmax(0, 1fr) 440px; gap: 8px 22px;
  align-items: start; border-top: 1px solid var(--line); padding: 14px 0 6px; margin: 0; }
ol.key-findings > li.finding:first-child { border-top: none; }
ol.key-findings .category { margin: 0; font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
ol.key-findings .headline { font-size: 18px; line-height: 1.35; margin: 4px 0 6px; }
ol.key-findings .key-chart figure { margin: 0; } ol.key-findings .key-chart .flights-chart { margin: 0; }
@media (max-width: 900px) { ol.key-findings > li.finding { grid-template-columns: minmax(0, 1fr); } }
"""

#: The page script: charts, the episode picker, the search box (analysis/assets/site.js, inlined)
SITE_JS = (PACKAGE_DIR / "assets" / "site.js").read_text(encoding="utf-8")


def _nav(jobs: list[Job], search_index: str = "[]") -> str:
    """Skip link, site navigation and the offline search box (its index inlined as JSON)."""
    from .site import NAV_PAGES

    links = [f'<a href="{html.escape(page)}">{html.escape(label)}</a>' for page, label in NAV_PAGES]
    safe = search_index.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return ('<a class="skip" href="#content">Skip to the content</a>'
            '<header class="site"><nav aria-label="Site">' + "".join(links) + "</nav>"
            '<div class="search" role="search"><label for="site-search">Search</label>'
            '<input id="site-search" type="search" autocomplete="off" '
            'aria-describedby="search-help search-count" '
            'placeholder="episodes, aircraft, places, sources, findings">'
            '<span id="search-help" class="sr-only">Results appear below as you type; press the down arrow to '
            'move into them, Escape to clear.</span><span id="search-count" class="sr-only" aria-live="polite">'
            '</span><ul id="search-results" hidden></ul></div></header>'
            f'<script type="application/json" id="search-index">{safe}</script>')


#: Where the site's scripts live, relative to its root: one copy of the chart library for every page.
ASSETS = "assets"
VEGA_JS = f"{ASSETS}/vega.js"
SITE_JS_FILE = f"{ASSETS}/site.js"
#: The pages' content-security policy: scripts only from the site's own folder ('self'; ``file:`` for browsers
#: that give a file:// page no origin of its own), never inline (the specs and the search index are inert JSON
#: blocks); no eval either: vega-embed compiles expressions with vega's interpreter (``ast: true`` in site.js).
PAGE_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'self' file:; "
            "font-src data:")


def write_assets(site: Path) -> list[Path]:
    """The site's scripts, once for all pages: ``assets/vega.js`` (vega, vega-lite and vega-embed from
    vl-convert-python) and ``assets/site.js`` (charts, picker, search)."""
    folder = site / ASSETS
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in ((VEGA_JS, vega_bundle()), (SITE_JS_FILE, SITE_JS)):
        (site / name).write_text(text, encoding="utf-8")
        out.append(site / name)
    return out


def render_page(title: str, body: str, nav: str, bundle: str | None = None, charts: bool = True) -> str:
    """A complete offline page: inline CSS; the chart library (only when the page has charts) and the page script
    loaded from the site's ``assets/`` folder (:func:`write_assets`). ``bundle`` is ignored (kept for callers
    of the time the library was inlined in every page)."""
    scripts = f'<script src="{VEGA_JS}"></script>' if charts else ""
    embed = f'<script src="{SITE_JS_FILE}"></script>'
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{PAGE_CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style>{scripts}</head>"
            f'<body>{nav}<main id="content" tabindex="-1">{body}<footer>Built offline from data/raw by '
            "<code>make report</code>. "
            f"Times are UTC.</footer></main>{embed}</body></html>")


def _code_hash() -> str:
    """Hash of the code that shapes pages (queries, charts, HTML, vendored scripts) and of the libraries that draw
    them. Code that shapes the data (build, SQL, findings, tracks) reaches pages through the data fingerprint."""
    from importlib.metadata import version

    from .build import DATA_MODULES

    h = hashlib.sha256()
    for f in sorted(PACKAGE_DIR.rglob("*")):
        rel = f.relative_to(PACKAGE_DIR).as_posix()
        if "__pycache__" in f.parts or not f.is_file():
            continue
        if ((f.suffix == ".py" and rel not in DATA_MODULES and not rel.startswith(("tracks/", "sql/", "discover/")))
                or rel.startswith("assets/")):
            h.update(rel.encode() + b"\0" + f.read_bytes())
    for lib in ("altair", "vl-convert-python", "papermill", "nbconvert", "polars", "duckdb"):
        h.update(f"{lib}={version(lib)}".encode())
    return h.hexdigest()


#: kernel options: log only errors (hides ipykernel's "Kernel is running over TCP" warning on every start); no
#: input history (nothing written to ~/.ipython, nothing lost when a page's kernel is killed after its page)
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]

#: First cell of every notebook run (removed from the page): the figure settings of this page.
SETUP_CELL = """import os as _os
import sys as _sys
# altair's schema validation imports jsonschema, which builds an IRI grammar (1.3 s) that no chart needs
_sys.modules.setdefault("rfc3987_syntax", None)
_os.environ.update({env})
from analysis import charts as _charts
_charts.start_page()
del _os, _sys, _charts"""
SETUP_TAG = "flights-setup"

#: Run in each kernel as soon as it has started, while it waits for its page (another page is running): the
#: heavy imports and the database connection, so that a page's own start costs little. The namespace is emptied
#: after (modules stay imported).
WARM_CODE = """import sys as _sys
_sys.modules.setdefault("rfc3987_syntax", None)
import altair, duckdb, polars
import IPython.display
from analysis import charts, present, queries
try:
    queries.sources()  # opens the database (a quarter of a second): every page starts with a query
except Exception:
    pass  # the page itself reports it
get_ipython().run_line_magic("reset", "-f")"""


class _Kernel:
    """One python3 kernel for one page: started (and warmed with :data:`WARM_CODE`) by :class:`_KernelPool`, or by
    nbclient on first use; because the kernel manager is ours, nbclient leaves it running and :meth:`shutdown`
    ends it (the report calls it as soon as the page is done, or after a failure)."""

    def __init__(self, env: dict[str, str]):
        import threading

        from jupyter_client.manager import AsyncKernelManager

        clients = self.clients = []

        class _Manager(AsyncKernelManager):
            async def start_kernel(self, **kw):  # type: ignore[override]
                merged = dict(kw.pop("env", None) or os.environ)
                merged.update(env)
                return await self._async_start_kernel(env=merged, **kw)

            def client(self, **kw):  # type: ignore[override]
                c = super().client(**kw)
                clients.append(c)
                return c

        self.km = _Manager(kernel_name="python3")
        self.pages = 0
        self.pid: int | None = None
        self._lock = threading.Lock()
        self._down = False

    def warm(self) -> None:
        """Start the kernel and run :data:`WARM_CODE` in it (in a pool thread, while another page runs)."""
        from jupyter_core.utils import run_sync

        with self._lock:
            if self._down:
                return
            run_sync(self.km.start_kernel)(extra_arguments=KERNEL_ARGS)
            self.pid = getattr(self.km.provisioner, "pid", None)
        run_sync(self._warm)()

    async def _warm(self) -> None:
        kc = self.km.client()
        self.clients.remove(kc)  # not the page's client: stopped here
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=120)
            reply = await kc.execute_interactive(WARM_CODE, timeout=300, store_history=False,
                                                 output_hook=lambda msg: None)
            if reply["content"].get("status") != "ok":  # the page itself will then fail with the real error
                print(f"  (kernel warm-up failed: {reply['content'].get('ename')}: {reply['content'].get('evalue')})",
                      flush=True)
        finally:
            kc.stop_channels()

    def release_clients(self) -> None:
        while self.clients:
            c = self.clients.pop()
            try:
                c.stop_channels()
            except Exception:  # noqa: BLE001 - a client already closed
                pass

    def shutdown(self) -> None:
        from jupyter_core.utils import run_sync

        with self._lock:
            self._down = True
            self.release_clients()
            try:
                if self.km.has_kernel:
                    run_sync(self.km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - a kernel that died already
                pass


class _KernelPool:
    """A kernel of its own for every page, shut down as soon as the page is done.

    Starting a kernel and importing polars, altair and duckdb in it costs about a second; so that pages do not wait
    for it, the pool keeps one kernel warming per worker: when a page takes its kernel, the pool starts the next
    one (:meth:`_Kernel.warm`) while the page runs. At most ``workers`` kernels run pages and ``workers`` more warm;
    no more kernels are started than there are pages, and none before a page asks for one. The page's kernel is
    shut down by :func:`_run` as soon as the page is done (a kill, about 0.1 s: its outputs are all in, and it keeps
    no history); :meth:`close` ends whatever is left, after a failure too.
    """

    def __init__(self, env: dict[str, str], workers: int, pages: int):
        import queue
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.env = env
        self._left = pages
        self._lock = threading.Lock()
        self._ready: queue.Queue = queue.Queue()
        self._warmers = ThreadPoolExecutor(max(1, workers), thread_name_prefix="kernel-warm")
        self.kernels: list[_Kernel] = []
        #: page -> process id of the kernel it ran in
        self.pids: dict[str, int | None] = {}

    def _start_one(self, only_if_none_ready: bool = False) -> None:
        with self._lock:
            if self._left <= 0 or (only_if_none_ready and not self._ready.empty()):
                return
            self._left -= 1
            kernel = _Kernel(self.env)
            self.kernels.append(kernel)
            self._ready.put((kernel, self._warmers.submit(kernel.warm)))

    def take(self, page: str) -> _Kernel:
        """A started, warmed kernel for ``page`` (the next one starts warming now)."""
        self._start_one(only_if_none_ready=True)  # the first pages: nothing warmed yet
        kernel, warming = self._ready.get()
        self._start_one()
        warming.result()
        self.pids[page] = kernel.pid
        return kernel

    def close(self) -> None:
        self._warmers.shutdown(wait=True, cancel_futures=True)
        for kernel in self.kernels:
            kernel.shutdown()


def _prepare(job: Job, project: Project, workdir: Path, env: dict[str, str]) -> Path:
    """The job's notebook with the setup cell in front, written to the scratch folder."""
    import nbformat

    nb = nbformat.read(str(project.notebooks / job.notebook), as_version=4)
    cell = nbformat.v4.new_code_cell(SETUP_CELL.format(env=json.dumps(env, sort_keys=True)))
    cell.metadata["tags"] = [SETUP_TAG]
    nb.cells.insert(0, cell)
    path = workdir / f"{job.page.removesuffix('.html')}.input.ipynb"
    nbformat.write(nb, str(path))
    return path


_local = __import__("threading").local()


def _exporter():
    from nbconvert import HTMLExporter

    if getattr(_local, "exporter", None) is None:
        _local.exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                                       exclude_output_prompt=True)
    return _local.exporter


def _run(job: Job, project: Project, workdir: Path, figures: Path | None = None,
         kernels: _KernelPool | None = None) -> tuple[str, list[tuple[float, str]]]:
    """Execute one notebook with papermill; return its HTML body (no code cells) and each cell's seconds.

    Charts the notebook shows are written as vega-lite specs into ``figures`` (when given); the report renders
    them to SVG and PNG outside the kernel. The page runs in a kernel of its own, from ``kernels`` (started and
    warmed while an earlier page ran) or started here, and shut down as soon as the page is done.
    """
    import logging

    import nbformat
    import papermill

    from .charts import FIGURE_PREFIX_ENV, FIGURES_ENV

    logging.getLogger("traitlets").setLevel(logging.ERROR)  # "Could not destroy zmq context" noise at clean-up
    logging.getLogger("papermill").setLevel(logging.ERROR)

    out = workdir / f"{job.page.removesuffix('.html')}.ipynb"
    page_env = {FIGURE_PREFIX_ENV: job.page.removesuffix(".html"), FIGURES_ENV: str(figures) if figures else ""}
    t0 = time.monotonic()
    kernel = kernels.take(job.page) if kernels is not None else _Kernel(kernel_env(project))
    try:
        papermill.execute_notebook(
            str(_prepare(job, project, workdir, page_env)), str(out), parameters=job.parameters,
            kernel_name="python3", progress_bar=False, cwd=str(project.notebooks), log_output=False,
            km=kernel.km, extra_arguments=KERNEL_ARGS, request_save_on_cell_execute=False)
    finally:
        kernel.shutdown()  # the page is done (or failed): its kernel goes now
    kernel.pages += 1
    t1 = time.monotonic()
    nb = nbformat.read(str(out), as_version=4)
    setup = [float(c.metadata.get("papermill", {}).get("duration") or 0.0) for c in nb.cells
             if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    drop = {"parameters", "injected-parameters", SETUP_TAG}
    nb.cells = [c for c in nb.cells if not drop & set(c.get("metadata", {}).get("tags", []))]
    cells = [(float(c.metadata.get("papermill", {}).get("duration") or 0.0), c.source.strip().split("\n")[0][:70])
             for c in nb.cells if c.cell_type == "code"] + [(setup[0], "(setup: page settings, imports)")]
    body, _ = _exporter().from_notebook_node(nb)
    if os.environ.get("FLIGHTS_REPORT_DEBUG"):
        print(f"    {job.page}: papermill {t1 - t0:.2f} s, cells {sum(c[0] for c in cells):.2f} s, "
              f"html {time.monotonic() - t1:.2f} s", flush=True)
    return body, cells


def kernel_env(project: Project) -> dict[str, str]:
    """Environment every report kernel starts with."""
    return {"FLIGHTS_ROOT": str(project.root),
            "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore::DeprecationWarning")}


class _PeakMemory:
    """Samples the memory (PSS) of this process and all its children (kernels, renderers, Chromium) every 0.2 s."""

    def __init__(self):
        import threading

        self.peak = 0
        self.at_peak: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        total, parts = 0, []
        for p in [me, *me.children(recursive=True)]:
            try:
                # proportional set size: pages shared between processes (chromium's, the kernels' libraries)
                # counted once in total, not once per process as the resident sizes would
                rss = p.memory_full_info().pss
                parts.append((rss, p.name()))
            except psutil.Error:
                continue
            total += rss
        if total > self.peak:
            self.peak = total
            self.at_peak = sorted(parts, reverse=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def mb(self) -> int:
        return round(self.peak / 2**20)

    def breakdown(self) -> str:
        return ", ".join(f"{name} {rss / 2**20:.0f}" for rss, name in self.at_peak[:6])


def _prune_scratch(project: Project) -> None:
    """Remove what killed report runs left behind: notebook scratch folders and half-written cache entries.
    Safe because the caller holds the project lock, so no other report is running."""
    for stale in sorted(project.build.glob("nb-*")) + sorted((project.build / "page-cache").glob("*.partial-*")):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    for stale in sorted((project.build / "figure-cache").glob(".*.tmp")):
        stale.unlink(missing_ok=True)


def _prune_caches(project: Project, pages: set[str], figures: set[Path]) -> tuple[int, int]:
    """After a report is published: keep in ``.build/page-cache`` only the pages of this report (``pages``: their
    keys) and in ``.build/figure-cache`` only the SVG/PNG files it used (``figures``). Entries of earlier builds
    (other data, code or notebooks) would otherwise pile up forever; one that is needed again is remade. Call
    holding the project lock. Returns (page entries removed, figure files removed)."""
    def prune(folder: Path, used) -> int:
        removed = 0
        for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
            if used(entry.name):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        return removed

    def page_used(name: str) -> bool:
        key = name.split(".", 1)[0]
        return key in pages and name in (f"{key}.html", f"{key}.figures")

    keep = {p.name for p in figures}
    return (prune(project.build / "page-cache", page_used),
            prune(project.build / "figure-cache", keep.__contains__))


def _compare_ids(project: Project, compare: list[str] | None) -> list[str] | None:
    if not compare:
        return None
    from . import queries

    return queries.check_episodes(compare, project)


def report(project: Project | None = None, force: bool = False, out_link: Path | None = None,
           workers: int = 2, compare: list[str] | None = None, pdf: bool = True,
           notebooks: Path | None = None) -> dict:
    """Build data, run every notebook, publish the site. Returns what was done, with timings.

    ``compare`` is the episodes of the comparison page (all by default). ``workers`` notebooks run at a time, each
    in a kernel of its own that is shut down as soon as its page is done; the next kernel starts and imports the
    heavy modules while the current page runs (:class:`_KernelPool`).

    The notebooks are the package's own: a study folder (``FLIGHTS_ROOT``) is data, and a ``notebooks/`` folder in it
    is not run. ``notebooks`` names another folder of notebooks as code on purpose (a warning says so).
    """
    project = as_project(project)
    if notebooks is not None:
        folder = Path(notebooks).resolve()
        if not (folder / "episode.ipynb").is_file():
            raise FileNotFoundError(errno.ENOENT, "expected a folder of the report's notebooks (episode.ipynb, ...)",
                                    str(folder))
        print(f"warning: running the notebooks in {folder} as code, with your permissions (named with "
              "--notebooks); the package's own notebooks are not used", file=sys.stderr, flush=True)
        project = dataclasses.replace(project, code_notebooks=folder)
    elif (project.root / "notebooks").is_dir() and project.root.resolve() != REPO_DIR.resolve():
        print(f"note: {project.root / 'notebooks'} is not run: a study folder is data, its pages come from the "
              "package's own notebooks (name a folder with --notebooks DIR to run it as code)", file=sys.stderr,
              flush=True)
    t0 = time.monotonic()
    link = out_link or project.reports
    # one lock for data and pages: no other build can publish or prune data/derived while notebooks read it
    from .site import pinned_discovery

    # one discovery run for every page (a discovery published meanwhile shows in the next report)
    with atomic.exclusive(project.lock), _PeakMemory() as memory, pinned_discovery(project):
        result = build(project)
        _prune_scratch(project)
        jobs = jobs_for(project, _compare_ids(project, compare))
        code = _code_hash()
        cache = project.build / "page-cache"
        cache.mkdir(parents=True, exist_ok=True)
        keys = {}
        for job in jobs:
            nb_hash = hashlib.sha256((project.notebooks / job.notebook).read_bytes()).hexdigest()
            keys[job.page] = hashlib.sha256(json.dumps(
                [result["fingerprint"], code, nb_hash, job.notebook, job.parameters], sort_keys=True).encode()).hexdigest()
        from .site import discover_fingerprint

        site_key = hashlib.sha256(json.dumps([sorted(keys.items()), result["fingerprint"], code, pdf,
                                              discover_fingerprint(project)]).encode()).hexdigest()
        current = link / "site.json"
        if not force and current.exists():
            try:
                if json.loads(current.read_text())["site_key"] == site_key:
                    print(f"reports/ is up to date ({len(jobs)} pages); nothing to do", flush=True)
                    return {"status": "up-to-date", "pages": len(jobs), "seconds": round(time.monotonic() - t0, 2)}
            except (KeyError, json.JSONDecodeError):
                pass
        todo = [j for j in jobs if force or not (cache / f"{keys[j.page]}.html").exists()
                or not (cache / f"{keys[j.page]}.figures").is_dir()]
        print(f"report: {len(jobs)} pages, {len(jobs) - len(todo)} unchanged, {len(todo)} notebook run(s) to do", flush=True)
        with _Figures(project, workers) as figures:
            for job in jobs:
                if job not in todo:
                    figures.add(cache / f"{keys[job.page]}.figures")
            timings, cells, kernel_pids = _run_jobs(todo, project, keys, cache, workers, figures.add)
            t_render = time.monotonic()
        print(f"  figures: {figures.rendered} rendered, {len(figures.files) - figures.rendered} reused; "
              f"{time.monotonic() - t_render:.1f} s after the last notebook", flush=True)
        builds = project.build / "reports"
        partial = atomic.new_build_dir(builds)
        try:
            from .site import search_index

            bundle = None
            write_assets(partial)
            nav = _nav(jobs, json.dumps(search_index(project, [j.page for j in jobs]), sort_keys=True,
                                        separators=(",", ":"), ensure_ascii=False))
            (partial / "figures").mkdir()
            for job in jobs:
                body = (cache / f"{keys[job.page]}.html").read_text(encoding="utf-8")
                (partial / job.page).write_text(render_page(job.title, body, nav, bundle), encoding="utf-8")
                for spec in sorted((cache / f"{keys[job.page]}.figures").glob("*.vl.json")):
                    stem = spec.name.removesuffix(".vl.json")
                    for ext in ("svg", "png"):
                        shutil.copyfile(figures.files[spec.name][ext], partial / "figures" / f"{stem}.{ext}")
            site_figures = _site_pages(project, partial, nav, bundle, jobs)
            (partial / "site.json").write_text(json.dumps(
                {"site_key": site_key, "pages": [j.page for j in jobs]}, indent=1, sort_keys=True), encoding="utf-8")
            if pdf:
                _print_edition(partial, jobs, project)
            final = atomic.publish(partial, link)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        atomic.prune(builds, link)
        _prune_caches(project, {keys[j.page] for j in jobs},
                      {p for files in figures.files.values() for p in files.values()} | site_figures)
    secs = round(time.monotonic() - t0, 1)
    print(f"report written: {link}/index.html ({len(jobs)} pages, {len(todo)} run) in {secs} s; "
          f"peak memory {memory.mb} MB (this process, its kernels and renderers: {memory.breakdown()} MB)", flush=True)
    return {"status": "built", "pages": len(jobs), "ran": len(todo), "seconds": secs, "path": str(final),
            "timings": {j.page: round(t, 2) for j, t in timings}, "cells": cells, "peak_mb": memory.mb,
            "kernel_pids": kernel_pids}


def _run_jobs(todo: list[Job], project: Project, keys: dict[str, str], cache: Path, workers: int,
              on_figures=None) -> tuple[list[tuple[Job, float]], list[tuple[float, str, str]], dict[str, int | None]]:
    """Run the notebooks, ``workers`` at a time, each page in a kernel of its own (:class:`_KernelPool`); cache each
    page body and its figure specs. Returns the page times, the cell times and each page's kernel process id."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    if not todo:
        return [], [], {}
    done = started = 0
    lock = threading.Lock()
    cells: list[tuple[float, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="nb-", dir=project.build) as tmp:
        kernels = _KernelPool(kernel_env(project), max(1, min(workers, len(todo))), len(todo))

        def run(job: Job) -> tuple[Job, float]:
            nonlocal done, started
            s = time.monotonic()
            with lock:
                started += 1
                print(f"  [start {started}/{len(todo)}] {job.notebook} {json.dumps(job.parameters)} -> {job.page}",
                      flush=True)
            figs = Path(tmp) / f"{job.page.removesuffix('.html')}.figures"
            figs.mkdir()
            body, page_cells = _run(job, project, Path(tmp), figs, kernels)
            key = keys[job.page]
            final_figs = cache / f"{key}.figures"
            staged = cache / f"{key}.figures.partial-{os.getpid()}-{threading.get_ident()}"
            shutil.rmtree(staged, ignore_errors=True)
            shutil.copytree(figs, staged)
            shutil.rmtree(final_figs, ignore_errors=True)
            os.replace(staged, final_figs)
            if on_figures is not None:
                on_figures(final_figs)
            part = cache / f"{key}.html.partial-{os.getpid()}-{threading.get_ident()}"
            part.write_text(body, encoding="utf-8")
            os.replace(part, cache / f"{key}.html")
            secs = time.monotonic() - s
            with lock:
                done += 1
                cells.extend((d, job.page, src) for d, src in page_cells)
                print(f"  [{done}/{len(todo)}] {job.page} in {secs:.1f} s ({len(todo) - done} remaining)", flush=True)
            return job, secs

        try:
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
                # longest pages first, so that the workers finish together
                order = sorted(todo, key=lambda j: j.notebook == "episode.ipynb")
                timings = list(pool.map(run, order))
        finally:
            kernels.close()
    return timings, sorted(cells, reverse=True), dict(kernels.pids)


class _Figures:
    """SVG and PNG of every chart spec, rendered by vl-convert outside the kernels, in worker processes that start
    with the notebooks and take each page's specs as soon as it is done; once per distinct spec
    (``.build/figure-cache/<key>.svg|png``, key = spec, renderer version and scale)."""

    def __init__(self, project: Project, workers: int):
        self.store = project.build / "figure-cache"
        self.store.mkdir(parents=True, exist_ok=True)
        self.workers = max(1, workers)
        self.files: dict[str, dict[str, Path]] = {}
        self.rendered = 0
        self._pool = None
        self._futures: dict[str, object] = {}

    def add(self, folder: Path) -> None:
        from .figures import figure_key, render_figure

        for spec in sorted(folder.glob("*.vl.json")):
            key = figure_key(spec.read_bytes())
            self.files[spec.name] = {ext: self.store / f"{key}.{ext}" for ext in ("svg", "png")}
            if key in self._futures or all(p.exists() for p in self.files[spec.name].values()):
                continue
            if self._pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            self._futures[key] = self._pool.submit(render_figure, spec, self.store / key)
            self.rendered += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            try:
                for f in self._futures.values():
                    if exc[0] is None:
                        f.result()
            finally:
                self._pool.shutdown(cancel_futures=exc[0] is not None)


def _site_pages(project: Project, partial: Path, nav: str, bundle: str, jobs: list[Job]) -> set[Path]:
    """The pages written by :mod:`analysis.site` (index, methods, dictionary...) and the exports. Returns the
    figure-cache files its charts used."""
    from . import charts, exports, queries, site
    from .figures import figure_key, render_figure

    t = time.monotonic()
    store = project.build / "figure-cache"
    store.mkdir(parents=True, exist_ok=True)
    used: set[Path] = set()
    for page in site.SITE_PAGES:
        if not page.charts:
            body = page.body(project)
        else:  # charts shown on the page are saved as figures like a notebook's (specs, then SVG and PNG)
            with tempfile.TemporaryDirectory() as tmp:
                saved = {k: os.environ.get(k) for k in (charts.FIGURES_ENV, charts.FIGURE_PREFIX_ENV)}
                os.environ[charts.FIGURES_ENV] = tmp
                os.environ[charts.FIGURE_PREFIX_ENV] = page.file.removesuffix(".html")
                charts.start_page()
                try:
                    body = page.body(project)
                finally:
                    for k, v in saved.items():
                        if v is None:
                            os.environ.pop(k, None)
                        else:
                            os.environ[k] = v
                for spec in sorted(Path(tmp).glob("*.vl.json")):
                    key = figure_key(spec.read_bytes())
                    if not all((store / f"{key}.{ext}").exists() for ext in ("svg", "png")):
                        render_figure(spec, store / key)
                    for ext in ("svg", "png"):
                        used.add(store / f"{key}.{ext}")
                        shutil.copyfile(store / f"{key}.{ext}", partial / "figures" / f"{spec.name.removesuffix('.vl.json')}.{ext}")
        shows_charts = page.charts and 'class="flights-spec"' in body
        title = page.title.format(study=queries.study(project)["title"])
        (partial / page.file).write_text(render_page(title, body, nav, bundle, charts=shows_charts),
                                         encoding="utf-8")
    exports.write_exports(partial / "exports", project)
    print(f"  site pages and exports written in {time.monotonic() - t:.1f} s", flush=True)
    return used


def _print_edition(partial: Path, jobs: list[Job], project: Project) -> None:
    """reports/study.pdf: the pages printed by headless Chromium (see :mod:`analysis.printing`)."""
    from . import printing

    t = time.monotonic()
    from . import queries
    from .site import SITE_PAGES

    out = printing.print_site(partial, [p.file for p in SITE_PAGES], [j.page for j in jobs],
                              title=queries.study(project)["title"])
    if out:
        print(f"  print edition {out.name} written in {time.monotonic() - t:.1f} s", flush=True)


def print_bench(result: dict, top: int = 12) -> None:
    """Per-page times and the slowest cells of a report run (``make bench-report``)."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nbench-report: full run {result['seconds']} s, {result.get('ran', 0)} notebook(s) run, "
          f"peak memory {result.get('peak_mb', '?')} MB, load average {load}, {os.cpu_count()} CPUs")
    for page, secs in sorted(result.get("timings", {}).items(), key=lambda kv: -kv[1]):
        print(f"  {secs:6.2f} s  {page}")
    print(f"slowest cells (of {len(result.get('cells', []))}):")
    for secs, page, src in result.get("cells", [])[:top]:
        print(f"  {secs:6.2f} s  {page}: {src}")
