"""The data dictionary of the derived tables: a description of every table and every column.

What a table is, and which raw tables its copied columns come from, is declared with its step
(:data:`analysis.steps.STEPS`: ``description``, ``copies``; a step may describe its own columns in ``docs``).
Columns copied from data/raw take their description from :mod:`analysis.schema` (``core_stops.seq`` is
``stops.seq``). Columns the build adds are described here, per table where the meaning is specific to it and
in :data:`COMMON` where a name means the same thing everywhere (``*_utc`` intervals, ``distance_km``...).
``tests/test_site.py`` checks that every column of every derived parquet file has a description, so a new
derived column without one fails the tests.

>>> describe("core_legs", "distance_km")[:12]
'Great-circle'
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from . import schema
from .steps import STEPS
from .timespec import STUDY_YEARS
from .validate import PATTERN_PARAMETERS

__all__ = [
    "TABLES",
    "COMMON",
    "COLUMNS",
    "RAW_TABLE",
    "describe",
    "table_description",
    "missing",
    "evidence_markdown",
    "DISCOVERY_TABLES",
    "DISCOVERY_COLUMNS",
    "discovery_description",
]

#: Derived table -> what one row is and where it comes from (the steps' descriptions).
TABLES: dict[str, str] = {s.table: s.description for s in STEPS if s.publish}

#: Derived table -> the raw tables its copied columns come from (the steps' ``copies``).
RAW_TABLE: dict[str, tuple[str, ...]] = {s.table: s.copies for s in STEPS if s.publish and s.copies}
_STEP_DOCS: dict[str, Mapping[str, str]] = {s.table: s.docs for s in STEPS if s.docs}

_INTERVAL = "{what}: {end} of the UTC interval the reported time allows (equal to the other end when exact)."


def _interval_columns(prefix: str, what: str) -> dict[str, str]:
    """The four columns the build adds for a reported time (``<prefix>_earliest_utc`` ... ``_reported``)."""
    return {
        f"{prefix}_earliest_utc": _INTERVAL.format(what=what, end="earliest end"),
        f"{prefix}_latest_utc": _INTERVAL.format(what=what, end="latest end"),
        f"{prefix}_precision": "Precision of that time (day, month, unknown...).",
        f"{prefix}_reported": "That time as reported (the raw timespec text).",
    }


#: Column names that mean the same in every derived table.
COMMON: dict[str, str] = {
    "episode_id": "Episode id (lowercase, digits, dashes; used in page and file names).",
    "aircraft_id": "Aircraft id: the registration where known, else a descriptive id.",
    "source_ids": "Sources supporting this row, ';'-separated ids from core_sources.",
    "notes": "Free notes in the curator's own words.",
    "variant": "Route variant: 'main' is the working route; other variants encode what some sources report differently.",
    "is_main_variant": "True for the working ('main') route variant.",
    "evidence": "Evidence kind: 'reported' (news, official statements) or 'observed' (ADS-B/OpenSky/Flightradar24).",
    "country_name": "Country's common display name (pycountry).",
    "country": "ISO 3166-1 alpha-2 country code.",
    "lat": "Latitude, decimal degrees (WGS 84).",
    "lon": "Longitude, decimal degrees (WGS 84).",
    "distance_km": "Great-circle distance between the two ends, km (null when an end cannot be located).",
    "distance_basis": "'airports' when both ends are reported airports, 'inferred' when an end is an inferred airport.",
    "leg_id": "Leg id: episode, aircraft, variant, evidence and leg number.",
    "leg_seq": "Order of the leg within its route, from 1.",
    "role": "Role of the stop in the episode (origin, staging, destination, return...).",
    "place_name": "Place name as displayed.",
    "place_precision": "How precisely the sources locate the stop: airport, city or country.",
    "location_basis": "How the coordinates were found: the reported airport, or an airport inferred for a city or "
    "country-only place (see core_places.inference_basis).",
    "loc_icao": "ICAO code of the airport whose coordinates are used (reported or inferred).",
    "origin": "First stop of the route (place name).",
    "destination": "First destination stop of the route (place name).",
    "dest_arr_earliest_utc": _INTERVAL.format(what="Arrival at the destination", end="earliest end"),
    "dest_arr_latest_utc": _INTERVAL.format(what="Arrival at the destination", end="latest end"),
    "dest_arr_precision": "Precision of the reported arrival time at the destination (minute, day, part_of_month...).",
    "dest_dwell_min_h": "Shortest time on the ground at the destination that the reported times allow, hours.",
    "dest_dwell_max_h": "Longest time on the ground at the destination that the reported times allow, hours.",
    "dest_dwell_h": "Time on the ground at the destination, hours, when both times are known to the hour or better.",
    "stop_count": "Number of stops.",
    "leg_count": "Number of legs.",
    "outbound_staging_stops": "Stops between origin and destination on the way out.",
    "outbound_staging_countries": "Countries of the outbound staging stops, in order.",
    "staging_countries": "Countries staged through, outbound and return.",
    "countries_visited": "Every country the route touches.",
    "country_count": "Number of countries the route touches.",
    "total_km": "Sum of the located legs' great-circle distances, km.",
    "is_total_complete": "True when every leg is located, so total_km covers the whole route.",
    "outbound_km": "Great-circle distance flown from origin to destination through the staging stops, km.",
    "is_outbound_complete": "True when every outbound leg is located.",
    "direct_km": "Direct great-circle distance from origin to destination, km.",
    "detour_factor": "outbound_km / direct_km; null when no staging stop is reported (the path is then unknown, not direct).",
    "longest_leg_km": "Longest located leg, km.",
    "longest_leg_id": "leg_id of the longest located leg.",
    "uses_inferred_places": "True when a distance rests on an inferred airport (a stop reported only by city or country).",
}

#: Per-table descriptions of columns the build adds (or whose meaning differs from COMMON).
COLUMNS: dict[str, dict[str, str]] = {
    "core_host_statements": {
        **_interval_columns("made_on", "When the statement was made or the action taken"),
    },
    "core_census_excluded": {
        **_interval_columns("when", "When the flight happened"),
    },
    "core_cargo_items": {
        "system_name": "Name of the system (systems.name).",
        "system_source_ids": "Sources of the system's mass and dimensions (systems.source_ids).",
        "mass_t": "Mass of one unit, tonnes (systems.mass_t).",
        "mass_qualifier": "How the source qualifies the mass (systems.mass_qualifier).",
        "length_m": "Length of one unit, m (systems.length_m).",
        "width_m": "Width of one unit, m (systems.width_m).",
        "height_m": "Height of one unit, m (systems.height_m).",
    },
    "core_loads": {
        "load_kind": "What the claim is about: cargo, personnel, person_aboard, equipment or purpose (claims.kind).",
    },
    "core_sources": {
        "origin_id": "The independent origin of the page: the root of its relays_source_id chain, or its origin, or its "
        "own id. Corroboration counts distinct origin_id values, not pages.",
        "published_earliest_utc": _INTERVAL.format(what="Publication", end="earliest end"),
        "published_latest_utc": _INTERVAL.format(what="Publication", end="latest end"),
        "published_precision": "Precision of the publication date (day, month, unknown...).",
        "published_reported": "Publication date as reported (the raw timespec text).",
    },
    "core_aircraft": {
        "type_name": "Type designation from core_aircraft_types.name.",
        "icao_type": "ICAO type designator from the type.",
        "role": "Main role of the type.",
        "max_payload_t": "Maximum payload of the type, tonnes, as a source states it.",
        "max_passengers": "Maximum people carried by the type, as a source states it.",
        "range_km": "Range of the type, km, as a source states it.",
        "type_source_ids": "Sources of the type's figures (';'-separated).",
        "operator_name": "Operator's name from core_operators.",
        "label": "Display label: registration or name and type, used in charts and tables.",
    },
    "core_episodes": {"destination_country_name": "Display name of the destination country."},
    "core_events": {
        "reported_on_earliest_utc": _INTERVAL.format(what="When the event became public", end="earliest end"),
        "reported_on_latest_utc": _INTERVAL.format(what="When the event became public", end="latest end"),
        "reported_on_precision": "Precision of reported_on.",
        "reported_on_reported": "reported_on as given (timespec).",
        "start_earliest_utc": _INTERVAL.format(what="Start", end="earliest end"),
        "start_latest_utc": _INTERVAL.format(what="Start", end="latest end"),
        "start_precision": "Precision of the start time.",
        "start_reported": "Start as reported (raw timespec).",
        "end_earliest_utc": _INTERVAL.format(what="End", end="earliest end"),
        "end_latest_utc": _INTERVAL.format(what="End", end="latest end"),
        "end_precision": "Precision of the end time.",
        "end_reported": "End as reported (raw timespec).",
    },
    "core_sanctions": {
        "target_label": "Display label of the sanctioned operator or aircraft.",
        "authority_country_name": "Display name of the authority's country.",
        "effective_earliest_utc": _INTERVAL.format(what="Effective date", end="earliest end"),
        "effective_latest_utc": _INTERVAL.format(what="Effective date", end="latest end"),
        "effective_precision": "Precision of the effective date.",
        "effective_reported": "Effective date as reported (raw timespec).",
    },
    "core_places": {
        "is_sourced_location": "True when the coordinates come from a cited source because airportsdata lacks the airport.",
        "loc_closed_reported": "When the located airport closed, as reported (empty if open).",
        "loc_closed_utc": "Start of the UTC interval of the airport's closure.",
        "country_numeric": "ISO 3166-1 numeric country code (matches the basemap's country ids).",
        "inferred_icao": "Airport assumed for a city- or country-only place (an inference, never a reported fact).",
        "airport_name": "Name of the airport at loc_icao (airportsdata).",
        "lat": "Latitude of the airport used (reported or inferred), decimal degrees.",
        "lon": "Longitude of the airport used (reported or inferred), decimal degrees.",
    },
    "core_stops": {
        "reported_on_reported": "When a source reported this stop, as given (when that bounds the time of the stop).",
        "reported_on_earliest_utc": "Start of the UTC interval of reported_on.",
        "is_sourced_location": "True when the stop's coordinates come from a cited source (airport missing from airportsdata).",
        "loc_closed_reported": "When the stop's located airport closed, as reported.",
        "is_after_closure": "True when the stop's time falls after its located airport closed: a wrong airport.",
        "place_name": "Place name as displayed (from core_places).",
        "country": "ISO alpha-2 country of the place.",
        "lat": "Latitude of the airport used for the stop (reported or inferred), decimal degrees.",
        "lon": "Longitude of the airport used for the stop (reported or inferred), decimal degrees.",
        "arr_reported": "Arrival as reported (raw timespec).",
        "arr_earliest_utc": _INTERVAL.format(what="Arrival", end="earliest end"),
        "arr_latest_utc": _INTERVAL.format(what="Arrival", end="latest end"),
        "arr_precision": "Precision of the arrival time (minute, day, part_of_day...).",
        "dep_reported": "Departure as reported (raw timespec).",
        "dep_earliest_utc": _INTERVAL.format(what="Departure", end="earliest end"),
        "dep_latest_utc": _INTERVAL.format(what="Departure", end="latest end"),
        "dep_precision": "Precision of the departure time.",
        "dwell_min_h": "Shortest time on the ground the reported times allow, hours.",
        "dwell_max_h": "Longest time on the ground the reported times allow, hours.",
        "dwell_h": "Time on the ground, hours, when both times are known to the hour or better.",
    },
    "core_legs": {
        "is_order_inferred": "True when either stop's place in the order is our inference from a list of stops.",
        "from_stop_id": "Stop the leg leaves from (core_stops.stop_id).",
        "to_stop_id": "Stop the leg arrives at (core_stops.stop_id).",
        "from_place_id": "Place the leg leaves from.",
        "to_place_id": "Place the leg arrives at.",
        "from_name": "Name of the departure place.",
        "to_name": "Name of the arrival place.",
        "from_precision": "Precision of the departure place.",
        "to_precision": "Precision of the arrival place.",
        "from_country": "ISO alpha-2 country of departure.",
        "to_country": "ISO alpha-2 country of arrival.",
        "from_lat": "Latitude of the departure end, degrees.",
        "from_lon": "Longitude of the departure end, degrees.",
        "to_lat": "Latitude of the arrival end, degrees.",
        "to_lon": "Longitude of the arrival end, degrees.",
        "dep_earliest_utc": _INTERVAL.format(what="Departure", end="earliest end"),
        "dep_latest_utc": _INTERVAL.format(what="Departure", end="latest end"),
        "dep_precision": "Precision of the departure time.",
        "arr_earliest_utc": _INTERVAL.format(what="Arrival", end="earliest end"),
        "arr_latest_utc": _INTERVAL.format(what="Arrival", end="latest end"),
        "arr_precision": "Precision of the arrival time.",
        "duration_h": "Flight time, hours, when both ends are known to the hour or better.",
        "duration_min_h": "Shortest flight time the reported times allow, hours.",
        "duration_max_h": "Longest flight time the reported times allow, hours.",
        "is_international": "True when the leg crosses a border (countries differ).",
        "source_ids": "Sources of the two stops, ';'-separated.",
    },
    "core_leg_paths": {
        "point_seq": "Order of the point along the leg, from 0 at departure.",
        "lat": "Latitude of the point on the great circle, degrees.",
        "lon": "Longitude of the point on the great circle, degrees.",
    },
    "core_conflicts": {
        "is_working_position": "True for the position the study uses (conflicts.working_position).",
        "conflict_notes": "Notes on the conflict as a whole (conflicts.notes).",
        "notes": "Notes on this position.",
    },
    "core_gaps": {
        "icao24": "24-bit ICAO address of the aircraft (hex).",
        "start_utc": "Last position before the gap, UTC.",
        "end_utc": "First position after the gap, UTC.",
        "duration_min": "Length of the gap, minutes.",
        "jump_km": "Great-circle distance between the positions either side of the gap, km.",
        "start_lat": "Latitude before the gap.",
        "start_lon": "Longitude before the gap.",
        "end_lat": "Latitude after the gap.",
        "end_lon": "Longitude after the gap.",
        "implied_speed_kt": "Speed needed to cover jump_km in the gap's duration, kt.",
        "is_implausible": "True when implied_speed_kt is faster than any transport flies (suspected spoofing or bad "
        "data; analysis.tracks.SegmentParams.max_gap_speed_kt).",
    },
    "core_observed_excluded": {
        "kind": "What was left out: trip, aircraft, candidate_legs, positions or track_file.",
        "reason": "Why (analysis.observed.EXCLUDED_REASONS): outside_region, not_watched, refused_leg, noise, "
        "skipped_file, aircraft_created (kept, listed for review).",
        "icao24": "24-bit ICAO address of the aircraft (hex), when one aircraft.",
        "registration": "Registration from the track, when known.",
        "first_utc": "First airborne fix of what was left out, UTC.",
        "last_utc": "Last airborne fix of what was left out, UTC.",
        "n": "How many: legs of the trip or aircraft, candidate legs refused, positions dropped, files.",
        "detail": "The specific reason (noise rule, flight rule, countries crossed, file error).",
    },
    "out_episode_summary": {
        "first_time_reported": "The first dated milestone as the source reports it (e.g. 2025-10-22, 2026-01 late).",
        "title": "Episode title.",
        "destination_country": "Main destination country (ISO alpha-2).",
        "destination_country_name": "Display name of the main destination country.",
        "is_dated": "True when at least one milestone has a date.",
        "aircraft_ids": "Aircraft in the episode.",
        "aircraft_labels": "Display labels of the aircraft.",
        "aircraft_count": "Number of aircraft.",
        "evidence_kinds": "Evidence kinds present (reported, observed).",
        "first_time_utc": "Earliest time of any milestone, UTC (null for undated episodes).",
        "last_time_utc": "Latest time of any milestone, UTC.",
        "lead_aircraft_id": "Aircraft whose main route the summary figures describe.",
        "lead_aircraft_label": "Registration (or painted name, or id) of the lead aircraft, for display.",
        "variant_count": "Number of route variants (main plus alternatives reported by other sources).",
        "conflict_count": "Number of conflicts between sources about this episode.",
        "summary": "What happened, in our words.",
        "source_ids": "Sources of the episode row.",
    },
    "out_route_summary": {
        "origin_dep_earliest_utc": _INTERVAL.format(what="Departure from origin", end="earliest end"),
        "origin_dep_latest_utc": _INTERVAL.format(what="Departure from origin", end="latest end"),
        "legs_located": "Legs whose two ends have coordinates.",
    },
    "out_timeline": {
        "item_id": "Timeline item id (stop, event or sanction id with a suffix).",
        "kind": "departure, arrival, event or sanction.",
        "role": "Role of the stop (for departures/arrivals) or the event kind.",
        "label": "Short description shown on the timeline.",
        "earliest_utc": _INTERVAL.format(what="The item's time", end="earliest end"),
        "latest_utc": _INTERVAL.format(what="The item's time", end="latest end"),
        "precision": "Precision of the reported time.",
        "reported": "Time as reported (raw timespec).",
    },
    "out_findings": {
        "finding_id": "Stable finding id.",
        "headline": "The finding in one plain sentence of at most 30 words, with no ids: what a reader can quote.",
        "category": "Finding category (e.g. recurring airframes, staging).",
        "title": "Short title.",
        "statement": "The finding in one sentence, with its numbers.",
        "metric": "What is measured.",
        "value": "The measured value.",
        "value_low": "Low end of the value's range when times or places are uncertain.",
        "value_high": "High end of the value's range.",
        "unit": "Unit of the value.",
        "episode_ids": "Episodes the finding concerns (';'-separated).",
        "evidence": "Rows the finding rests on (';'-separated table:id references).",
        "confidence": "high, moderate or low by the rubric of docs/confidence.md (independent origins, precision, "
        "inference, disputes).",
        "origin_count": "Number of independent origins among the finding's sources (relays and rewrites count once).",
        "likelihood": "How probable the statement is, in the ICD 203 words (roughly even chance, likely, very likely...).",
        "confidence_reason": "Why the finding has its confidence: origins, precision, inference, disputes.",
        "importance": "Ranking for the index, higher first: episodes spanned, new information, confidence.",
        "is_key": "True for the findings the index leads with (the most important of each category, at most six).",
    },
    "out_summary": {
        "seq": "Order of the sentence.",
        "sentence": "One generated sentence of the summary.",
        "finding_ids": "The findings (out_findings.finding_id) the sentence rests on.",
    },
    "out_route_similarity": {
        "episode_a": "First episode of the pair.",
        "episode_b": "Second episode of the pair.",
        "staging_a": "Outbound staging countries of the first route, in order (';'-separated).",
        "staging_b": "Outbound staging countries of the second route, in order.",
        "shared_countries": "Staging countries both routes touch.",
        "shared_country_count": "Number of shared countries.",
        "country_score": "Ordered staging countries: mean of LCS / shorter length and 2 x LCS / total length, LCS the longest common subsequence (0 to 1).",
        "corridor_score": "The same over the sequence of corridors, consecutive repeats merged (0 to 1).",
        "jump_off_a": "Last staging country of the first route before the ocean crossing.",
        "jump_off_b": "Last staging country of the second route before the ocean crossing.",
        "jump_off_score": "1 when both routes jump off from the same country, else 0.",
        "order_inferred": "True when a route's staging order is our inference from a list.",
        "similarity": "Mean of country_score, corridor_score and jump_off_score; null when not comparable.",
        "is_alike": "True when similarity is at least analysis.similarity.ALIKE_THRESHOLD and the routes share at least ALIKE_MIN_SHARED staging countries.",
        "is_comparable": "False when either route is a stub (no staging stop reported): such pairs are not scored.",
        "reason": "Why the pair is or is not comparable.",
    },
    "core_type_ranges": {"type_name": "Type designation (from aircraft_types)."},
    "out_observed_vs_reported": {
        "status": "matched, reported only or observed only.",
        "reported_stop_id": "Reported stop (core_stops.stop_id).",
        "observed_stop_id": "Observed stop.",
        "place": "Place name.",
        "reported_precision": "Precision of the reported place.",
        "reported_arr_earliest_utc": _INTERVAL.format(what="Reported arrival", end="earliest end"),
        "reported_arr_latest_utc": _INTERVAL.format(what="Reported arrival", end="latest end"),
        "observed_arr_utc": "Observed arrival (landing), UTC.",
        "arr_diff_h": "Observed arrival minus the nearest end of the reported interval, hours (0 inside it).",
    },
}


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
    "disc_gaps": COLUMNS["core_gaps"]
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
        # imported by name, not by an import statement: discovery's descriptions are no part of data/derived (the
        # build's datapackage.json, which reads this module, describes the study's tables only), and the data
        # fingerprint follows the import statements of the modules the build runs (analysis.steps.code_files)
        rules = importlib.import_module("analysis.discover.rules")
        return rules.CANDIDATE_DESCRIPTIONS.get(column)
    return DISCOVERY_COLUMNS.get(table, {}).get(column)


def table_description(table: str) -> str | None:
    return TABLES.get(table)


def describe(table: str, column: str) -> str | None:
    """The description of ``table.column``: this module's, else the raw schema's, else the common one."""
    own = _STEP_DOCS.get(table, {}).get(column) or COLUMNS.get(table, {}).get(column)
    if own:
        return own
    for raw in RAW_TABLE.get(table, ()):
        try:
            return schema.table(raw).column(column).description
        except KeyError:
            continue
    return COMMON.get(column)


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
