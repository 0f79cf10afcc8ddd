"""``make report``: build the data, run every notebook with papermill, write an offline HTML site.

Jobs (:mod:`analysis.pageplan`): ``episode.ipynb`` once per episode, ``compare.ipynb`` and ``patterns.ipynb``
once each. Each notebook runs in a kernel of the report's pool (:mod:`analysis.kernels`: a kernel runs several
pages in turn, its namespace emptied before each) and becomes an HTML page without code cells, in the site shell
(:mod:`analysis.shell`: Jinja2 templates, the style sheet, the site's one copy of the chart library, so no page
loads anything from the network). Charts shown are saved as vega-lite specs and drawn to SVG and PNG under
``figures/`` by renderer processes while the notebooks still run (:class:`analysis.figures.FigureRenderer`).
Meanwhile this process writes the pages of :mod:`analysis.site` (index with the key findings, candidates,
methods and sources, data dictionary) and the exports of :mod:`analysis.exports`; the print edition
(:mod:`analysis.printing`) follows, or is copied when its inputs are those of the last one printed.

Pages are assembled in ``.build/reports/<id>.partial`` and published by swapping the ``reports`` symlink: a failed
or killed run leaves the previous report intact. A job whose inputs (derived data fingerprint, notebook, package
code, parameters) are unchanged reuses its cached page and figures, and when no page changed the published
report is left as it is. Once a report is published, the page, figure and print caches (``.build/page-cache``,
``.build/figure-cache``, ``.build/print-cache``) keep only what it used.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import resource
import shutil
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

from . import atomic
from .build import build
from .console import Progress
from .figures import FigureRenderer
from .kernels import KERNEL_ARGS, KernelPool, kernel_env, run_page
from .memory import PeakMemory
from .pageplan import Job, code_fingerprint, jobs_for, page_keys, site_key
from .paths import REPO_DIR, Project, as_project

__all__ = ["report", "Job", "jobs_for", "KERNEL_ARGS", "prune_scratch", "prune_caches"]

#: progress of a report run, as it happens (``make report`` shows it on stdout: :mod:`analysis.console`)
log = logging.getLogger(__name__)


def _compare_ids(project: Project, compare: list[str] | None) -> list[str] | None:
    if not compare:
        return None
    from . import queries

    return queries.check_episodes(compare, project)


def _code_notebooks(project: Project, notebooks: Path | None) -> Project:
    """The project with the notebooks it runs: the package's own, or ``notebooks`` named as code on purpose."""
    if notebooks is not None:
        folder = Path(notebooks).resolve()
        if not (folder / "episode.ipynb").is_file():
            raise FileNotFoundError(
                errno.ENOENT, "expected a folder of the report's notebooks (episode.ipynb, ...)", str(folder)
            )
        log.warning(
            "running the notebooks in %s as code, with your permissions (named with --notebooks); the "
            "package's own notebooks are not used",
            folder,
        )
        return dataclasses.replace(project, code_notebooks=folder)
    if (project.root / "notebooks").is_dir() and project.root.resolve() != REPO_DIR.resolve():
        log.warning(
            "%s is not run: a study folder is data, its pages come from the package's own notebooks "
            "(name a folder with --notebooks DIR to run it as code)",
            project.root / "notebooks",
        )
    return project


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for (kernels, renderers, the browser)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def report(
    project: Project | None = None,
    force: bool = False,
    out_link: Path | None = None,
    workers: int = 2,
    compare: list[str] | None = None,
    pdf: bool = True,
    notebooks: Path | None = None,
) -> dict:
    """Build data, run every notebook, publish the site. Returns what was done, with timings.

    ``compare`` is the episodes of the comparison page (all by default). ``workers`` notebooks run at a time, each
    in a kernel of the pool (:class:`analysis.kernels.KernelPool`) whose namespace is empty when the page starts.

    The notebooks are the package's own: a study folder (``FLIGHTS_ROOT``) is data, and a ``notebooks/`` folder in it
    is not run. ``notebooks`` names another folder of notebooks as code on purpose (a warning says so).
    """
    project = _code_notebooks(as_project(project), notebooks)
    t0, cpu0 = time.monotonic(), _cpu_seconds()
    link = out_link or project.reports
    from .site import discover_fingerprint, pinned_discovery

    # one lock for data and pages: no other build can publish or prune data/derived while notebooks read it;
    # one discovery run for every page (a discovery published meanwhile shows in the next report)
    with atomic.exclusive(project.lock), PeakMemory() as memory, pinned_discovery(project):
        result = build(project)
        prune_scratch(project)
        jobs = jobs_for(project, _compare_ids(project, compare))
        code = code_fingerprint()
        cache = project.build / "page-cache"
        cache.mkdir(parents=True, exist_ok=True)
        keys = page_keys(project, jobs, result["fingerprint"], code)
        key = site_key(keys, result["fingerprint"], code, pdf, discover_fingerprint(project))
        current = link / "site.json"
        if not force and current.exists():
            try:
                if json.loads(current.read_text())["site_key"] == key:
                    log.info(f"reports/ is up to date ({len(jobs)} pages); nothing to do")
                    return {
                        "status": "up-to-date",
                        "pages": len(jobs),
                        "seconds": round(time.monotonic() - t0, 2),
                    }
            except (KeyError, json.JSONDecodeError):
                pass
        todo = [
            j
            for j in jobs
            if force
            or not (cache / f"{keys[j.page]}.html").exists()
            or not (cache / f"{keys[j.page]}.figures").is_dir()
        ]
        log.info(
            f"report: {len(jobs)} pages, {len(jobs) - len(todo)} unchanged, {len(todo)} notebook run(s) to do"
        )
        builds = project.build / "reports"
        partial = atomic.new_build_dir(builds)
        printed = None
        # the site pages' chart specs, read by the renderer processes until they are done
        specs = project.build / "figure-cache" / f".site-specs-{os.getpid()}"
        try:
            with FigureRenderer(project.build / "figure-cache", workers) as figures:
                for job in jobs:
                    if job not in todo:
                        figures.add(cache / f"{keys[job.page]}.figures")
                stop = threading.Event()
                with ThreadPoolExecutor(1, thread_name_prefix="notebooks") as runner:
                    notebooks_done = runner.submit(
                        _run_jobs, todo, project, keys, cache, workers, figures.add, stop
                    )
                    try:  # the site's own pages and the exports, while the notebooks run
                        nav, site_figures = _site_pages(project, partial, jobs, figures, specs)
                    except BaseException:
                        stop.set()
                        raise
                    timings, cells, kernel_pids = notebooks_done.result()
                t_render = time.monotonic()
            shutil.rmtree(specs, ignore_errors=True)
            log.info(
                f"  figures: {figures.rendered} rendered, {len(figures.files) - figures.rendered} reused; "
                f"{time.monotonic() - t_render:.1f} s after the last notebook"
            )
            from .shell import render_page

            for job in jobs:
                body = (cache / f"{keys[job.page]}.html").read_text(encoding="utf-8")
                (partial / job.page).write_text(render_page(job.title, body, nav), encoding="utf-8")
                for spec in sorted((cache / f"{keys[job.page]}.figures").glob("*.vl.json")):
                    stem = spec.name.removesuffix(".vl.json")
                    for ext in ("svg", "png"):
                        shutil.copyfile(figures.files[spec.name][ext], partial / "figures" / f"{stem}.{ext}")
            for spec_name, stem in site_figures:
                for ext in ("svg", "png"):
                    shutil.copyfile(figures.files[spec_name][ext], partial / "figures" / f"{stem}.{ext}")
            (partial / "site.json").write_text(
                json.dumps({"site_key": key, "pages": [j.page for j in jobs]}, indent=1, sort_keys=True),
                encoding="utf-8",
            )
            if pdf:
                printed = _print_edition(partial, jobs, project)
            final = atomic.publish(partial, link)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(specs, ignore_errors=True)
            raise
        atomic.prune(builds, link)
        prune_caches(
            project,
            {keys[j.page] for j in jobs},
            {p for files in figures.files.values() for p in files.values()},
            printed,
        )
    secs = round(time.monotonic() - t0, 1)
    cpu = round(_cpu_seconds() - cpu0, 1)
    log.info(
        f"report written: {link}/index.html ({len(jobs)} pages, {len(todo)} run) in {secs} s, {cpu} CPU-s; "
        f"peak memory {memory.mb} MB (this process, its kernels and renderers: {memory.breakdown()} MB)"
    )
    return {
        "status": "built",
        "pages": len(jobs),
        "ran": len(todo),
        "seconds": secs,
        "cpu_seconds": cpu,
        "path": str(final),
        "timings": {j.page: round(t, 2) for j, t in timings},
        "cells": cells,
        "peak_mb": memory.mb,
        "memory_cpu_seconds": round(memory.cpu_seconds, 2),
        "kernel_pids": kernel_pids,
    }


def _run_jobs(
    todo: list[Job],
    project: Project,
    keys: dict[str, str],
    cache: Path,
    workers: int,
    on_figures=None,
    stop: threading.Event | None = None,
) -> tuple[list[tuple[Job, float]], list[tuple[float, str, str]], dict[str, int | None]]:
    """Run the notebooks, ``workers`` at a time, in the kernels of a :class:`KernelPool`; cache each page body and
    its figure specs. Returns the page times, the cell times and the process id of the kernel each page ran in.
    After a failure, or once ``stop`` is set, no further page starts."""
    if not todo:
        return [], [], {}
    stop = stop or threading.Event()
    done = started = 0
    lock = threading.Lock()
    cells: list[tuple[float, str, str]] = []
    workers = max(1, min(workers, len(todo)))
    # a bar on a terminal (its ETA); the lines below name each page, the report's last line has the totals
    bar = Progress(log, "report pages", total=len(todo), unit="pages")
    with tempfile.TemporaryDirectory(prefix="nb-", dir=project.build) as tmp, bar:
        kernels = KernelPool(kernel_env(project), workers, len(todo), cwd=project.notebooks)

        def run(job: Job) -> tuple[Job, float] | None:
            nonlocal done, started
            if stop.is_set():
                return None
            s = time.monotonic()
            with lock:
                started += 1
                log.info(
                    f"  [start {started}/{len(todo)}] {job.notebook} {json.dumps(job.parameters)} -> {job.page}"
                )
            figs = Path(tmp) / f"{job.page.removesuffix('.html')}.figures"
            figs.mkdir()
            try:
                body, page_cells = run_page(job, project, Path(tmp), figs, kernels)
            except BaseException:
                stop.set()
                raise
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
                log.info(f"  [{done}/{len(todo)}] {job.page} in {secs:.1f} s ({len(todo) - done} remaining)")
                bar.update(done)
            return job, secs

        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page") as pool:
                # longest pages first, so that the workers finish together
                order = sorted(todo, key=lambda j: j.notebook == "episode.ipynb")
                futures = [pool.submit(run, job) for job in order]
                wait(futures, return_when=FIRST_EXCEPTION)  # a failed page sets stop: no further page starts
            timings = [r for r in (f.result() for f in futures) if r is not None]
        finally:
            kernels.close()
    if len(timings) < len(todo):
        raise RuntimeError("the report was stopped before every notebook ran")
    return timings, sorted(cells, reverse=True), dict(kernels.pids)


def _site_pages(
    project: Project, partial: Path, jobs: list[Job], figures: FigureRenderer, specs: Path
) -> tuple[str, list[tuple[str, str]]]:
    """The site's scripts, the navigation, the pages written by :mod:`analysis.site` (index, methods,
    dictionary...) and the exports. Charts shown on a site page are saved as specs like a notebook's, in a folder
    per page under ``specs`` (which the caller removes once ``figures`` has drawn them), and given to
    ``figures``. Returns the navigation and the (spec file, figure stem) of every site figure."""
    from . import charts, exports, queries, site
    from .shell import nav as make_nav
    from .shell import render_page, write_assets

    t = time.monotonic()
    write_assets(partial)
    nav = make_nav(
        json.dumps(
            site.search_index(project, [j.page for j in jobs]),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
    )
    (partial / "figures").mkdir()
    shutil.rmtree(specs, ignore_errors=True)
    specs.mkdir(parents=True)
    saved: list[tuple[str, str]] = []
    with charts.enabled():
        for page in site.SITE_PAGES:
            if not page.charts:
                body = page.body(project)
            else:  # charts shown on the page are saved as figures like a notebook's (specs, then SVG and PNG)
                folder = specs / page.file.removesuffix(".html")
                folder.mkdir()
                with charts.page(page.file.removesuffix(".html"), folder):
                    body = page.body(project)
                figures.add(folder)
                saved.extend(
                    (s.name, s.name.removesuffix(".vl.json")) for s in sorted(folder.glob("*.vl.json"))
                )
            shows_charts = page.charts and 'class="flights-spec"' in body
            title = page.title.format(study=queries.study(project)["title"])
            (partial / page.file).write_text(
                render_page(title, body, nav, charts=shows_charts), encoding="utf-8"
            )
    exports.write_exports(partial / "exports", project)
    log.info(f"  site pages and exports written in {time.monotonic() - t:.1f} s (while the notebooks ran)")
    return nav, saved


def _print_edition(partial: Path, jobs: list[Job], project: Project) -> Path | None:
    """reports/study.pdf: the pages printed by headless Chromium (see :mod:`analysis.printing`), or the PDF
    printed last time when the print document and its figures are the same. Returns the cached PDF used."""
    from . import printing, queries
    from .site import SITE_PAGES

    t = time.monotonic()
    cache = project.build / "print-cache"
    out = printing.print_site(
        partial,
        [p.file for p in SITE_PAGES],
        [j.page for j in jobs],
        title=queries.study(project)["title"],
        cache=cache,
    )
    if out is None:
        return None
    path, fresh, entry = out
    log.info(
        f"  print edition {path.name} {'printed' if fresh else 'unchanged, copied'} in {time.monotonic() - t:.1f} s"
    )
    return entry


def prune_scratch(project: Project) -> None:
    """Remove what killed report runs left behind: notebook scratch folders and half-written cache entries.
    Safe because the caller holds the project lock, so no other report is running."""
    for stale in (
        sorted(project.build.glob("nb-*"))
        + sorted((project.build / "page-cache").glob("*.partial-*"))
        + sorted((project.build / "figure-cache").glob(".site-specs-*"))
    ):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    for folder in ("figure-cache", "print-cache"):
        for stale in sorted((project.build / folder).glob(".*.tmp")):
            stale.unlink(missing_ok=True)


def prune_caches(
    project: Project, pages: set[str], figures: set[Path], pdf: Path | None = None
) -> tuple[int, int, int]:
    """After a report is published: keep in ``.build/page-cache`` only the pages of this report (``pages``: their
    keys), in ``.build/figure-cache`` only the SVG/PNG files it used (``figures``) and in ``.build/print-cache``
    only its PDF. Entries of earlier builds (other data, code or notebooks) would otherwise pile up forever; one
    that is needed again is remade. Call holding the project lock. Returns the entries removed from each."""

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
    return (
        prune(project.build / "page-cache", page_used),
        prune(project.build / "figure-cache", keep.__contains__),
        prune(project.build / "print-cache", lambda name: pdf is not None and name == pdf.name),
    )
