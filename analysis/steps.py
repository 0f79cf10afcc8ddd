"""The registry of derived-table steps: what ``make data`` makes, from what, with which code, in which shape.

Each :class:`Step` names its output table, its input tables (``raw.<name>`` for a parsed data/raw table, else
another step's table), its code (``sql:<file>``, a file of ``analysis/sql``, or ``<module>:<function>``, a pure
function of ``analysis``) and its output schema: column types (:data:`TYPES` codes, in column order), primary
key, a description, and the data checks beside it. ``publish=False`` marks a step's table as an intermediate
one, used by later steps and not written to data/derived. Everything else comes from this list:

* :func:`order`: the steps in dependency order (the build runs them so; a cycle or an unknown input is an error);
* :data:`PUBLISHED`: the tables of data/derived and ``flights.duckdb``, in build order;
* :func:`step_fingerprint` / :func:`code_files`: the code of each step (its SQL file and the macros, or the
  module of its function and every ``analysis`` module that module imports, transitively), so a module that
  shapes data cannot be left out of the build's fingerprint;
* :func:`check`: the data checks (declared types and columns, key unique and not null, values in range, and
  per-step checks such as legs agreeing with stops), naming the failing rows;
* the description of every table and column (:func:`describe`: a step's ``docs``, the raw columns it copies,
  :data:`COMMON_DOCS`), which the data dictionary (:mod:`analysis.dictionary`) and ``datapackage.json``
  (:func:`datapackage`) render.

Observed flight records are steps of their own (``obs_*``, made by :func:`analysis.observed.evidence`): the
reported tables (``prep_*``) and the observed ones are unioned by later steps, and no step changes another's
output.

Adding a derived table: one entry here and one file of code (a SQL file in ``analysis/sql`` or a function);
see docs/pipeline.md.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import polars as pl

from . import schema
from .paths import PACKAGE_DIR

__all__ = [
    "Step",
    "STEPS",
    "PUBLISHED",
    "TYPES",
    "order",
    "by_table",
    "code_files",
    "step_fingerprint",
    "function_of",
    "schema_of",
    "table_schema",
    "check",
    "DataCheckError",
    "Inputs",
    "SQL_DIR",
    "MACROS",
    "datapackage",
    "module_closure",
    "sort_keys",
    "COMMON_DOCS",
    "describe",
    "column_doc",
    "doc_problems",
]

SQL_DIR = PACKAGE_DIR / "sql"
#: the macros every SQL step may use (part of every SQL step's code)
MACROS = SQL_DIR / "00_macros.sql"
#: type codes of the declared schemas
TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "f64": pl.Float64(),
    "i64": pl.Int64(),
    "bool": pl.Boolean(),
    "ts": pl.Datetime("us", "UTC"),
    "list[str]": pl.List(pl.String),
}
Inputs = Mapping[str, pl.DataFrame]
#: a per-step data check: (the step's table, its inputs) -> one text per failing row
Check = Callable[[pl.DataFrame, Inputs], list[str]]


@dataclass(frozen=True)
class Step:
    table: str
    inputs: tuple[str, ...]
    code: str
    key: tuple[str, ...] = ()
    schema: str | None = None
    description: str = ""
    #: raw tables whose columns this table copies (their descriptions come from analysis.schema), in order
    copies: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    publish: bool = True
    #: descriptions of the columns this table adds (or whose meaning differs from the raw column or the common one);
    #: every other declared column is described by the raw column it copies or by :data:`COMMON_DOCS`
    docs: Mapping[str, str] = field(default_factory=dict)
    #: the columns rows are sorted by first, before every other sortable column in schema order (the default,
    #: empty: every sortable column, left to right)
    sort: tuple[str, ...] = ()

    @property
    def is_sql(self) -> bool:
        return self.code.startswith("sql:")


class DataCheckError(ValueError):
    """A derived table failed a data check; the message names the table, the check and the failing rows."""


def _r(*names: str) -> tuple[str, ...]:
    return tuple(f"raw.{n}" for n in names)


# --- per-step checks -------------------------------------------------------------------------------------------


def _legs_match_stops(legs: pl.DataFrame, t: Inputs) -> list[str]:
    """Each leg joins two stops of one route (same episode, aircraft, variant, evidence), the second later in the
    route than the first; a route of n stops has n - 1 legs."""
    stops = t["core_stops"]
    route = ["episode_id", "aircraft_id", "variant", "evidence"]
    ends = stops.select("stop_id", *route, "seq")
    j = (
        legs.select("leg_id", "from_stop_id", "to_stop_id", *route, "leg_seq")
        .join(
            ends.rename({c: f"f_{c}" for c in ends.columns if c != "stop_id"}),
            left_on="from_stop_id",
            right_on="stop_id",
            how="left",
        )
        .join(
            ends.rename({c: f"t_{c}" for c in ends.columns if c != "stop_id"}),
            left_on="to_stop_id",
            right_on="stop_id",
            how="left",
        )
    )
    bad = j.filter(
        pl.any_horizontal(
            *[pl.col(f"f_{c}").ne_missing(pl.col(c)) | pl.col(f"t_{c}").ne_missing(pl.col(c)) for c in route],
            pl.col("f_seq").ne_missing(pl.col("leg_seq")),
            pl.col("t_seq").is_null(),
            pl.col("t_seq") <= pl.col("f_seq"),
        )
    )
    out = [
        f"leg_id={r['leg_id']!r}: its stops {r['from_stop_id']!r} -> {r['to_stop_id']!r} are not consecutive "
        "stops of its route"
        for r in bad.iter_rows(named=True)
    ]
    n_stops = stops.group_by(route).len("stops")
    n_legs = legs.group_by(route).len("legs")
    counts = n_stops.join(n_legs, on=route, how="full", coalesce=True).filter(
        pl.col("legs").fill_null(0) != pl.col("stops").fill_null(0) - 1
    )
    out += [
        f"route {'/'.join(str(r[c]) for c in route)}: {r['stops'] or 0} stops but {r['legs'] or 0} legs "
        "(expected one fewer legs than stops)"
        for r in counts.iter_rows(named=True)
    ]
    return out


def _stops_located(stops: pl.DataFrame, t: Inputs) -> list[str]:
    """Every stop names a place of core_places (the SQL joins on it: a stop of an unknown place would vanish)."""
    lost = t["all_stops"].join(stops.select("stop_id"), on="stop_id", how="anti")
    return [
        f"stop_id={r['stop_id']!r}: place_id {r['place_id']!r} is not in core_places"
        for r in lost.iter_rows(named=True)
    ]


def _paths_of_located_legs(paths: pl.DataFrame, t: Inputs) -> list[str]:
    located = t["core_legs"].filter(pl.col("distance_km").is_not_null()).select("leg_id")
    miss = located.join(paths.select("leg_id").unique(), on="leg_id", how="anti")
    return [f"leg_id={r['leg_id']!r}: a located leg without a path" for r in miss.iter_rows(named=True)]


# --- column descriptions shared by the steps ----------------------------------------------------------------

_INTERVAL = "{what}: {end} of the UTC interval the reported time allows (equal to the other end when exact)."


def _interval_columns(prefix: str, what: str) -> dict[str, str]:
    """The four columns the build adds for a reported time (``<prefix>_earliest_utc`` ... ``_reported``)."""
    return {
        f"{prefix}_earliest_utc": _INTERVAL.format(what=what, end="earliest end"),
        f"{prefix}_latest_utc": _INTERVAL.format(what=what, end="latest end"),
        f"{prefix}_precision": "Precision of that time (day, month, unknown...).",
        f"{prefix}_reported": "That time as reported (the raw timespec text).",
    }


#: Column names that mean the same in every derived table: a declared column that its step's ``docs`` does not
#: describe, and that is not copied from a raw table (``copies``), takes its description from here.
COMMON_DOCS: dict[str, str] = {
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
    "arr_earliest_utc": _INTERVAL.format(what="Arrival", end="earliest end"),
    "arr_latest_utc": _INTERVAL.format(what="Arrival", end="latest end"),
    "dep_earliest_utc": _INTERVAL.format(what="Departure", end="earliest end"),
    "dep_latest_utc": _INTERVAL.format(what="Departure", end="latest end"),
    "dep_precision": "Precision of the departure time.",
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

# --- the registry ------------------------------------------------------------------------------------------------
# fmt: off
STEPS: tuple[Step, ...] = (
    Step("core_study", _r("study"), "prepare:study", ("study_id",), copies=("study",),
         description="What the study is about (title, period, home countries, destination region, the events that "
                     "divide its periods), as in data/raw/study.csv.",
         schema=("study_id:str title:str subtitle:str period_start:str period_end:str home_countries:str "
          "destination_region:str languages:str period_event_ids:str escalation_event_kinds:str notes:str")),
    Step("core_systems", _r("systems"), "prepare:systems", ("system_id",), copies=("systems",),
         description="Weapon systems and equipment named in cargo claims, with sourced weights and dimensions.",
         schema=("system_id:str name:str unit_described:str mass_t:f64 mass_qualifier:str length_m:f64 "
          "width_m:f64 height_m:f64 source_ids:str notes:str")),
    Step("core_cargo_items", _r("cargo_items", "systems"), "prepare:cargo_items", ("item_id",),
         copies=("cargo_items",),
         description="What each cargo claim says was carried, item by item, with the system's sourced mass and "
                     "dimensions.",
         schema=("item_id:str claim_id:str system_id:str units:i64 source_ids:str notes:str system_name:str "
          "mass_t:f64 mass_qualifier:str length_m:f64 width_m:f64 height_m:f64 system_source_ids:str"),
         docs={
             "system_name": "Name of the system (systems.name).",
             "system_source_ids": "Sources of the system's mass and dimensions (systems.source_ids).",
             "mass_t": "Mass of one unit, tonnes (systems.mass_t).",
             "mass_qualifier": "How the source qualifies the mass (systems.mass_qualifier).",
             "length_m": "Length of one unit, m (systems.length_m).",
             "width_m": "Width of one unit, m (systems.width_m).",
             "height_m": "Height of one unit, m (systems.height_m).",
         }),
    Step("prep_sources", _r("sources"), "prepare:sources", ("source_id",), publish=False),
    Step("core_operators", _r("operators"), "prepare:operators", ("operator_id",), copies=("operators",),
         description="Organisations that operate the aircraft, with the country's display name.",
         schema=("operator_id:str name:str country:str kind:str fleet_size:i64 fleet_source_ids:str "
          "source_ids:str notes:str country_name:str")),
    Step("core_aircraft_types", _r("aircraft_types"), "prepare:aircraft_types", ("type_id",),
         copies=("aircraft_types",),
         description="Aircraft types with capacity and range where a source gives them (as in data/raw).",
         schema=("type_id:str name:str icao_type:str role:str max_payload_t:f64 max_passengers:i64 range_km:f64 "
          "source_ids:str notes:str hold_length_m:f64 hold_width_m:f64 hold_height_m:f64 "
          "hold_source_ids:str")),
    Step("prep_aircraft", _r("aircraft", "aircraft_types", "operators"), "prepare:aircraft", ("aircraft_id",),
         publish=False),
    Step("core_sanctions", (*_r("sanctions", "operators"), "prep_aircraft"), "prepare:sanctions", ("sanction_id",),
         copies=("sanctions",),
         description="Sanctions on operators or aircraft, with the effective date parsed to a UTC interval.",
         schema=("sanction_id:str authority:str authority_country:str target_table:str target_id:str kind:str "
          "action:str effective:str is_relayed_only:bool source_ids:str notes:str target_label:str "
          "authority_country_name:str effective_earliest_utc:ts effective_latest_utc:ts "
          "effective_precision:str effective_reported:str"),
         docs={
             "target_label": "Display label of the sanctioned operator or aircraft.",
             "authority_country_name": "Display name of the authority's country.",
             "effective_earliest_utc": _INTERVAL.format(what="Effective date", end="earliest end"),
             "effective_latest_utc": _INTERVAL.format(what="Effective date", end="latest end"),
             "effective_precision": "Precision of the effective date.",
             "effective_reported": "Effective date as reported (raw timespec).",
         }),
    Step("prep_places", _r("places"), "prepare:places", ("place_id",), publish=False),
    Step("prep_episodes", _r("episodes"), "prepare:episodes", ("episode_id",), publish=False),
    Step("core_events", _r("events"), "prepare:events", ("event_id",), copies=("events",),
         description="Geopolitical context events, with start and end parsed to UTC intervals.",
         schema=("event_id:str kind:str title:str start:str end:str tz:str country:str concerns:str "
          "reported_on:str description:str source_ids:str notes:str start_earliest_utc:ts "
          "start_latest_utc:ts start_precision:str start_reported:str end_earliest_utc:ts "
          "end_latest_utc:ts end_precision:str end_reported:str reported_on_earliest_utc:ts "
          "reported_on_latest_utc:ts reported_on_precision:str reported_on_reported:str country_name:str"),
         docs={
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
         }),
    Step("core_claims", _r("claims"), "prepare:claims", ("claim_id",), copies=("claims",),
         description="Claims about cargo, people, purpose and flight figures: who claims what and how far it is "
                     "verified.",
         schema=("claim_id:str episode_id:str aircraft_id:str stop_id:str from_stop_id:str aircraft_ids:str "
          "kind:str subject:str quantity:f64 unit:str qualifier:str claimant:str verification:str "
          "source_ids:str notes:str")),
    Step("core_conflicts", _r("conflicts", "conflict_positions"), "prepare:conflicts", ("conflict_id", "position_id"),
         copies=("conflicts", "conflict_positions"),
         description="Every side (position) of every disagreement between sources, one row per position.",
         schema=("conflict_id:str episode_id:str topic:str summary:str position_id:str claim:str value:str "
          "variant:str record_ids:str source_ids:str is_working_position:bool working_position:str "
          "working_reason:str conflict_notes:str"),
         docs={
             "is_working_position": "True for the position the study uses (conflicts.working_position).",
             "conflict_notes": "Notes on the conflict as a whole (conflicts.notes).",
         }),
    Step("core_watchlist", _r("watchlist"), "prepare:watchlist", ("watch_id",), copies=("watchlist",),
         description="Airframes (ICAO hex or registration) to look for in observed flight records.",
         schema=("watch_id:str icao_hex:str registration:str aircraft_id:str operator:str tags:str "
          "source_ids:str notes:str")),
    Step("core_type_ranges", _r("type_ranges", "aircraft_types"), "prepare:type_ranges", ("range_id",),
         copies=("type_ranges",),
         description="Ranges of aircraft types as cited sources state them, each with its payload condition.",
         schema=("range_id:str type_id:str range_km:f64 qualifier:str payload_condition:str payload_t:f64 "
          "source_class:str type_scope:str source_ids:str notes:str type_name:str"),
         docs={
             "type_name": "Type designation (from aircraft_types).",
         }),
    Step("core_corridors", _r("corridors"), "prepare:corridors", ("area",), copies=("corridors",),
         description="Our classification of staging countries (and regions) into corridors, as in data/raw.",
         schema="area:str corridor:str role:str jump_off:str basis:str source_ids:str notes:str"),
    Step("core_host_statements", _r("host_statements"), "prepare:host_statements", ("statement_id",),
         copies=("host_statements",),
         description="What the states where an aircraft landed or flew said or did about it (permissions, "
                     "authorisations, denials, intercepts, statements), with the date parsed to a UTC interval.",
         schema=("statement_id:str episode_id:str country:str authority:str kind:str made_on:str aircraft_id:str "
          "about:str source_ids:str notes:str made_on_earliest_utc:ts made_on_latest_utc:ts "
          "made_on_precision:str made_on_reported:str country_name:str"),
         docs={
             **_interval_columns("made_on", "When the statement was made or the action taken"),
         }),
    Step("core_loads", _r("claims"), "prepare:loads", ("claim_id",), copies=("claims",),
         description="What each episode carried, who it carried and why, as claimed: the cargo, personnel, people "
                     "aboard, equipment and purpose claims of core_claims in one table, with who claims them.",
         schema=("claim_id:str episode_id:str aircraft_id:str aircraft_ids:str load_kind:str subject:str "
          "quantity:f64 unit:str qualifier:str claimant:str verification:str source_ids:str"),
         docs={
             "load_kind": "What the claim is about: cargo, personnel, person_aboard, equipment or purpose (claims.kind).",
         }),
    Step("core_census_criteria", _r("census_criteria"), "prepare:census_criteria", ("criterion_id",),
         copies=("census_criteria",),
         description="The census method: which flights count as episodes (by kind), where, when, and what is "
                     "left out (as in data/raw).",
         schema="criterion_id:str part:str value:str rule:str rationale:str notes:str"),
    Step("core_census_excluded", _r("census_excluded"), "prepare:census_excluded", ("item_id",),
         copies=("census_excluded",),
         description="Flights the census considered and left out, with the reason and sources.",
         schema=("item_id:str title:str when:str countries:str reason:str reason_text:str related_episode_id:str "
          "source_ids:str notes:str when_earliest_utc:ts when_latest_utc:ts when_precision:str "
          "when_reported:str"),
         docs={
             **_interval_columns("when", "When the flight happened"),
         }),
    Step("core_census_log", _r("census_log"), "prepare:census_log", ("search_id",), copies=("census_log",),
         description="Every search made for the census (query, language, where, when, what it found).",
         schema=("search_id:str query:str language:str corpus:str searched_on:str scope:str found_source_ids:str "
          "outcome:str")),
    Step("prep_stops", (*_r("stops"), "prep_places"), "prepare:reported_stops", ("stop_id",), publish=False),
    # observed flight records: one function makes these tables together (it reads the track files once)
    *(Step(name, (*_r("corridors", "watchlist"), "prep_aircraft", "prep_places", "prep_stops"),
           "observed:evidence", key, publish=False) for name, key in (
        ("obs_sources", ("source_id",)), ("obs_aircraft", ("aircraft_id",)), ("obs_places", ("place_id",)),
        ("obs_episodes", ("episode_id",)), ("obs_stops", ("stop_id",)))),
    Step("core_gaps", (*_r("corridors", "watchlist"), "prep_aircraft", "prep_places", "prep_stops"),
         "observed:evidence", ("aircraft_id", "start_utc"),
         description="Gaps in observed flight records (transponder off or out of receiver range).",
         schema=("episode_id:str aircraft_id:str icao24:str start_utc:ts end_utc:ts duration_min:f64 jump_km:f64 "
          "start_lat:f64 start_lon:f64 end_lat:f64 end_lon:f64 implied_speed_kt:f64 is_implausible:bool"),
         docs={
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
         }),
    Step("core_observed_excluded", (*_r("corridors", "watchlist"), "prep_aircraft", "prep_places", "prep_stops"),
         "observed:evidence",
         description="What the observed flight records left out or added, with the reason: trips outside the study "
                     "region, aircraft not watched, refused candidate legs, noise, unreadable files, aircraft "
                     "created from track metadata.",
         schema=("kind:str reason:str icao24:str aircraft_id:str registration:str first_utc:ts last_utc:ts n:i64 "
          "detail:str source_ids:str"),
         docs={
             "kind": "What was left out: trip, aircraft, candidate_legs, positions or track_file.",
             "reason": "Why (analysis.observed.EXCLUDED_REASONS): outside_region, not_watched, refused_leg, noise, "
             "skipped_file, aircraft_created (kept, listed for review).",
             "icao24": "24-bit ICAO address of the aircraft (hex), when one aircraft.",
             "registration": "Registration from the track, when known.",
             "first_utc": "First airborne fix of what was left out, UTC.",
             "last_utc": "Last airborne fix of what was left out, UTC.",
             "n": "How many: legs of the trip or aircraft, candidate legs refused, positions dropped, files.",
             "detail": "The specific reason (noise rule, flight rule, countries crossed, file error).",
         }),
    Step("core_sources", ("prep_sources", "obs_sources"), "prepare:all_sources", ("source_id",), copies=("sources",),
         description="The bibliography: one row per publication or reference, with its publication date parsed to "
                     "a UTC interval.",
         schema=("source_id:str outlet:str title:str author:str published:str url:str kind:str language:str "
          "is_secondary:bool relays:str seed_file:str relays_source_id:str origin:str archive_url:str "
          "notes:str read_status:str first_hand:str published_earliest_utc:ts published_latest_utc:ts "
          "published_precision:str published_reported:str origin_id:str"),
         docs={
             "origin_id": "The independent origin of the page: the root of its relays_source_id chain, or its origin, or its "
             "own id. Corroboration counts distinct origin_id values, not pages.",
             "published_earliest_utc": _INTERVAL.format(what="Publication", end="earliest end"),
             "published_latest_utc": _INTERVAL.format(what="Publication", end="latest end"),
             "published_precision": "Precision of the publication date (day, month, unknown...).",
             "published_reported": "Publication date as reported (the raw timespec text).",
         }),
    Step("core_aircraft", ("prep_aircraft", "obs_aircraft"), "prepare:all_aircraft", ("aircraft_id",),
         copies=("aircraft",),
         description="Individual airframes joined with their type and operator; the label column is the name used in "
                     "charts.",
         schema=("aircraft_id:str registration:str type_id:str operator_id:str name:str board_number:str "
          "icao_hex:str unit:str source_ids:str notes:str type_name:str icao_type:str role:str "
          "max_payload_t:f64 max_passengers:i64 range_km:f64 type_source_ids:str operator_name:str "
          "label:str"),
         docs={
             "type_name": "Type designation from core_aircraft_types.name.",
             "icao_type": "ICAO type designator from the type.",
             "role": "Main role of the type.",
             "max_payload_t": "Maximum payload of the type, tonnes, as a source states it.",
             "max_passengers": "Maximum people carried by the type, as a source states it.",
             "range_km": "Range of the type, km, as a source states it.",
             "type_source_ids": "Sources of the type's figures (';'-separated).",
             "operator_name": "Operator's name from core_operators.",
             "label": "Display label: registration or name and type, used in charts and tables.",
         }),
    Step("core_places", ("prep_places", "obs_places"), "prepare:all_places", ("place_id",), copies=("places",),
         description="Places at the precision the sources give (airport, city or country), with the coordinates "
                     "used for maps and distances and how they were found (reported airport or inferred airport).",
         schema=("place_id:str name:str precision:str icao:str country:str country_name:str country_numeric:str "
          "tz:str inferred_icao:str inference_basis:str loc_icao:str airport_name:str lat:f64 lon:f64 "
          "location_basis:str is_sourced_location:bool loc_closed_reported:str loc_closed_utc:ts "
          "source_ids:str notes:str"),
         docs={
             "is_sourced_location": "True when the coordinates come from a cited source because airportsdata lacks the airport.",
             "loc_closed_reported": "When the located airport closed, as reported (empty if open).",
             "loc_closed_utc": "Start of the UTC interval of the airport's closure.",
             "country_numeric": "ISO 3166-1 numeric country code (matches the basemap's country ids).",
             "inferred_icao": "Airport assumed for a city- or country-only place (an inference, never a reported fact).",
             "airport_name": "Name of the airport at loc_icao (airportsdata).",
             "lat": "Latitude of the airport used (reported or inferred), decimal degrees.",
             "lon": "Longitude of the airport used (reported or inferred), decimal degrees.",
         }),
    Step("core_episodes", ("prep_episodes", "obs_episodes"), "prepare:all_episodes", ("episode_id",),
         copies=("episodes",),
         description="Deployments (one or more aircraft going to the destination region and back as one "
                     "operation), with their kind of flight.",
         schema=("episode_id:str title:str destination_country:str summary:str source_ids:str notes:str kind:str "
          "destination_country_name:str"),
         docs={
             "destination_country_name": "Display name of the destination country.",
         }),
    Step("all_stops", ("prep_stops", "obs_stops"), "prepare:all_stops", ("stop_id",), publish=False),
    Step("core_stops", ("all_stops", "core_places"), "sql:core_stops", ("stop_id",),
         copies=("stops",), checks=(_stops_located,),
         description="One row per stop of each aircraft's route per episode and route variant, in reported order, "
                     "with arrival/departure times as UTC intervals and the time on the ground.",
         schema=("stop_id:str episode_id:str aircraft_id:str variant:str is_main_variant:bool seq:i64 "
          "evidence:str role:str place_id:str place_name:str place_precision:str country:str "
          "country_name:str loc_icao:str lat:f64 lon:f64 location_basis:str arr_reported:str "
          "arr_earliest_utc:ts arr_latest_utc:ts arr_precision:str dep_reported:str dep_earliest_utc:ts "
          "dep_latest_utc:ts dep_precision:str dwell_min_h:f64 dwell_max_h:f64 dwell_h:f64 "
          "is_inferred:bool order_basis:str order_inference:str reported_on_reported:str "
          "reported_on_earliest_utc:ts is_sourced_location:bool loc_closed_reported:str "
          "is_after_closure:bool source_ids:str notes:str"),
         docs={
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
             "arr_precision": "Precision of the arrival time (minute, day, part_of_day...).",
             "dep_reported": "Departure as reported (raw timespec).",
             "dwell_min_h": "Shortest time on the ground the reported times allow, hours.",
             "dwell_max_h": "Longest time on the ground the reported times allow, hours.",
             "dwell_h": "Time on the ground, hours, when both times are known to the hour or better.",
         }),
    Step("core_legs", ("core_stops",), "sql:core_legs", ("leg_id",), checks=(_legs_match_stops,),
         description="The hop between two consecutive stops of the same episode, aircraft, variant and evidence "
                     "kind, with great-circle distance and duration bounds.",
         schema=("leg_id:str episode_id:str aircraft_id:str variant:str is_main_variant:bool evidence:str "
          "leg_seq:i64 from_stop_id:str to_stop_id:str from_place_id:str from_name:str from_precision:str "
          "from_country:str from_lat:f64 from_lon:f64 to_place_id:str to_name:str to_precision:str "
          "to_country:str to_lat:f64 to_lon:f64 dep_earliest_utc:ts dep_latest_utc:ts dep_precision:str "
          "arr_earliest_utc:ts arr_latest_utc:ts arr_precision:str distance_km:f64 distance_basis:str "
          "duration_h:f64 duration_min_h:f64 duration_max_h:f64 is_international:bool "
          "is_order_inferred:bool source_ids:str"),
         docs={
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
             "arr_precision": "Precision of the arrival time.",
             "duration_h": "Flight time, hours, when both ends are known to the hour or better.",
             "duration_min_h": "Shortest flight time the reported times allow, hours.",
             "duration_max_h": "Longest flight time the reported times allow, hours.",
             "is_international": "True when the leg crosses a border (countries differ).",
             "source_ids": "Sources of the two stops, ';'-separated.",
         }),
    Step("core_leg_paths", ("core_legs",), "prepare:leg_paths", ("leg_id", "point_seq"),
         checks=(_paths_of_located_legs,),
         description="Points along each leg's great circle (for maps and the GeoJSON/KML exports).",
         schema=("leg_id:str episode_id:str aircraft_id:str variant:str evidence:str leg_seq:i64 point_seq:i64 "
          "lat:f64 lon:f64 distance_basis:str"),
         docs={
             "point_seq": "Order of the point along the leg, from 0 at departure.",
             "lat": "Latitude of the point on the great circle, degrees.",
             "lon": "Longitude of the point on the great circle, degrees.",
         }),
    Step("out_route_summary", ("core_stops", "core_legs"), "sql:out_route_summary",
         ("episode_id", "aircraft_id", "variant", "evidence"),
         description="One row per route (episode, aircraft, variant, evidence): distances, detour, stops, "
                     "countries.",
         schema=("episode_id:str aircraft_id:str variant:str is_main_variant:bool evidence:str origin:str "
          "destination:str origin_dep_earliest_utc:ts origin_dep_latest_utc:ts dest_arr_earliest_utc:ts "
          "dest_arr_latest_utc:ts dest_arr_precision:str dest_dwell_min_h:f64 dest_dwell_max_h:f64 "
          "dest_dwell_h:f64 stop_count:i64 leg_count:i64 legs_located:i64 outbound_staging_stops:i64 "
          "outbound_staging_countries:list[str] staging_countries:list[str] countries_visited:list[str] "
          "country_count:i64 total_km:f64 is_total_complete:bool outbound_km:f64 "
          "is_outbound_complete:bool direct_km:f64 detour_factor:f64 longest_leg_km:f64 "
          "longest_leg_id:str uses_inferred_places:bool"),
         docs={
             "origin_dep_earliest_utc": _INTERVAL.format(what="Departure from origin", end="earliest end"),
             "origin_dep_latest_utc": _INTERVAL.format(what="Departure from origin", end="latest end"),
             "legs_located": "Legs whose two ends have coordinates.",
         }),
    Step("out_episode_summary", ("out_route_summary", "core_stops", "core_aircraft", "core_conflicts",
                                 "core_episodes"), "sql:out_episode_summary", ("episode_id",),
         description="One row per episode: aircraft, times, dwell at destination, distances, staging countries, "
                     "conflicts (computed from the lead aircraft's main route).",
         schema=("episode_id:str title:str destination_country:str destination_country_name:str is_dated:bool "
          "aircraft_ids:list[str] aircraft_labels:list[str] aircraft_count:i64 evidence_kinds:list[str] "
          "first_time_utc:ts first_time_reported:str last_time_utc:ts lead_aircraft_id:str "
          "lead_aircraft_label:str origin:str destination:str dest_arr_earliest_utc:ts "
          "dest_arr_latest_utc:ts dest_arr_precision:str dest_dwell_min_h:f64 dest_dwell_max_h:f64 "
          "dest_dwell_h:f64 stop_count:i64 leg_count:i64 outbound_staging_stops:i64 "
          "outbound_staging_countries:list[str] staging_countries:list[str] countries_visited:list[str] "
          "country_count:i64 total_km:f64 is_total_complete:bool outbound_km:f64 "
          "is_outbound_complete:bool direct_km:f64 detour_factor:f64 longest_leg_km:f64 "
          "longest_leg_id:str uses_inferred_places:bool variant_count:i64 conflict_count:i64 summary:str "
          "source_ids:str"),
         docs={
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
         }),
    Step("out_timeline", ("core_stops", "core_events", "core_sanctions"), "sql:out_timeline", ("item_id",),
         description="Flight milestones, context events and sanctions as UTC intervals, for timelines.",
         schema=("item_id:str episode_id:str aircraft_id:str evidence:str kind:str role:str label:str "
          "place_name:str earliest_utc:ts latest_utc:ts precision:str reported:str source_ids:str"),
         docs={
             "item_id": "Timeline item id (stop, event or sanction id with a suffix).",
             "kind": "departure, arrival, event or sanction.",
             "role": "Role of the stop (for departures/arrivals) or the event kind.",
             "label": "Short description shown on the timeline.",
             "earliest_utc": _INTERVAL.format(what="The item's time", end="earliest end"),
             "latest_utc": _INTERVAL.format(what="The item's time", end="latest end"),
             "precision": "Precision of the reported time.",
             "reported": "Time as reported (raw timespec).",
         }),
    Step("out_route_similarity", ("core_stops", "core_corridors"), "prepare:route_similarity",
         ("episode_a", "episode_b"),
         description="Pairwise comparison of the episodes' main outbound routes on their ordered staging stops; "
                     "pairs with a stub route (no staging stop reported) are marked not comparable.",
         schema=("episode_a:str episode_b:str is_comparable:bool reason:str staging_a:str staging_b:str "
          "shared_countries:str shared_country_count:i64 country_score:f64 corridor_score:f64 "
          "jump_off_a:str jump_off_b:str jump_off_score:f64 order_inferred:bool similarity:f64 "
          "is_alike:bool"),
         docs={
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
         }),
    Step("out_observed_vs_reported", ("core_stops", "core_legs"), "prepare:observed_vs_reported",
         description="Stop-by-stop agreement of observed (ADS-B) and reported routes where both exist.",
         schema=("episode_id:str aircraft_id:str status:str reported_stop_id:str observed_stop_id:str place:str "
          "reported_precision:str reported_arr_earliest_utc:ts reported_arr_latest_utc:ts "
          "observed_arr_utc:ts arr_diff_h:f64 source_ids:str"),
         docs={
             "status": "matched, reported only or observed only.",
             "reported_stop_id": "Reported stop (core_stops.stop_id).",
             "observed_stop_id": "Observed stop.",
             "place": "Place name.",
             "reported_precision": "Precision of the reported place.",
             "reported_arr_earliest_utc": _INTERVAL.format(what="Reported arrival", end="earliest end"),
             "reported_arr_latest_utc": _INTERVAL.format(what="Reported arrival", end="latest end"),
             "observed_arr_utc": "Observed arrival (landing), UTC.",
             "arr_diff_h": "Observed arrival minus the nearest end of the reported interval, hours (0 inside it).",
         }),
    Step("out_findings", ("core_aircraft", "core_aircraft_types", "core_cargo_items", "core_claims", "core_conflicts",
                          "core_corridors", "core_episodes", "core_events", "core_gaps", "core_host_statements",
                          "core_legs", "core_sanctions", "core_sources", "core_stops", "core_study",
                          "core_type_ranges", "out_episode_summary", "out_observed_vs_reported",
                          "out_route_similarity", "out_route_summary"),
         "prepare:findings", ("finding_id",),
         description="Cross-episode findings computed by analysis.findings: statement, value, evidence rows, "
                     "sources, independent origins, likelihood, confidence and why (docs/confidence.md), importance.",
         schema=("finding_id:str category:str title:str headline:str statement:str metric:str value:f64 "
          "value_low:f64 value_high:f64 unit:str episode_ids:str evidence:str source_ids:str "
          "origin_count:i64 likelihood:str confidence:str confidence_reason:str importance:f64 "
          "is_key:bool"),
         docs={
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
         }),
    Step("out_summary", ("out_findings", "out_episode_summary", "core_sources", "core_episodes"),
         "prepare:summary", ("seq",),
         description="A short generated summary of what the study shows, one sentence per row, each tied to the "
                     "findings it rests on.",
         schema="seq:i64 sentence:str finding_ids:list[str]",
         docs={
             "seq": "Order of the sentence.",
             "sentence": "One generated sentence of the summary.",
             "finding_ids": "The findings (out_findings.finding_id) the sentence rests on.",
         }),
)
# fmt: on


def by_table() -> dict[str, Step]:
    return {s.table: s for s in STEPS}


def order(steps: tuple[Step, ...] = STEPS) -> list[Step]:
    """The steps in dependency order: each after the steps that make its inputs (registry order among the ready).
    An input that no step makes and no raw table names, or a cycle, is an error naming the steps."""
    made = {s.table for s in steps}
    if len(made) != len(steps):
        dup = sorted({s.table for s in steps if sum(t.table == s.table for t in steps) > 1})
        raise ValueError(f"analysis/steps.py: tables made by more than one step: {dup}")
    for s in steps:
        unknown = [i for i in s.inputs if not i.startswith("raw.") and i not in made]
        if unknown:
            raise ValueError(f"analysis/steps.py: step {s.table!r} reads {unknown}, which no step makes")
    done: set[str] = set()
    out: list[Step] = []
    todo = list(steps)
    while todo:
        ready = [s for s in todo if all(i.startswith("raw.") or i in done for i in s.inputs)]
        if not ready:
            raise ValueError(
                "analysis/steps.py: the steps' inputs form a cycle: " + ", ".join(s.table for s in todo)
            )
        s = ready[0]
        out.append(s)
        done.add(s.table)
        todo.remove(s)
    return out


_REGISTRY = by_table()

#: the tables of data/derived (and views of flights.duckdb), in build order
PUBLISHED: tuple[str, ...] = tuple(s.table for s in order() if s.publish)


def schema_of(step: Step) -> dict[str, pl.DataType]:
    """The declared columns and types of a step's table (empty when it declares none)."""
    if not step.schema:
        return {}
    out = {}
    for item in step.schema.split():
        name, _, code = item.partition(":")
        out[name] = TYPES[code]
    return out


def column_doc(step: Step, column: str) -> str | None:
    """The description of a column of the step's table: its ``docs``, else the raw column it copies (``copies``,
    from :mod:`analysis.schema`), else :data:`COMMON_DOCS`; None when none describes it."""
    own = step.docs.get(column)
    if own:
        return own
    for raw in step.copies:
        try:
            return schema.table(raw).column(column).description
        except KeyError:
            continue
    return COMMON_DOCS.get(column)


def describe(table: str, column: str) -> str | None:
    """The description of ``table.column`` (:func:`column_doc` of the table's step; for a table that no step
    makes, the common description of the column name, if any)."""
    step = _REGISTRY.get(table)
    return column_doc(step, column) if step is not None else COMMON_DOCS.get(column)


def doc_problems(step: Step) -> list[str]:
    """What is wrong with a step's column descriptions: a declared column that nothing describes, a ``docs``
    entry for a column the step does not declare, a ``copies`` name that is no raw table."""
    declared = schema_of(step)
    raw_names = {t.name for t in schema.TABLES}
    out = [
        f"{step.table}: copies {r!r}, which is no raw table of analysis/schema.py"
        for r in step.copies
        if r not in raw_names
    ]
    out += [f"{step.table}.{c}: declared without a description" for c in declared if not column_doc(step, c)]
    out += [
        f"{step.table}.{c}: described in docs but not declared in its schema"
        for c in step.docs
        if c not in declared
    ]
    return out


def table_schema(table: str) -> pl.Schema:
    """The declared columns and types of a registry table, as a polars schema: the one declaration that the
    functions making the table build their frames with (an empty table still has its columns)."""
    return pl.Schema(schema_of(_REGISTRY[table]))


def sort_keys(step: Step, df: pl.DataFrame) -> list[str]:
    """The columns that fix the order of the step's rows: ``step.sort``, then every other sortable column of the
    table (lists, structs and objects are not sortable), left to right."""
    sortable = [
        c for c, t in df.schema.items() if not isinstance(t, pl.List | pl.Struct | pl.Array | pl.Object)
    ]
    return [*step.sort, *(c for c in sortable if c not in step.sort)]


def function_of(step: Step) -> Callable:
    module, _, name = step.code.partition(":")
    return getattr(importlib.import_module(f"analysis.{module}"), name)


# --- code fingerprints ----------------------------------------------------------------------------------------


def _module_file(dotted: str) -> Path | None:
    """The file of ``analysis.<dotted>`` (a module or a package's __init__), or None outside the package."""
    base = PACKAGE_DIR.joinpath(*dotted.split(".")) if dotted else PACKAGE_DIR
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _package_of(f: Path) -> str:
    rel = f.relative_to(PACKAGE_DIR).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1])
    return ".".join(parts[:-1])


def _statements(tree: ast.Module):
    """Every statement of a module, nested ones too (an import is a statement: expressions are not walked)."""
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        for name in ("body", "orelse", "finalbody"):
            todo.extend(getattr(node, name, ()))
        for handler in getattr(node, "handlers", ()):
            todo.extend(handler.body)
        for case in getattr(node, "cases", ()):
            todo.extend(case.body)


@cache
def _imports(f: Path) -> frozenset[Path]:
    """The ``analysis`` modules that file ``f`` imports (anywhere in it, lazily inside functions too)."""
    pkg = _package_of(f)
    found: set[Path] = set()
    for node in _statements(ast.parse(f.read_bytes(), filename=str(f))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = pkg.split(".") if pkg else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *(node.module.split(".") if node.module else [])])
            elif node.module and (node.module == "analysis" or node.module.startswith("analysis.")):
                base = node.module.removeprefix("analysis").lstrip(".")
            else:
                continue
            names = [base] + [f"{base}.{a.name}" if base else a.name for a in node.names]
        elif isinstance(node, ast.Import):
            names = [
                a.name.removeprefix("analysis").lstrip(".")
                for a in node.names
                if a.name == "analysis" or a.name.startswith("analysis.")
            ]
        for n in names:
            m = _module_file(n)
            if m is not None:
                found.add(m)
                # importing a submodule runs its package's __init__ too
                parent = n.rpartition(".")[0]
                while parent:
                    p = _module_file(parent)
                    if p is not None:
                        found.add(p)
                    parent = parent.rpartition(".")[0]
    return frozenset(found)


def module_closure(*files: Path) -> list[Path]:
    """``files`` and every ``analysis`` module they import, transitively, sorted."""
    seen: set[Path] = set()
    todo = list(files)
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        todo.extend(_imports(f) - seen)
    return sorted(seen)


def code_files(step: Step) -> list[Path]:
    """The files whose bytes are the step's code: its SQL file and the macros, or its function's module and the
    ``analysis`` modules that module imports (transitively)."""
    kind, _, name = step.code.partition(":")
    if kind == "sql":
        return [MACROS, SQL_DIR / f"{name}.sql"]
    f = _module_file(kind)
    if f is None:
        raise ValueError(f"analysis/steps.py: step {step.table!r}: no module analysis.{kind}")
    return module_closure(f)


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(
            f.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest()
        )
    return h.hexdigest()


def step_fingerprint(step: Step) -> str:
    """Hash of the step's declaration (inputs, code, schema, key) and of its code files' bytes."""
    decl = f"{step.table}\0{';'.join(step.inputs)}\0{step.code}\0{step.schema}\0{';'.join(step.key)}\0{step.publish}"
    return hashlib.sha256(decl.encode() + _digest(code_files(step)).encode()).hexdigest()


# --- data checks -----------------------------------------------------------------------------------------------

#: value ranges by column name, for every table that has the column (suffix rules below)
_RANGE_SUFFIX: tuple[tuple[str, float | None, float | None], ...] = (
    ("lat", -90.0, 90.0),
    ("lon", -180.0, 180.0),
    ("_km", 0.0, None),
    ("_count", 0.0, None),
    ("_score", 0.0, 1.0),
    ("similarity", 0.0, 1.0),
    ("_kt", 0.0, None),
)


def _ranges(df: pl.DataFrame) -> list[tuple[str, float | None, float | None]]:
    out = []
    for c, t in df.schema.items():
        if not t.is_numeric():
            continue
        for suffix, lo, hi in _RANGE_SUFFIX:
            if c == suffix or c.endswith(suffix) or c.endswith(f"_{suffix}"):
                out.append((c, lo, hi))
                break
    return out


def _row_name(step: Step, row: dict) -> str:
    cols = step.key or tuple(row)[:3]
    return ", ".join(f"{c}={row.get(c)!r}" for c in cols)


def _failures(step: Step, df: pl.DataFrame, t: Inputs) -> list[str]:
    out: list[str] = []
    declared = schema_of(step)
    if declared:
        got = dict(df.schema)
        if list(got) != list(declared):
            missing = [c for c in declared if c not in got]
            extra = [c for c in got if c not in declared]
            out.append(
                f"columns differ from the declared schema: missing {missing}, undeclared {extra}"
                + ("" if missing or extra else f", order {list(got)}")
            )
        out += [
            f"column {c!r}: type {got[c]}, declared {typ}"
            for c, typ in declared.items()
            if c in got and got[c] != typ
        ]
        if out:
            return out
    if df.height == 0:
        return out
    if step.key:
        nulls = df.filter(pl.any_horizontal(pl.col(c).is_null() for c in step.key))
        out += [
            f"key {', '.join(step.key)} is null: {_row_name(step, r)}"
            for r in nulls.head(20).iter_rows(named=True)
        ]
        dup = df.filter(pl.struct(*step.key).is_duplicated()).select(step.key).unique(maintain_order=True)
        out += [
            f"key {', '.join(step.key)} is not unique: {_row_name(step, r)}"
            for r in dup.head(20).iter_rows(named=True)
        ]
    for c, lo, hi in _ranges(df):
        cond = pl.lit(False)
        if lo is not None:
            cond = cond | (pl.col(c) < lo)
        if hi is not None:
            cond = cond | (pl.col(c) > hi)
        cond = cond | pl.col(c).is_nan() if df.schema[c].is_float() else cond
        bad = df.filter(cond)
        out += [
            f"{c} = {r[c]} outside [{lo}, {hi}]: {_row_name(step, r)}"
            for r in bad.head(20).iter_rows(named=True)
        ]
    for c in df.columns:
        if (
            c.endswith("_earliest_utc")
            and (late := c.removesuffix("_earliest_utc") + "_latest_utc") in df.columns
        ):
            bad = df.filter(pl.col(c) > pl.col(late))
            out += [f"{c} after {late}: {_row_name(step, r)}" for r in bad.head(20).iter_rows(named=True)]
    for fn in step.checks:
        out += fn(df, t)
    return out


def check(step: Step, df: pl.DataFrame, t: Inputs) -> None:
    """Run the step's data checks on its table; raises :class:`DataCheckError` naming the failing rows."""
    fails = _failures(step, df, t)
    if fails:
        raise DataCheckError(
            f"derived table {step.table} ({step.code}) failed its data checks (analysis/steps.py): "
            + "; ".join(fails[:20])
            + (f"; and {len(fails) - 20} more" if len(fails) > 20 else "")
            + ". Nothing was published; the previous data/derived is intact"
        )


# --- Frictionless Data Package ---------------------------------------------------------------------------------

#: Frictionless (Table Schema) field types of the type codes; in CSV a list is written ';'-joined, as text
_FRICTIONLESS = {
    "str": "string",
    "f64": "number",
    "i64": "integer",
    "bool": "boolean",
    "ts": "datetime",
    "list[str]": "array",
}


def datapackage(
    fmt: str = "parquet", name: str = "flights-derived", tables: tuple[str, ...] | None = None
) -> dict:
    """A Frictionless Data Package (``datapackage.json``) describing the published tables: one resource per table
    (``<table>.parquet``, or ``<table>.csv`` for ``fmt="csv"``) with its description, fields (name, type,
    description) and primary key, all from the registry (:func:`describe`); the licence is DATA-LICENSE.md's
    (:data:`analysis.schema.DATA_LICENCE`, the raw tables' too)."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"expected fmt 'parquet' or 'csv', got {fmt!r}")
    steps = by_table()
    resources = []
    for table in tables if tables is not None else PUBLISHED:
        step = steps[table]
        fields = []
        for item in (step.schema or "").split():
            col, _, code = item.partition(":")
            typ = "string" if fmt == "csv" and code == "list[str]" else _FRICTIONLESS[code]
            f = {"name": col, "type": typ}  # datetimes: Table Schema's default format, 2019-03-23T15:12:00Z
            desc = describe(table, col)
            if desc:
                f["description"] = desc + (
                    " (';'-separated in CSV)" if fmt == "csv" and code == "list[str]" else ""
                )
            fields.append(f)
        fields_schema: dict = {"fields": fields}
        if step.key:
            fields_schema["primaryKey"] = list(step.key)
        res = {
            "name": table,
            "path": f"{table}.{fmt}",
            "format": fmt,
            "description": step.description,
            "schema": fields_schema,
        }
        if fmt == "csv":
            res |= {"profile": "tabular-data-resource", "encoding": "utf-8", "mediatype": "text/csv"}
        else:
            res["mediatype"] = "application/vnd.apache.parquet"
        resources.append(res)
    return {
        "profile": "tabular-data-package" if fmt == "csv" else "data-package",
        "name": name,
        "title": "Derived tables of the flights study (data/derived)",
        "description": "Written by `make data` from data/raw; every table, column, type and key is declared in "
        "analysis/steps.py."
        + (
            " Text cells that a spreadsheet would run as a formula (starting with =, +, -, @, a tab "
            "or a carriage return) are written with a ' in front; the parquet files keep the exact "
            "text."
            if fmt == "csv"
            else ""
        ),
        "licenses": [schema.DATA_LICENCE],
        "sources": [
            {
                "title": "The study's evidence base, data/raw (its own descriptor: data/raw/datapackage.json), "
                "and the public publications its sources.csv lists"
            }
        ],
        "resources": resources,
    }
