"""The evidence base: every raw table, its columns, types, keys and references.

This module is the single description of data/raw. The build validates against it, the data dictionary is
written from it, and the bad-input tests are generated from it. Each column is a :class:`Column`; each table
a :class:`Table`. Raw files are UTF-8 CSV with a header row, one file per table, named ``<table>.csv``.

Value conventions in raw CSV:

* empty cell = unknown (null). Never write a guess into a fact column; use an ``inferred_*`` column.
* ``ids`` columns hold one or more ids separated by ``;`` (e.g. ``S1;S16``).
* ``timespec`` columns hold a time as reported, in the small grammar of :mod:`analysis.timespec`
  (``2008-09-10T16:50Z``, ``2026-02-04T23:34+03:00``, ``2019-03-23``, ``2026-02-01 evening``,
  ``2026-01 late``, ``2019-03``, ``--02-07`` for a day whose year is not stated, ``2019-03-02/2019-03-03`` for
  a range of days). A time of day carries an explicit offset, or says ``tz=unknown`` when the source gives no
  zone (it is then kept as an interval wide enough for any zone, never converted as if the zone were known); a
  bare date is read in the zone of the place (or the row's ``tz``).

The page docs/evidence.md and the Frictionless descriptor data/raw/datapackage.json (:func:`datapackage`) are
generated from this module (``python -m analysis evidence-doc``); tests check that both match, so the
documentation of the raw tables cannot drift from the schema. data/raw/datapackage.json is no raw input (no
provenance record, no checksum): it describes the files, it is not evidence.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Column",
    "Table",
    "TABLES",
    "ID_PATTERN",
    "SAFE_ID_PATTERN",
    "HEX_PATTERN",
    "table",
    "DATA_LICENCE",
    "datapackage",
    "datapackage_json",
    "raw_headers",
]

#: ids that end up in file names (episodes) must match this: lowercase, digits and dashes only.
SAFE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"
#: other ids: letters, digits, dot, underscore, dash.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
#: ICAO 24-bit addresses (columns of kind ``hex``): 6 lowercase hex digits.
HEX_PATTERN = r"^[0-9a-f]{6}$"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # str | id | safe_id | ids | int | float | bool | date | timespec | enum | tz | country | icao | url
    description: str
    required: bool = False
    enum: tuple[str, ...] = ()
    ref: str | None = None  # "table.column" this value (or each id in an ids list) must exist in
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    fact: bool = True  # fact tables must cite sources in source_ids
    unique: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _src(required: bool = True) -> Column:
    return Column(
        "source_ids",
        "ids",
        "Sources supporting this row, ';'-separated ids from sources.csv.",
        required,
        ref="sources.source_id",
    )


NOTES = Column("notes", "str", "Free notes in the curator's own words.")

PLACE_PRECISION = ("airport", "city", "country", "region")
TIME_PRECISION = (
    "second",
    "minute",
    "approx_hour",
    "part_of_day",
    "day",
    "part_of_month",
    "month",
    "year",
    "day_year_unknown",
    "day_range",
    "clock_no_zone",
    "unknown",
)
#: how a stated quantity is qualified by its source ("about 100", "more than 12,000 km")
QUALIFIERS = ("exact", "about", "more_than", "at_least", "less_than", "at_most")
#: the kinds of flight the census counts (docs/evidence.md and the methods page give the criteria)
EPISODE_KINDS = (
    "bomber_visit",
    "military_transport",
    "government_vip",
    "state_cargo",
    "humanitarian_airlift",
)
READ_STATUS = ("read", "excerpt", "not_read")
#: kinds of sanction; analysis.findings.SANCTION_WORDS says each in words
SANCTION_KINDS = (
    "designation",
    "blocked_property",
    "export_denial",
    "asset_freeze",
    "entity_listing",
    "flight_ban",
    "other",
)
#: how authoritative a type figure's source is, best first
SOURCE_CLASSES = ("manufacturer", "official", "reference", "weak")
#: what a corridor area is to a route: where flights start and end (home), where they go (destination), or between
CORRIDOR_ROLES = ("home", "staging", "destination")
#: the kind of ocean crossing that starts (outbound) or ends (return) at a stop in this area
JUMP_OFF_KINDS = (
    "atlantic_west_africa",
    "atlantic_north_africa_iberia",
    "longhaul_mediterranean_middle_east",
    "northern",
)
HOST_STATEMENT_KINDS = (
    "permission",
    "authorisation",
    "denial",
    "refusal",
    "intercept",
    "escort",
    "statement",
    "no_comment",
)
EXCLUSION_REASONS = (
    "commercial_no_state_link",
    "aircraft_not_described",
    "no_aircraft_type",
    "outside_geography",
    "outside_period",
    "not_russian_state",
    "same_as_episode",
    "insufficient_sourcing",
)

TABLES: tuple[Table, ...] = (
    Table(
        "study",
        "What the study is about, in one row: its title, period, where its flights come from and go, and the "
        "events that divide its periods. Pages, the print edition, the exports and the findings take their words "
        "from here, so that another study is made by data alone.",
        key=("study_id",),
        fact=False,
        columns=(
            Column("study_id", "id", "Stable id of the study.", True),
            Column("title", "str", "Title of the study, as pages show it.", True),
            Column("subtitle", "str", "One line under the title."),
            Column("period_start", "timespec", "First month the study covers.", True),
            Column(
                "period_end", "timespec", "Last month the study covers (the latest reporting held).", True
            ),
            Column(
                "home_countries",
                "str",
                "';'-separated ISO alpha-2 countries the flights come from and return "
                "to (each also an area of role 'home' in corridors.csv).",
                True,
            ),
            Column(
                "destination_region",
                "str",
                "Name of the region the flights go to (its countries are the "
                "areas of role 'destination' in corridors.csv).",
                True,
            ),
            Column("languages", "str", "';'-separated ISO 639-1 languages the sources were searched in."),
            Column(
                "period_event_ids",
                "ids",
                "Events (events.csv) that divide the study's periods, in time order: "
                "findings compare routes before and after each.",
                ref="events.event_id",
            ),
            Column(
                "escalation_event_kinds",
                "str",
                "';'-separated kinds of events (events.kind) counted as escalation in the timing test.",
            ),
            NOTES,
        ),
    ),
    Table(
        "sources",
        "Every publication or reference the study cites: the five seed articles and the sources of the fact sheet.",
        key=("source_id",),
        fact=False,
        columns=(
            Column("source_id", "id", "Stable id, e.g. S1 or seed-000.", True),
            Column(
                "outlet", "str", "Publishing outlet as it names itself; empty if the copy we hold names none."
            ),
            Column("title", "str", "Title as published (titles may be quoted)."),
            Column("author", "str", "Author or agency byline, if stated."),
            Column(
                "published", "timespec", "Publication date, as precise as the page shows; empty if undated."
            ),
            Column("url", "url", "Address where the source was read, if known."),
            Column(
                "kind",
                "enum",
                "What kind of source this is.",
                True,
                enum=(
                    "wire",
                    "news",
                    "rewrite",
                    "state_media",
                    "blog",
                    "official",
                    "legal_analysis",
                    "reference",
                    "flight_tracker",
                ),
            ),
            Column("language", "str", "ISO 639-1 language of the text, if known."),
            Column(
                "is_secondary",
                "bool",
                "True when the page rewrites another outlet's reporting (weaker).",
                True,
            ),
            Column("relays", "str", "Outlet(s) whose reporting this page relays, if any."),
            Column("seed_file", "str", "File name under shared/seeds for the five seed articles."),
            Column(
                "relays_source_id",
                "id",
                "The source in sources.csv that this page copies, relays or rewrites (it is then not an "
                "independent origin: corroboration counts the relayed source once).",
                ref="sources.source_id",
            ),
            Column(
                "origin",
                "id",
                "Id of the original report when it is not itself in sources.csv (e.g. reuters-2019-03-23, "
                "aeroin-2025-08-10); pages with the same origin count as one independent origin.",
            ),
            Column("archive_url", "url", "A second address: an archived copy or a mirror of the page."),
            NOTES,
            Column(
                "read_status",
                "enum",
                "How much of the page the curators read: 'read' (the whole page), 'excerpt' (a passage of it, as "
                "stored by the search corpus) or 'not_read' (known only from another source's citation; its "
                "claims rest on that citation).",
                True,
                enum=READ_STATUS,
            ),
            Column(
                "first_hand",
                "str",
                "What the page reports first-hand (its own photographs, tracking, interviews), in our words; "
                "what it relays is in relays / relays_source_id / origin.",
            ),
        ),
    ),
    Table(
        "operators",
        "Organisations that operate the aircraft.",
        key=("operator_id",),
        columns=(
            Column("operator_id", "id", "Stable id, e.g. aviacon-zitotrans.", True),
            Column("name", "str", "Name in Latin script.", True),
            Column("country", "country", "ISO 3166-1 alpha-2 country of the operator.", True),
            Column(
                "kind",
                "enum",
                "Type of operator.",
                True,
                enum=("airline", "state_air_force", "state_agency", "unknown"),
            ),
            Column(
                "fleet_size",
                "int",
                "Number of aircraft in the operator's fleet, as a source states it.",
                min=0,
                max=10000,
            ),
            Column("fleet_source_ids", "ids", "Sources of fleet_size.", ref="sources.source_id"),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "aircraft_types",
        "Aircraft types, with capacity and range only where a source gives them.",
        key=("type_id",),
        columns=(
            Column("type_id", "id", "Stable id, e.g. IL76TD.", True),
            Column("name", "str", "Common designation, e.g. Ilyushin Il-76TD.", True),
            Column("icao_type", "str", "ICAO type designator, e.g. IL76."),
            Column("role", "enum", "Main role.", True, enum=("transport", "passenger", "bomber")),
            Column(
                "max_payload_t", "float", "Maximum payload in tonnes, as a source states it.", min=0, max=300
            ),
            Column(
                "max_passengers", "int", "Maximum people carried, as a source states it.", min=0, max=1000
            ),
            Column(
                "range_km",
                "float",
                "Not used for analysis: ranges, with their payload condition, are rows of type_ranges.csv.",
                min=0,
                max=30000,
            ),
            _src(),
            NOTES,
            Column(
                "hold_length_m",
                "float",
                "Usable length of the cargo hold floor, m (ramp excluded), as a source states it.",
                min=0,
                max=100,
            ),
            Column(
                "hold_width_m", "float", "Width of the cargo hold, m, as a source states it.", min=0, max=20
            ),
            Column(
                "hold_height_m", "float", "Height of the cargo hold, m, as a source states it.", min=0, max=20
            ),
            Column("hold_source_ids", "ids", "Sources of the hold dimensions.", ref="sources.source_id"),
        ),
    ),
    Table(
        "aircraft",
        "Individual airframes. Unidentified airframes get an id of their own and an empty registration.",
        key=("aircraft_id",),
        columns=(
            Column(
                "aircraft_id",
                "id",
                "Stable id: the registration where known (RA-78765), else a descriptive id.",
                True,
            ),
            Column("registration", "str", "Registration as painted, if known."),
            Column("type_id", "id", "Aircraft type.", True, ref="aircraft_types.type_id"),
            Column("operator_id", "id", "Operator at the time of the flights.", ref="operators.operator_id"),
            Column("name", "str", "Name painted on the aircraft, if any (Tu-160s carry names)."),
            Column("board_number", "str", "Side/board number, if reported."),
            Column("icao_hex", "str", "24-bit ICAO address, lowercase hex, if a source gives it."),
            Column(
                "unit",
                "str",
                "Military unit operating the airframe, if a source names it (e.g. 223rd Flight Unit).",
            ),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "sanctions",
        "Sanctions on operators or aircraft: authority, date, action.",
        key=("sanction_id",),
        columns=(
            Column("sanction_id", "id", "Stable id.", True),
            Column("authority", "str", "Who imposed it, e.g. US Treasury OFAC.", True),
            Column("authority_country", "country", "Country of the authority (ISO alpha-2).", True),
            Column("target_table", "enum", "What is sanctioned.", True, enum=("operators", "aircraft")),
            Column("target_id", "id", "Id in the target table.", True),
            Column(
                "kind",
                "enum",
                "What kind of measure it is; pages print it in words (a designation, an export denial ...).",
                True,
                enum=SANCTION_KINDS,
            ),
            Column("action", "str", "What was done, in our words.", True),
            Column("effective", "timespec", "When it took effect; empty if no source dates it."),
            Column(
                "is_relayed_only",
                "bool",
                "True when we only have another outlet relaying that the sanction exists.",
                True,
            ),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "places",
        "Places named by sources, at the precision the source gives (airport, city or country only).",
        key=("place_id",),
        columns=(
            Column("place_id", "id", "Stable id, e.g. SVMI, city-moscow, country-dz.", True),
            Column("name", "str", "Name as we display it.", True),
            Column("precision", "enum", "How precisely the source locates it.", True, enum=PLACE_PRECISION),
            Column(
                "icao",
                "icao",
                "ICAO code when precision is airport (resolved with airportsdata, or located by lat/lon when "
                "airportsdata lacks it).",
            ),
            Column(
                "country",
                "country",
                "ISO 3166-1 alpha-2 country (required, except for a region such as 'North Africa' that names none).",
            ),
            Column("tz", "tz", "IANA time zone for reading local dates; taken from the airport when empty."),
            Column(
                "inferred_icao",
                "icao",
                "For a city or country: the airport we assume was meant. An inference, never a fact.",
            ),
            Column(
                "inference_basis", "str", "Why the inferred airport is assumed (required with inferred_icao)."
            ),
            Column(
                "lat",
                "float",
                "Latitude of an airport missing from airportsdata, as a cited source gives it.",
                min=-90,
                max=90,
            ),
            Column(
                "lon",
                "float",
                "Longitude of an airport missing from airportsdata (east positive).",
                min=-180,
                max=180,
            ),
            Column(
                "closed",
                "timespec",
                "When the airport closed, per a source; a stop located there after this date is flagged.",
            ),
            Column(
                "source_ids", "ids", "Sources that identify this place or its code.", ref="sources.source_id"
            ),
            NOTES,
        ),
    ),
    Table(
        "episodes",
        "Deployments: one or more aircraft travelling to the destination region and back as one operation.",
        key=("episode_id",),
        columns=(
            Column(
                "episode_id", "safe_id", "Stable id, used in file names: lowercase, digits, dashes.", True
            ),
            Column("title", "str", "Short title in our words.", True),
            Column("destination_country", "country", "Main destination country (ISO alpha-2).", True),
            Column("summary", "str", "What happened, in our words, two or three sentences.", True),
            _src(),
            NOTES,
            Column(
                "kind",
                "enum",
                "Kind of flight, by the census criteria (census_criteria.csv): a long-range bomber visit and "
                "its support aircraft; a military transport or passenger flight of the defence ministry; a "
                "government/VIP squadron flight whose flight itself was tracked or described; a sanctioned or "
                "state-affiliated cargo operator flying for the state; a state humanitarian airlift.",
                True,
                enum=EPISODE_KINDS,
            ),
        ),
    ),
    Table(
        "stops",
        "Each aircraft's reported route in an episode: one row per place, in the order reported. Legs are the "
        "hops between consecutive stops of the same episode, aircraft and variant.",
        key=("stop_id",),
        unique=(("episode_id", "aircraft_id", "variant", "seq"),),
        columns=(
            Column("stop_id", "id", "Stable id.", True),
            Column("episode_id", "safe_id", "Episode.", True, ref="episodes.episode_id"),
            Column("aircraft_id", "id", "Aircraft.", True, ref="aircraft.aircraft_id"),
            Column(
                "variant",
                "id",
                "Route version: 'main' for the working route; other names for routes some sources report "
                "differently (each such variant also appears in conflict_positions).",
                True,
            ),
            Column("seq", "int", "Order of the stop in the route as reported, from 1.", True, min=1, max=999),
            Column("place_id", "id", "Place.", True, ref="places.place_id"),
            Column(
                "role",
                "enum",
                "Role of the stop in the episode.",
                True,
                enum=("origin", "staging", "destination", "onward", "home"),
            ),
            Column(
                "arr_time", "timespec", "Arrival, as reported (empty if unknown or the route starts here)."
            ),
            Column(
                "dep_time", "timespec", "Departure, as reported (empty if unknown or the route ends here)."
            ),
            Column("is_inferred", "bool", "True if the stop itself is inferred, not reported.", True),
            Column(
                "order_basis",
                "enum",
                "Whether seq is the order a source reports ('reported', the default when empty) or our inference "
                "from a list of stops ('inferred': say why in order_inference).",
                enum=("reported", "inferred"),
            ),
            Column(
                "order_inference",
                "str",
                "How the order was inferred (required when order_basis is inferred).",
            ),
            Column(
                "reported_on",
                "timespec",
                "When a source reported this stop, if that is all we know of when it happened (e.g. a report "
                "date that bounds the arrival from above).",
            ),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "claims",
        "Claims about cargo, personnel, people aboard, purpose and flight figures: who claims what.",
        key=("claim_id",),
        columns=(
            Column("claim_id", "id", "Stable id.", True),
            Column("episode_id", "safe_id", "Episode.", True, ref="episodes.episode_id"),
            Column("aircraft_id", "id", "Aircraft, if the claim is about one.", ref="aircraft.aircraft_id"),
            Column(
                "stop_id",
                "id",
                "Stop the claim is about (e.g. the arrival a flight time leads to).",
                ref="stops.stop_id",
            ),
            Column(
                "from_stop_id",
                "id",
                "For a claim about a leg: the stop the leg starts from (stop_id is where it ends).",
                ref="stops.stop_id",
            ),
            Column(
                "aircraft_ids",
                "ids",
                "For a claim about several aircraft together (e.g. a figure of a whole returning group).",
                ref="aircraft.aircraft_id",
            ),
            Column(
                "kind",
                "enum",
                "What the claim is about.",
                True,
                enum=(
                    "cargo",
                    "personnel",
                    "person_aboard",
                    "equipment",
                    "purpose",
                    "flight_duration",
                    "flight_distance",
                    "transponder",
                    "route",
                    "identity",
                    "frequency",
                    "career",
                    "other",
                ),
            ),
            Column("subject", "str", "What is claimed, in our words.", True),
            Column("quantity", "float", "Amount, if the claim gives one.", min=0),
            Column(
                "unit",
                "str",
                "Unit of the amount (t, people, h, km, aircraft).",
            ),
            Column(
                "qualifier",
                "enum",
                "How the source qualifies the amount (empty = exact as stated).",
                enum=QUALIFIERS,
            ),
            Column(
                "claimant", "str", "Who makes the claim (person or body), as the source attributes it.", True
            ),
            Column(
                "verification",
                "enum",
                "How far the claim is verified.",
                True,
                enum=("unverified", "corroborated", "officially_stated", "disputed", "denied"),
            ),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "events",
        "Geopolitical context: deployments, interventions, political events, exercises, statements.",
        key=("event_id",),
        columns=(
            Column("event_id", "id", "Stable id.", True),
            Column(
                "kind",
                "enum",
                "Kind of event.",
                True,
                enum=(
                    "deployment",
                    "intervention",
                    "political",
                    "exercise",
                    "economic",
                    "statement",
                    "sanction",
                    "route_constraint",
                ),
            ),
            Column("title", "str", "Short title in our words.", True),
            Column("start", "timespec", "When it started.", True),
            Column("end", "timespec", "When it ended, if it did and a source says."),
            Column("tz", "tz", "IANA zone to read a bare date in (default UTC)."),
            Column("country", "country", "Country most concerned (ISO alpha-2)."),
            Column(
                "concerns",
                "str",
                "';'-separated ISO alpha-2 countries and ids of operators or aircraft the event concerns; timing "
                "findings relate an event only to flights that share one of these (relevance as data).",
            ),
            Column(
                "reported_on", "timespec", "When the event became public, if later than when it happened."
            ),
            Column("description", "str", "In our words.", True),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "conflicts",
        "Points on which sources disagree. The positions are in conflict_positions.",
        key=("conflict_id",),
        columns=(
            Column("conflict_id", "id", "Stable id.", True),
            Column("episode_id", "safe_id", "Episode concerned, if any.", ref="episodes.episode_id"),
            Column(
                "topic",
                "enum",
                "What kind of disagreement.",
                True,
                enum=(
                    "date",
                    "time",
                    "title",
                    "stop_order",
                    "stops",
                    "place",
                    "identity",
                    "quantity",
                    "other",
                ),
            ),
            Column("summary", "str", "The disagreement, in our words.", True),
            Column(
                "working_position",
                "id",
                "position_id the analysis uses, or empty when none is preferred (then analyses show all).",
            ),
            Column("working_reason", "str", "Why that position is used (required when one is named)."),
            NOTES,
        ),
    ),
    Table(
        "conflict_positions",
        "Each side of a conflict: what it says, the rows that encode it, and its sources.",
        key=("conflict_id", "position_id"),
        columns=(
            Column("conflict_id", "id", "Conflict.", True, ref="conflicts.conflict_id"),
            Column("position_id", "id", "Stable id within the conflict, e.g. a, b.", True),
            Column("claim", "str", "What this side says, in our words.", True),
            Column("value", "str", "The disputed value itself (a date, a title, a stop list).", True),
            Column("variant", "id", "Route variant in stops.csv that encodes this side, if any."),
            Column("record_ids", "ids", "stop_id / claim_id rows that encode this side, if any."),
            _src(),
        ),
    ),
    Table(
        "type_ranges",
        "Ranges of aircraft types as cited sources state them, each with its payload condition.",
        key=("range_id",),
        columns=(
            Column("range_id", "id", "Stable id, e.g. IL76TD-max-payload.", True),
            Column("type_id", "id", "Aircraft type.", True, ref="aircraft_types.type_id"),
            Column("range_km", "float", "Range in km as the source states it.", True, min=100, max=30000),
            Column("qualifier", "enum", "How the source qualifies it (about, up to ...).", enum=QUALIFIERS),
            Column(
                "payload_condition",
                "enum",
                "Load the range is stated for ('ferry': no payload).",
                True,
                enum=("max_payload", "stated_payload", "heavy_load", "light_load", "ferry", "not_stated"),
            ),
            Column(
                "payload_t",
                "float",
                "Payload in tonnes the range is stated with, if given (0 for a ferry range).",
                min=0,
                max=300,
            ),
            Column(
                "source_class",
                "enum",
                "What kind of source states the figure: the manufacturer or designer, an official body (a "
                "ministry, an air force, a type certificate), a reference work, or a weak page (a blog, an "
                "enthusiast site). The payload-range curve uses the best class available for a type.",
                enum=SOURCE_CLASSES,
            ),
            Column(
                "type_scope",
                "str",
                "When the source speaks of a broader family than type_id (e.g. 'Il-76 in general'), say so.",
            ),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "corridors",
        "Our classification of staging countries into corridors (Syria / East Mediterranean, North and West "
        "Africa, ...). A definition, not a fact: a reader may disagree and edit it.",
        key=("area",),
        columns=(
            Column(
                "area",
                "id",
                "ISO alpha-2 country of a stop (e.g. DZ), or the place_id of a region place.",
                True,
            ),
            Column("corridor", "str", "Corridor name (free text: what readers see).", True),
            Column(
                "role",
                "enum",
                "What the area is to a route: home (where flights start and end), destination "
                "(the region the study is about) or staging (in between).",
                True,
                enum=CORRIDOR_ROLES,
            ),
            Column(
                "jump_off",
                "enum",
                "For a staging or home area: the kind of ocean crossing that starts there on "
                "the way out (or ends there on the way back), by our classification.",
                enum=JUMP_OFF_KINDS,
            ),
            Column(
                "basis",
                "enum",
                "Whether a source groups it so, or it is our definition.",
                True,
                enum=("our_definition", "sourced"),
            ),
            Column("source_ids", "ids", "Sources, when basis is sourced.", ref="sources.source_id"),
            NOTES,
        ),
        fact=False,
    ),
    Table(
        "watchlist",
        "Aircraft of interest for observed flight records (ADS-B, OpenSky, Flightradar24).",
        key=("watch_id",),
        columns=(
            Column("watch_id", "id", "Stable id.", True),
            Column(
                "icao_hex",
                "hex",
                "24-bit ICAO address, 6 lowercase hex digits (give it or the registration).",
            ),
            Column("registration", "str", "Registration (give it or the hex); matched case-insensitively."),
            Column(
                "aircraft_id", "id", "Aircraft in aircraft.csv, if it is one.", ref="aircraft.aircraft_id"
            ),
            Column("operator", "str", "Operator as listed."),
            Column("tags", "str", "';'-separated tags, e.g. sanctioned;military-transport."),
            Column(
                "source_ids", "ids", "Where the hex/registration link comes from.", ref="sources.source_id"
            ),
            NOTES,
        ),
        fact=False,
    ),
    Table(
        "host_statements",
        "What the states where an aircraft landed or flew said or did about it: permissions, authorisations, "
        "denials, refusals, intercepts, escorts, statements and refusals to comment.",
        key=("statement_id",),
        columns=(
            Column("statement_id", "id", "Stable id.", True),
            Column(
                "episode_id", "safe_id", "Episode the statement concerns.", True, ref="episodes.episode_id"
            ),
            Column(
                "country", "country", "State that made the statement or took the action (ISO alpha-2).", True
            ),
            Column(
                "authority", "str", "Who spoke or acted, e.g. Brazilian Air Force, Colombian Air Force.", True
            ),
            Column("kind", "enum", "What the state did.", True, enum=HOST_STATEMENT_KINDS),
            Column("made_on", "timespec", "When it was said or done, as reported; empty if not reported."),
            Column("aircraft_id", "id", "Aircraft concerned, if one.", ref="aircraft.aircraft_id"),
            Column("about", "str", "What was said or done, in our words.", True),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "systems",
        "Weapon systems and other equipment named in cargo claims, with their sourced weights and dimensions.",
        key=("system_id",),
        columns=(
            Column("system_id", "id", "Stable id, e.g. pantsir-s1.", True),
            Column("name", "str", "Name as commonly written.", True),
            Column(
                "unit_described", "str", "What one unit is (e.g. one combat vehicle on its chassis).", True
            ),
            Column("mass_t", "float", "Mass of one unit, tonnes, as a source states it.", min=0, max=500),
            Column("mass_qualifier", "enum", "How the source qualifies the mass.", enum=QUALIFIERS),
            Column("length_m", "float", "Length of one unit, m.", min=0, max=100),
            Column("width_m", "float", "Width of one unit, m.", min=0, max=20),
            Column("height_m", "float", "Height of one unit, m.", min=0, max=20),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "cargo_items",
        "What a cargo claim says was carried, item by item: a named system and how many units.",
        key=("item_id",),
        columns=(
            Column("item_id", "id", "Stable id.", True),
            Column(
                "claim_id", "id", "The claim (claims.csv) that names the item.", True, ref="claims.claim_id"
            ),
            Column("system_id", "id", "The system carried.", True, ref="systems.system_id"),
            Column(
                "units",
                "int",
                "How many units the claim says were carried, if it says (empty: at least one, "
                "the count not stated).",
                min=1,
                max=1000,
            ),
            _src(),
            NOTES,
        ),
    ),
    # ---- the census: how the episodes were found and what was left out
    Table(
        "census_criteria",
        "The census method: which flights count as episodes, where, when, and what is left out. Our "
        "definitions: a reader may disagree and edit them.",
        key=("criterion_id",),
        fact=False,
        columns=(
            Column("criterion_id", "id", "Stable id.", True),
            Column(
                "part",
                "enum",
                "Which part of the method the rule belongs to.",
                True,
                enum=("kind", "geography", "period", "exclusion", "evidence"),
            ),
            Column(
                "value", "str", "The value the rule defines, e.g. an episode kind or an exclusion reason."
            ),
            Column("rule", "str", "The rule, in words.", True),
            Column("rationale", "str", "Why the rule is drawn there.", True),
            NOTES,
        ),
    ),
    Table(
        "census_excluded",
        "Flights and operations the census considered and left out, each with its reason and sources.",
        key=("item_id",),
        columns=(
            Column("item_id", "id", "Stable id.", True),
            Column("title", "str", "What was considered, in our words.", True),
            Column("when", "timespec", "When it happened, as reported."),
            Column("countries", "str", "';'-separated ISO alpha-2 countries of the stops concerned."),
            Column(
                "reason",
                "enum",
                "Why it is left out (census_criteria.csv, part exclusion).",
                True,
                enum=EXCLUSION_REASONS,
            ),
            Column("reason_text", "str", "The reason, in words, for this item.", True),
            Column(
                "related_episode_id",
                "safe_id",
                "The episode it duplicates or belongs to, if any.",
                ref="episodes.episode_id",
            ),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "census_log",
        "Every search made for the census, so that someone can repeat or extend it.",
        key=("search_id",),
        fact=False,
        columns=(
            Column("search_id", "id", "Stable id.", True),
            Column("query", "str", "The query as typed.", True),
            Column("language", "str", "ISO 639-1 language of the query (en, es, pt, ru ...).", True),
            Column(
                "corpus",
                "enum",
                "Where it was searched: the project's stored-reference search tool, by corpus.",
                True,
                enum=("pages", "issues", "docs", "code", "web"),
            ),
            Column("searched_on", "timespec", "When it was searched (a day).", True),
            Column("scope", "str", "The part of the census it served (a period or a kind of flight)."),
            Column("found_source_ids", "ids", "Sources taken from its results.", ref="sources.source_id"),
            Column("outcome", "str", "What it found, in a few words."),
        ),
    ),
    # ---- discovery rules (issue 11): which aircraft and which trips make a candidate
    Table(
        "interest_types",
        "Discovery rule: aircraft types of interest, by ICAO type designator (readsb field 't').",
        key=("rule_id",),
        columns=(
            Column("rule_id", "id", "Stable rule id, cited by out_candidates.", True),
            Column("type_code", "str", "ICAO type designator (Doc 8643), e.g. IL76.", True),
            Column("name", "str", "Type name.", True),
            Column(
                "type_id",
                "id",
                "The type in aircraft_types.csv, if the study has it.",
                ref="aircraft_types.type_id",
            ),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "interest_registrations",
        "Discovery rule: registration prefixes (nationality marks) of interest.",
        key=("rule_id",),
        columns=(
            Column("rule_id", "id", "Stable rule id.", True),
            Column(
                "prefix",
                "str",
                "Registration prefix, matched case-insensitively at the start, e.g. RA-.",
                True,
            ),
            Column("country", "country", "State of registry.", True),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "interest_hex_blocks",
        "Discovery rule: blocks of 24-bit ICAO aircraft addresses allocated to a State (inclusive range).",
        key=("rule_id",),
        columns=(
            Column("rule_id", "id", "Stable rule id.", True),
            Column("start_hex", "hex", "First address of the block, 6 lowercase hex digits.", True),
            Column("end_hex", "hex", "Last address of the block (inclusive).", True),
            Column("country", "country", "State the block is allocated to.", True),
            _src(),
            NOTES,
        ),
    ),
    Table(
        "interest_patterns",
        "Discovery rule: trip patterns and their parameters (our definitions, see analysis.discover.rules).",
        key=("pattern_id",),
        columns=(
            Column(
                "pattern_id",
                "enum",
                "Pattern name.",
                True,
                enum=("landed_in_region", "departed_region", "crossed_atlantic", "dark_over_ocean", "trip"),
            ),
            Column("description", "str", "What the pattern tests, in words.", True),
            Column("parameters", "str", "';'-separated name=number parameters, if any."),
            NOTES,
        ),
        fact=False,
    ),
)

_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """The table called ``name``."""
    return _BY_NAME[name]


# --- Frictionless Data Package of data/raw ------------------------------------------------------------------------

#: The licence of data/raw (DATA-LICENSE.md; each raw file's provenance record states it too)
DATA_LICENCE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0 International",
}
#: Frictionless (Table Schema) type and string format of each column kind: every kind is text in the CSV except
#: numbers and booleans; ids, codes, zones and times as reported (the grammar of analysis.timespec) stay strings
_FRICTIONLESS: dict[str, tuple[str, str | None]] = {
    "str": ("string", None),
    "id": ("string", None),
    "safe_id": ("string", None),
    "ids": ("string", None),
    "int": ("integer", None),
    "float": ("number", None),
    "bool": ("boolean", None),
    "date": ("date", None),
    "timespec": ("string", None),
    "enum": ("string", None),
    "tz": ("string", None),
    "country": ("string", None),
    "icao": ("string", None),
    "url": ("string", "uri"),
    "hex": ("string", None),
}
#: the patterns of the column kinds that have one (Table Schema patterns match the whole value: no anchors)
_PATTERNS = {"id": ID_PATTERN, "safe_id": SAFE_ID_PATTERN, "hex": HEX_PATTERN}


def _field(t: Table, c: Column) -> dict:
    typ, fmt = _FRICTIONLESS[c.kind]
    f: dict = {"name": c.name, "type": typ}
    if fmt:
        f["format"] = fmt
    desc = c.description
    if c.kind == "ids":
        desc += " (';'-separated" + (f", each an id of {c.ref}" if c.ref else "") + ")"
    f["description"] = desc
    if typ == "boolean":
        f |= {"trueValues": ["true", "True", "TRUE"], "falseValues": ["false", "False", "FALSE"]}
    cons: dict = {}
    if c.required or c.name in t.key:
        cons["required"] = True
    if c.enum:
        cons["enum"] = list(c.enum)
    if c.kind in _PATTERNS:
        cons["pattern"] = _PATTERNS[c.kind].removeprefix("^").removesuffix("$")
    if c.min is not None:
        cons["minimum"] = c.min
    if c.max is not None:
        cons["maximum"] = c.max
    if cons:
        f["constraints"] = cons
    return f


def datapackage(headers: Mapping[str, Sequence[str]] | None = None) -> dict:
    """A Frictionless Data Package (``data/raw/datapackage.json``) of the raw tables, from this module: one
    tabular resource per table (``<table>.csv``, UTF-8), its fields (type, description, required, allowed values,
    id patterns, ranges), primary key and the foreign keys of its single-id references, with the licence of
    DATA-LICENSE.md. ``headers`` ({table: header row}) orders a table's fields as its file's header does (a CSV
    may order its columns freely; a Table Schema's fields follow the file); without it, in schema order."""
    headers = headers or {}
    resources = []
    for t in TABLES:
        fields = {c.name: _field(t, c) for c in t.columns}
        head = list(headers.get(t.name, ()))
        order = head if sorted(head) == sorted(fields) else list(fields)
        sch: dict = {"fields": [fields[n] for n in order], "primaryKey": list(t.key)}
        fks = []
        for c in t.columns:
            if c.ref and c.kind != "ids":
                table_name, _, column = c.ref.partition(".")
                fks.append(
                    {
                        "fields": [c.name],
                        "reference": {
                            "resource": "" if table_name == t.name else table_name,
                            "fields": [column],
                        },
                    }
                )
        if fks:
            sch["foreignKeys"] = fks
        resources.append(
            {
                "name": t.name,
                "path": f"{t.name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "description": t.description,
                "schema": sch,
            }
        )
    return {
        "profile": "tabular-data-package",
        "name": "flights-raw",
        "title": "The evidence base of the flights study (data/raw)",
        "description": "The study's primary record, curated by hand: one CSV file per table (UTF-8, a header row; "
        "an empty cell is unknown). Written by `python -m analysis evidence-doc` from analysis/schema.py, which "
        "`make validate` enforces (its rules are in docs/evidence.md); each file's provenance and checksum are "
        "in <file>.provenance.json beside it. Columns of kind ids hold ';'-separated ids, each of which must "
        "exist in the table named; times are written as reported (docs/evidence.md, time grammar).",
        "licenses": [DATA_LICENCE],
        "sources": [
            {
                "title": "The public publications listed in sources.csv (outlet, title, date and address of each); "
                "facts paraphrased, the publications keep their own rights",
                "path": "sources.csv",
            }
        ],
        "resources": resources,
    }


def raw_headers(raw: Path) -> dict[str, list[str]]:
    """{table: the header row of data/raw/<table>.csv} for every table file there (only the first line is read)."""
    out = {}
    for t in TABLES:
        f = raw / f"{t.name}.csv"
        if f.is_file():
            with open(f, encoding="utf-8-sig", newline="") as fh:
                out[t.name] = [h.strip() for h in next(csv.reader(fh), [])]
    return out


def datapackage_json(raw: Path) -> str:
    """The text of ``datapackage.json`` for the raw folder ``raw`` (:func:`datapackage`, fields in its files'
    column order), as ``python -m analysis evidence-doc`` writes it to data/raw."""
    return json.dumps(datapackage(raw_headers(raw)), indent=1, ensure_ascii=False) + "\n"
