"""The print edition: ``reports/study.pdf``, printed from the site's pages by headless Chromium.

One print document is assembled from the pages' bodies (study and key findings, patterns, comparison, every
episode, methods with the bibliography, the data dictionary), each page starting on a new sheet. Charts are the
report's SVG figures (the same drawings as the pages, without scripts); navigation, search and controls are left
out. Chromium comes from Debian (``/usr/bin/chromium`` or ``$FLIGHTS_CHROMIUM``), driven by playwright, with every
request that is not a local file refused. The PDF's dates and document ids are derived from its content, so two
builds of the same site give the same bytes; the report keeps the last PDF under its key (:func:`print_key`: the
document, its figures, the browser) and copies it when the next build's print document is the same. The document
is ``analysis/templates/print.html`` with ``analysis/assets/print.css``.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup

from .paths import PACKAGE_DIR

__all__ = [
    "print_site",
    "print_html",
    "print_key",
    "chromium",
    "chromium_version",
    "PRINT_CSS_FILE",
    "PRINT_TIMEOUT_MS",
]

log = logging.getLogger(__name__)

#: The print edition's style sheet (``analysis/assets/print.css``)
PRINT_CSS_FILE = PACKAGE_DIR / "assets" / "print.css"

_MAIN = re.compile(r"<main[^>]*>(.*)<footer>", re.S)
_CHART = re.compile(r'<div [^>]*class="flights-chart"[^>]*></div>')
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def chromium() -> Path | None:
    """Debian's chromium, or ``$FLIGHTS_CHROMIUM``; None when neither exists."""
    path = Path(os.environ.get("FLIGHTS_CHROMIUM", "/usr/bin/chromium"))
    return path if path.exists() else None


def _figure(match: re.Match) -> str:
    """A chart's <div> (attributes in any order: nbconvert sorts them) as its SVG figure."""
    attrs = dict(_ATTR.findall(match.group(0)))
    if not attrs.get("data-figure"):
        return ""
    return f'<img class="figure" src="figures/{attrs["data-figure"]}.svg" alt="{attrs.get("data-description", "")}">'


_HREF = re.compile(r'href="([^"]*)"')


def _link(match: re.Match, pages: set[str]) -> str:
    """Links inside the print document: to a page -> its section, to an anchor -> the anchor; web links as they
    are; anything else (figures, exports) -> no link (a relative file link would point at the build folder)."""
    url = html.unescape(match.group(1))
    if url.startswith(("http://", "https://", "#")):
        return match.group(0)
    page, _, anchor = url.partition("#")
    if page in pages:
        return f'href="#{html.escape(anchor or "print-" + page)}"'
    return f'data-href="{html.escape(url)}"'


def _body(page: Path, pages: set[str] | None = None) -> str:
    text = page.read_text(encoding="utf-8")
    m = _MAIN.search(text)
    body = m.group(1) if m else ""
    body = _CHART.sub(_figure, body)
    body = _HREF.sub(lambda h: _link(h, pages or set()), body)
    return _SCRIPT.sub("", body)


def print_html(site: Path, pages: list[str], title: str = "Flights study") -> str:
    """One document holding the pages' bodies in order, charts as their SVG figures, no scripts
    (``analysis/templates/print.html``)."""
    from .shell import template

    have = {p for p in pages if (site / p).exists()}
    sections = [
        (Markup(html.escape(f"print-{p}")), Markup(_body(site / p, have))) for p in pages if p in have
    ]
    return template("print.html").render(
        title=Markup(html.escape(title)),
        sections=sections,
        css=Markup(PRINT_CSS_FILE.read_text(encoding="utf-8")),
        csp=Markup("default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'"),
    )


def _stable(pdf: bytes) -> bytes:
    """Replace the PDF's creation/modification dates and document ids with values derived from its content
    (same lengths, so the cross-reference offsets stay valid)."""
    digest = hashlib.sha256(
        re.sub(rb"\(D:[0-9+\-Z' ]+\)|<[0-9A-Fa-f]{32}>|uuid:[0-9a-f-]{36}", b"", pdf)
    ).hexdigest()
    pdf = re.sub(rb"\(D:[0-9+\-Z' ]+\)", lambda m: b"(D:" + b"0" * (len(m.group(0)) - 4) + b")", pdf)
    pdf = re.sub(rb"<[0-9A-Fa-f]{32}>", b"<" + digest[:32].upper().encode() + b">", pdf)
    uid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}".encode()
    return re.sub(rb"uuid:[0-9a-f-]{36}", b"uuid:" + uid, pdf)


@lru_cache(maxsize=4)
def chromium_version(exe: Path) -> str:
    """What ``exe --version`` says (part of the print edition's key: another browser prints other bytes)."""
    import subprocess

    try:
        run = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
        return run.stdout.strip() or f"unknown ({exe})"
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({exe}: {type(e).__name__})"


_FIGURE_SRC = re.compile(r'<img class="figure" src="(figures/[^"]+)"')


def print_key(site: Path, doc: str, title: str, exe: Path) -> str:
    """The key of the print edition: the document, the bytes of every figure it shows, this module and the
    browser's version. Two builds with the same key print the same bytes (:func:`_stable`), so the PDF of one is
    the PDF of the other."""
    from importlib.metadata import version

    h = hashlib.sha256()
    for part in (doc, title, chromium_version(exe), f"playwright={version('playwright')}"):
        h.update(part.encode() + b"\0")
    h.update(Path(__file__).read_bytes() + b"\0")
    for src in sorted(set(_FIGURE_SRC.findall(doc))):
        f = site / html.unescape(src)
        h.update(src.encode() + b"\0" + (f.read_bytes() if f.is_file() else b"missing") + b"\0")
    return h.hexdigest()


#: How long the browser may take to load the print document and to print it (a loaded machine needs minutes)
PRINT_TIMEOUT_MS = 600_000


def print_site(
    site: Path,
    site_pages: list[str],
    notebook_pages: list[str],
    out: str = "study.pdf",
    title: str = "Flights study",
    cache: Path | None = None,
) -> tuple[Path, bool, Path | None] | None:
    """Print the site at ``site`` to ``site/out``; returns (the path, whether it was printed now, its entry in
    ``cache``), or None (with a warning) without Chromium. With ``cache`` (a folder), a PDF printed before from the
    same inputs (:func:`print_key`) is copied from there instead of printed again, and a new one is kept there."""
    exe = chromium()
    if exe is None:
        log.warning("print edition skipped: no Chromium (apt-get install chromium, or set FLIGHTS_CHROMIUM)")
        return None
    first = [p for p in ("index.html", "patterns.html", "compare.html") if p in site_pages + notebook_pages]
    episodes = [p for p in notebook_pages if p not in first]
    rest = [p for p in site_pages if p not in first]
    text = print_html(site, first + episodes + rest, title)
    target = site / out
    cached = None
    if cache is not None:
        cached = cache / f"{print_key(site, text, title, exe)}.pdf"
        if cached.is_file():
            import shutil

            shutil.copyfile(cached, target)
            return target, False, cached
    doc = site / ".print.html"
    doc.write_text(text, encoding="utf-8")
    try:
        pdf = _print(doc, exe, title)
    finally:
        doc.unlink(missing_ok=True)
    target.write_bytes(pdf)
    if cached is not None:
        cache.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pdf)
        os.replace(tmp, cached)
    return target, True, cached


def _print(doc: Path, exe: Path, title: str) -> bytes:
    """The document printed to PDF by headless Chromium (every request that is not a local file refused)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(exe),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-extensions",
                "--renderer-process-limit=1",
                "--disable-features=site-per-process",
            ],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(PRINT_TIMEOUT_MS)
            page.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(("file://", "data:")) else r.abort(),
            )
            page.goto(doc.as_uri(), wait_until="load", timeout=PRINT_TIMEOUT_MS)
            pdf = page.pdf(
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template='<div style="font-size:8px;width:100%;text-align:center;color:#666">'
                f"{html.escape(title)} · page "
                '<span class="pageNumber"></span> of <span class="totalPages"></span>'
                "</div>",
                margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
            )
        finally:
            browser.close()
    return _stable(pdf)
