"""Altair charts built from query results: timelines, route maps, route comparisons.

Each builder takes polars DataFrames from :mod:`analysis.queries` and returns an ``alt.Chart``. Nothing here
queries or computes findings. Colours come from a colour-blind-safe palette (Okabe-Ito); every mark's tooltip
lists the source ids behind it.

Importing this module changes nothing in altair: :func:`enable` (a notebook calls it once, after its imports)
turns on the ``flights`` theme (fonts, the palette), the ``flights`` renderer and charts of any number of rows, in
this process; :func:`enabled` does the same for a ``with`` block only. In a notebook (JupyterLab, Jupyter
Notebook 7, VS Code) each chart is then shown as a Vega 5 spec (``application/vnd.vega.v5+json``, compiled from the
Vega-Lite spec by vl-convert): the locked JupyterLab 4.6 draws Vega 5 and Vega-Lite up to 5 with its own bundled
library, so charts draw interactively (tooltips, zoom) and offline; the chart's text description and the data
behind it follow as a second output. In the report's pages the same charts are drawn by the site's one copy of
the chart library (``assets/vega.js``). :func:`save_html` writes one chart as a standalone offline HTML file.

A report page says which page it is with :func:`start_page` (its setup cell: the page's name numbers the chart ids
and figure files, and with a folder every chart shown is kept there as a vega-lite spec for the report to draw as
SVG and PNG); :func:`page` does the same for a ``with`` block (the report's own pages).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import altair as alt
import polars as pl

from .figures import figure_key, render_figure
from .paths import default_project
from .timespec import PRECISION_LABELS

__all__ = [
    "PALETTE",
    "timeline",
    "route_map",
    "episode_view",
    "leg_distances",
    "detour_factors",
    "staging_matrix",
    "similarity_matrix",
    "chart_html",
    "basemap",
    "save_figure",
    "render_figure",
    "figure_key",
    "start_page",
    "data_table",
    "describe_spec",
    "episode_scales",
    "episode_filter",
    "pickable",
    "periods",
    "timeline_periods",
    "EPISODE_COLOURS",
    "EPISODE_SHAPES",
    "PICK_PARAM",
    "enable",
    "enabled",
    "page",
    "current_page",
    "PageState",
    "save_html",
    "notebook_bundle",
    "vega_spec",
    "page_html",
    "VEGA_MIME",
    "place_labels",
    "unlocated_stops",
    "short_place",
]

#: Okabe-Ito colour-blind-safe palette
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
#: One colour per episode (up to 20 distinct; Okabe-Ito first, then Tableau 20's darker tones)
EPISODE_COLOURS = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
    "#9467BD",
    "#1F77B4",
    "#FF7F0E",
    "#2CA02C",
    "#D62728",
    "#6B6ECF",
    "#B5CF6B",
    "#E7BA52",
    "#843C39",
]
#: One shape per episode as well (colour is never the only cue): vega's symbols, then SVG paths
EPISODE_SHAPES = [
    "circle",
    "square",
    "diamond",
    "triangle-up",
    "triangle-down",
    "triangle-right",
    "triangle-left",
    "cross",
    "wedge",
    "M-1,-0.3L0,-1L1,-0.3L0.6,1H-0.6Z",
    "M-1,1L-0.2,-1H0.2L1,1Z",
    "M0,-1L0.29,-0.4L0.95,-0.31L0.48,0.15L0.59,0.81L0,0.5L-0.59,0.81L-0.48,0.15L-0.95,-0.31L-0.29,-0.4Z",
    "M0,-1L0.87,-0.5L0.87,0.5L0,1L-0.87,0.5L-0.87,-0.5Z",
    "M-0.3,-1H0.3V-0.3H1V0.3H0.3V1H-0.3V0.3H-1V-0.3H-0.3Z",
    "M-1,-1L1,1M1,-1L-1,1",
    "M0,-1L1,0.2L0.6,1H-0.6L-1,0.2Z",
    "M-1,-0.5H1V0.5H-1Z",
    "M-0.5,-1H0.5V1H-0.5Z",
    "M0,-1L1,1H-1ZM0,-0.4L0.5,0.6H-0.5Z",
    "M-1,-1H1V1H-1ZM-0.5,-0.5V0.5H0.5V-0.5Z",
]
#: Name of the vega signal holding the episodes a page's picker shows (see :func:`episode_filter`)
PICK_PARAM = "shown_episodes"
KIND_COLOURS = {"departure": "#0072B2", "arrival": "#D55E00", "event": "#009E73", "sanction": "#CC79A7"}
PRECISION_SHAPES = {"airport": "circle", "city": "diamond", "country": "triangle-up", "position": "cross"}
WIDTH = 820
MAP_HEIGHT = 460
#: The mimetype notebooks get: Vega 5, which JupyterLab 4 (its @jupyterlab/vega5-extension: vega 5, vega-lite 5),
#: Notebook 7 and VS Code all draw. Vega-Lite v6 (altair 6's) has no renderer in the locked JupyterLab.
VEGA_MIME = "application/vnd.vega.v5+json"
_VEGA5_SCHEMA = "https://vega.github.io/schema/vega/v5.json"


def _theme() -> dict:
    return {
        "config": {
            "font": "Helvetica, Arial, sans-serif",
            "title": {"fontSize": 15, "anchor": "start", "subtitleColor": "#555"},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#e6e6e6"},
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "bottom", "columns": 4},
            "range": {"category": PALETTE},
            "view": {"stroke": None},
            "background": "white",
            "padding": 8,
        }
    }


def _flights_theme() -> alt.theme.ThemeConfig:
    return cast(alt.theme.ThemeConfig, _theme())


def _register() -> None:
    if "flights" not in alt.theme.names():
        alt.theme.register("flights", enable=False)(_flights_theme)
    if "flights" not in alt.renderers.names():
        alt.renderers.register("flights", _renderer)


def enable() -> None:
    """Draw charts this package's way in this process: the ``flights`` theme, the ``flights`` renderer (Vega 5 in
    notebook front ends, the report's HTML in a report page) and no row limit on chart data. Importing the module
    does none of this; call it once (the notebooks do, after their imports; the report's setup cell does)."""
    _register()
    alt.theme.enable("flights")
    alt.renderers.enable("flights")
    alt.data_transformers.disable_max_rows()


@contextmanager
def enabled() -> Iterator[None]:
    """:func:`enable` for the length of a ``with`` block: altair's theme, renderer and data settings are put back
    as they were after it (the report's own pages are drawn so, in the report's process)."""
    _register()
    with (
        alt.theme.enable("flights"),
        alt.renderers.enable("flights"),
        alt.data_transformers.disable_max_rows(),
    ):
        yield


def _safe_json(spec: dict) -> str:
    """JSON that cannot close a <script> element, whatever strings the data holds."""
    return json.dumps(spec).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_html(spec: dict, div_id: str | None = None, figure: str | None = None) -> str:
    """A <div>, the inert JSON spec (the report page's inlined vega-embed draws it) and the chart's data table.

    The div id is derived from the page and the chart's place in it (:func:`start_page`'s prefix and a counter),
    or from the spec itself outside the report: rebuilding the same page gives the same ids. With ``figure`` (a
    file stem saved by :func:`save_figure`), links to its SVG and PNG under figures/ follow. The spec's
    ``description`` (Vega-Lite turns it into the chart's aria-label) is filled in from its title when missing.
    """
    _page.charts += 1
    if not spec.get("description"):
        spec = {**spec, "description": describe_spec(spec)}
    if div_id is None:
        prefix = _page.prefix
        div_id = (
            f"chart-{_slug(prefix, 80)}-{_page.charts:02d}"
            if prefix
            else "chart-" + hashlib.sha256(_safe_json(spec).encode(**_channels())).hexdigest()[:12]
        )
    links = ""
    if figure:
        f = html.escape(figure)
        links = (
            f'<p class="figure-links">Download this figure: <a href="figures/{f}.svg">SVG</a> · '
            f'<a href="figures/{f}.png">PNG</a></p>'
        )
    d = html.escape(div_id)
    fig_attr = f' data-figure="{html.escape(figure)}"' if figure else ""
    desc = html.escape(spec["description"])
    # the figure's caption (for screen readers; vega also labels the drawing with the description), the chart,
    # its spec, the data table behind it and the figure files
    return (
        f'<figure class="flights-figure"><figcaption class="sr-only">{desc}</figcaption>'
        f'<div class="flights-chart" id="{d}"{fig_attr} data-description="{desc}"></div>'
        f'<script type="application/json" class="flights-spec" data-target="{d}">'
        f"{_safe_json(spec)}</script>{data_table(spec)}{links}</figure>"
    )


def describe_spec(spec: dict) -> str:
    """A text description of a chart: its title and subtitle (what it shows and how to read it)."""
    parts = [_title_text(spec)]
    for sub in _walk(spec):
        t = sub.get("title")
        if isinstance(t, dict) and t.get("subtitle"):
            st = t["subtitle"]
            parts.append(" ".join(st) if isinstance(st, list) else str(st))
            break
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


def _walk(spec: dict):
    yield spec
    for key in ("vconcat", "hconcat", "concat", "layer"):
        for sub in spec.get(key) or []:
            yield from _walk(sub)
    if isinstance(spec.get("spec"), dict):
        yield from _walk(spec["spec"])


def _tooltip_columns(spec: dict) -> dict[str, list[tuple[str, str, str | None]]]:
    """{dataset name: [(field, title, format)]} from the tooltips of the marks that draw each dataset (a layer
    without its own data draws its parent's)."""
    out: dict[str, list[tuple[str, str, str | None]]] = {}

    def visit(node: dict, inherited: str | None) -> None:
        data = node.get("data")
        name = data.get("name") if isinstance(data, dict) and data.get("name") else inherited
        tips = (node.get("encoding") or {}).get("tooltip")
        if name and tips:
            cols = out.setdefault(name, [])
            for t in tips if isinstance(tips, list) else [tips]:
                if isinstance(t, dict) and t.get("field") and not t.get("aggregate"):
                    col = (t["field"], t.get("title") or t["field"].replace("_", " "), t.get("format"))
                    if col[0] not in [c[0] for c in cols]:
                        cols.append(col)
        for key in ("vconcat", "hconcat", "concat", "layer"):
            for sub in node.get(key) or []:
                visit(sub, name)
        if isinstance(node.get("spec"), dict):
            visit(node["spec"], name)

    visit(spec, None)
    return out


def _cell(value: object, fmt: str | None, field: str = "") -> str:
    if value is None or value == "":
        from .present import why_missing

        word, why = why_missing(field)
        return f"{word} ({why})" if word == "not computed" else word
    if isinstance(value, float):
        if fmt and fmt.endswith(".0f"):
            return f"{value:,.0f}"
        if fmt and fmt.endswith(".2f"):
            return f"{value:,.2f}"
        return f"{value:,.1f}"
    if isinstance(value, str) and len(value) == 20 and value.endswith("Z") and value[10] == "T":
        return value[:16].replace("T", " ") + " UTC"
    return str(value)


def data_table(spec: dict, limit: int = 400) -> str:
    """The data behind a chart as an HTML table (in a closed <details>): the fields its tooltips show, one row
    per distinct combination, in the data's order. Screen readers and people who prefer numbers read this."""
    datasets = spec.get("datasets") or {}
    parts = []
    for name, cols in _tooltip_columns(spec).items():
        rows = datasets.get(name)
        if not rows or not isinstance(rows, list):
            continue
        seen, body = set(), []
        for r in rows:
            cells = tuple(_cell(r.get(f), fmt, f) for f, _, fmt in cols)
            if cells in seen:
                continue
            seen.add(cells)
            body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            if len(body) >= limit:
                break
        head = "".join(f'<th scope="col">{html.escape(str(t))}</th>' for _, t, _ in cols)
        parts.append(
            f'<div class="table-wrap" tabindex="0" role="region" aria-label="Data of {html.escape(name)}: '
            f'{html.escape(_title_text(spec))}">'
            f'<table class="data"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
        )
    if not parts:
        return ""
    return (
        f'<details class="chart-data"><summary>The data behind this chart ({html.escape(_title_text(spec))})'
        f"</summary>{''.join(parts)}</details>"
    )


@dataclass
class PageState:
    """The report page the charts of this process are shown on: its name (``prefix``) numbers the chart ids and
    the figure files; with ``figures`` (a folder), every chart shown is kept there as a vega-lite spec and shown as
    the report's HTML. Outside a report page there is no prefix and no folder (ids come from the spec)."""

    prefix: str | None = None
    figures: Path | None = None
    charts: int = 0  # charts drawn so far on the page
    saved: int = 0  # figures kept so far


_page = PageState()


def current_page() -> PageState:
    """The page charts are shown on now (:func:`start_page`, :func:`page`)."""
    return _page


def start_page(prefix: str | None = None, figures: str | Path | None = None) -> PageState:
    """Start a report page (the report's setup cell calls this in each page's kernel): :func:`enable`, then chart
    and figure numbering start again, chart ids and figure names from ``prefix``, specs kept in ``figures``."""
    global _page
    enable()
    _page = PageState(prefix, Path(figures) if figures else None)
    return _page


@contextmanager
def page(prefix: str, figures: str | Path | None = None) -> Iterator[PageState]:
    """:func:`start_page` for a ``with`` block; the page before it is back after it (theme and renderer are the
    caller's: see :func:`enabled`)."""
    global _page
    before, _page = _page, PageState(prefix, Path(figures) if figures else None)
    try:
        yield _page
    finally:
        _page = before


def _title_text(spec: dict) -> str:
    t = spec.get("title")
    if isinstance(t, dict):
        t = t.get("text")
    if isinstance(t, list):
        t = " ".join(map(str, t))
    if not t:
        for key in ("vconcat", "hconcat", "concat", "layer"):
            for sub in spec.get(key) or []:
                t = _title_text(sub)
                if t:
                    return t
    return str(t or "chart")


def _slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "chart"


def _spec_bytes(spec: dict | alt.TopLevelMixin) -> bytes:
    if not isinstance(spec, dict):
        spec = spec.to_dict()
    return json.dumps(spec, sort_keys=True, separators=(",", ":")).encode(**_channels())


def save_figure(spec: dict | alt.TopLevelMixin, name: str, folder: Path, scale: float = 1.5) -> list[Path]:
    """Write ``name.svg`` and ``name.png`` (rendered offline by vl-convert) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / f"{name}.vl.json"
    spec_path.write_bytes(_spec_bytes(spec))
    try:
        return render_figure(spec_path, folder / name, scale)
    finally:
        spec_path.unlink()


def _auto_figure(spec: dict) -> str | None:
    """When the page keeps figures (:func:`start_page`), keep the shown chart's spec there as ``<name>.vl.json``;
    the report renders SVG and PNG outside the kernel. Returns the figure's file stem."""
    folder = _page.figures
    if folder is None:
        return None
    _page.saved += 1
    prefix = _slug(_page.prefix or "figure", 80)
    name = f"{prefix}-{_page.saved:02d}-{_slug(_title_text(spec))}"
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{name}.vl.json").write_bytes(_spec_bytes(spec))
    return name


def _one_view_per_scale_binding(spec: dict) -> dict:
    """A zoom/pan param (interval bound to scales) attached to one layer only.

    altair lifts a layer's params to the top and lists every layer of that layered chart in ``views``; for a
    scale binding, vega then declares the same ``<name>_tuple`` signal twice ("Duplicate signal"). The layers
    share their x scale, so binding it through the first layer zooms them all.
    """
    params = spec.get("params")
    if not params:
        return spec
    fixed = []
    for p in params:
        if p.get("bind") == "scales" and len(p.get("views") or []) > 1:
            p = {**p, "views": p["views"][:1]}
        fixed.append(p)
    return {**spec, "params": fixed}


_MARK_WORDS = {
    "geoshape": "map shapes",
    "line": "lines",
    "point": "points",
    "bar": "bars",
    "rect": "cells",
    "rule": "reference line",
    "text": "labels",
    "area": "areas",
    "circle": "points",
    "square": "points",
}


def _label_marks(spec: dict, title: str | None = None) -> dict:
    """Give every mark without a tooltip (the basemap, shaded countries, reference lines) a description, which vega
    makes its aria-label: screen readers announce "map shapes: Route map ..." instead of an unlabelled graphic.
    Marks with a tooltip keep vega's per-item labels made from it ("What: Arrival at Caracas; ...")."""
    title = _title_text(spec) if title is None else title
    out = dict(spec)
    mark = out.get("mark")
    tooltip = "tooltip" in (out.get("encoding") or {})
    if mark is not None and not tooltip:  # marks with a tooltip: vega labels each item from it (keep that)
        m = {"type": mark} if isinstance(mark, str) else dict(mark)
        if "description" not in m and m.get("aria") is not False:
            m["description"] = f"{_MARK_WORDS.get(str(m.get('type')), str(m.get('type')))}: {title}"
        out["mark"] = m
    for key in ("vconcat", "hconcat", "concat", "layer"):
        if isinstance(out.get(key), list):
            out[key] = [
                _label_marks(sub, _title_text(sub) if sub.get("title") else title) for sub in out[key]
            ]
    if isinstance(out.get("spec"), dict):
        out["spec"] = _label_marks(out["spec"], title)
    return out


def _prepared(spec: dict) -> dict:
    spec = _label_marks(_one_view_per_scale_binding(spec))
    if not spec.get("description"):
        spec = {**spec, "description": describe_spec(spec)}
    return spec


def vega_spec(spec: dict | alt.TopLevelMixin) -> dict:
    """The chart compiled to a Vega 5 spec by vl-convert (offline: its Vega-Lite compiler is inside the wheel)."""
    import vl_convert

    if not isinstance(spec, dict):
        spec = spec.to_dict()
    version = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    supported = vl_convert.get_vegalite_versions()
    vg = vl_convert.vegalite_to_vega(spec, vl_version=version if version in supported else None)
    vg["$schema"] = _VEGA5_SCHEMA  # vega 6 specs run on vega 5 (the runtime JupyterLab 4 bundles) unchanged
    return vg


def notebook_bundle(spec: dict | alt.TopLevelMixin) -> tuple[dict, dict]:
    """What a notebook shows for a chart: (the chart as ``application/vnd.vega.v5+json`` with its description as
    text/plain, the description and the data table as text/html). Two bundles, because a front end draws one
    representation per output and JupyterLab prefers text/html to Vega: one bundle with both would show the
    table and no chart."""
    if not isinstance(spec, dict):
        spec = spec.to_dict()
    spec = _prepared(spec)
    desc = spec["description"]
    chart = {VEGA_MIME: vega_spec(spec), "text/plain": desc}
    table = {
        "text/html": (
            f'<div class="flights-chart-text"><p class="sr-only">{html.escape(desc)}</p>'
            f"{data_table(spec)}</div>"
        ),
        "text/plain": f"The data behind this chart: {_title_text(spec)}",
    }
    return chart, table


def page_html(spec: dict | alt.TopLevelMixin) -> str:
    """A chart as the report's pages hold it (:func:`chart_html`; its figure saved when the report asks)."""
    spec = _prepared(spec if isinstance(spec, dict) else spec.to_dict())
    return chart_html(spec, figure=_auto_figure(spec))


def _renderer(spec: dict, **_: object) -> dict:
    if _page.figures is not None:  # a report page: the page uses the HTML only (the spec is inside it)
        spec = _prepared(spec)
        return {"text/html": chart_html(spec, figure=_auto_figure(spec))}
    chart, table = notebook_bundle(spec)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with every notebook front end
        return chart
    if get_ipython() is None:  # a plain Python process: the chart alone
        return chart
    display(chart, raw=True)  # the chart first, then (as this call's result) its description and data
    return table


def _offline_page(title: str, body: str, bundle: str) -> str:
    """The standalone page of :func:`save_html` (``analysis/templates/chart.html``)."""
    from markupsafe import Markup

    from .paths import PACKAGE_DIR
    from .shell import template

    assets = PACKAGE_DIR / "assets"
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline' "
        "'unsafe-eval'; font-src data:"
    )
    return template("chart.html").render(
        csp=Markup(csp),
        title=Markup(html.escape(title)),
        body=Markup(body),
        bundle=Markup(bundle),
        css=Markup((assets / "chart.css").read_text(encoding="utf-8")),
        draw=Markup((assets / "chart-draw.js").read_text(encoding="utf-8")),
    )


def save_html(chart: dict | alt.TopLevelMixin, path: str | Path) -> Path:
    """Save a chart as one standalone HTML file that works offline: vega, vega-lite and vega-embed inlined (from
    vl-convert, no download), the chart interactive (tooltips, zoom), its description and data table below it.
    The file loads nothing from the network (altair's ``chart.save("x.html")`` loads the library from a CDN unless
    given ``inline=True``)::

        from analysis import charts
        charts.save_html(charts.route_map(...), "routes.html")
    """
    from .shell import vega_bundle

    spec = _prepared(chart if isinstance(chart, dict) else chart.to_dict())
    path = Path(path)
    body = chart_html(spec, div_id="chart")
    page = _offline_page(_title_text(spec), body, vega_bundle().replace("</script", "<\\/script"))
    path.write_text(page, encoding="utf-8")
    return path


@lru_cache(maxsize=2)
def _basemap_values(path: str) -> str:
    # one compact JSON string, not nested lists: altair copies and validates nested values node by node (a second
    # per chart for the world map); vega-lite parses a string value with the data's format
    return json.dumps(
        json.loads(Path(path).read_text(encoding="utf-8")), separators=(",", ":"), sort_keys=True
    )


def basemap(path: Path | None = None) -> alt.Data:
    """Natural Earth 110m countries (world-atlas TopoJSON) from data/raw, inline: no download."""
    path = path or default_project().basemap
    return alt.Data(
        values=_basemap_values(str(path)), format=alt.DataFormat(type="topojson", feature="countries")
    )


def _channels(**encodings: Any) -> dict[str, Any]:
    """Encodings as altair's channel objects (``alt.Longitude("lon:Q")``, ``alt.SizeValue(70)``...) instead of the
    shorthand strings and value dicts ``encode`` would otherwise wrap itself: altair wraps each of those through a
    converter it builds over its whole schema, 5-25 ms a string, most of a route map's build time. The spec is the
    same, view names too (altair hashes the channels' text). Channel objects, lists (tooltips), conditions and
    anything else pass unchanged."""
    out: dict[str, Any] = {}
    for name, value in encodings.items():
        cls = name[0].upper() + name[1:]
        if isinstance(value, str):
            value = getattr(alt, cls)(shorthand=value)
        elif isinstance(value, dict) and set(value) == {"value"}:  # not a condition: altair converts those
            value = getattr(alt, f"{cls}Value")(**value)
        out[name] = value
    return out


def _iso(df: pl.DataFrame) -> pl.DataFrame:
    """Datetimes as ISO strings with Z, for vega-lite (which reads them as UTC)."""
    return df.with_columns(
        [
            pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            for c, t in df.schema.items()
            if isinstance(t, pl.Datetime)
        ]
    )


def _with_sources(df: pl.DataFrame, sources: pl.DataFrame | None, col: str = "source_ids") -> pl.DataFrame:
    """Add ``sources``: 'S1 Reuters via Task & Purpose (2019-03-24); ...' for tooltips.

    Without a bibliography the column still exists and holds the source ids, so every tooltip has sources.
    """
    if col not in df.columns:
        return df.with_columns(pl.lit("derived from the stops' sources").alias("sources"))
    if sources is None:
        return df.with_columns(pl.col(col).str.replace_all(";", "; ").fill_null("no source").alias("sources"))
    names = {
        r["source_id"]: f"{r['source_id']} {r['outlet'] or 'unnamed outlet'}"
        + (f" ({r['published_reported']})" if r.get("published_reported") else "")
        for r in sources.iter_rows(named=True)
    }
    return df.with_columns(
        pl.col(col)
        .map_elements(
            lambda s: "; ".join(names.get(i, i) for i in (s or "").split(";") if i) or "no source",
            return_dtype=pl.String,
        )
        .alias("sources")
    )


def _id_hash(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def _free(start: int, size: int, used) -> int:
    """The first of ``start, start+1, ...`` (modulo ``size``) not in ``used``; ``start`` when all are used."""
    return next(((start + i) % size for i in range(size) if (start + i) % size not in used), start % size)


def episode_scales(episode_ids: list[str]) -> tuple[alt.Scale, alt.Scale]:
    """Colour and shape scales giving every episode its own colour AND its own shape, the same on every page.

    An episode's colour and shape come from a hash of its id, not from its place in a list: adding an episode
    recolours none of the others. Pass every episode id of the study in time order: where two hashes collide the
    later episode takes the next free colour (and shape), so up to 20 episodes have 20 distinct colours and shapes,
    and an episode added after the others (a new one) moves nobody."""
    nc, ns = len(EPISODE_COLOURS), len(EPISODE_SHAPES)
    used_c: set[int] = set()
    used_s: set[int] = set()
    pairs: set[tuple[int, int]] = set()
    colours, shapes = [], []
    for e in episode_ids:
        h = _id_hash(e)
        c = _free(h % nc, nc, used_c) if len(used_c) < nc else h % nc
        sh = _free((h // nc) % ns, ns, used_s) if len(used_s) < ns else (h // nc) % ns
        while (c, sh) in pairs and len(pairs) < nc * ns:  # colour and shape both taken: the next shape
            sh = (sh + 1) % ns
        used_c.add(c)
        used_s.add(sh)
        pairs.add((c, sh))
        colours.append(EPISODE_COLOURS[c])
        shapes.append(EPISODE_SHAPES[sh])
    return alt.Scale(domain=list(episode_ids), range=colours), alt.Scale(
        domain=list(episode_ids), range=shapes
    )


def episode_filter(columns: tuple[str, ...] = ("episode_id",), keep_null: bool = False) -> str:
    """A vega expression keeping the rows whose episode columns are all among the page picker's episodes."""
    tests = [f"indexof({PICK_PARAM}, datum.{c}) >= 0" for c in columns]
    expr = " && ".join(tests)
    return f"!datum.{columns[0]} || ({expr})" if keep_null else expr


def pickable(chart, episode_ids: list[str] | None):
    """Declare the picker's signal on a finished chart (all episodes shown at first); None leaves it as it is."""
    if episode_ids is None:
        return chart
    return chart.add_params(alt.param(name=PICK_PARAM, value=list(episode_ids)))


def _pick(chart, pick: list[str] | None, columns: tuple[str, ...] = ("episode_id",), keep_null: bool = False):
    return chart if pick is None else chart.transform_filter(episode_filter(columns, keep_null))


def timeline(
    items: pl.DataFrame,
    sources: pl.DataFrame | None = None,
    title: str = "Timeline",
    lanes: str = "episode",
    select: alt.Parameter | None = None,
    zoom: str | None = "timeline_zoom",
    pick: list[str] | None = None,
    width: int | None = None,
    notes: bool = True,
    names: dict[str, str] | None = None,
) -> alt.LayerChart | alt.FacetChart:
    """Milestones and context events as UTC intervals: a bar spans what the source allows, a dot marks its middle.

    ``items`` is :func:`analysis.queries.timeline`. Exact times show as dots; a day or "late January" shows as
    a bar across the whole interval, so uncertainty is visible, never hidden.
    """
    df = items.filter(pl.col("earliest_utc").is_not_null()).with_columns(
        pl.when(pl.col("episode_id").is_null())
        .then(pl.lit("context: ") + pl.col("kind"))
        .otherwise(pl.col("episode_id").replace_strict(names or {}, default=pl.col("episode_id")))
        .alias("lane"),
        (pl.col("earliest_utc") + (pl.col("latest_utc") - pl.col("earliest_utc")) / 2).alias("mid_utc"),
        ((pl.col("latest_utc") - pl.col("earliest_utc")).dt.total_minutes() / 60).alias("width_h"),
    )
    df = _iso(_with_sources(df, sources)).with_columns(
        pl.col("item_id").str.extract(r"^stop:(.+):[a-z]+$", 1).alias("stop_id"),
        pl.col("precision").replace(PRECISION_LABELS).alias("precision"),
    )  # words, not codes, in legend and tooltip
    base = alt.Chart(df).encode(
        **_channels(
            y=alt.Y("lane:N", title=None, sort=alt.EncodingSortField("earliest_utc", op="min")),
            color=alt.Color(
                "kind:N",
                title="Kind",
                scale=alt.Scale(domain=list(KIND_COLOURS), range=list(KIND_COLOURS.values())),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="What"),
                alt.Tooltip("reported:N", title="As reported"),
                alt.Tooltip("precision:N", title="Precision"),
                alt.Tooltip("earliest_utc:T", title="Earliest (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("latest_utc:T", title="Latest (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("sources:N", title="Sources"),
            ],
        )
    )
    bars = base.mark_bar(height=10, opacity=0.45, cornerRadius=2).encode(
        **_channels(
            # vega's multi-scale time labels: days, months or years as the zoom needs, never the same label twice
            x=alt.X(
                "earliest_utc:T",
                title="Time (UTC)",
                scale=alt.Scale(padding=14),
                axis=alt.Axis(labelOverlap="greedy", labelAngle=0, tickCount=7, labelSeparation=6),
            ),
            x2="latest_utc:T",
        )
    )
    bars = _pick(bars, pick, keep_null=True)
    dots = base.mark_point(filled=True, size=55, opacity=0.95).encode(
        **_channels(
            x="mid_utc:T",
            shape=alt.Shape("precision:N", title="Time precision", legend=alt.Legend(labelLimit=260)),
        )
    )
    dots = _pick(dots, pick, keep_null=True)
    subtitle = [
        "Bars span the interval the sources allow (a reported day = 24 h of local time); dots mark the middle."
    ]
    if zoom and notes:
        subtitle.append(
            "Scroll or pinch on the chart to zoom the time axis, drag to pan, double-click to reset."
        )
    if zoom:
        # zoom (wheel) and pan (drag) on the time axis: its own param, on the same layer as the click selection
        # (the bars share the x scale); see _one_view_per_scale_binding
        dots = dots.add_params(alt.selection_interval(name=zoom, bind="scales", encodings=["x"]))
    if select is not None:
        dots = (
            dots.add_params(select)
            .encode(
                **_channels(
                    size=alt.condition(select, alt.value(200), alt.value(55)),
                    stroke=alt.condition(select, alt.value("#000000"), alt.value(None)),
                )
            )
            .mark_point(filled=True, opacity=0.95, cursor="pointer")
        )
        subtitle.append(
            "Click a flight milestone to highlight the legs touching that stop on the map; "
            "double-click to clear."
        )
    n = max(1, df["lane"].n_unique())
    return alt.layer(bars, dots).properties(
        width=width or WIDTH,
        height=max(90 if notes else 40, 26 * n),
        title=alt.Title(title, subtitle=subtitle if notes else alt.Undefined),
        description=f"{title}: {df.filter(pl.col('episode_id').is_not_null()).height} flight milestones and "
        f"{df.filter(pl.col('episode_id').is_null()).height} context events on a time axis (UTC), "
        "each a bar across the interval the sources allow. The table below lists them.",
    )


# --- place names on maps: Equal Earth in pixels (as d3 computes it), then labels placed greedily without overlap ---
_EE = (1.340264, -0.081106, 0.000893, 0.003796)


def _equal_earth(lon: float, lat: float) -> tuple[float, float]:
    """d3.geoEqualEarth's raw projection (radians in, unit plane out, y up)."""
    import math

    a1, a2, a3, a4 = _EE
    m = math.sqrt(3) / 2
    lam, phi = math.radians(lon), math.radians(lat)
    t = math.asin(m * math.sin(phi))
    t2 = t * t
    t6 = t2 * t2 * t2
    x = lam * math.cos(t) / (m * (a1 + 3 * a2 * t2 + t6 * (7 * a3 + 9 * a4 * t2)))
    y = t * (a1 + a2 * t2 + t6 * (a3 + a4 * t2))
    return x, y


def _fitted(points: Sequence[tuple[float, float]], width: float, height: float):
    """The pixel position function of a projection fitted (d3 ``fitSize``) to ``points`` (lon, lat)."""
    xy = [_equal_earth(lo, la) for lo, la in points]
    x0, x1 = min(p[0] for p in xy), max(p[0] for p in xy)
    y0, y1 = min(-p[1] for p in xy), max(-p[1] for p in xy)
    k = min(width / max(x1 - x0, 1e-9), height / max(y1 - y0, 1e-9))
    tx, ty = (width - k * (x1 + x0)) / 2, (height - k * (y1 + y0)) / 2

    def px(lon: float, lat: float) -> tuple[float, float]:
        x, y = _equal_earth(lon, lat)
        return tx + k * x, ty - k * y

    return px


#: label placements: name -> (align, baseline, dx, dy), tried in this order
_PLACES = {
    "right": ("left", "middle", 7, 0),
    "left": ("right", "middle", -7, 0),
    "above": ("center", "bottom", 0, -7),
    "below": ("center", "top", 0, 7),
}
_ROLE_RANK = {"origin": 0, "destination": 0, "staging": 1}


def short_place(name: str) -> str:
    """A place's name as a map label: no bracketed part, no "International"/"Airport", the city before a comma
    ("Caracas Maiquetía (Simón Bolívar International)" -> "Caracas Maiquetía")."""
    out = re.sub(r"\s*\([^)]*\)", "", name).strip()
    out = re.sub(r"\s+(International( Airport)?|Airport)$", "", out).strip()
    out = out.split(", ")[0].strip() or name
    if len(out) > 26:
        out = out[:25].rsplit(" ", 1)[0] + "…"
    return out


def place_labels(
    stops: pl.DataFrame,
    px,
    width: float = WIDTH,
    height: float = MAP_HEIGHT,
    limit: int = 30,
    font_size: float = 11,
) -> pl.DataFrame:
    """Which place names to draw on a map, and where, so that no two overlap (nor cover a stop symbol).

    Origin and destination first, then staging stops, then the rest, the most visited first; each name is tried to
    the right, left, above and below its stop and dropped when every place collides (its name stays in the
    tooltip and the data table). Returns place_name, lon, lat, placement, rank."""
    located = stops.filter(pl.col("lat").is_not_null() & pl.col("place_name").is_not_null())
    if located.height == 0:
        return pl.DataFrame(
            schema={
                "place_name": pl.String,
                "lon": pl.Float64,
                "lat": pl.Float64,
                "placement": pl.String,
                "rank": pl.Int64,
            }
        )
    cand = (
        located.with_columns(
            pl.col("role").replace_strict(_ROLE_RANK, default=2, return_dtype=pl.Int64).alias("rank")
        )
        .group_by("place_name", pl.col("lat").round(2), pl.col("lon").round(2))
        .agg(pl.col("rank").min(), pl.len().alias("visits"))
        .sort(["rank", "visits", "place_name", "lat", "lon"], descending=[False, True, False, False, False])
    )
    dots = [px(lo, la) for lo, la in zip(located["lon"], located["lat"], strict=True)]
    boxes: list[tuple[float, float, float, float]] = [(x - 4, y - 4, x + 4, y + 4) for x, y in dots]
    rows: list[dict] = []
    named: list[tuple[float, float]] = []
    for r in cand.iter_rows(named=True):
        if len(rows) >= limit:
            break
        x, y = px(r["lon"], r["lat"])
        if not (0 <= x <= width and 0 <= y <= height):
            continue
        if any(abs(x - a) < 12 and abs(y - b) < 12 for a, b in named):  # the same place under another name
            continue
        text = short_place(r["place_name"])
        w, h = 0.58 * font_size * len(text) + 2, font_size + 2
        own = (x - 4, y - 4, x + 4, y + 4)
        for name, (align, base, dx, dy) in _PLACES.items():
            left = x + dx if align == "left" else x + dx - w if align == "right" else x - w / 2
            top = y + dy - h / 2 if base == "middle" else y + dy - h if base == "bottom" else y + dy
            box = (left, top, left + w, top + h)
            if box[0] < 0 or box[2] > width or box[1] < 0 or box[3] > height:
                continue
            if any(
                b != own and not (box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3])
                for b in boxes
            ):
                continue
            boxes.append(box)
            named.append((x, y))
            rows.append(
                {"place_name": text, "lon": r["lon"], "lat": r["lat"], "placement": name, "rank": r["rank"]}
            )
            break
    return pl.DataFrame(
        rows,
        schema={
            "place_name": pl.String,
            "lon": pl.Float64,
            "lat": pl.Float64,
            "placement": pl.String,
            "rank": pl.Int64,
        },
    )


def _label_layers(labels: pl.DataFrame) -> list:
    """Text layers for :func:`place_labels`: a white halo under each name, then the name (bold for origin and
    destination), one pair of layers per placement (vega-lite's text offsets are per mark, not per datum)."""
    layers = []
    for name, (align, base, dx, dy) in _PLACES.items():
        for bold in (True, False):
            part = labels.filter((pl.col("placement") == name) & ((pl.col("rank") == 0) == bold))
            if part.height == 0:
                continue
            enc = _channels(longitude="lon:Q", latitude="lat:Q", text="place_name:N")
            common: dict[str, Any] = {
                "align": align,
                "baseline": base,
                "dx": dx,
                "dy": dy,
                "fontSize": 11,
                "clip": True,
                "fontWeight": "bold" if bold else "normal",
            }
            layers.append(
                alt.Chart(part)
                .mark_text(
                    stroke="white", strokeWidth=3, strokeOpacity=0.9, fill="white", aria=False, **common
                )
                .encode(**enc)
            )
            layers.append(alt.Chart(part).mark_text(fill="#1d1d1d", **common).encode(**enc))
    return layers


_UNLOCATED_WHY = {
    "city": "the sources name only the city, and no airport of it is assumed",
    "country": "the sources name only the country, and no airport in it is assumed",
    "region": "the sources name only a region, no country",
}


def unlocated_stops(stops: pl.DataFrame, names: dict[str, str] | None = None) -> list[str]:
    """One line per place a map cannot draw (no coordinates): the place, what it was for whom, and why."""
    names = names or {}
    missing = stops.filter(pl.col("lat").is_null())
    lines = []
    for (place, precision), group in missing.group_by("place_name", "place_precision", maintain_order=True):
        roles = group["role"].fill_null("stop").to_list()
        who = sorted({names.get(a, a) for a in group["aircraft_id"].drop_nulls().to_list()})
        what = ", ".join(f"{r} ×{roles.count(r)}" if roles.count(r) > 1 else r for r in dict.fromkeys(roles))
        whom = f" of {who[0]}" if len(who) == 1 else f" of {len(who)} aircraft" if who else ""
        why = _UNLOCATED_WHY.get(precision or "", "no coordinates in the data")
        lines.append(f"{place or 'unnamed place'} ({what}{whom}): {why}.")
    return lines


def _wrap(text: str, width: int = 135) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent="   ") or [""]


def _notes_chart(lines: list[str], heading: str) -> alt.Chart:
    rows = [{"line": 0, "text": heading}]
    for text in lines:
        for part in _wrap("• " + text):
            rows.append({"line": len(rows), "text": part})
    return (
        alt.Chart(pl.DataFrame(rows))
        .mark_text(align="left", baseline="top", fontSize=11, color="#333", limit=WIDTH)
        .encode(
            **_channels(
                x=alt.value(0), y=alt.Y("line:O", axis=None, scale=alt.Scale(padding=0.5)), text="text:N"
            )
        )
        .properties(width=WIDTH, height=15 * len(rows))
    )


def _aircraft_widths(ids: list[str]) -> list[float]:
    """Line widths for aircraft on one map, widest first: routes flown by several aircraft show every colour as a
    band inside a wider band, so no aircraft hides another."""
    n = len(ids)
    if n <= 1:
        return [2.0] * n
    step = min(3.5, 9.0 / (n - 1))
    return [round(2.5 + step * (n - 1 - i), 1) for i in range(n)]


def route_map(
    paths: pl.DataFrame,
    stops: pl.DataFrame,
    sources: pl.DataFrame | None = None,
    title: str = "Routes",
    colour: str = "episode_id",
    basemap_path: Path | None = None,
    extent: str = "data",
    highlight: alt.Parameter | None = None,
    episodes: list[str] | None = None,
    pick: list[str] | None = None,
    names: dict[str, str] | None = None,
    labels: bool = True,
):
    """Great-circle arcs on a world basemap; stops drawn by place precision, the main stops named on the map.

    Airports are circles, cities diamonds, country-only stops triangles on the country's inferred airport, and
    the country itself is shaded when a stop is known only to the country. Dashed arcs end at an inferred
    airport. ``paths`` is :func:`analysis.queries.leg_paths`, ``stops`` :func:`analysis.queries.stops`.

    Place names (``labels``) are drawn beside the stops, origin and destination first, none overlapping another
    (:func:`place_labels`), so that a printed map (SVG, PNG, the PDF) can be read without hovering. Stops without
    coordinates are listed beneath the map with the reason (the chart is then the map above that list).

    ``highlight`` is a selection on ``stop_id`` made in another view (see :func:`episode_view`): the legs that
    start or end at a selected stop are drawn thick on top, and the stop itself is enlarged. ``paths`` then
    needs ``from_stop_id`` and ``to_stop_id`` (from :func:`analysis.queries.legs`).

    Coloured by episode (``colour="episode_id"``), every episode gets its own colour and its own stop shape from
    :func:`episode_scales` over ``episodes`` (every episode of the study, so colours match across pages); the
    place precision is then in the tooltip. Coloured by aircraft, each aircraft's arcs have their own width (the
    first widest) so that aircraft flying the same route are all visible. ``names`` (:func:`analysis.queries.names`)
    gives the legends and tooltips words instead of ids. ``pick`` (the page's episode picker) filters by episode.
    """
    names = names or {}
    by_episode = colour == "episode_id"
    by_aircraft = colour == "aircraft_id"
    ep_ids = (
        list(episodes)
        if episodes
        else sorted(
            set(stops["episode_id"].to_list())
            | set(paths["episode_id"].to_list() if "episode_id" in paths.columns else [])
        )
    )
    ep_colour, ep_shape = episode_scales(ep_ids)
    word = {i: names.get(i, i) for i in ep_ids}
    if by_episode:  # the legend in words: the scale's domain is the episodes' names, in the same order
        ep_colour = alt.Scale(domain=[word[i] for i in ep_ids], range=ep_colour.range)
        ep_shape = alt.Scale(domain=[word[i] for i in ep_ids], range=ep_shape.range)
    colour_title = "Episode" if by_episode else ("Aircraft" if by_aircraft else colour.replace("_", " "))
    label_of = {"episode_id": "episode_name", "aircraft_id": "aircraft_name"}
    colour_field = label_of.get(colour, colour)

    def named(df: pl.DataFrame) -> pl.DataFrame:
        extra = [
            pl.col(c).replace_strict(names, default=pl.col(c), return_dtype=pl.String).alias(n)
            for c, n in label_of.items()
            if c in df.columns
        ]
        return df.with_columns(extra) if extra else df

    paths, stops = named(paths), named(stops)
    colour_scale = ep_colour if by_episode else alt.Undefined
    aircraft = list(
        dict.fromkeys(
            stops["aircraft_name"].drop_nulls().to_list()
            + (paths["aircraft_name"].drop_nulls().to_list() if "aircraft_name" in paths.columns else [])
        )
    )
    countries_only = [
        c for c in stops.filter(pl.col("place_precision") == "country")["country"].unique().to_list() if c
    ]
    from .geo import country_numeric

    numerics = sorted({n for c in countries_only if (n := country_numeric(c))})
    located = stops.filter(pl.col("lat").is_not_null())
    lat = located["lat"].to_list() + paths["lat"].to_list()
    lon = located["lon"].to_list() + paths["lon"].to_list()
    height = MAP_HEIGHT
    if extent == "data" and lat:
        pad = 8
        corners = [
            (x, y)
            for x in (max(-180, min(lon) - pad), min(180, max(lon) + pad))
            for y in (max(-85, min(lat) - pad), min(85, max(lat) + pad))
        ]
        fit = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {
                        # all four corners: in Equal Earth the widest point of a box is a low-latitude corner
                        "type": "MultiPoint",
                        "coordinates": [list(c) for c in corners],
                    },
                }
            ],
        }
        projection = alt.Projection(type="equalEarth", fit=fit, clipExtent=[[0, 0], [WIDTH, MAP_HEIGHT]])
        px = _fitted(corners, WIDTH, height)
    else:
        projection = alt.Projection(type="equalEarth", clipExtent=[[0, 0], [WIDTH, MAP_HEIGHT]])
        px = _fitted([(x, y) for x in (-180, 180) for y in (-85, 85)] + [(0, -90), (0, 90)], WIDTH, height)
    # clipExtent: geometry is cut to the frame before drawing; without it a zoomed map carries the whole world in
    # paths thousands of pixels wide (4x slower to draw, 10x slower to rasterise)
    world = alt.Chart(basemap(basemap_path)).mark_geoshape(
        fill="#e9e9e6", stroke="#ffffff", strokeWidth=0.5, clip=True
    )
    layers = [world]
    if numerics:
        layers.append(
            alt.Chart(basemap(basemap_path))
            .mark_geoshape(fill="#E69F00", opacity=0.25, stroke="#E69F00", clip=True)
            .transform_filter(alt.FieldOneOfPredicate(field="id", oneOf=numerics))
        )
    p = _iso(_with_sources(paths, sources))
    if p.height:
        p = p.with_columns(
            pl.when(pl.col("distance_basis") == "inferred")
            .then(pl.lit("inferred airport at an end"))
            .otherwise(pl.lit("both ends reported airports"))
            .alias("basis")
        )
        # one layer per aircraft when several share a map, widest first (vega-lite has no per-line width channel
        # for grouped lines): every aircraft stays visible as a band inside the band of the one before
        groups = (
            [(a, w) for a, w in zip(aircraft, _aircraft_widths(aircraft), strict=True)]
            if by_aircraft and len(aircraft) > 1
            else [(None, 2.0)]
        )
        for who, width in groups:
            base = (
                alt.Chart(p)
                if who is None
                else alt.Chart(p).transform_filter(alt.FieldEqualPredicate(field="aircraft_name", equal=who))
            )
            layers.append(
                _pick(base, pick)
                .mark_line(strokeWidth=width, opacity=0.85 if who is None else 1, clip=True)
                .encode(
                    **_channels(
                        longitude="lon:Q",
                        latitude="lat:Q",
                        detail="leg_id:N",
                        order="point_seq:Q",
                        color=alt.Color(
                            f"{colour_field}:N",
                            title=colour_title,
                            scale=colour_scale,
                            sort=aircraft if by_aircraft else alt.Undefined,
                            legend=alt.Legend(symbolType="stroke", labelLimit=300)
                            if by_episode
                            else alt.Legend(labelLimit=300),
                        ),
                        strokeDash=alt.StrokeDash(
                            "basis:N",
                            title="Leg ends",
                            scale=alt.Scale(
                                domain=["both ends reported airports", "inferred airport at an end"],
                                range=[[1, 0], [5, 3]],
                            ),
                        ),
                        tooltip=[
                            alt.Tooltip("from_name:N", title="From"),
                            alt.Tooltip("to_name:N", title="To"),
                            *(
                                [alt.Tooltip("aircraft_name:N", title="Aircraft")]
                                if "aircraft_name" in p.columns
                                else []
                            ),
                            alt.Tooltip("distance_km:Q", title="Great circle (km)", format=",.0f"),
                            alt.Tooltip("sources:N", title="Sources"),
                        ],
                    )
                )
            )
        if highlight is not None and {"from_stop_id", "to_stop_id"} <= set(p.columns):
            layers.append(
                alt.Chart(p)
                .transform_fold(["from_stop_id", "to_stop_id"], as_=["end", "stop_id"])
                .transform_filter(highlight)
                .mark_line(strokeWidth=5, opacity=1, color="#000000", clip=True)
                .encode(
                    **_channels(
                        longitude="lon:Q",
                        latitude="lat:Q",
                        detail="leg_id:N",
                        order="point_seq:Q",
                        tooltip=[
                            alt.Tooltip("from_name:N", title="From"),
                            alt.Tooltip("to_name:N", title="To"),
                            alt.Tooltip("distance_km:Q", title="Great circle (km)", format=",.0f"),
                            alt.Tooltip("sources:N", title="Sources"),
                        ],
                    )
                )
            )
    s = _iso(
        _with_sources(
            located.select(
                "stop_id",
                "episode_id",
                "episode_name",
                "aircraft_id",
                "aircraft_name",
                "seq",
                "place_name",
                "place_precision",
                "location_basis",
                "lat",
                "lon",
                "role",
                "arr_reported",
                "dep_reported",
                "evidence",
                "source_ids",
            ),
            sources,
        )
    )
    if s.height:
        size = alt.value(70) if highlight is None else alt.condition(highlight, alt.value(260), alt.value(70))
        shape = (
            alt.Shape("episode_name:N", title="Episode", scale=ep_shape)
            if by_episode
            else alt.Shape(
                "place_precision:N",
                title="Stop known to",
                scale=alt.Scale(domain=list(PRECISION_SHAPES), range=list(PRECISION_SHAPES.values())),
            )
        )
        layers.append(
            _pick(alt.Chart(s), pick)
            .mark_point(filled=True, stroke="#222", strokeWidth=0.6, clip=True)
            .encode(
                **_channels(
                    longitude="lon:Q",
                    latitude="lat:Q",
                    size=size,
                    shape=shape,
                    color=alt.Color(
                        f"{colour_field}:N",
                        scale=colour_scale,
                        title=colour_title,
                        sort=aircraft if by_aircraft else alt.Undefined,
                    ),
                    tooltip=[
                        alt.Tooltip("episode_name:N", title="Episode"),
                        alt.Tooltip("aircraft_name:N", title="Aircraft"),
                        alt.Tooltip("place_name:N", title="Place"),
                        alt.Tooltip("place_precision:N", title="Known to"),
                        alt.Tooltip("location_basis:N", title="Located by"),
                        alt.Tooltip("role:N", title="Role"),
                        alt.Tooltip("arr_reported:N", title="Arrival as reported"),
                        alt.Tooltip("dep_reported:N", title="Departure as reported"),
                        alt.Tooltip("evidence:N", title="Evidence"),
                        alt.Tooltip("sources:N", title="Sources"),
                    ],
                )
            )
        )
    if labels and located.height:
        layers.extend(_label_layers(place_labels(located, px, WIDTH, height)))
    n_legs = p["leg_id"].n_unique() if p.height else 0
    missing = unlocated_stops(stops, names)
    desc = (
        f"{title}: a world map with {n_legs} legs drawn as great-circle arcs and {s.height} located "
        f"stops of {len(set(s['episode_id'].to_list())) if s.height else 0} episode(s), the main stops named. "
        + (f"Not on the map, without coordinates: {' '.join(missing)} " if missing else "")
        + "The table below lists every stop and leg with its sources."
    )
    subtitle = [
        "Great-circle arcs; dashed where an end is an inferred airport; shaded countries are stops "
        "reported only by country."
    ]
    if by_aircraft and len(aircraft) > 1:
        subtitle.append(
            "Aircraft on the same route are drawn one inside another: the first in the legend widest."
        )
    chart = alt.layer(*layers).properties(
        width=WIDTH, height=height, projection=projection, title=alt.Title(title, subtitle=subtitle)
    )
    if not missing:
        return chart.properties(description=desc)
    return (
        alt.vconcat(chart, _notes_chart(missing, "Not on the map (no coordinates):"), spacing=6)
        .resolve_scale(y="independent")
        .properties(description=desc)
    )


def leg_distances(
    legs: pl.DataFrame,
    title: str = "Leg distances by episode",
    sources: pl.DataFrame | None = None,
    pick: list[str] | None = None,
) -> alt.Chart:
    """Stacked great-circle distance of each located leg, per episode and aircraft (km)."""
    df = legs.filter(pl.col("distance_km").is_not_null()).with_columns(
        (pl.col("episode_id") + " · " + pl.col("aircraft_id")).alias("route"),
        (pl.col("from_name") + " → " + pl.col("to_name")).alias("leg"),
    )
    df = _iso(
        _with_sources(
            df.select(
                "episode_id",
                "route",
                "leg",
                "leg_seq",
                "distance_km",
                "distance_basis",
                "evidence",
                "source_ids",
            ),
            sources,
        )
    )
    return (
        _pick(alt.Chart(df), pick)
        .mark_bar(stroke="white", strokeWidth=0.5)
        .encode(
            **_channels(
                y=alt.Y("route:N", title=None, axis=alt.Axis(labelLimit=320)),
                x=alt.X("sum(distance_km):Q", title="Great-circle distance (km)"),
                color=alt.Color("leg_seq:O", title="Leg", scale=alt.Scale(scheme="viridis")),
                order="leg_seq:Q",
                opacity=alt.Opacity(
                    "distance_basis:N",
                    title="Ends",
                    scale=alt.Scale(domain=["airports", "inferred"], range=[1, 0.55]),
                ),
                tooltip=[
                    alt.Tooltip("route:N", title="Episode · aircraft"),
                    alt.Tooltip("leg:N", title="Leg"),
                    alt.Tooltip("distance_km:Q", title="Great-circle distance (km)", format=",.0f"),
                    alt.Tooltip("distance_basis:N", title="Ends"),
                    alt.Tooltip("sources:N", title="Sources"),
                ],
            )
        )
        .properties(
            width=WIDTH,
            height=max(90, 24 * df["route"].n_unique()),
            description=(
                f"{title}: a stacked bar per route ({df['route'].n_unique()} routes, {df.height} located legs), each segment "
                "one leg's great-circle distance in km, in flight order."
            ),
            title=alt.Title(
                title,
                subtitle="Each segment is one leg, in flight order; lighter segments end at an inferred airport.",
            ),
        )
    )


def detour_factors(
    summary: pl.DataFrame,
    title: str = "Outbound detour factor",
    sources: pl.DataFrame | None = None,
    pick: list[str] | None = None,
) -> alt.LayerChart | alt.FacetChart:
    """Outbound distance flown over the direct great-circle distance, per episode (1 = direct)."""
    df = _iso(
        _with_sources(
            summary.filter(pl.col("detour_factor").is_not_null()).select(
                "episode_id",
                "detour_factor",
                "outbound_km",
                "direct_km",
                "outbound_staging_stops",
                "uses_inferred_places",
                "source_ids",
            ),
            sources,
        )
    )
    bars = (
        _pick(alt.Chart(df), pick)
        .mark_bar(color=PALETTE[0])
        .encode(
            **_channels(
                y=alt.Y("episode_id:N", title=None, sort="-x"),
                x=alt.X(
                    "detour_factor:Q",
                    title="Outbound km flown / direct km (1 = direct)",
                    scale=alt.Scale(zero=True),
                ),
                tooltip=[
                    alt.Tooltip("episode_id:N", title="Episode"),
                    alt.Tooltip("detour_factor:Q", format=".2f", title="Detour factor"),
                    alt.Tooltip("outbound_km:Q", format=",.0f", title="Flown (km)"),
                    alt.Tooltip("direct_km:Q", format=",.0f", title="Direct (km)"),
                    alt.Tooltip("outbound_staging_stops:Q", title="Staging stops"),
                    alt.Tooltip("uses_inferred_places:N", title="Uses inferred airports"),
                    alt.Tooltip("sources:N", title="Sources"),
                ],
            )
        )
    )
    rule = (
        alt.Chart(pl.DataFrame({"x": [1.0]}))
        .mark_rule(strokeDash=[4, 3], color="#333")
        .encode(**_channels(x="x:Q"))
    )
    return alt.layer(bars, rule).properties(
        width=WIDTH,
        height=max(100, 28 * max(1, df.height)),
        description=(
            f"{title}: a bar per episode ({df.height}) of outbound distance flown over the direct distance; "
            "a dashed line marks 1, a direct flight."
        ),
        title=alt.Title(
            title, subtitle="Only routes whose outbound legs are all located; 1.0 would be a direct flight."
        ),
    )


def _union_ids(col: str = "source_ids") -> pl.Expr:
    """In an aggregation: the group's ';'-separated ids, merged, unique and sorted."""
    return (
        pl.col(col)
        .drop_nulls()
        .str.join(";")
        .map_elements(
            lambda v: ";".join(sorted({i for i in (v or "").split(";") if i})), return_dtype=pl.String
        )
    )


def staging_matrix(
    stops: pl.DataFrame,
    title: str = "Staging countries by episode",
    sources: pl.DataFrame | None = None,
    pick: list[str] | None = None,
) -> alt.Chart:
    """Which countries each episode staged through (outbound and return), as a grid."""
    df = (
        stops.filter(pl.col("role") == "staging")
        .group_by("episode_id", "country_name")
        .agg(pl.len().alias("stops"), _union_ids())
    )
    df = _with_sources(df, sources).sort("episode_id", "country_name")
    return (
        _pick(alt.Chart(df), pick)
        .mark_rect(stroke="white")
        .encode(
            **_channels(
                x=alt.X("country_name:N", title="Staging country", axis=alt.Axis(labelAngle=-35)),
                y=alt.Y("episode_id:N", title=None),
                color=alt.Color(
                    "stops:Q", title="Staging stops", scale=alt.Scale(scheme="blues", domainMin=0)
                ),
                tooltip=[
                    alt.Tooltip("episode_id:N", title="Episode"),
                    alt.Tooltip("country_name:N", title="Country"),
                    alt.Tooltip("stops:Q", title="Staging stops"),
                    alt.Tooltip("sources:N", title="Sources"),
                ],
            )
        )
        .properties(
            width=WIDTH - 200,
            height=max(100, 26 * max(1, df["episode_id"].n_unique())),
            description=(
                f"{title}: a grid of episodes ({df['episode_id'].n_unique()}) by staging country "
                f"({df['country_name'].n_unique()}), shaded by the number of staging stops."
            ),
            title=alt.Title(
                title,
                subtitle="Staging = stops between origin and destination and on the way home (main routes).",
            ),
        )
    )


def similarity_matrix(
    sim: pl.DataFrame,
    title: str = "Route similarity",
    stops: pl.DataFrame | None = None,
    sources: pl.DataFrame | None = None,
    pick: list[str] | None = None,
) -> alt.Chart:
    """Pairwise route similarity (0-1) as a symmetric grid.

    With ``stops`` (:func:`analysis.queries.stops`), each cell's tooltip lists the sources of both routes' stops.
    """
    both = pl.concat(
        [sim, sim.rename({"episode_a": "episode_b", "episode_b": "episode_a"}).select(sim.columns)]
    )
    if stops is not None:
        per = stops.group_by("episode_id").agg(_union_ids())
        ids = dict(zip(per["episode_id"], per["source_ids"], strict=True))
        both = both.with_columns(
            pl.struct("episode_a", "episode_b")
            .map_elements(
                lambda r: ";".join(
                    sorted(
                        set(
                            filter(
                                None,
                                (ids.get(r["episode_a"]) or "").split(";")
                                + (ids.get(r["episode_b"]) or "").split(";"),
                            )
                        )
                    )
                ),
                return_dtype=pl.String,
            )
            .alias("source_ids")
        )
    both = _with_sources(both, sources).sort("episode_a", "episode_b")
    return (
        _pick(alt.Chart(both), pick, ("episode_a", "episode_b"))
        .mark_rect(stroke="white")
        .encode(
            **_channels(
                x=alt.X("episode_a:N", title=None, axis=alt.Axis(labelAngle=-35)),
                y=alt.Y("episode_b:N", title=None),
                color=alt.Color(
                    "similarity:Q", title="Similarity", scale=alt.Scale(scheme="viridis", domain=[0, 1])
                ),
                tooltip=[
                    alt.Tooltip("episode_a:N", title="Episode"),
                    alt.Tooltip("episode_b:N", title="Compared with"),
                    alt.Tooltip("similarity:Q", format=".2f", title="Similarity (0-1)"),
                    alt.Tooltip("country_score:Q", format=".2f", title="Staging countries in order"),
                    alt.Tooltip("corridor_score:Q", format=".2f", title="Corridors in order"),
                    alt.Tooltip("jump_off_score:Q", format=".0f", title="Same jump-off (1) or not (0)"),
                    alt.Tooltip("shared_countries:N", title="Shared countries"),
                    alt.Tooltip("sources:N", title="Sources (stops of both routes)"),
                ],
            )
        )
        .properties(
            width=420,
            height=420,
            description=(
                f"{title}: a symmetric grid of {both['episode_a'].n_unique()} episodes, each cell shaded by the similarity "
                "(0 to 1) of the two routes."
            ),
            title=alt.Title(
                title,
                subtitle="Outbound staging: mean of countries in order, corridors in order and the same jump-off; "
                "blank where a route is a stub (not comparable).",
            ),
        )
    )


def episode_view(
    paths: pl.DataFrame,
    stops: pl.DataFrame,
    items: pl.DataFrame,
    legs: pl.DataFrame,
    sources: pl.DataFrame | None = None,
    title: str = "Episode",
    colour: str = "aircraft_id",
    basemap_path: Path | None = None,
    names: dict[str, str] | None = None,
) -> alt.VConcatChart:
    """Route map above the timeline, linked: clicking a milestone highlights the legs touching that stop.

    ``paths`` is :func:`analysis.queries.leg_paths`, ``stops`` :func:`analysis.queries.stops`, ``items``
    :func:`analysis.queries.timeline` and ``legs`` :func:`analysis.queries.legs` (it gives each path the stop ids
    at its two ends). The selection is a vega-lite point selection on ``stop_id`` made in the timeline; the map
    filters the legs whose ``from_stop_id`` or ``to_stop_id`` equals the selected stop.
    """
    if items.filter(pl.col("earliest_utc").is_not_null()).height == 0:  # nothing dated: the map alone
        return route_map(
            paths,
            stops,
            sources,
            title=f"Route map: {title} (no dated milestone to put on a timeline)",
            colour=colour,
            basemap_path=basemap_path,
            names=names,
        )
    select = alt.selection_point(
        name="milestone", fields=["stop_id"], on="click", clear="dblclick", empty=False
    )
    ends = legs.select("leg_id", "from_stop_id", "to_stop_id")
    p = (
        paths.join(ends, on="leg_id", how="left")
        if paths.height
        else paths.with_columns(
            pl.lit(None, pl.String).alias("from_stop_id"), pl.lit(None, pl.String).alias("to_stop_id")
        )
    )
    m = route_map(
        p,
        stops,
        sources,
        title=f"Route map: {title}",
        colour=colour,
        basemap_path=basemap_path,
        highlight=select,
        names=names,
    )
    t = timeline(
        items, sources, title=f"Timeline: {title}", select=select, zoom="episode_timeline_zoom", names=names
    )
    return (
        alt.vconcat(m, t, spacing=28)
        .resolve_scale(color="independent", shape="independent", strokeDash="independent", size="independent")
        .properties(
            description=(
                f"Route map and timeline of {title}: the map draws each leg as a great-circle arc between the "
                "stops; the timeline below shows each milestone as the UTC interval the sources allow. "
                "Choosing a milestone highlights the legs touching its stop. The tables below list the data."
            )
        )
    )


def periods(items: pl.DataFrame, gap_days: float = 60) -> list[tuple[str, list[str]]]:
    """Group dated episodes into periods: an episode starting within ``gap_days`` of the previous one's last
    milestone joins its period. Returns (label, episode ids) in time order, e.g. ("Dec 2018 – Mar 2019", [...])."""
    dated = (
        items.filter(pl.col("episode_id").is_not_null() & pl.col("earliest_utc").is_not_null())
        .group_by("episode_id")
        .agg(pl.col("earliest_utc").min().alias("t0"), pl.col("latest_utc").max().alias("t1"))
        .sort("t0", "episode_id")
    )
    out: list[list] = []
    for r in dated.iter_rows(named=True):
        if out and (r["t0"] - out[-1][1]).total_seconds() <= gap_days * 86400:
            out[-1][1] = max(out[-1][1], r["t1"])
            out[-1][2].append(r["episode_id"])
        else:
            out.append([r["t0"], r["t1"], [r["episode_id"]]])
    labels = []
    for t0, t1, eps in out:
        a, b = t0.strftime("%b %Y"), t1.strftime("%b %Y")
        labels.append((a if a == b else f"{a} – {b}", eps))
    return labels


def timeline_periods(
    items: pl.DataFrame,
    sources: pl.DataFrame | None = None,
    gap_days: float = 60,
    around_days: float = 14,
    title: str = "Flights and context, period by period",
) -> alt.VConcatChart:
    """One timeline per period (see :func:`periods`), each with its own time axis, zoom and pan: 2008 to today on
    one axis would shrink every episode to a dot. Context events within ``around_days`` of a period are shown
    with it."""
    charts = []
    for i, (label, eps) in enumerate(periods(items, gap_days)):
        mine = items.filter(pl.col("episode_id").is_in(eps))
        t0, t1 = mine["earliest_utc"].min(), mine["latest_utc"].max()
        pad = pl.duration(days=around_days)
        sub = items.filter(
            pl.col("episode_id").is_in(eps)
            | (
                pl.col("episode_id").is_null()
                & (pl.col("latest_utc") >= pl.lit(t0) - pad)
                & (pl.col("earliest_utc") <= pl.lit(t1) + pad)
            )
        )
        charts.append(timeline(sub, sources, title=label, zoom=f"period_{i + 1}_zoom", notes=False))
    return (
        alt.vconcat(*charts, spacing=22)
        .resolve_scale(x="independent", y="independent")
        .properties(
            title=alt.Title(
                title,
                subtitle=[
                    "One row per period, each with its own time axis. Bars span the interval the "
                    "sources allow; dots mark the middle. Scroll to zoom a row, drag to pan, "
                    "double-click to reset."
                ],
            ),
            description=(
                f"{title}: {len(charts)} timelines, one per period of flights, each with the flight milestones "
                "and nearby context events on its own UTC time axis. The tables below list them."
            ),
        )
    )


# --- small charts for the front page: one per key finding ------------------------------------------------------
MINI_WIDTH = 400
MINI_HEIGHT = 240


def mini_map(
    points: pl.DataFrame,
    title: str,
    lines: pl.DataFrame | None = None,
    colour_title: str = "",
    subtitle: str | None = None,
    basemap_path: Path | None = None,
    labels: int = 8,
    groups: list[str] | None = None,
) -> alt.LayerChart | alt.FacetChart:
    """A small map for one finding: ``points`` (lon, lat, name, group, n: symbols sized by n, coloured by group,
    the largest named) and optional ``lines`` (line, seq, lon, lat, group: arcs or routes, coloured by group)."""
    groups = groups or list(
        dict.fromkeys(points["group"].to_list() + (lines["group"].to_list() if lines is not None else []))
    )
    colour = alt.Color(
        "group:N",
        title=colour_title or None,
        scale=alt.Scale(domain=groups, range=[PALETTE[i % len(PALETTE)] for i in range(len(groups))]),
        legend=alt.Legend(orient="bottom", columns=1, labelLimit=380) if len(groups) > 1 else None,
    )
    lat = points["lat"].to_list() + (lines["lat"].to_list() if lines is not None else [])
    lon = points["lon"].to_list() + (lines["lon"].to_list() if lines is not None else [])
    pad = 6
    corners = [
        (x, y)
        for x in (max(-180, min(lon) - pad), min(180, max(lon) + pad))
        for y in (max(-85, min(lat) - pad), min(85, max(lat) + pad))
    ]
    fit = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "MultiPoint", "coordinates": [list(c) for c in corners]},
            }
        ],
    }
    projection = alt.Projection(type="equalEarth", fit=fit, clipExtent=[[0, 0], [MINI_WIDTH, MINI_HEIGHT]])
    px = _fitted(corners, MINI_WIDTH, MINI_HEIGHT)
    layers = [
        alt.Chart(basemap(basemap_path)).mark_geoshape(
            fill="#e9e9e6", stroke="#ffffff", strokeWidth=0.4, clip=True
        )
    ]
    if lines is not None and lines.height:
        layers.append(
            alt.Chart(lines)
            .mark_line(strokeWidth=1.6, opacity=0.8, clip=True)
            .encode(
                **_channels(longitude="lon:Q", latitude="lat:Q", detail="line:N", order="seq:Q", color=colour)
            )
        )
    tips = [
        alt.Tooltip("name:N", title="Place"),
        alt.Tooltip("group:N", title=colour_title or "Group"),
        alt.Tooltip("n:Q", title="Count"),
        alt.Tooltip("sources:N", title="Sources"),
    ]
    if "sources" not in points.columns:
        points = points.with_columns(pl.lit("derived from the finding's evidence").alias("sources"))
    layers.append(
        alt.Chart(points)
        .mark_circle(stroke="#222", strokeWidth=0.6, opacity=0.9, clip=True)
        .encode(
            **_channels(
                longitude="lon:Q",
                latitude="lat:Q",
                color=colour,
                tooltip=tips,
                size=alt.Size("n:Q", legend=None, scale=alt.Scale(range=[40, 420], zero=False)),
            )
        )
    )
    if labels:
        ranked = points.sort("n", descending=True).with_columns(
            pl.lit("staging").alias("role"), pl.col("name").alias("place_name")
        )
        layers.extend(_label_layers(place_labels(ranked, px, MINI_WIDTH, MINI_HEIGHT, limit=labels)))
    desc = (
        f"{title}: a small map of {points.height} places"
        + (f" and {lines['line'].n_unique()} routes" if lines is not None and lines.height else "")
        + ", the largest named. "
        + (subtitle or "")
    )
    return alt.layer(*layers).properties(
        width=MINI_WIDTH,
        height=MINI_HEIGHT,
        projection=projection,
        title=alt.Title(title, subtitle=subtitle or alt.Undefined, fontSize=13),
        description=desc,
    )


def payload_range(
    figures: pl.DataFrame, claim_t: float, legs: pl.DataFrame, title: str, claim_sources: str = ""
) -> alt.LayerChart | alt.FacetChart:
    """Payload against range for one claim: the cited figures of the aircraft types (points, one colour per type),
    the claimed load (a horizontal rule) and the legs it was carried over (vertical rules at their distances)."""
    unsourced = pl.lit("derived from the finding's evidence").alias("sources")
    figures = figures if "sources" in figures.columns else figures.with_columns(unsourced)
    legs = legs if "sources" in legs.columns else legs.with_columns(unsourced)
    types = list(dict.fromkeys(figures["type_name"].to_list()))
    colour = alt.Color(
        "type_name:N",
        title="Cited figures of",
        scale=alt.Scale(domain=types, range=[PALETTE[i % len(PALETTE)] for i in range(len(types))]),
        legend=alt.Legend(orient="bottom", columns=1, labelLimit=360),
    )
    pts = (
        alt.Chart(figures)
        .mark_point(filled=True, size=60, opacity=0.9)
        .encode(
            **_channels(
                x=alt.X("range_km:Q", title="Range (km)", scale=alt.Scale(zero=True)),
                y=alt.Y("payload_t:Q", title="Payload (t)", scale=alt.Scale(zero=True)),
                color=colour,
                tooltip=[
                    alt.Tooltip("type_name:N", title="Type"),
                    alt.Tooltip("range_km:Q", title="Range (km)", format=",.0f"),
                    alt.Tooltip("payload_t:Q", title="Payload (t)", format=",.0f"),
                    alt.Tooltip("sources:N", title="Sources"),
                ],
            )
        )
    )
    claim = (
        alt.Chart(
            pl.DataFrame(
                {
                    "t": [claim_t],
                    "what": [f"claimed load {claim_t:,.0f} t"],
                    "sources": [claim_sources or "the claim's sources"],
                }
            )
        )
        .mark_rule(color="#D55E00", strokeWidth=2)
        .encode(
            **_channels(
                y="t:Q",
                tooltip=[alt.Tooltip("what:N", title="Claim"), alt.Tooltip("sources:N", title="Sources")],
            )
        )
    )
    claim_text = (
        alt.Chart(pl.DataFrame({"t": [claim_t], "what": [f"claimed {claim_t:,.0f} t"]}))
        .mark_text(align="left", dx=4, dy=-7, color="#D55E00", fontSize=11, x=2)
        .encode(**_channels(y="t:Q", text="what:N"))
    )
    leg = (
        alt.Chart(legs)
        .mark_rule(color="#333", strokeDash=[4, 3])
        .encode(
            **_channels(
                x="distance_km:Q",
                tooltip=[
                    alt.Tooltip("leg:N", title="Leg"),
                    alt.Tooltip("distance_km:Q", title="Great circle (km)", format=",.0f"),
                    alt.Tooltip("sources:N", title="Sources"),
                ],
            )
        )
    )
    leg_text = (
        alt.Chart(legs.unique("leg"))
        .mark_text(align="right", angle=270, dy=-4, fontSize=10, color="#333", y=2, baseline="bottom")
        .encode(**_channels(x="distance_km:Q", text="leg:N"))
    )
    return alt.layer(pts, claim, claim_text, leg, leg_text).properties(
        width=MINI_WIDTH - 40,
        height=MINI_HEIGHT - 20,
        title=alt.Title(
            title, subtitle="Points: cited payload-range figures; dashed: the longest legs flown", fontSize=13
        ),
        description=(
            f"{title}: cited payload-range figures of {', '.join(types)} as points, the claimed load of "
            f"{claim_t:,.0f} t as a horizontal line and the legs it was carried over as vertical lines."
        ),
    )
