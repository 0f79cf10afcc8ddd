"""The report's page plan: which notebook runs make which page, and the keys that say when a page is unchanged.

Pages are data: an episode page per episode row, then the cross-episode pages (:func:`jobs_for`). A page's key
(:func:`page_keys`) covers the derived data fingerprint, the code that shapes pages (:func:`code_fingerprint`:
the package's page code, its templates, style sheets and scripts, the versions of the libraries that draw them),
the notebook and its parameters; the site's key (:func:`site_key`) covers every page key and what the site's own
pages read besides.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from .paths import PACKAGE_DIR, Project
from .schema import SAFE_ID_PATTERN

__all__ = ["Job", "safe_page", "jobs_for", "code_fingerprint", "page_keys", "site_key", "PAGE_LIBRARIES"]

SAFE = re.compile(SAFE_ID_PATTERN)

#: The libraries whose versions shape the pages (their output is in the page bytes)
PAGE_LIBRARIES = ("altair", "vl-convert-python", "papermill", "nbconvert", "polars", "duckdb", "jinja2")


@dataclass(frozen=True)
class Job:
    """One notebook run: which notebook, with which parameters, written to which page."""

    notebook: str
    parameters: dict
    page: str  # file name under reports/, e.g. episode-2019-03-caracas.html
    title: str


def safe_page(name: str) -> str:
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
    jobs = [
        Job("episode.ipynb", {"episode_id": e}, safe_page(f"episode-{e}"), t)
        for e, t in zip(eps["episode_id"], eps["title"], strict=True)
    ]
    jobs.append(
        Job(
            "compare.ipynb",
            {"episode_ids": list(compare) if compare else None},
            "compare.html",
            "Comparison of episodes",
        )
    )
    jobs.append(Job("patterns.ipynb", {}, "patterns.html", "Patterns across all episodes"))
    return jobs


def code_fingerprint() -> str:
    """Hash of what shapes pages besides the data: the package's page code (queries, charts, HTML), its templates,
    style sheets and vendored scripts, and the versions of the libraries that draw them. Code that shapes the data
    (build, SQL, findings, tracks) reaches pages through the data fingerprint."""
    from importlib.metadata import version

    from .build import DATA_MODULES

    h = hashlib.sha256()
    for f in sorted(PACKAGE_DIR.rglob("*")):
        rel = f.relative_to(PACKAGE_DIR).as_posix()
        if "__pycache__" in f.parts or not f.is_file():
            continue
        if (
            f.suffix == ".py"
            and rel not in DATA_MODULES
            and not rel.startswith(("tracks/", "sql/", "discover/"))
        ) or rel.startswith(("assets/", "templates/")):
            h.update(rel.encode() + b"\0" + f.read_bytes())
    for lib in PAGE_LIBRARIES:
        h.update(f"{lib}={version(lib)}".encode())
    return h.hexdigest()


def page_keys(project: Project, jobs: list[Job], data_fingerprint: str, code: str) -> dict[str, str]:
    """{page: key} of every job: data fingerprint, code fingerprint, notebook bytes and parameters."""
    keys = {}
    for job in jobs:
        nb_hash = hashlib.sha256((project.notebooks / job.notebook).read_bytes()).hexdigest()
        keys[job.page] = hashlib.sha256(
            json.dumps(
                [data_fingerprint, code, nb_hash, job.notebook, job.parameters], sort_keys=True
            ).encode()
        ).hexdigest()
    return keys


def site_key(keys: dict[str, str], data_fingerprint: str, code: str, pdf: bool, discovery: str) -> str:
    """The published site's key: every page key, the data and code fingerprints, whether it has the print edition,
    the discovery outputs the Candidates page shows."""
    return hashlib.sha256(
        json.dumps([sorted(keys.items()), data_fingerprint, code, pdf, discovery]).encode()
    ).hexdigest()
