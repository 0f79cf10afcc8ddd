"""The report's own pages (not notebooks): the index with the key findings, the candidates from discovery, methods
and sources (with what the observed records left out), data dictionary.

Each function returns an HTML body fragment; :mod:`analysis.shell` wraps it in the page shell. Every value
from the data goes through :func:`analysis.present.esc`; links are built only from ids that match the safe
id patterns, and external URLs are shown as links only when they are http(s).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import dictionary, present, queries, schema
from .paths import Project

__all__ = [
    "index_body",
    "methods_body",
    "dictionary_body",
    "candidates_body",
    "observed_excluded_section",
    "source_anchor",
    "episode_page",
    "derived_tables",
    "NAV_PAGES",
    "EXPORT_FILES",
    "SITE_PAGES",
    "SitePage",
    "search_index",
    "discovery_tables",
]

esc = present.esc
fmt = present.fmt
_SAFE = re.compile(schema.SAFE_ID_PATTERN)

#: Site navigation: (file, label), in order.
NAV_PAGES = [
    ("index.html", "Study"),
    ("patterns.html", "Patterns"),
    ("compare.html", "Comparison"),
    ("candidates.html", "Candidates"),
    ("methods.html", "Methods & sources"),
    ("dictionary.html", "Data dictionary"),
]


@dataclass(frozen=True)
class SitePage:
    """A page of the site written from the data by a function (not a notebook). Adding a page to the site is one
    function returning the HTML body and one entry in :data:`SITE_PAGES` (plus :data:`NAV_PAGES` to link it)."""

    file: str
    title: str
    body: Callable[[Project], str]
    charts: bool = False  # the page shows charts (inline vega scripts; figures saved under figures/)


#: What exports/ holds, for the index (paths relative to the site root).
EXPORT_FILES = [
    ("exports/routes.geojson", "Routes as GeoJSON (one LineString per leg; QGIS, geojson.io, any GIS)"),
    ("exports/routes.kml", "Routes as KML (Google Earth, QGIS)"),
    ("exports/csv/", "Every derived table as CSV (spreadsheets)"),
    ("exports/database/flights.duckdb", "The DuckDB database with its parquet files (duckdb CLI, Python)"),
]


def source_anchor(source_id: str) -> str:
    """The id of a source's row on the methods page."""
    return "source-" + re.sub(r"[^A-Za-z0-9._-]", "_", source_id)


def episode_page(episode_id: str) -> str | None:
    return f"episode-{episode_id}.html" if episode_id and _SAFE.match(episode_id) else None


def _source_links(ids: str | None, names: dict[str, str] | None = None) -> str:
    parts = []
    for sid in (ids or "").split(";"):
        if sid:
            title = f' title="{esc(names[sid])}"' if names and sid in names else ""
            parts.append(f'<a href="methods.html#{esc(source_anchor(sid))}"{title}>{esc(sid)}</a>')
    return ", ".join(parts) or "derived from observed records"


def _source_names(sources: pl.DataFrame) -> dict[str, str]:
    return {
        r["source_id"]: f"{r['outlet'] or 'unnamed outlet'}"
        + (f", {r['published_reported']}" if r.get("published_reported") else "")
        for r in sources.iter_rows(named=True)
    }


def _url(url: str | None) -> str:
    if url and re.match(r"^https?://", url):
        return f'<a class="url" href="{esc(url)}" rel="noreferrer">{esc(url)}</a>'
    return esc(url) if url else present.NOT_REPORTED


def _key_findings(findings: pl.DataFrame) -> pl.DataFrame:
    """The findings marked key, in the order of the questions the study asks."""
    from .findings import key_findings

    return key_findings(findings)


def _episode_names(ids: str | None, names: dict[str, str]) -> str:
    """Links to the episodes of a ';'-separated id list, each named in words (no ids in running text)."""
    out = []
    for e in (ids or "").split(";"):
        page = episode_page(e)
        if page:
            out.append(f'<a href="{esc(page)}">{esc(names.get(e, e))}</a>')
        elif e:
            out.append(esc(names.get(e, e)))
    return ", ".join(out) or "all episodes"


def _short_meta(r: dict) -> str:
    """Likelihood and confidence in a few words (the reason is in the details)."""
    parts = [f"likelihood: {esc(r['likelihood'])}"] if r.get("likelihood") else []
    conf = r.get("confidence")
    parts.append(f'<span class="confidence confidence-{esc(conf)}">confidence: {esc(conf)}</span>')
    return " · ".join(parts)


def _finding_item(
    r: dict, names: dict[str, str], chart: str = "", words: dict[str, str] | None = None
) -> str:
    """A key finding: its headline beside the small chart made for it; one click away the statement, its number,
    likelihood, confidence and why, the episodes, the sources and the evidence rows."""
    words = words or {}
    rows = [e for e in (r["evidence"] or "").split(";") if e]
    evidence = ", ".join(f"<code>{esc(e)}</code>" for e in rows) or "none"
    return (
        f'<li class="finding" id="key-{esc(r["finding_id"])}"><div class="key-text">'
        f'<p class="category">{esc(r["category"].capitalize())}</p>'
        f'<p class="headline">{esc(r["headline"])}</p>'
        f'<p class="meta">{_short_meta(r)}</p>'
        f"<details><summary>Details: the finding in full, its episodes and sources</summary>"
        f'<p class="statement">{esc(r["statement"])}</p>'
        f'<p class="meta">{esc(present.finding_value(r))}</p>'
        f'<p class="meta">{present.finding_meta(r)}</p>'
        f'<p class="meta">Episodes: {_episode_names(r["episode_ids"], words)}</p>'
        f'<p class="meta">Sources: {_source_links(r["source_ids"], names)}</p>'
        f'<p class="meta">With the other findings of its kind: <a href="patterns.html#finding-{esc(r["finding_id"])}">'
        f"patterns page</a>. Evidence rows ({len(rows)}): {evidence}</p></details></div>"
        f'<div class="key-chart">{chart}</div></li>'
    )


def index_body(project: Project) -> str:
    """The front page: each key finding's headline beside one small chart made for it, details one click away;
    then the episodes (named, linked) and the exports. Nothing is printed twice: the summary's sentences that
    repeat a key finding's headline are the key findings themselves."""
    eps = queries.episodes(project)
    findings = queries.findings(project=project)
    sources = queries.sources(project)
    names = _source_names(sources)
    words = queries.names(project)
    key = _key_findings(findings)
    items = "".join(
        _finding_item(r, names, _key_chart(r, project, words), words) for r in key.iter_rows(named=True)
    )
    summary = " ".join(
        esc(r["sentence"])
        for r in queries.study_summary(project).iter_rows(named=True)
        if not r["finding_ids"]
    )  # the others are the key findings' headlines, shown below
    rows = "".join(
        f'<tr><td><a href="{esc(episode_page(r["episode_id"]) or "#")}">{esc(r["title"])}</a></td>'
        f"<td>{esc(', '.join(words.get(a, a) for a in (r['aircraft_ids'] or [])) or fmt(r['aircraft_labels']))}</td>"
        f"<td>{present.reported(r['first_time_reported']) if r['first_time_reported'] else 'undated'}</td>"
        f"<td>{esc(present.km(r['outbound_km'])) if r['outbound_km'] is not None else present.missing('outbound_km')}</td></tr>"
        for r in eps.iter_rows(named=True)
    )
    exports = "".join(f'<li><a href="{esc(p)}">{esc(p)}</a>: {esc(d)}</li>' for p, d in EXPORT_FILES)
    study = queries.study(project)
    subtitle = f'<p class="subtitle">{esc(study["subtitle"])}</p>' if study.get("subtitle") else ""
    return (
        f"<h1>{esc(study['title'])}</h1>{subtitle}"
        f'<p class="summary">{summary} {findings.height} findings are computed from the data; every number traces '
        "back to rows in data/raw and their sources, times are as wide as the sources allow and places as precise "
        "as they give them.</p>"
        f'<h2 id="key-findings">Key findings</h2>'
        f'<ol class="findings key-findings">{items}</ol>'
        '<p>Every finding, by category, is on the <a href="patterns.html">patterns page</a>; the episodes side by '
        'side on the <a href="compare.html">comparison page</a>.</p>'
        "<h2>Episodes</h2><div class='table-wrap' tabindex='0' role='region' aria-label='Episodes'>"
        "<table class='data'><thead><tr><th>Episode</th><th>Aircraft</th>"
        f"<th>First dated milestone (as reported)</th><th>Outbound km</th></tr></thead><tbody>{rows}</tbody></table></div>"
        "<h2>More</h2><ul>"
        '<li><a href="methods.html">Methods and sources</a>: bibliography, conflicts between sources, inferences</li>'
        '<li><a href="candidates.html">Candidates</a>: flights found in bulk ADS-B data that no report covers yet</li>'
        '<li><a href="dictionary.html">Data dictionary</a>: every derived table and column</li></ul>'
        f"<h2>Exports</h2><ul>{exports}</ul><p>How to open each: see the README section "
        "<em>Using the exports</em> (docs/exports.md).</p>"
    )


def _evidence_ids(r: dict) -> dict[str, list[str]]:
    """{table: [row ids]} of a finding's evidence column ("core_legs:a;core_stops:b...")."""
    out: dict[str, list[str]] = {}
    for e in (r.get("evidence") or "").split(";"):
        table, _, rid = e.partition(":")
        if rid:
            out.setdefault(table, []).append(rid)
    return out


def _arcs(legs: pl.DataFrame, group: str) -> pl.DataFrame:
    from .geo import great_circle_points

    rows = [
        (r["leg_id"], i, lo, la, r[group])
        for r in legs.iter_rows(named=True)
        if None not in (r["from_lat"], r["from_lon"], r["to_lat"], r["to_lon"])
        for i, (la, lo) in enumerate(
            great_circle_points(r["from_lat"], r["from_lon"], r["to_lat"], r["to_lon"], 24)
        )
    ]
    return pl.DataFrame(
        rows,
        schema={"line": pl.String, "seq": pl.Int64, "lon": pl.Float64, "lat": pl.Float64, "group": pl.String},
        orient="row",
    )


def _key_chart(r: dict, project: Project, names: dict[str, str]) -> str:
    """The small chart made for one key finding (by its category, from its evidence rows), as page HTML; "" when
    its evidence has nothing to draw."""
    from . import charts

    ev = _evidence_ids(r)
    cat = r["category"]
    bib = queries.sources(project)

    def cited(df: pl.DataFrame) -> pl.DataFrame:
        return charts._with_sources(df, bib)

    stops = (
        queries.sql(
            "SELECT * FROM core_stops WHERE list_contains($ids, stop_id) ORDER BY episode_id, seq",
            {"ids": ev.get("core_stops", [])},
            project,
        )
        if ev.get("core_stops")
        else None
    )
    legs = (
        queries.sql(
            "SELECT * FROM core_legs WHERE list_contains($ids, leg_id) ORDER BY leg_id",
            {"ids": ev.get("core_legs", [])},
            project,
        )
        if ev.get("core_legs")
        else None
    )
    chart = None
    order = None
    if cat == "payload against range" and legs is not None and ev.get("core_claims"):
        claim = queries.sql("SELECT * FROM core_loads WHERE claim_id = ?", [ev["core_claims"][0]], project)
        types = queries.sql(
            "SELECT DISTINCT a.type_id FROM core_aircraft a WHERE list_contains($ids, a.aircraft_id)",
            {"ids": legs["aircraft_id"].unique().to_list()},
            project,
        )["type_id"].to_list()
        figures = queries.sql(
            "SELECT type_name, range_km, payload_t, source_ids FROM core_type_ranges WHERE list_contains($t, type_id)"
            " AND payload_t IS NOT NULL AND range_km IS NOT NULL ORDER BY type_name, range_km",
            {"t": types},
            project,
        )
        if claim.height and claim["quantity"][0] is not None and figures.height:
            main = legs.filter(pl.col("is_main_variant") & pl.col("distance_km").is_not_null())
            main = main.with_columns(
                (
                    pl.col("from_name").map_elements(charts.short_place, return_dtype=pl.String)
                    + " → "
                    + pl.col("to_name").map_elements(charts.short_place, return_dtype=pl.String)
                ).alias("leg")
            ).select("leg", "distance_km", "source_ids")
            claim_src = cited(claim.select("source_ids"))["sources"][0]
            chart = charts.payload_range(
                cited(figures).drop("source_ids"),
                float(claim["quantity"][0]),
                cited(main).drop("source_ids"),
                "Claimed load against range",
                claim_src,
            )
    elif cat == "ocean crossings" and legs is not None:
        jump = (
            legs.filter(pl.col("from_lat").is_not_null())
            .with_columns(
                pl.when(pl.col("to_lon") < -25)
                .then(pl.lit("to the Americas"))
                .otherwise(pl.lit("other"))
                .alias("group")
            )
            .group_by(
                pl.col("from_name").alias("name"),
                pl.col("from_lon").alias("lon"),
                pl.col("from_lat").alias("lat"),
            )
            .agg(pl.len().alias("n"), pl.col("group").first(), charts._union_ids())
        )
        jump = cited(jump).drop("source_ids").sort("name", "lon", "lat")  # the same bytes on every build
        jump = jump.with_columns(
            pl.lit("jump-off").alias("group"),
            pl.col("name").map_elements(charts.short_place, return_dtype=pl.String),
        )
        arcs = _arcs(legs, "aircraft_id").with_columns(pl.lit("jump-off").alias("group"))
        chart = charts.mini_map(
            jump,
            "Where the ocean crossings began",
            arcs,
            subtitle="Circles: last stop before the ocean, sized by crossings",
        )
    elif stops is not None:
        located = stops.filter(pl.col("lat").is_not_null())
        if cat == "routes by period" and ev.get("core_events"):
            event = queries.sql(
                "SELECT title, start_earliest_utc, start_reported FROM core_events WHERE "
                "list_contains($ids, event_id) ORDER BY start_earliest_utc",
                {"ids": ev["core_events"]},
                project,
            ).row(0, named=True)
            t0 = event["start_earliest_utc"]
            when = present._display(event["start_reported"])
            located = located.with_columns(
                pl.when(pl.coalesce("arr_earliest_utc", "dep_earliest_utc") < t0)
                .then(pl.lit(f"before {when}"))
                .otherwise(pl.lit(f"after {when}"))
                .alias("group")
            )
            title, sub = "Staging stops, before and after", f"{event['title']}"
            order = [f"before {when}", f"after {when}"]
        elif cat == "repeated chain":
            located = located.with_columns(
                pl.col("episode_id").replace_strict(names, default=pl.col("episode_id")).alias("group")
            )
            title, sub = "The trips of one airframe", None
        else:
            located = located.with_columns(pl.lit("on the ground").alias("group"))
            title, sub = "Where it was on the ground", None
        if located.height:
            pts = (
                located.group_by(pl.col("place_name").alias("name"), pl.col("lon"), pl.col("lat"), "group")
                .agg(pl.len().alias("n"), charts._union_ids())
                .pipe(cited)
                .drop("source_ids")
                .with_columns(pl.col("name").map_elements(charts.short_place, return_dtype=pl.String))
                .sort("group", "name", "lon", "lat")
            )
            lines = None
            if cat == "repeated chain":
                lines = located.sort("episode_id", "seq").select(
                    pl.col("episode_id").alias("line"), pl.col("seq"), "lon", "lat", "group"
                )
            chart = charts.mini_map(pts, title, lines, subtitle=sub, colour_title="", groups=order)
    return charts.page_html(chart.to_dict()) if chart is not None else ""


def _table(
    df: pl.DataFrame,
    columns: list[str],
    labels: dict[str, str] | None = None,
    cell=None,
    row_id=None,
    name: str | None = None,
) -> str:
    labels = labels or {}
    head = "".join(f"<th>{esc(labels.get(c, c))}</th>" for c in columns)
    body = []
    for r in df.iter_rows(named=True):
        rid = f' id="{esc(row_id(r))}"' if row_id else ""
        tds = "".join(
            f"<td>{cell(c, r) if cell and cell(c, r) is not None else esc(fmt(r[c]))}</td>" for c in columns
        )
        body.append(f"<tr{rid}>{tds}</tr>")
    name = esc(name or "Table of " + ", ".join(labels.get(c, c) for c in columns[:4]))
    return (
        f'<div class="table-wrap" tabindex="0" role="region" aria-label="{name}"><table class="data"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


METHODS_TEXT = """
<h2 id="method">How the study works</h2>
<ul>
<li><strong>Evidence first.</strong> Every fact row in data/raw cites its sources (<code>source_ids</code>); derived
rows carry the union of the sources of the rows they come from. Conflicting reports are kept side by side
(below) and the route used for distances is the documented <em>working position</em>.</li>
<li><strong>Time as intervals.</strong> A reported time is parsed to an interval in UTC: an exact time is a point,
a reported day is the 24 hours of that day in the place's time zone, "late January" is the 21st to the end of the
month. Dwell times and flight durations are given as minimum and maximum over those intervals.</li>
<li><strong>Place precision.</strong> A stop known only to a city or a country is kept at that precision. To draw it
and to measure distances an airport is <em>inferred</em> for it (table below, with the reason); distances that
rest on an inferred airport are marked <code>distance_basis = inferred</code> and maps draw them dashed.</li>
<li><strong>Distances</strong> are great-circle distances (WGS 84 mean radius 6,371 km) between the airports used,
not flown track lengths.</li>
<li><strong>Likelihood and confidence of findings</strong> (docs/confidence.md, after ICD 203): a likelihood word
(roughly even chance, likely, very likely) and a confidence level (low, moderate, high) from the number of
independent origins behind a finding (a relay or rewrite of one report counts once), the precision of its places and
times, whether it rests on an inference and whether sources dispute it. High needs at least two independent origins.</li>
<li><strong>Route similarity</strong> = 0.5 × shared-country overlap (Jaccard) + 0.5 × exp(−mean nearest-stop
distance / 1,000 km).</li>
</ul>
"""


def methods_body(project: Project) -> str:
    """Methods, the full bibliography with publication dates, the conflicts between sources, and the inferences."""
    sources = queries.sources(project)
    sources = (
        sources.with_columns(  # S2 before S10
            pl.col("source_id").str.extract(r"^(\D*)", 1).alias("_p"),
            pl.col("source_id").str.extract(r"(\d+)", 1).cast(pl.Int64, strict=False).alias("_n"),
        )
        .sort("_p", "_n", "source_id", nulls_last=True)
        .drop("_p", "_n")
    )
    names = _source_names(sources)
    conflicts = queries.conflicts(project=project)
    places = queries.places(project)
    inferred_places = places.filter(pl.col("inferred_icao").is_not_null())
    inferred_stops = queries.sql(
        "SELECT * FROM core_stops WHERE is_inferred ORDER BY episode_id, aircraft_id, variant, seq",
        project=project,
    )

    def src_cell(c: str, r: dict) -> str | None:
        if c == "url":
            return _url(r["url"])
        if c == "source_ids":
            return _source_links(r["source_ids"], names)
        if c == "episode_id" and r.get("episode_id"):
            page = episode_page(r["episode_id"])
            return f'<a href="{esc(page)}">{esc(r["episode_id"])}</a>' if page else None
        return None

    bib = _table(
        sources,
        [
            "source_id",
            "outlet",
            "title",
            "author",
            "published_reported",
            "published_precision",
            "kind",
            "language",
            "read_status",
            "first_hand",
            "relays",
            "origin_id",
            "url",
        ],
        {
            "published_reported": "published",
            "published_precision": "date precision",
            "read_status": "read",
            "first_hand": "reports first-hand",
            "relays": "relays",
            "origin_id": "counted as origin",
        },
        src_cell,
        lambda r: source_anchor(r["source_id"]),
    )
    parts = [
        f"<h1>Methods and sources</h1>{METHODS_TEXT}",
        census_section(project, src_cell),
        f'<h2 id="bibliography">Bibliography ({sources.height} sources)</h2>'
        "<p>Publication dates as the page shows them (precision in the next column); secondary sources rewrite "
        "another outlet's reporting.</p>" + bib,
    ]
    blocks = []
    for (cid,), group in conflicts.group_by("conflict_id", maintain_order=True):
        first = group.row(0, named=True)
        page = episode_page(first["episode_id"] or "")
        ep = f' · episode <a href="{esc(page)}">{esc(first["episode_id"])}</a>' if page else ""
        working = (
            f"<p>Working position: <strong>{esc(first['working_position'])}</strong>. "
            f"{esc(first['working_reason'])}</p>"
            if first["working_position"]
            else "<p>No working position: the study does not need to choose.</p>"
        )
        notes = f"<p class='meta'>{esc(first['conflict_notes'])}</p>" if first["conflict_notes"] else ""
        blocks.append(
            f'<div class="conflict" id="conflict-{esc(cid)}"><h3>{esc(cid)} <small>({esc(first["topic"])}{ep})</small></h3>'
            f"<p>{esc(first['summary'])}</p>"
            + _table(
                group,
                ["position_id", "claim", "value", "variant", "is_working_position", "source_ids"],
                {"position_id": "side", "is_working_position": "working"},
                src_cell,
                name=f"Sides of conflict {cid}",
            )
            + working
            + notes
            + "</div>"
        )
    parts.append(
        f'<h2 id="conflicts">Conflicts between sources ({conflicts["conflict_id"].n_unique()})</h2>'
        + "".join(blocks)
    )
    parts.append(
        f'<h2 id="inferred-places">Inferred airports ({inferred_places.height} places)</h2>'
        "<p>Places reported only as a city or a country, and the airport assumed for them "
        "(<code>core_places.inferred_icao</code>, with <code>inference_basis</code>).</p>"
        + _table(
            inferred_places,
            [
                "place_id",
                "name",
                "precision",
                "country_name",
                "inferred_icao",
                "airport_name",
                "inference_basis",
                "source_ids",
            ],
            None,
            src_cell,
        )
    )
    parts.append(
        f'<h2 id="inferred-stops">Inferred stops ({inferred_stops.height})</h2>'
        "<p>Stops that no source reports but the route requires (<code>core_stops.is_inferred</code>); "
        "the notes say why.</p>"
        + _table(
            inferred_stops,
            [
                "episode_id",
                "aircraft_id",
                "variant",
                "seq",
                "place_name",
                "place_precision",
                "role",
                "notes",
                "source_ids",
            ],
            None,
            src_cell,
        )
    )
    parts.append(observed_excluded_section(project))
    return "".join(parts)


def census_section(project: Project, src_cell) -> str:
    """The census: its criteria (census_criteria.csv), what it counts by kind, what it left out and why, the host
    states' statements, and the log of every search (so that a reader can repeat or extend it)."""
    crit = queries.sql("SELECT * FROM core_census_criteria ORDER BY part, criterion_id", project=project)
    kinds = queries.sql(
        "SELECT kind, count(*) AS episodes FROM core_episodes WHERE NOT starts_with(episode_id, 'obs-') "
        "GROUP BY kind ORDER BY episodes DESC, kind",
        project=project,
    )
    excluded = queries.sql(
        "SELECT * FROM core_census_excluded ORDER BY reason, when_earliest_utc NULLS LAST, item_id",
        project=project,
    )
    reasons = queries.sql(
        "SELECT reason, count(*) AS items FROM core_census_excluded GROUP BY reason "
        "ORDER BY items DESC, reason",
        project=project,
    )
    hosts = queries.sql(
        "SELECT * FROM core_host_statements ORDER BY country_name, made_on_earliest_utc NULLS LAST, "
        "statement_id",
        project=project,
    )
    log = queries.sql("SELECT * FROM core_census_log ORDER BY search_id", project=project)
    langs = queries.sql(
        "SELECT language, count(*) AS searches FROM core_census_log GROUP BY language "
        "ORDER BY searches DESC, language",
        project=project,
    )
    if crit.is_empty() and log.is_empty() and excluded.is_empty():
        return ""
    by_part = {
        "kind": "Kinds of flight counted",
        "geography": "Geography",
        "period": "Period",
        "exclusion": "Left out",
        "evidence": "Evidence",
    }
    rules = "".join(
        f"<h3>{esc(by_part.get(part, part))}</h3>"
        + _table(
            g,
            ["value", "rule", "rationale"],
            {"value": "value"},
            lambda c, r: "–" if r[c] is None else None,
            name=f"Census criteria: {by_part.get(part, part)}",
        )
        for (part,), g in crit.group_by("part", maintain_order=True)
    )
    counts = ", ".join(
        f"{r['episodes']} {esc(r['kind'] or 'not classified').replace('_', ' ')}"
        for r in kinds.iter_rows(named=True)
    )
    why = ", ".join(
        f"{r['items']} {esc(r['reason']).replace('_', ' ')}" for r in reasons.iter_rows(named=True)
    )
    per_lang = ", ".join(f"{r['searches']} in {esc(r['language'])}" for r in langs.iter_rows(named=True))
    return (
        '<h2 id="census">The census: which flights are episodes</h2>'
        f"<p>The episodes are a census of the flights of this study ({esc(queries.study(project)['title'])}) that the "
        "stored public reporting supports. The rules below decide what counts; they are ours and a reader may "
        "disagree (they are rows of <code>data/raw/census_criteria.csv</code>). Every flight considered and left out "
        "is listed with its reason, and every search made is logged, so that the census can be repeated or extended: "
        "run the same queries, add what they find as rows, and <code>make validate</code>.</p>"
        f"<p>Episodes by kind: {counts}.</p>"
        + rules
        + f'<h3 id="census-excluded">Considered and left out ({excluded.height}: {why})</h3>'
        + _table(
            excluded,
            [
                "item_id",
                "title",
                "when_reported",
                "countries",
                "reason",
                "reason_text",
                "related_episode_id",
                "source_ids",
            ],
            {"when_reported": "when (as reported)", "related_episode_id": "episode"},
            src_cell,
            name="Flights considered and left out",
        )
        + f'<h3 id="host-statements">What the host states said or did ({hosts.height})</h3>'
        "<p>Permissions, authorisations, denials, intercepts and statements by the countries where an aircraft "
        "landed or flew (<code>host_statements.csv</code>).</p>"
        + _table(
            hosts,
            ["country_name", "authority", "kind", "made_on_reported", "episode_id", "about", "source_ids"],
            {"country_name": "country", "made_on_reported": "when (as reported)"},
            src_cell,
            name="Host-state statements",
        )
        + f'<h3 id="census-log">The searches ({log.height}: {per_lang})</h3>'
        "<p>Each search: the query as typed, its language, where it was run (the stored-reference search of this "
        "project's tools, by corpus), when, and what it found.</p>"
        + f"<details><summary>Show all {log.height} searches</summary>"
        + _table(
            log,
            [
                "search_id",
                "query",
                "language",
                "corpus",
                "searched_on",
                "scope",
                "found_source_ids",
                "outcome",
            ],
            {"found_source_ids": "sources taken"},
            lambda c, r: _source_links(r["found_source_ids"]) if c == "found_source_ids" and r[c] else None,
            name="Census searches",
        )
        + "</details>"
    )


def observed_excluded_section(project: Project) -> str:
    """Everything the observed-records path left out (or added for review), with its reason
    (``core_observed_excluded``): counts per reason, then every row."""
    from .observed import EXCLUDED_REASONS

    ex = queries.sql(
        "SELECT * FROM core_observed_excluded ORDER BY reason, kind, first_utc NULLS LAST, icao24, "
        "aircraft_id, detail",
        project=project,
    )
    head = '<h2 id="observed-excluded">Observed records: what was left out and why</h2>'
    if ex.is_empty():
        return (
            head + "<p>No observed flight records in this study (data/raw/tracks holds no trace), so nothing "
            "was left out.</p>"
        )
    counts = queries.sql(
        "SELECT reason, count(*) AS rows, sum(n) AS n FROM core_observed_excluded "
        "GROUP BY reason ORDER BY reason",
        project=project,
    )
    items = "".join(
        f"<li><strong>{esc(EXCLUDED_REASONS.get(r['reason'], r['reason']))}</strong> "
        f"(<code>{esc(r['reason'])}</code>): {r['rows']} row(s), n = {esc(fmt(r['n']))}</li>"
        for r in counts.iter_rows(named=True)
    )
    ex = ex.with_columns(
        pl.col("reason").replace_strict(EXCLUDED_REASONS, default=pl.col("reason")).alias("why")
    )
    return (
        head
        + f"<p>{ex.height} row{'s' if ex.height != 1 else ''} of <code>core_observed_excluded</code>: trips, aircraft, legs, positions and "
        "files of the observed flight records that did not become evidence, each with its reason "
        "(<code>aircraft_created</code> rows were kept and are listed for review).</p>"
        f'<ul class="observed-reasons">{items}</ul>'
        + _table(
            ex,
            [
                "why",
                "kind",
                "icao24",
                "aircraft_id",
                "registration",
                "first_utc",
                "last_utc",
                "n",
                "detail",
                "source_ids",
            ],
            {"why": "reason", "first_utc": "first fix (UTC)", "last_utc": "last fix (UTC)"},
            lambda c, r: (
                _source_links(r["source_ids"]) if c == "source_ids" else "–" if r[c] is None else None
            ),  # null: not one aircraft / no time
            name="Observed records left out, with the reason",
        )
    )


DISCOVER_FILES = ("out_candidates.parquet", "out_candidate_legs.parquet", "manifest.json")


log = logging.getLogger(__name__)
#: discovery runs pinned for the length of a report (project root -> run folder): every page reads the same run
_PINNED: dict[str, Path] = {}


def _resolve_discovery(project: Project) -> Path:
    out = project.discover
    return out.resolve() if out.is_symlink() else out


def discover_dir(project: Project) -> Path:
    """The discovery run this study's pages show: ``data/derived/discover`` resolved once (discovery publishes it as a
    link to a complete run folder, swapped atomically), so that every file is read from one run, never a mix of the
    run being replaced and the new one. During a report (:func:`pinned_discovery`) all pages use the same run."""
    return _PINNED.get(str(project.root)) or _resolve_discovery(project)


@contextmanager
def pinned_discovery(project: Project) -> Iterator[Path]:
    """Pin the discovery run for the length of a report (a discovery published meanwhile shows in the next one)."""
    key = str(project.root)
    outer = key in _PINNED
    if not outer:
        _PINNED[key] = _resolve_discovery(project)
    try:
        yield _PINNED[key]
    finally:
        if not outer:
            _PINNED.pop(key, None)


def discover_fingerprint(project: Project) -> str:
    """A hash of the discovery outputs the Candidates page shows ("none" without them): part of the site key,
    so that a new discovery run refreshes the page and an unchanged one keeps ``make report`` a no-op."""
    import hashlib

    h = hashlib.sha256()
    folder = discover_dir(project)
    if not all((folder / f).is_file() for f in DISCOVER_FILES):
        return "none"
    try:
        for f in DISCOVER_FILES:
            h.update(f.encode() + b"\0" + (folder / f).read_bytes())
    except OSError as e:  # unreadable: the Candidates page says so; the key changes when it is fixed
        return f"unreadable-{type(e).__name__}-{folder}"
    return h.hexdigest()


def _candidate_map(legs: pl.DataFrame, cands: pl.DataFrame, project: Project) -> str:
    """A world map of the candidate legs (great-circle arcs between the first and last fix of each leg), coloured
    by status."""
    import altair as alt

    from . import charts
    from .geo import great_circle_points

    legs = legs.drop([c for c in ("status", "route") if c in legs.columns]).join(
        cands.select("candidate_id", "status", "route"), on="candidate_id", how="left"
    )
    legs = legs.filter(pl.all_horizontal(pl.col("dep_lat", "dep_lon", "arr_lat", "arr_lon").is_not_null()))
    if legs.is_empty():
        return "<p>None of the candidate legs has both ends located: no map.</p>"
    keep = [
        c
        for c in (
            "candidate_id",
            "status",
            "registration",
            "route",
            "leg_no",
            "dep_icao",
            "arr_icao",
            "dep_lat",
            "dep_lon",
            "arr_lat",
            "arr_lon",
            "first_seen_utc",
        )
        if c in legs.columns
    ]
    legs = charts._iso(
        legs.select(keep)
        .sort("candidate_id", *(["leg_no"] if "leg_no" in keep else []))
        .with_row_index("leg_key")
    )
    arcs = pl.DataFrame(
        [
            (r["leg_key"], i, la, lo)
            for r in legs.iter_rows(named=True)
            for i, (la, lo) in enumerate(
                great_circle_points(r["dep_lat"], r["dep_lon"], r["arr_lat"], r["arr_lon"], 32)
            )
        ],
        schema={"leg_key": pl.UInt32, "point_seq": pl.Int64, "lat": pl.Float64, "lon": pl.Float64},
        orient="row",
    ).join(legs.drop("dep_lat", "dep_lon", "arr_lat", "arr_lon"), on="leg_key", how="left")
    lat = arcs["lat"].to_list()
    lon = arcs["lon"].to_list()
    pad = 8
    fit = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "MultiPoint",
                    "coordinates": [
                        [x, y]
                        for x in (max(-180, min(lon) - pad), min(180, max(lon) + pad))
                        for y in (max(-85, min(lat) - pad), min(85, max(lat) + pad))
                    ],
                },
            }
        ],
    }
    projection = alt.Projection(
        type="equalEarth", fit=fit, clipExtent=[[0, 0], [charts.WIDTH, charts.MAP_HEIGHT]]
    )
    world = alt.Chart(charts.basemap(project.basemap)).mark_geoshape(
        fill="#e9e9e6", stroke="#ffffff", strokeWidth=0.5, clip=True
    )
    status = alt.Color(
        "status:N", title="Status", scale=alt.Scale(domain=["new", "known"], range=["#D55E00", "#0072B2"])
    )
    tips = [
        alt.Tooltip(c, title=t)
        for c, t in (
            ("candidate_id:N", "Candidate"),
            ("status:N", "Status"),
            ("registration:N", "Registration"),
            ("route:N", "Route"),
            ("dep_icao:N", "From"),
            ("arr_icao:N", "To"),
            ("first_seen_utc:N", "First fix (UTC)"),
        )
        if c.split(":")[0] in legs.columns
    ]
    lines = (
        alt.Chart(arcs)
        .mark_line(strokeWidth=2, opacity=0.85, clip=True)
        .encode(
            longitude="lon:Q",
            latitude="lat:Q",
            detail="leg_key:N",
            order="point_seq:Q",
            color=status,
            tooltip=tips,
        )
    )
    ends = (
        alt.Chart(legs)
        .mark_point(filled=True, size=40, stroke="#222", strokeWidth=0.5, clip=True)
        .encode(longitude="arr_lon:Q", latitude="arr_lat:Q", color=status, tooltip=tips)
    )
    chart = alt.layer(world, lines, ends).properties(
        width=charts.WIDTH,
        height=charts.MAP_HEIGHT,
        projection=projection,
        description=(
            f"World map of {legs.height} observed legs of {legs['candidate_id'].n_unique()} candidate trips, "
            "each drawn as a great-circle arc from its first to its last fix, coloured new or known. "
            "The table below lists every candidate."
        ),
        title=alt.Title(
            "Candidate legs",
            subtitle="Great-circle arcs from each leg's first to its last fix (not the "
            "flown track); points are arrivals.",
        ),
    )
    return charts.page_html(chart.to_dict())


DISCOVER_HOWTO = """
<p>No discovery output in <code>data/derived/discover</code>, so there are no candidates to show. Discovery reads
bulk ADS-B archives (readsb trace tars or folders, OpenSky files), splits every aircraft's positions into legs and
trips, and keeps the trips that match the interest rules in <code>data/raw/interest_*.csv</code> (watched aircraft,
regions, trip patterns). A candidate that overlaps a reported episode of the same aircraft is <em>known</em>; the
others are <em>new</em> and are leads to check against sources, not findings.</p>
<p>To run it: <code>make discover ARCHIVE=path/to/day.tar</code> (without <code>ARCHIVE</code> it runs on a
generated demo day; <code>ENGINE=spark MASTER=URL</code> for a cluster; see <code>python -m analysis discover
--help</code> and docs/scale.md), then <code>make report</code>: this page then lists the candidates, new ones first,
and draws their legs on a map.</p>
"""


def candidates_body(project: Project) -> str:
    """Candidates from discovery (``make discover``): new ones first, with the rules and inputs behind each, and a map
    of their legs; without a discovery output, how to make one."""
    folder = discover_dir(project)
    head = "<h1>Candidates from discovery</h1>"
    if discover_fingerprint(project) == "none":
        return head + DISCOVER_HOWTO
    try:
        return _candidates_page(project, folder, head)
    except Exception as e:  # noqa: BLE001 - a broken discovery output fails this page only, with a note
        log.warning("Candidates page: the discovery output in %s cannot be shown: %s", folder, e)
        first = (str(e).strip().splitlines() or [""])[0][:300]
        return (
            head + '<p class="note" role="note"><strong>The discovery output could not be read</strong>: '
            f"{esc(type(e).__name__)}: {esc(first)} (in <code>data/derived/discover</code>). Run "
            "<code>make discover</code> again, then <code>make report</code>. The rest of the report does not "
            "depend on it.</p>"
        )


def _candidates_page(project: Project, folder: Path, head: str) -> str:
    import json

    from .discover.rules import CANDIDATE_COLUMNS, CANDIDATE_DESCRIPTIONS

    cands = pl.read_parquet(folder / "out_candidates.parquet")
    legs = pl.read_parquet(folder / "out_candidate_legs.parquet")
    try:
        man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"manifest.json: not valid JSON ({e})") from None
    if not isinstance(man, dict):
        raise ValueError(f"manifest.json: expected a JSON object, got {type(man).__name__}")
    missing = [c for c in CANDIDATE_COLUMNS if c not in cands.columns]
    if missing:
        raise ValueError(
            f"out_candidates.parquet: missing {', '.join(missing[:4])}"
            f"{' ...' if len(missing) > 4 else ''}; expected the columns discovery writes "
            "(analysis.discover.rules.CANDIDATE_COLUMNS)"
        )
    cands = (
        cands.with_columns((pl.col("status") != "new").alias("_k"))
        .sort("_k", "first_seen_utc", "candidate_id", nulls_last=True)
        .drop("_k")
    )
    n_new = int((cands["status"] == "new").sum())
    n_syn = int(cands["synthetic"].fill_null(False).sum() or 0) if "synthetic" in cands.columns else 0
    synthetic = man.get("synthetic_inputs") or []
    banner = ""
    if n_syn or synthetic:
        banner = (
            '<div class="synthetic-banner" role="note"><strong>Synthetic data.</strong> '
            f"{n_syn} of the {cands.height} candidates below come from a generated demo day "
            f"({', '.join(f'<code>{esc(i)}</code>' for i in synthetic) or 'a generated archive'}, written by "
            "<code>synth.globalday</code> so that a newcomer sees discovery work): their aircraft, "
            "registrations and tracks are made up, even where one matches a reported episode. They are marked "
            "<em>synthetic</em> in the table and in the exports. Run <code>make discover ARCHIVE=day.tar</code> on "
            "a real archive for real leads.</div>"
        )
    inputs = (
        ", ".join(f"<code>{esc(Path(i).name)}</code>" for i in man.get("inputs") or []) or "a positions store"
    )
    intro = (
        f"<p>{cands.height} candidate trips ({n_new} new, {cands.height - n_new} known) found by discovery in "
        f"{inputs} ({esc(fmt(man.get('aircraft')))} aircraft, {esc(fmt(man.get('legs')))} legs; "
        f"engine {esc(man.get('engine') or '?')}). A candidate is <em>known</em> when it overlaps a reported "
        "episode of the same aircraft, <em>new</em> when no report covers it: a new candidate is a lead to check "
        "against sources, not a finding. Rules are the rows of <code>data/raw/interest_*.csv</code>.</p>"
    )
    if cands.is_empty():
        return head + intro + "<p>No trip matched the interest rules.</p>"

    def cell(c: str, r: dict) -> str | None:
        if (
            r.get(c) is None
        ):  # observed data, not reports: an empty value is absent from the data, not unreported
            return "not in the ADS-B data" if c in ("registration", "type_code") else "none"
        if c in ("patterns", "rule_ids", "region_countries", "source_inputs") and r[c]:
            return esc(r[c].replace(";", "; "))  # lists wrap in the table
        if c == "status":
            mark = ' <span class="synthetic-mark">synthetic</span>' if r.get("synthetic") else ""
            return f'<span class="status-{esc(r["status"])}">{esc(r["status"])}</span>{mark}'
        if c == "episode_id" and r.get("episode_id"):
            page = episode_page(r["episode_id"])
            return f'<a href="{esc(page)}">{esc(r["episode_id"])}</a>' if page else None
        return None

    cols = [
        "candidate_id",
        "status",
        "registration",
        "type_code",
        "first_seen_utc",
        "last_seen_utc",
        "n_legs",
        "route",
        "region_countries",
        "patterns",
        "rule_ids",
        "episode_id",
        "known_basis",
        "source_inputs",
    ]
    cols = [c for c in cols if c in cands.columns]
    labels = {
        "first_seen_utc": "first seen (UTC)",
        "last_seen_utc": "last seen (UTC)",
        "type_code": "type",
        "rule_ids": "rules",
        "source_inputs": "inputs",
        "episode_id": "episode",
        "n_legs": "legs",
        "region_countries": "region countries",
    }
    defs = "".join(
        f"<dt><code>{esc(c)}</code></dt><dd>{esc(CANDIDATE_DESCRIPTIONS.get(c, ''))}</dd>" for c in cols
    )
    return (
        head
        + banner
        + intro
        + _candidate_map(legs, cands, project)
        + f'<h2 id="candidate-table">Candidate trips ({cands.height})</h2><p>New candidates first, then known; '
        "each with the rules that selected it and the archive inputs it was seen in.</p>"
        + _table(
            cands,
            cols,
            labels,
            cell,
            lambda r: "candidate-" + re.sub(r"[^A-Za-z0-9_-]", "_", r["candidate_id"]),
            name="Candidate trips",
        )
        + f"<details><summary>What the columns mean</summary><dl>{defs}</dl></details>"
    )


def derived_tables(project: Project) -> dict[str, dict[str, str]]:
    """{table: {column: type}} of every derived parquet file of the current build."""
    import pyarrow.parquet as pq

    out = {}
    for f in sorted(Path(project.current).glob("*.parquet")):
        sch = pq.read_schema(f)
        out[f.stem] = {n: str(t) for n, t in zip(sch.names, sch.types, strict=True)}
    return out


def dictionary_body(project: Project) -> str:
    """Every derived table and column with its type and description."""
    tables = derived_tables(project)
    rows = {}
    try:
        import json

        rows = json.loads((Path(project.current) / "manifest.json").read_text())["rows"]
    except (OSError, KeyError, ValueError):
        pass
    toc = "".join(f'<li><a href="#table-{esc(t)}">{esc(t)}</a></li>' for t in tables)
    parts = [
        "<h1>Data dictionary</h1><p>Every derived table in <code>data/derived/current</code> (and in "
        "<code>exports/</code>): what a row is, and every column's type and meaning. Columns copied from "
        "data/raw keep the raw schema's description (analysis/schema.py); the others are described with the step "
        "that makes the table (analysis/steps.py).</p>"
        f'<ul class="toc">{toc}</ul>'
    ]

    def section(t, cols, what, describe, n):
        body = "".join(
            f"<tr><td><code>{esc(c)}</code></td><td>{esc(typ)}</td><td>{esc(describe(t, c))}</td></tr>"
            for c, typ in cols.items()
        )
        parts.append(
            f'<h2 id="table-{esc(t)}">{esc(t)}</h2><p>{esc(what)}'
            f'<span class="meta">{esc(n)}</span></p>'
            f'<div class="table-wrap" tabindex="0" role="region" aria-label="Columns of {esc(t)}">'
            '<table class="data"><thead><tr><th>Column</th><th>Type</th>'
            f"<th>Description</th></tr></thead><tbody>{body}</tbody></table></div>"
        )

    for t, cols in tables.items():
        section(
            t,
            cols,
            dictionary.table_description(t),
            dictionary.describe,
            f" · {rows[t]} rows" if t in rows else "",
        )
    disc = discovery_tables(project)
    if disc:
        parts.append(
            '<h2 id="discovery-output">Discovery output</h2><p>Written by <code>make discover</code> to '
            "<code>data/derived/discover</code> from bulk ADS-B archives (not part of the study build; shown "
            'on the <a href="candidates.html">Candidates</a> page).</p>'
        )
        for t, (cols, n) in disc.items():
            section(
                t, cols, dictionary.discovery_description(t), dictionary.discovery_description, f" · {n} rows"
            )
    return "".join(parts)


def discovery_tables(project: Project) -> dict[str, tuple[dict[str, str], int]]:
    """{table: ({column: type}, rows)} of the discovery output in data/derived/discover (empty without one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = discover_dir(project)
    out = {}
    for t in dictionary.DISCOVERY_TABLES:
        f = folder / f"{t}.parquet"
        if f.is_file():
            try:
                meta = pq.read_metadata(f)
                sch = meta.schema.to_arrow_schema()
            except (OSError, pa.ArrowException) as e:  # a broken file: left out, named in the log
                log.warning("discovery output %s cannot be read: %s", f, e)
                continue
            out[t] = ({n: str(typ) for n, typ in zip(sch.names, sch.types, strict=True)}, meta.num_rows)
    return out


#: The site's own pages, written while the notebooks run (the notebook pages come from analysis.pageplan.jobs_for).
SITE_PAGES = [
    SitePage("index.html", "{study}", index_body, charts=True),  # {study}: the study's title (study.csv)
    SitePage("candidates.html", "Candidates from discovery", candidates_body, charts=True),
    SitePage("methods.html", "Methods and sources", methods_body),
    SitePage("dictionary.html", "Data dictionary", dictionary_body),
]


def search_index(project: Project, pages: list[str]) -> list[dict[str, str]]:
    """Entries of the offline search box: episodes, aircraft, places, sources and findings, each with the page
    (and anchor) that shows it. Sorted, so that two builds give the same bytes."""
    have = set(pages)
    out: list[dict[str, str]] = []

    def add(kind: str, label: str, url: str, detail: str = "") -> None:
        out.append({"kind": kind, "label": label, "url": url, "detail": detail})

    eps = queries.episodes(project)
    for r in eps.iter_rows(named=True):
        page = episode_page(r["episode_id"])
        if page and page in have:
            add("episode", r["title"], page, f"{r['episode_id']} · {fmt(r['aircraft_labels'])}")
    stops = queries.sql(
        """
        SELECT aircraft_id, place_id, any_value(place_name) AS place_name, any_value(country_name) AS country_name,
               list_sort(list_distinct(list(episode_id))) AS episode_ids
        FROM core_stops GROUP BY aircraft_id, place_id ORDER BY aircraft_id, place_id""",
        project=project,
    )
    aircraft = queries.aircraft(project)
    for r in aircraft.iter_rows(named=True):
        eps_of = sorted(
            {
                e
                for row in stops.filter(pl.col("aircraft_id") == r["aircraft_id"]).iter_rows(named=True)
                for e in row["episode_ids"]
            }
        )
        page = next((episode_page(e) for e in eps_of if episode_page(e) in have), None) or "patterns.html"
        detail = " · ".join(
            filter(
                None, [r.get("registration"), r.get("type_name"), r.get("operator_name"), ", ".join(eps_of)]
            )
        )
        add("aircraft", r.get("label") or r["aircraft_id"], page, detail)
    places = queries.places(project)
    for r in places.iter_rows(named=True):
        eps_at = sorted(
            {
                e
                for row in stops.filter(pl.col("place_id") == r["place_id"]).iter_rows(named=True)
                for e in row["episode_ids"]
            }
        )
        page = (
            next((episode_page(e) for e in eps_at if episode_page(e) in have), None)
            or "methods.html#inferred-places"
        )
        detail = " · ".join(
            filter(
                None,
                [
                    r.get("icao") or r.get("inferred_icao"),
                    r.get("country_name"),
                    r.get("precision"),
                    ", ".join(eps_at),
                ],
            )
        )
        add("place", r["name"], page, detail)
    for r in queries.sources(project).iter_rows(named=True):
        add(
            "source",
            f"{r['source_id']} {r['outlet'] or 'unnamed outlet'}",
            f"methods.html#{source_anchor(r['source_id'])}",
            " · ".join(filter(None, [r.get("title"), r.get("published_reported"), r.get("author")])),
        )
    for r in queries.findings(project=project).iter_rows(named=True):
        add(
            "finding",
            r["statement"],
            f"patterns.html#finding-{r['finding_id']}",
            f"{r['category']} · confidence {r['confidence']}",
        )
    cand_file = discover_dir(project) / "out_candidates.parquet"  # the Candidates page is always built
    if cand_file.is_file():
        try:
            found = pl.read_parquet(cand_file).sort("candidate_id").rows(named=True)
            entries = []
            for r in found:
                anchor = "candidate-" + re.sub(r"[^A-Za-z0-9_-]", "_", r["candidate_id"])
                entries.append(
                    (
                        "candidate",
                        f"{r['registration'] or r['icao24']} {r['route'] or ''}".strip(),
                        f"candidates.html#{anchor}",
                        " · ".join(
                            filter(None, [r["status"], r["type_code"], r["candidate_id"], r["patterns"]])
                        ),
                    )
                )
        except Exception as e:  # noqa: BLE001 - a broken discovery output: no candidates in the search box
            log.warning("search index: discovery output %s left out: %s", cand_file, e)
            entries = []
        for entry in entries:
            add(*entry)
    order = {"episode": 0, "finding": 1, "candidate": 2, "aircraft": 3, "place": 4, "source": 5}
    return sorted(out, key=lambda e: (order[e["kind"]], e["label"], e["url"]))
