"""The data dictionary: renders the descriptions of the derived tables and columns, and docs/evidence.md.

Every derived table's description and every column's is declared with its step in the registry
(:data:`analysis.steps.STEPS`: ``description``, ``docs``, ``copies``; :func:`analysis.steps.describe` resolves a
column: the step's ``docs``, else the raw column it copies, from :mod:`analysis.schema`, else
:data:`analysis.steps.COMMON_DOCS`). This module only reads them for the pages (``reports/dictionary.html``, the
tables' column tooltips); ``tests/test_steps.py`` fails when a step declares a column without a description or
describes one it does not declare. It also holds the descriptions of the discovery output (``make discover``,
not a step of the build) and writes docs/evidence.md from :mod:`analysis.schema`.

>>> describe("core_legs", "distance_km")[:12]
'Great-circle'
"""

from __future__ import annotations

import importlib

from . import schema, steps
from .timespec import STUDY_YEARS
from .validate import PATTERN_PARAMETERS

__all__ = [
    "TABLES",
    "describe",
    "table_description",
    "missing",
    "evidence_markdown",
    "DISCOVERY_TABLES",
    "DISCOVERY_COLUMNS",
    "discovery_description",
]

#: Derived table -> what one row is and where it comes from (the steps' descriptions).
TABLES: dict[str, str] = {s.table: s.description for s in steps.STEPS if s.publish}

#: Discovery output (``make discover``, written to data/derived/discover, not part of a study build): what a row is.
DISCOVERY_TABLES: dict[str, str] = {
    "out_candidates": "One row per candidate trip: a trip of an aircraft in a bulk ADS-B archive that matched the "
    "interest rules (data/raw/interest_*.csv), new (no report covers it) or known (overlaps a "
    "reported episode). A lead to check against sources, not a finding.",
    "out_candidate_legs": "The observed legs of each candidate trip (one row per leg), as segmented from the archive.",
    "disc_legs": "Every observed leg of every aircraft in the archive (one row per leg).",
    "disc_gaps": "Every transponder gap of every aircraft in the archive (one row per gap).",
    "disc_aircraft": "Aircraft seen in the archive: one row per aircraft and trace member, with the ADS-B "
    "database fields the trace carries.",
}

_LEG = {
    "icao24": "24-bit ICAO address of the aircraft (6 hex digits).",
    "registration": "Registration carried by the trace (readsb 'r'); null if none.",
    "callsign": "Callsign most of the leg's airborne fixes carry; null if none.",
    "callsign_changes": "Sequence of callsigns when it changed within the leg (A>B); null if it did not.",
    "leg_no": "Number of the leg among the aircraft's legs in the archive, from 1 in time order.",
    "dep_time_utc": "First airborne fix of a leg whose takeoff was observed, UTC (null when not observed).",
    "arr_time_utc": "Last airborne fix of a leg whose landing was observed, UTC (null when not observed).",
    "first_seen_utc": "First airborne fix of the leg, UTC.",
    "last_seen_utc": "Last airborne fix of the leg, UTC.",
    "off_block_utc": "First movement on the ground before takeoff, UTC (null when not observed).",
    "on_block_utc": "Coming to rest on the ground after landing, UTC (null when not observed).",
    "dep_icao": "Nearest airport within the radius of the departure point, when low or on the ground; else null.",
    "arr_icao": "Nearest airport within the radius of the arrival point, when low or on the ground; else null.",
    "dep_airport_km": "Distance from the departure point to dep_icao, km.",
    "arr_airport_km": "Distance from the arrival point to arr_icao, km.",
    "dep_lat": "Latitude of the departure point (ground fix before takeoff, else first airborne fix).",
    "dep_lon": "Longitude of the departure point.",
    "arr_lat": "Latitude of the arrival point (ground fix after landing, else last airborne fix).",
    "arr_lon": "Longitude of the arrival point.",
    "is_takeoff_observed": "True when the fix before the leg is the aircraft on the ground, shortly before.",
    "is_landing_observed": "True when the fix after the leg is the aircraft on the ground, shortly after.",
    "n_positions": "Positions (fixes) in the leg.",
    "max_alt_ft": "Highest altitude of the leg, feet (barometric as reported).",
    "gc_distance_km": "Great-circle distance from the departure to the arrival point, km.",
    "path_km": "Length of the observed path, fix to fix, km.",
    "n_implausible_jumps": "Steps and gaps within the leg whose implied speed is impossible (spoofing or bad data).",
}
DISCOVERY_COLUMNS: dict[str, dict[str, str]] = {
    "out_candidate_legs": {
        "candidate_id": "The candidate trip (out_candidates.candidate_id).",
        "aircraft_rules": "Aircraft rules the aircraft matched (as in out_candidates).",
    }
    | _LEG,
    "disc_legs": _LEG,
    # the same gaps as the study's observed gaps (core_gaps), for every aircraft of the archive
    "disc_gaps": dict(steps.by_table()["core_gaps"].docs)
    | {
        "registration": _LEG["registration"],
        "in_leg_no": "The leg the gap lies in; null when the gap separates two legs.",
    },
    "disc_aircraft": {
        "icao_int": "The ICAO address as an integer (the store's partition key: icao_int % buckets).",
        "icao24": _LEG["icao24"],
        "registration": _LEG["registration"],
        "type_code": "ICAO type designator from the ADS-B database (readsb 't'); null if none.",
        "db_flags": "readsb database flags (bit 0: military, 1: interesting, 2: PIA, 3: LADD); null if none.",
        "description": "Type description from the ADS-B database (readsb 'desc').",
        "owner_operator": "Owner or operator from the ADS-B database (readsb 'ownOp').",
        "first_utc": "First kept position of the aircraft in the member, UTC.",
        "last_utc": "Last kept position of the aircraft in the member, UTC.",
        "n_positions": "Positions kept after the noise filter.",
        "source_input": "Archive file the member is in (the track input, cited as a source).",
        "source_member": "Trace member inside the archive (traces/<xx>/trace_full_<hex>.json) or OpenSky file.",
    },
}


def discovery_description(table: str, column: str | None = None) -> str | None:
    """Description of a discovery output table, or of one of its columns."""
    if column is None:
        return DISCOVERY_TABLES.get(table)
    if table == "out_candidates":
        # imported by name, not by an import statement: discovery's descriptions are no part of data/derived, and
        # the data fingerprint follows the import statements of the modules the build runs (steps.code_files)
        rules = importlib.import_module("analysis.discover.rules")
        return rules.CANDIDATE_DESCRIPTIONS.get(column)
    return DISCOVERY_COLUMNS.get(table, {}).get(column)


def table_description(table: str) -> str | None:
    return TABLES.get(table)


def describe(table: str, column: str) -> str | None:
    """The description of ``table.column``, as the registry declares it (:func:`analysis.steps.describe`)."""
    return steps.describe(table, column)


def missing(tables: dict[str, list[str]]) -> list[str]:
    """``table`` or ``table.column`` names without a description, from {table: [columns]}."""
    out = [t for t in tables if not TABLES.get(t)]
    out += [f"{t}.{c}" for t, cols in tables.items() for c in cols if not describe(t, c)]
    return out


# --- docs/evidence.md: how to edit the evidence, generated from analysis.schema ---------------------------------

_KIND = {
    "str": "text",
    "id": "id",
    "safe_id": "id (lowercase, digits, dashes)",
    "ids": "ids (';'-separated)",
    "int": "whole number",
    "float": "number",
    "bool": "true / false",
    "timespec": "time as reported",
    "enum": "one of a fixed list",
    "tz": "IANA time zone",
    "country": "ISO 3166-1 alpha-2 code",
    "icao": "ICAO airport code",
    "url": "http(s) address",
    "hex": "6 lowercase hex digits",
    "date": "date",
}
_EXAMPLE = {
    "safe_id": "`2025-10-caracas`",
    "ids": "`S1;S16`",
    "timespec": "`2019-03-23`, `2026-02-01 evening`, `2026-01 late`, `2026-02-04T23:34+03:00`, "
    "`2019-03-02/2019-03-03`, `2019-03-22T15:12 tz=unknown`, `--02-07`",
    "tz": "`America/Caracas`",
    "country": "`VE`",
    "icao": "`SVMI`",
    "url": "`https://tass.com/world/2081917`",
    "bool": "`true`",
    "hex": "`1522a4`",
    "int": "`6`",
    "float": "`18.31`",
}


#: The two id rules a new episode needs and the way to enter several aircraft that flew the same stops, in
#: docs/evidence.md (README's "Add a new episode" links there).
ENTRY_RULES = [
    "## Stop ids, leg claims and aircraft that flew together",
    "",
    "**Stop id rule.** A stop's `stop_id` is `<episode_id>.<aircraft_id>.<variant>.<seq>` with `seq` in two digits: "
    "`2019-03-caracas.RA-82035.main.02` is the second stop of the An-124 RA-82035's main route in episode "
    "`2019-03-caracas`; the same stop in the route some sources report differently is "
    "`2019-03-caracas.RA-82035.syria-only.02`. The id is only a name (the order is `seq`), but keeping the rule makes "
    "every claim's stop ids guessable.",
    "",
    "**Leg claim rule.** A claim about a leg (a flight time, a route over the sea, a payload carried between two stops) "
    "names the leg by its two ends, both stops of one aircraft's route: `from_stop_id` is where the leg starts and "
    "`stop_id` where it ends. Example (claims.csv): `from_stop_id = 2013-10-tu160-venezuela-nicaragua."
    "tu160-aleksandr-golovanov.main.01`, `stop_id = 2013-10-tu160-venezuela-nicaragua.tu160-aleksandr-golovanov.main.02`"
    " for the Atlantic leg of the bomber pair. When the claim covers several aircraft that flew the leg together, "
    "list them all in `aircraft_ids` (`tu160-aleksandr-golovanov;tu160-aleksandr-novikov`) and give the stops of "
    "any one of them; a claim about one stop only (an arrival) leaves `from_stop_id` empty.",
    "",
    "**Aircraft that flew the same stops.** stops.csv has a row per stop *and aircraft* (each aircraft's route has "
    "its own times and sources). Type the shared route once and let the helper write the rows:",
    "",
    "```",
    "python -m analysis stops-template 2026-11-managua RA-11111 RA-22222 \\",
    "    --stops UUEE:origin::2026-11-03 GOBD:staging MNMG:destination:2026-11-05 --sources S900 --no-header \\",
    "    >> data/raw/stops.csv",
    "```",
    "",
    "It prints, for each aircraft in turn, one row per stop (`PLACE:ROLE[:ARRIVAL[:DEPARTURE]]`, times as reported) "
    "with the stop ids of the rule above, `variant = main`, `seq` 1, 2, 3... and `order_basis = reported`; then edit "
    "the rows where the aircraft differ (one left a day later, one made a stop the other did not) and run "
    "`make validate`. In Python: `analysis.entry.shared_stops(...)`.",
    "",
]


def evidence_markdown() -> str:
    """docs/evidence.md: every raw table's columns, allowed values, id rules and examples (from the schema).

    ``python -m analysis evidence-doc`` writes it; tests/test_evidence_doc.py fails when the file and the schema
    disagree, so the page cannot drift from what ``make validate`` enforces.
    """
    lines = [
        "# Editing the evidence (data/raw)",
        "",
        "<!-- generated from analysis/schema.py by `python -m analysis evidence-doc`; do not edit by hand -->",
        "",
        "Every fact in the study is a row of a CSV file in `data/raw` (UTF-8, a header row, one file per table). "
        "`make validate` checks each file against the rules below and names every problem by file, line and field; "
        "`make accept-raw` records a reviewed change (the build refuses raw files whose checksum changed).",
        "",
        "General rules:",
        "",
        "* An empty cell is unknown. Never write a guess into a fact column: use the `inferred_*` columns, "
        "`is_inferred`, `order_basis = inferred` with `order_inference`, and say why.",
        f"* Ids match `{schema.ID_PATTERN}`; episode ids (used in file names) match `{schema.SAFE_ID_PATTERN}`.",
        "* `ids` columns hold one or more ids separated by `;`, each of which must exist in the table named.",
        "* Every fact row cites its sources in `source_ids` (ids from sources.csv). A page that copies, relays or "
        "rewrites another names it in `relays_source_id` (if it is in sources.csv) or shares its `origin` id: "
        "corroboration counts independent origins, not pages.",
        "* Times are written as reported (see the time grammar below); the build turns each into a UTC interval. A "
        "clock time needs an offset (`Z`, `+03:00`) or `tz=unknown` when the source gives no zone. Years fall in "
        f"the study window {STUDY_YEARS[0]}-{STUDY_YEARS[1]} and offsets are ones in use, -12:00 to +14:00.",
        "* Discovery rules: each trip pattern of interest_patterns.csv has a row and exactly its parameters ("
        + "; ".join(
            f"{p}: {', '.join(f'{k} {lo:g}..{hi:g}' for k, (lo, hi) in spec.items()) or 'none'}"
            for p, spec in PATTERN_PARAMETERS.items()
        )
        + "), each once, as `name=number`; `lat_min` below `lat_max`; an address block's `end_hex` not below its "
        "`start_hex`; a type designator, prefix or region country once.",
        "* When sources disagree, both sides are data: a row in conflicts.csv, one per side in "
        "conflict_positions.csv, and a route variant in stops.csv when the route differs.",
        "",
        "Time grammar (`time as reported`): "
        + _EXAMPLE["timespec"]
        + ". A bare date is read in the time zone of the place (or the row's `tz`).",
        "",
        *ENTRY_RULES,
    ]
    for t in schema.TABLES:
        lines += [
            f"## {t.name}.csv",
            "",
            t.description,
            "",
            f"Key: `{', '.join(t.key)}`"
            + (" (unique)" if len(t.key) == 1 else " (unique together)")
            + "".join(f"; also unique together: `{', '.join(u)}`" for u in t.unique)
            + ("; every row cites its sources." if t.fact and "source_ids" in t.column_names else "."),
            "",
            "| column | required | type | allowed values / rules | example | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for c in t.columns:
            rules = []
            if c.enum:
                rules.append(", ".join(f"`{v}`" for v in c.enum))
            if c.ref:
                rules.append(f"must exist in `{c.ref}`")
            if c.min is not None or c.max is not None:
                rules.append(
                    f"{c.min:g} to {c.max:g}"
                    if c.min is not None and c.max is not None
                    else (f"at least {c.min:g}" if c.min is not None else f"at most {c.max:g}")
                )
            if c.kind == "id" and c.name in t.key:
                rules.append(f"matches `{schema.ID_PATTERN}`")
            if c.kind == "safe_id":
                rules.append(f"matches `{schema.SAFE_ID_PATTERN}`")
            example = f"`{c.enum[0]}`" if c.enum else _EXAMPLE.get(c.kind, "")
            if c.kind in ("id", "ids"):
                example = (
                    f"an id from {c.ref.split('.')[0]}.csv"
                    if c.ref
                    else ("see meaning" if c.kind == "id" else example)
                )
            if c.kind == "timespec":
                example = "see time grammar"
            desc = c.description.replace("|", "\\|")
            lines.append(
                f"| `{c.name}` | {'yes' if c.required else ''} | {_KIND.get(c.kind, c.kind)} | "
                f"{'; '.join(rules)} | {example} | {desc} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
