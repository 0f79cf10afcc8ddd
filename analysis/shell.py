"""The site shell: the page around every body, the navigation and search box, the site's scripts.

The HTML lives in Jinja2 templates (``analysis/templates/page.html``, ``nav.html``) and the style sheet in
``analysis/assets/site.css`` (inlined in every page); both ship inside the package and are part of the pages'
fingerprint (:func:`analysis.pageplan.code_fingerprint`). Values from the data reach a template escaped
(:func:`html.escape`); HTML the package made (a page body, the navigation) is marked as such.

The chart library (``assets/vega.js``: vega, vega-lite and vega-embed, shipped inside vl-convert-python) is made
once per Python environment and vl-convert version, then copied (:func:`vega_bundle`).
"""

from __future__ import annotations

import html
import logging
import os
import sys
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup

from .paths import PACKAGE_DIR

__all__ = [
    "render_page",
    "nav",
    "write_assets",
    "vega_bundle",
    "page_css",
    "PAGE_CSP",
    "ASSETS",
    "VEGA_JS",
    "SITE_JS_FILE",
    "TEMPLATES",
    "template",
]

log = logging.getLogger(__name__)

#: Where the templates are (inside the package: they ship with it)
TEMPLATES = PACKAGE_DIR / "templates"
#: Where the site's scripts live, relative to its root: one copy of the chart library for every page.
ASSETS = "assets"
VEGA_JS = f"{ASSETS}/vega.js"
SITE_JS_FILE = f"{ASSETS}/site.js"
#: The pages' content-security policy: scripts only from the site's own folder ('self'; ``file:`` for browsers
#: that give a file:// page no origin of its own), never inline (the specs and the search index are inert JSON
#: blocks); no eval either: vega-embed compiles expressions with vega's interpreter (``ast: true`` in site.js).
PAGE_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'self' file:; font-src data:"
)


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )


def template(name: str):
    """A template of ``analysis/templates`` (autoescaping; an undefined value is an error)."""
    return _environment().get_template(name)


def _text(value: str) -> Markup:
    """Text escaped as the pages have always escaped it (:func:`html.escape`)."""
    return Markup(html.escape(value))


@lru_cache(maxsize=1)
def page_css() -> str:
    """The site's style sheet (``analysis/assets/site.css``), inlined in every page."""
    return (PACKAGE_DIR / "assets" / "site.css").read_text(encoding="utf-8")


def nav(search_index: str = "[]") -> str:
    """Skip link, site navigation and the offline search box, its index (JSON) inlined."""
    from .site import NAV_PAGES

    safe = search_index.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return template("nav.html").render(
        links=[(_text(p), _text(label)) for p, label in NAV_PAGES], search_index=Markup(safe)
    )


def render_page(title: str, body: str, nav: str, charts: bool = True) -> str:
    """A complete offline page: inline CSS; the chart library (only when the page has charts) and the page script
    loaded from the site's ``assets/`` folder (:func:`write_assets`)."""
    return template("page.html").render(
        title=_text(title),
        body=Markup(body),
        nav=Markup(nav),
        css=Markup(page_css()),
        csp=Markup(PAGE_CSP),
        charts=charts,
        vega_js=VEGA_JS,
        site_js=SITE_JS_FILE,
    )


def _bundle_cache() -> Path:
    """Where this environment keeps the chart library it made: inside the environment (``sys.prefix``), so that
    every study and test built with it shares one copy."""
    return Path(sys.prefix) / "var" / "cache" / "analysis"


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one script (shipped inside vl-convert-python: no download).

    vl-convert bundles it anew on every call (a second or more of CPU for the same string); it is kept in the
    environment under the vl-convert version and read back from there. When the environment is read-only it is
    made in memory each time the process needs it."""
    from importlib.metadata import version

    cached = _bundle_cache() / f"vega-bundle-vl-convert-{version('vl-convert-python')}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    import vl_convert

    text = vl_convert.javascript_bundle()  # type: ignore[call-arg]  # the stub wants a snippet; none is the library
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, cached)
    except OSError as e:  # a read-only environment: made again next time
        log.info("chart library not cached (%s): %s", cached, e)
    return text


def write_assets(site: Path) -> list[Path]:
    """The site's scripts, once for all pages: ``assets/vega.js`` (:func:`vega_bundle`) and ``assets/site.js``
    (charts, picker, search: ``analysis/assets/site.js``)."""
    folder = site / ASSETS
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in (
        (VEGA_JS, vega_bundle()),
        (SITE_JS_FILE, (PACKAGE_DIR / "assets" / "site.js").read_text(encoding="utf-8")),
    ):
        (site / name).write_text(text, encoding="utf-8")
        out.append(site / name)
    return out
