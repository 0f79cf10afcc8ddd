"""Small, safe HTML pieces for notebooks and report pages: tables, headings, finding lists.

Every value from the data is HTML-escaped here: a title or callsign holding ``<script>`` shows as text and
never runs. Notebooks use these instead of building HTML themselves.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

import polars as pl
from IPython.display import HTML

__all__ = [
    "esc",
    "table",
    "heading",
    "para",
    "findings_list",
    "fmt",
    "bullet_list",
    "key_values",
    "label",
    "km",
    "hours",
    "reported",
    "NOT_REPORTED",
    "LABELS",
    "Raw",
    "episode_facts",
    "episode_picker",
    "destination_arrivals",
    "NOT_APPLICABLE",
    "NOT_COMPUTED",
    "why_missing",
    "missing",
    "not_compared",
    "finding_value",
    "finding_meta",
]

#: What a reader sees where the sources give nothing.
NOT_REPORTED = "not reported"
#: ... where the value has no meaning for the row (an arrival at the origin, a score of pairs not comparable).
NOT_APPLICABLE = "not applicable"
#: ... where the study could not compute a value from what is reported (the reason follows in brackets).
NOT_COMPUTED = "not computed"

#: Columns the study computes (as opposed to values the sources report), by suffix or name
_COMPUTED_SUFFIX = ("_km", "_h", "_min", "_score", "_factor")
_COMPUTED = {
    "similarity",
    "detour_factor",
    "outbound_staging_stops",
    "observed_arr_utc",
    "arr_diff_h",
    "dwell_h",
}
_WHY_NOT_COMPUTED = {
    "distance_km": "an end of the leg has no coordinates",
    "duration_min_h": "a departure or an arrival time is not reported",
    "duration_max_h": "a departure or an arrival time is not reported",
    "dwell_min_h": "the arrival or the departure is not reported",
    "dwell_max_h": "the arrival or the departure is not reported",
    "dwell_h": "the arrival or the departure is not reported",
    "dest_dwell_min_h": "the arrival or the departure is not reported",
    "dest_dwell_max_h": "the arrival or the departure is not reported",
    "outbound_km": "not every outbound stop has coordinates",
    "direct_km": "origin or destination has no coordinates",
    "detour_factor": "not every outbound stop has coordinates",
    "longest_leg_km": "no leg has both ends located",
    "observed_arr_utc": "no observed record matches this stop",
    "arr_diff_h": "no observed record matches this stop",
}

#: Column headings a reader understands, with units. Columns not listed get a heading made from the name
#: (``dwell_min_h`` -> "Dwell min (h)"); the data dictionary's description shows on hover.
LABELS: dict[str, str] = {
    "episode_id": "Episode",
    "aircraft_id": "Aircraft",
    "aircraft_labels": "Aircraft",
    "variant": "Route variant",
    "evidence": "Evidence",
    "seq": "Stop",
    "order_basis": "Order",
    "leg_seq": "Leg",
    "place_name": "Place",
    "place": "Place",
    "place_precision": "Known to",
    "reported_precision": "Reported to",
    "role": "Role",
    "arr_reported": "Arrival (as reported)",
    "dep_reported": "Departure (as reported)",
    "dwell_min_h": "Time on the ground, at least (h)",
    "dwell_max_h": "Time on the ground, at most (h)",
    "from_name": "From",
    "to_name": "To",
    "distance_km": "Great-circle distance (km)",
    "distance_basis": "Distance between",
    "duration_min_h": "Flight time, at least (h)",
    "duration_max_h": "Flight time, at most (h)",
    "source_ids": "Sources",
    "status": "Match",
    "reported_arr_earliest_utc": "Reported arrival, earliest (UTC)",
    "reported_arr_latest_utc": "Reported arrival, latest (UTC)",
    "observed_arr_utc": "Observed arrival (UTC)",
    "arr_diff_h": "Observed minus reported (h)",
    "start_utc": "Gap from (UTC)",
    "end_utc": "Gap to (UTC)",
    "duration_min": "Gap (minutes)",
    "jump_km": "Distance across the gap (km)",
    "kind": "Kind",
    "subject": "Subject",
    "quantity": "Quantity",
    "unit": "Unit",
    "claimant": "Claimed by",
    "verification": "Verification",
    "conflict_id": "Conflict",
    "topic": "Topic",
    "position_id": "Side",
    "claim": "Claim",
    "value": "Value",
    "is_working_position": "Working position",
    "outlet": "Outlet",
    "title": "Title",
    "author": "Author",
    "published_reported": "Published",
    "url": "Address",
    "source_id": "Source",
    "dest_arr_earliest_utc": "Arrival at destination, earliest (UTC)",
    "dest_arr_precision": "Arrival known to",
    "dest_arr_reported": "Arrival at destination (as reported)",
    "dest_dwell_min_h": "At destination, at least (h)",
    "dest_dwell_max_h": "At destination, at most (h)",
    "outbound_km": "Outbound distance (km)",
    "direct_km": "Direct distance (km)",
    "detour_factor": "Detour factor (flown / direct)",
    "outbound_staging_stops": "Staging stops out",
    "staging_countries": "Staging countries",
    "longest_leg_km": "Longest leg (km)",
    "first_time_utc": "First dated milestone, earliest (UTC)",
    "destination": "Destination",
    "first_time_reported": "First dated milestone (as reported)",
    "conflict_count": "Conflicts between sources",
    "episode_a": "Episode",
    "episode_b": "Compared with",
    "shared_countries": "Shared countries",
    "shared_country_count": "Shared countries (number)",
    "country_score": "Countries in order (0-1)",
    "corridor_score": "Corridors in order (0-1)",
    "jump_off_score": "Same jump-off (0-1)",
    "staging_a": "Staging of the first",
    "staging_b": "Staging of the second",
    "similarity": "Similarity (0-1)",
    "episodes": "Episodes",
    "episode_ids": "Episode ids",
}
_UNITS = {"_km": "km", "_h": "h", "_min": "minutes", "_utc": "UTC", "_t": "t"}


def label(column: str) -> str:
    """The heading of a column: from :data:`LABELS`, or made from the name with its unit."""
    if column in LABELS:
        return LABELS[column]
    for suffix, unit in _UNITS.items():
        if column.endswith(suffix):
            words = column.removesuffix(suffix).replace("_", " ").strip()
            return f"{words[:1].upper()}{words[1:]} ({unit})"
    words = column.removeprefix("is_").replace("_", " ")
    return words[:1].upper() + words[1:]


def esc(value: object) -> str:
    """HTML-escaped text of any value (None shows as "not reported")."""
    return NOT_REPORTED if value is None else html.escape(str(value), quote=True)


def km(value: float | None, inferred: bool = False) -> str:
    """A great-circle distance rounded to what the evidence supports: to 10 km between reported airports (the
    flown track is longer anyway), to 100 km when an end is an airport inferred from a city or country."""
    if value is None:
        return NOT_REPORTED
    step = 100 if inferred else 10
    return f"{round(value / step) * step:,.0f}"


def hours(value: float | None) -> str:
    """Hours: one decimal below 10 h, whole hours above (the sources rarely give minutes)."""
    if value is None:
        return NOT_REPORTED
    if value == 0:
        return "0"
    return f"{value:,.1f}" if abs(value) < 10 else f"{value:,.0f}"


def _utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else NOT_REPORTED


def reported(text: str | None, earliest: datetime | None = None, latest: datetime | None = None) -> str:
    """A date as the source gave it, with its UTC interval on hover (and on keyboard focus): HTML."""
    shown = _display(text)
    if text is None or earliest is None:
        return esc(shown)
    span = _utc(earliest) if latest is None or latest == earliest else f"{_utc(earliest)} to {_utc(latest)}"
    return (
        f'<span class="reported" tabindex="0" title="UTC: {esc(span)}">{esc(shown)}'
        f'<span class="utc-interval"> (UTC: {esc(span)})</span></span>'
    )


def _display(text: str | None) -> str:
    """The reported date for display (analysis.timespec.display when it exists, else the text itself)."""
    try:
        from .timespec import display
    except ImportError:
        return text if text else NOT_REPORTED
    return display(text or "")


def fmt(value: object, digits: int = 1) -> str:
    """A value formatted for reading: thousands separators, UTC times, lists joined, "not reported" for nothing."""
    if value is None or value == "":
        return NOT_REPORTED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v, digits) for v in value) or NOT_REPORTED
    return str(value)


#: Columns holding a computed list, where an empty value means an empty list
_EMPTY_IS_NONE = {
    "shared_countries",
    "staging_a",
    "staging_b",
    "staging_countries",
    "outbound_staging_countries",
}


def why_missing(column: str, row: dict | None = None) -> tuple[str, str]:
    """Why a cell is empty: (:data:`NOT_REPORTED`, :data:`NOT_APPLICABLE` or :data:`NOT_COMPUTED`, the reason)."""
    row = row or {}
    role = row.get("role")
    if role == "origin" and column.startswith(("arr_", "dwell_")):
        return NOT_APPLICABLE, "the origin: the flight starts here"
    if role == "home" and column.startswith(("dep_", "dwell_")):
        return NOT_APPLICABLE, "the last stop: the flight ends here"
    if row.get("is_comparable") is False and (
        column.endswith("_score") or column in ("similarity", "jump_off_a", "jump_off_b")
    ):
        return NOT_APPLICABLE, str(row.get("reason") or "the two routes are not comparable")
    if column in _COMPUTED or column.endswith(_COMPUTED_SUFFIX):
        return NOT_COMPUTED, _WHY_NOT_COMPUTED.get(column, "what it is computed from is not reported")
    return NOT_REPORTED, "the sources do not give it"


def missing(column: str, row: dict | None = None, inline: bool = True) -> str:
    """An empty cell in words, as HTML: "not reported", "not applicable" or "not computed (why)", the reason also on
    hover. In a table (``inline=False``) the reason is on hover and for screen readers only, so that a column of
    the same reason does not fill the page."""
    word, why = why_missing(column, row)
    cls = f"missing missing-{word.replace(' ', '-')}"
    if word == NOT_COMPUTED and inline:
        return f'<span class="{cls}" title="{esc(why)}">{esc(word)} ({esc(why)})</span>'
    return (
        f'<span class="{cls}" title="{esc(why)}">{esc(word)}<span class="sr-only"> ({esc(why)})</span></span>'
    )


def not_compared(sim: pl.DataFrame) -> HTML:
    """One line for the pairs of :func:`analysis.queries.route_similarity` that are not comparable: how many, why."""
    if "is_comparable" not in sim.columns:
        return HTML("")
    rest = sim.filter(~pl.col("is_comparable").fill_null(False))
    if rest.height == 0:
        return HTML(f"<p>All {sim.height} pairs are comparable.</p>")
    import re

    why = (
        rest["reason"]
        .fill_null("no reason recorded")
        .map_elements(
            lambda r: re.sub(r" for .*$", "", r.replace("not comparable: ", "")), return_dtype=pl.String
        )
        .value_counts(sort=True)
    )
    reasons = "; ".join(f"{n} because {r}" for r, n in why.iter_rows())
    return HTML(
        f'<p class="not-compared">{rest.height} of {sim.height} pairs are not compared and not listed above: '
        f"{esc(reasons)} for one route or both (a route without staging stops has nothing to compare).</p>"
    )


def _cell(column: str, row: dict, digits: int) -> str:
    """One table cell's HTML: the value formatted by what the column means."""
    value = row.get(column)
    if column.endswith("_reported"):
        stem = column.removesuffix("_reported")
        if value is None or value == "":
            return missing(column, row, inline=False)
        return reported(value, row.get(f"{stem}_earliest_utc"), row.get(f"{stem}_latest_utc"))
    if value == "" and column in _EMPTY_IS_NONE:  # a list that is empty: none, not a missing report
        return "none"
    if value is None or value == "":
        return missing(column, row, inline=False)
    if column.endswith("_km") and isinstance(value, int | float):
        inferred = row.get("distance_basis") == "inferred" or bool(row.get("uses_inferred_places"))
        return km(float(value), inferred)
    if column.endswith("_h") and isinstance(value, int | float):
        return hours(float(value))
    if column in ("detour_factor", "similarity", "country_score", "corridor_score") and isinstance(
        value, int | float
    ):
        return f"{value:.2f}"
    if (column == "precision" or column.endswith("_precision")) and isinstance(value, str):
        return esc(value.replace("_", " "))
    if column in ("source_ids", "episode_ids") and isinstance(value, str):
        return esc(value.replace(";", ", "))
    return esc(fmt(value, digits))


def table(
    df: pl.DataFrame,
    columns: Sequence[str] | None = None,
    labels: dict[str, str] | None = None,
    digits: int = 1,
    caption: str | None = None,
    table_name: str | None = None,
    empty: str = "None in the data.",
) -> HTML:
    """An escaped HTML table of ``df``: readable headings (the data dictionary's description on hover), values
    formatted by meaning (distances rounded, dates as reported with the UTC interval, "not reported").

    Rows of an episode carry ``data-episode`` so that a page's episode picker can show or hide them.
    """
    from . import dictionary

    columns = list(columns or df.columns)
    labels = labels or {}
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    if df.height == 0:
        return HTML(f'<p class="empty">{esc(caption + ": ") if caption else ""}{esc(empty)}</p>')
    head = []
    for c in columns:
        desc = dictionary.describe(table_name, c) if table_name else _describe_any(c)
        title = f' title="{esc(desc)}"' if desc else ""
        head.append(f'<th scope="col"{title}>{esc(labels.get(c, label(c)))}</th>')
    body = []
    for row in df.iter_rows(named=True):
        ep = row.get("episode_id")
        attr = f' data-episode="{esc(ep)}"' if ep else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{_cell(c, row, digits)}</td>" for c in columns) + "</tr>")
    name = esc(caption or "Table of " + ", ".join(labels.get(c, label(c)) for c in columns[:4]))
    return HTML(
        f'<div class="table-wrap" tabindex="0" role="region" aria-label="{name}"><table class="data">{cap}<thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _describe_any(column: str) -> str | None:
    from . import dictionary

    for t in (
        "core_stops",
        "core_legs",
        "out_episode_summary",
        "core_sources",
        "core_claims",
        "core_conflicts",
        "out_observed_vs_reported",
        "core_gaps",
        "out_route_similarity",
    ):
        try:
            d = dictionary.describe(t, column)
        except Exception:  # noqa: BLE001 - a table without that column
            d = None
        if d:
            return d
    return None


class Raw(str):
    """HTML made (and escaped) by this module, to put in :func:`key_values` as it is."""


def heading(text: object, level: int = 2) -> HTML:
    level = min(max(level, 1), 6)
    return HTML(f"<h{level}>{esc(text)}</h{level}>")


def para(text: object) -> HTML:
    return HTML(f"<p>{esc(text)}</p>")


def bullet_list(items: Sequence[object]) -> HTML:
    return HTML("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")


def key_values(pairs: dict[str, object], digits: int = 1) -> HTML:
    """A two-column table of labelled values; a value may be :class:`Raw` HTML made by this module."""
    rows = "".join(
        f'<tr><th scope="row">{esc(k)}</th><td>{v if isinstance(v, Raw) else esc(fmt(v, digits))}</td></tr>'
        for k, v in pairs.items()
    )
    return HTML(f'<table class="kv">{rows}</table>')


def _number(value: float | None, unit: str | None) -> str:
    """A finding's number at the precision its evidence supports."""
    if value is None:
        return NOT_REPORTED
    u = (unit or "").lower()
    if u == "km":
        return km(value)
    if u in ("h", "hours", "days", "day"):
        return hours(value)
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"


def finding_value(r: dict) -> str:
    """ "days after event: 979 days (978.6 to 979.7)" - the metric in words, its value and range, rounded."""
    unit = r.get("unit")
    value = _number(r.get("value"), unit) + (f" {unit}" if unit else "")
    low, high = r.get("value_low"), r.get("value_high")
    rng = (
        f" ({_number(low, unit)} to {_number(high, unit)})"
        if low is not None and high is not None and low != high
        else ""
    )
    return f"{(r.get('metric') or '').replace('_', ' ')}: {value}{rng}"


def finding_meta(r: dict) -> str:
    """Likelihood (when the finding states one), confidence and the reason for it: HTML."""
    parts = []
    if r.get("likelihood"):
        parts.append(f'<span class="likelihood">likelihood: {esc(r["likelihood"])}</span>')
    conf = r.get("confidence")
    parts.append(f'<span class="confidence confidence-{esc(conf)}">confidence: {esc(conf)}</span>')
    if r.get("confidence_reason"):
        parts.append(f'<span class="confidence-reason">why: {esc(r["confidence_reason"])}</span>')
    return " · ".join(parts)


def findings_list(
    findings: pl.DataFrame, sources: pl.DataFrame | None = None, collapsed: bool = False
) -> HTML:
    """Findings with their value, likelihood and confidence (and why), evidence rows and sources; ``collapsed``
    puts the list in a closed <details> (a page whose findings are on the patterns page already)."""
    names = {}
    if sources is not None:
        names = {
            r["source_id"]: f"{r['source_id']}: {r['outlet'] or 'unnamed outlet'}"
            + (f", {r['published_reported']}" if r.get("published_reported") else "")
            for r in sources.iter_rows(named=True)
        }
    if findings.height == 0:
        return HTML('<p class="empty">No finding concerns these episodes.</p>')
    items = []
    for r in findings.iter_rows(named=True):
        srcs = (
            "; ".join(names.get(s, s) for s in (r["source_ids"] or "").split(";") if s)
            or "derived from observed records"
        )
        items.append(
            f'<li class="finding" id="finding-{esc(r["finding_id"])}"><p class="headline">{esc(r.get("headline") or r["title"])}</p>'
            f'<p class="statement">{esc(r["statement"])}</p>'
            f'<p class="meta"><span class="value">{esc(finding_value(r))}</span> · {finding_meta(r)}</p>'
            f"<details><summary>Evidence and sources</summary><p>Evidence rows: {esc((r['evidence'] or '').replace(';', ', '))}</p>"
            f"<p>Sources: {esc(srcs)}</p></details></li>"
        )
    listing = '<ol class="findings">' + "".join(items) + "</ol>"
    if collapsed:
        listing = (
            f"<details><summary>{findings.height} finding(s): show them (every finding is also on the patterns "
            f"page)</summary>{listing}</details>"
        )
    return HTML(listing)


def _range(low: float | None, high: float | None, unit: str = "h") -> str:
    if low is None and high is None:
        return NOT_REPORTED
    if low is None or high is None or hours(low) == hours(high):
        return f"{hours(low if low is not None else high)} {unit}"
    return f"{hours(low)} to {hours(high)} {unit}"


def _interval(earliest: datetime | None, latest: datetime | None, precision: str | None) -> str:
    if earliest is None:
        return NOT_REPORTED
    if latest is None or latest == earliest:
        return _utc(earliest)
    return f"{_utc(earliest)} to {_utc(latest)}" + (
        f" (known to the {precision.replace('_', ' ')})" if precision else ""
    )


def destination_arrivals(summary: pl.DataFrame, stops: pl.DataFrame) -> pl.DataFrame:
    """``summary`` (:func:`analysis.queries.episode_summary`) with ``dest_arr_reported``: the lead aircraft's arrival
    at the destination as the source reported it (its UTC interval is the summary's dest_arr_* columns)."""
    dest = (
        stops.filter((pl.col("role") == "destination") & pl.col("is_main_variant"))
        .sort("episode_id", "aircraft_id", "seq")
        .group_by("episode_id", "aircraft_id", maintain_order=True)
        .first()
        .select(
            "episode_id",
            pl.col("aircraft_id").alias("lead_aircraft_id"),
            pl.col("arr_reported").alias("dest_arr_reported"),
        )
    )
    return summary.join(dest, on=["episode_id", "lead_aircraft_id"], how="left")


def episode_facts(ep: dict, stops: pl.DataFrame | None = None) -> HTML:
    """The "at a glance" table of an episode summary row (:func:`analysis.queries.episode`), readable. With the
    episode's ``stops`` the arrival at the destination is shown as reported, its UTC interval on hover."""
    inferred = bool(ep.get("uses_inferred_places"))
    detour = ep.get("detour_factor")
    arrival = Raw(
        _interval(
            ep.get("dest_arr_earliest_utc"), ep.get("dest_arr_latest_utc"), ep.get("dest_arr_precision")
        )
    )
    if stops is not None and ep.get("lead_aircraft_id"):
        row = destination_arrivals(
            pl.DataFrame(
                [{k: ep.get(k) for k in ("episode_id", "lead_aircraft_id")}],
                schema={"episode_id": pl.String, "lead_aircraft_id": pl.String},
            ),
            stops,
        ).row(0, named=True)
        if row["dest_arr_reported"]:
            arrival = Raw(
                reported(
                    row["dest_arr_reported"], ep.get("dest_arr_earliest_utc"), ep.get("dest_arr_latest_utc")
                )
            )
    return key_values(
        {
            "Aircraft": ep.get("aircraft_labels"),
            "Evidence": ep.get("evidence_kinds"),
            "Origin → destination (lead aircraft)": f"{ep.get('origin') or NOT_REPORTED} → "
            f"{ep.get('destination') or NOT_REPORTED}",
            "Arrival at destination": arrival,
            "Time on the ground at destination": (
                _range(ep.get("dest_dwell_min_h"), ep.get("dest_dwell_max_h"))
                if ep.get("dest_dwell_min_h") is not None or ep.get("dest_dwell_max_h") is not None
                else Raw(missing("dest_dwell_min_h"))
            ),
            "Outbound distance": (
                f"{km(ep.get('outbound_km'), inferred)} km"
                if ep.get("outbound_km") is not None
                else Raw(missing("outbound_km"))
            ),
            "Direct distance": (
                f"{km(ep.get('direct_km'), inferred)} km"
                if ep.get("direct_km") is not None
                else Raw(missing("direct_km"))
            ),
            "Detour factor (flown / direct)": f"{detour:.2f}"
            if detour is not None
            else Raw(missing("detour_factor")),
            "Staging countries": ep.get("staging_countries") or "none",
            "Longest leg": (
                f"{km(ep.get('longest_leg_km'), inferred)} km"
                if ep.get("longest_leg_km") is not None
                else Raw(missing("longest_leg_km"))
            ),
            "Uses airports inferred from a city or country": ep.get("uses_inferred_places"),
            "Route variants / conflicts between sources": f"{ep.get('variant_count') or 0} / {ep.get('conflict_count') or 0}",
        }
    )


def episode_picker(episode_ids: Sequence[str], titles: dict[str, str] | None = None) -> HTML:
    """A control (native checkboxes: keyboard and screen-reader friendly) choosing which episodes the page's
    charts and tables show; the report page's script applies it (vega signal ``shown_episodes``, table rows
    with ``data-episode``). Without the report's script (JupyterLab) it does nothing."""
    titles = titles or {}
    boxes = "".join(
        f'<label><input type="checkbox" name="episode" value="{esc(e)}" checked> {esc(titles.get(e, e))}</label>'
        for e in episode_ids
    )
    return HTML(
        '<fieldset class="episode-picker"><legend>Episodes shown on this page</legend>'
        '<p class="picker-actions"><button type="button" data-pick="all">All</button> '
        '<button type="button" data-pick="none">None</button></p>'
        f'<div class="picker-boxes">{boxes}</div></fieldset>'
    )
