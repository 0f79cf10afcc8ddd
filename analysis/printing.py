"""The print edition: ``reports/study.pdf``, printed from the site's pages by headless Chromium.

One print document is assembled from the pages' bodies (study and key findings, patterns, comparison, every
episode, methods with the bibliography, the data dictionary), each page starting on a new sheet. Charts are the
report's SVG figures (the same drawings as the pages, without scripts); navigation, search and controls are left
out. Chromium comes from Debian (``/usr/bin/chromium`` or ``$FLIGHTS_CHROMIUM``), driven by playwright, with every
request that is not a local file refused. The PDF's dates and document ids are derived from its content, so two
builds of the same site give the same bytes.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from pathlib import Path

__all__ = ["print_site", "print_html", "chromium", "PRINT_CSS"]

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm; }
body { font: 10.5pt/1.45 Helvetica, Arial, sans-serif; color: #111; }
section.print-page { break-before: page; }
section.print-page:first-of-type { break-before: avoid; }
h1 { font-size: 19pt; } h2 { font-size: 14pt; break-after: avoid; } h3 { break-after: avoid; }
table { border-collapse: collapse; font-size: 8pt; margin: 6px 0 12px; }
th, td { border: 1px solid #ccc; padding: 2px 4px; text-align: left; vertical-align: top; }
thead { display: table-header-group; } tr { break-inside: avoid; }
img.figure { width: 100%; max-width: 180mm; break-inside: avoid; display: block; margin: 6px 0; }
figure { margin: 0; break-inside: avoid; }
details > *:not(summary) { display: none; } details summary { list-style: none; font-size: 8pt; color: #555; }
.figure-links, .sr-only, .utc-interval, .search, .episode-picker, a.anchor-link, nav, header.site { display: none !important; }
a { color: #111; text-decoration: none; } a.url { word-break: break-all; }
.cover { margin-top: 40mm; } .cover p { font-size: 12pt; }
"""

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
    """One document holding the pages' bodies in order, charts as their SVG figures, no scripts."""
    have = {p for p in pages if (site / p).exists()}
    sections = [f'<section class="print-page" id="print-{html.escape(p)}">{_body(site / p, have)}</section>'
                for p in pages if p in have]
    csp = "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'"
    cover = (f'<section class="print-page cover"><h1>{html.escape(title)}</h1>'
             "<p>Print edition of the study's report: key findings, patterns, comparison, one "
             "chapter per episode, methods and the bibliography, the data dictionary. Every number traces back to "
             "rows in data/raw and their sources; times are UTC.</p></section>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}"><title>{html.escape(title)}: print '
            f"edition</title><style>{PRINT_CSS}</style></head><body>{cover}{''.join(sections)}"
            "</body></html>")


def _stable(pdf: bytes) -> bytes:
    """Replace the PDF's creation/modification dates and document ids with values derived from its content
    (same lengths, so the cross-reference offsets stay valid)."""
    digest = hashlib.sha256(re.sub(rb"\(D:[0-9+\-Z' ]+\)|<[0-9A-Fa-f]{32}>|uuid:[0-9a-f-]{36}", b"", pdf)).hexdigest()
    pdf = re.sub(rb"\(D:[0-9+\-Z' ]+\)", lambda m: b"(D:" + b"0" * (len(m.group(0)) - 4) + b")", pdf)
    pdf = re.sub(rb"<[0-9A-Fa-f]{32}>", b"<" + digest[:32].upper().encode() + b">", pdf)
    uid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}".encode()
    return re.sub(rb"uuid:[0-9a-f-]{36}", b"uuid:" + uid, pdf)


def print_site(site: Path, site_pages: list[str], notebook_pages: list[str], out: str = "study.pdf",
               title: str = "Flights study") -> Path | None:
    """Print the site at ``site`` to ``site/out``; returns the path, or None (with a message) without Chromium."""
    exe = chromium()
    if exe is None:
        print("  print edition skipped: no Chromium (apt-get install chromium, or set FLIGHTS_CHROMIUM)", flush=True)
        return None
    from playwright.sync_api import sync_playwright

    first = [p for p in ("index.html", "patterns.html", "compare.html") if p in site_pages + notebook_pages]
    episodes = [p for p in notebook_pages if p not in first]
    rest = [p for p in site_pages if p not in first]
    doc = site / ".print.html"
    doc.write_text(print_html(site, first + episodes + rest, title), encoding="utf-8")
    target = site / out
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(exe), headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                              "--disable-extensions", "--renderer-process-limit=1",
                                              "--disable-features=site-per-process"])
            try:
                page = browser.new_page()
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file://", "data:"))
                           else r.abort())
                page.goto(doc.as_uri(), wait_until="load")
                pdf = page.pdf(format="A4", print_background=True, display_header_footer=True,
                               header_template="<span></span>",
                               footer_template='<div style="font-size:8px;width:100%;text-align:center;color:#666">'
                                               f'{html.escape(title)} · page '
                                               '<span class="pageNumber"></span> of <span class="totalPages"></span>'
                                               "</div>",
                               margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
            finally:
                browser.close()
    finally:
        doc.unlink(missing_ok=True)
    target.write_bytes(_stable(pdf))
    return target
