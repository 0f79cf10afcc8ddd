"""The study end to end: derived tables and queries against values checked by hand, and data tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import polars as pl
import pytest

from analysis import queries
from analysis.geo import airport, great_circle_km
from analysis.timespec import parse

SEEDS = ["2019-03-caracas", "2025-10-caracas", "2026-02-san-antonio"]


def vincenty_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Independent check: Vincenty's inverse formula on the WGS-84 ellipsoid (not the haversine used in SQL)."""
    a, f = 6378137.0, 1 / 298.257223563
    b = (1 - f) * a
    L = math.radians(lon2 - lon1)
    U1, U2 = (
        math.atan((1 - f) * math.tan(math.radians(lat1))),
        math.atan((1 - f) * math.tan(math.radians(lat2))),
    )
    sinU1, cosU1, sinU2, cosU2 = math.sin(U1), math.cos(U1), math.sin(U2), math.cos(U2)
    lam = L
    for _ in range(200):
        sinl, cosl = math.sin(lam), math.cos(lam)
        sin_s = math.hypot(cosU2 * sinl, cosU1 * sinU2 - sinU1 * cosU2 * cosl)
        cos_s = sinU1 * sinU2 + cosU1 * cosU2 * cosl
        sigma = math.atan2(sin_s, cos_s)
        sin_a = cosU1 * cosU2 * sinl / sin_s
        cos2a = 1 - sin_a**2
        cos2sm = cos_s - 2 * sinU1 * sinU2 / cos2a
        C = f / 16 * cos2a * (4 + f * (4 - 3 * cos2a))
        prev, lam = (
            lam,
            L + (1 - C) * f * sin_a * (sigma + C * sin_s * (cos2sm + C * cos_s * (-1 + 2 * cos2sm**2))),
        )
        if abs(lam - prev) < 1e-12:
            break
    u2 = cos2a * (a**2 - b**2) / b**2
    A = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)))
    B = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)))
    ds = (
        B
        * sin_s
        * (
            cos2sm
            + B
            / 4
            * (cos_s * (-1 + 2 * cos2sm**2) - B / 6 * cos2sm * (-3 + 4 * sin_s**2) * (-3 + 4 * cos2sm**2))
        )
    )
    return b * A * (sigma - ds) / 1000


def law_of_cosines_km(lat1, lon1, lat2, lon2, r=6371.0088):
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    return r * math.acos(math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl))


# --- time grammar -----------------------------------------------------------------------------------------


def test_local_day_becomes_24_utc_hours():
    t = parse("2019-03-23", "America/Caracas")  # Caracas is UTC-4
    assert (t.earliest, t.latest) == (
        datetime(2019, 3, 23, 4, tzinfo=UTC),
        datetime(2019, 3, 24, 4, tzinfo=UTC),
    )


def test_moscow_clock_time_converts_to_utc():
    t = parse("2026-02-04T23:34+03:00")
    assert t.earliest == datetime(2026, 2, 4, 20, 34, tzinfo=UTC) and t.precision == "minute"


def test_havana_evening_is_six_local_hours():
    t = parse("2026-02-01 evening", "America/Havana")  # UTC-5 in February
    assert (t.earliest, t.latest) == (
        datetime(2026, 2, 1, 23, tzinfo=UTC),
        datetime(2026, 2, 2, 5, tzinfo=UTC),
    )


def test_time_without_zone_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        parse("2019-03-22T15:12")


def test_year_unknown_has_no_interval():
    t = parse("--02-07")
    assert t.precision == "day_year_unknown" and t.earliest is None


# --- derived tables against hand-checked values ------------------------------------------------------------


def test_great_circle_matches_independent_formulas(built_project):
    legs = queries.legs("2025-10-caracas", project=built_project)
    leg = legs.filter((pl.col("from_name") == "Caracas") & (pl.col("to_name") == "Havana")).row(0, named=True)
    a, b = airport("SVMI"), airport("MUHA")
    assert leg["distance_km"] == pytest.approx(
        law_of_cosines_km(a["lat"], a["lon"], b["lat"], b["lon"]), abs=1.0
    )
    # the ellipsoid differs from the sphere by well under 1 %: about 2,139 km either way
    assert leg["distance_km"] == pytest.approx(vincenty_km(a["lat"], a["lon"], b["lat"], b["lon"]), rel=0.005)
    assert 2100 < leg["distance_km"] < 2180
    assert leg["distance_basis"] == "inferred"  # "Caracas" and "Havana" are city-level reports


def test_airport_to_airport_leg_is_not_marked_inferred(built_project):
    # the Syria-only account of Mar 2019: Hmeimim (OSLK) to Maiquetía (SVMI), both reported airports
    legs = queries.legs("2019-03-caracas", main_only=False, project=built_project)
    leg = legs.filter(pl.col("to_name").str.contains("Maiquet") & (pl.col("variant") == "syria-only")).row(
        0, named=True
    )
    o, d = airport("OSLK"), airport("SVMI")
    assert leg["distance_basis"] == "airports"
    assert leg["distance_km"] == pytest.approx(
        great_circle_km(o["lat"], o["lon"], d["lat"], d["lon"]), abs=0.5
    )
    assert leg["distance_km"] == pytest.approx(
        law_of_cosines_km(o["lat"], o["lon"], d["lat"], d["lon"]), abs=1.0
    )


def test_seed_stops_in_reported_order(built_project):
    s = queries.stops("2025-10-caracas", project=built_project)
    names = s.filter(pl.col("aircraft_id") == "RA-78765").sort("seq")["place_name"].to_list()
    assert names[:7] == ["Moscow", "Armenia", "Algeria", "Morocco", "Senegal", "Mauritania", "Caracas"]
    assert names[7:10] == ["Havana", "Managua", "Caracas"]
    assert names[-4:] == ["Nouakchott", "Algiers", "Sochi", "Moscow"]
    s = queries.stops("2026-02-san-antonio", project=built_project).sort("seq")
    assert s["place_name"].to_list()[:5] == [
        "St Petersburg",
        "Sochi",
        "Algeria",
        "Mauritania",
        "Dominican Republic",
    ]
    # the sources list these stops; the order is our inference and is stored as one
    assert set(s.filter(pl.col("role") == "staging")["order_basis"]) == {"inferred"}
    assert s["loc_icao"].to_list()[-1] == "MUSA"
    s = queries.stops("2019-03-caracas", main_only=False, project=built_project)
    for reg in ("RA-86496", "RA-82035"):
        mine = s.filter(pl.col("aircraft_id") == reg)
        # the working route stops in Syria and then Dakar (airport inferred for the city); the Syria-only account
        assert mine.filter(pl.col("variant") == "main").sort("seq")["place_id"].to_list()[:4] == [
            "UUMU",
            "OSLK",
            "city-dakar",
            "SVMI",
        ]
        assert mine.filter(pl.col("variant") == "syria-only").sort("seq")["loc_icao"].to_list()[:3] == [
            "UUMU",
            "OSLK",
            "SVMI",
        ]


def test_dwell_time_from_moscow_clock_times(built_project):
    # RA-86495 in Caracas from 4 Feb 2026 23:34 MSK to 11 Feb 2026 07:58 MSK: 6 days 8 h 24 min = 152.4 h
    s = queries.stops("2026-02-il62-caracas", project=built_project)
    dest = s.filter(pl.col("role") == "destination").row(0, named=True)
    assert dest["dwell_h"] == pytest.approx(152.4, abs=0.05)


def test_dwell_time_bounds_when_only_days_are_known(built_project):
    # RA-78765: arrived Caracas predawn 26 Oct (00-06 local), left 28 Oct (a whole local day): 42 h to 72 h
    e = queries.episode("2025-10-caracas", project=built_project)
    assert (e["dest_dwell_min_h"], e["dest_dwell_max_h"]) == (pytest.approx(42.0), pytest.approx(72.0))
    assert e["dest_dwell_h"] is None


def test_tu160_2008_left_from_caracas_not_libertador(built_project):
    s = (
        queries.stops("2008-09-tu160-venezuela", project=built_project)
        .filter(pl.col("aircraft_id") == "tu160-aleksandr-molodchiy")
        .sort("seq")
    )
    assert s["place_id"].to_list() == ["XWSG", "SVBL", "city-caracas", "XWSG"]
    # landed at Libertador 10 Sep 16:50 UTC; S19 has them take off from Caracas, so the stay at Libertador has no end
    libertador = s.row(1, named=True)
    assert (
        libertador["dep_reported"] is None
        and libertador["dwell_h"] is None
        and libertador["dwell_max_h"] is None
    )
    # took off from Caracas 10:00 MSK (UTC+4 in 2008) = 06:00 UTC on 18 Sep; Engels 01:16 MSK 19 Sep = 21:16 UTC 18 Sep
    caracas, engels = s.row(2, named=True), s.row(3, named=True)
    assert caracas["dep_earliest_utc"].isoformat() == "2008-09-18T06:00:00+00:00"
    assert engels["arr_earliest_utc"].isoformat() == "2008-09-18T21:16:00+00:00"


def test_episode_summary_detour_is_outbound_over_direct(built_project):
    e = queries.episode("2019-03-caracas", project=built_project)
    o, d = airport("UUMU"), airport("SVMI")
    assert e["direct_km"] == pytest.approx(great_circle_km(o["lat"], o["lon"], d["lat"], d["lon"]), abs=0.5)
    assert e["detour_factor"] == pytest.approx(e["outbound_km"] / e["direct_km"])
    # a route with no reported staging stop has an unknown path, not a detour of 1.00
    stub = queries.episode("2008-09-tu160-venezuela", project=built_project)  # Engels to Libertador, located
    assert stub["outbound_staging_stops"] == 0 and stub["detour_factor"] is None
    assert e["outbound_staging_stops"] == 2 and sorted(e["staging_countries"]) == ["Senegal", "Syria"]


def test_timeline_joins_milestones_and_context(built_project):
    t = queries.timeline(project=built_project)
    kinds = set(t["kind"])
    assert {"arrival", "departure", "event", "sanction"} <= kinds
    assert t["earliest_utc"].is_sorted()
    assert (t["latest_utc"] >= t["earliest_utc"]).all()
    assert t.schema["earliest_utc"] == pl.Datetime("us", "UTC")


# --- the data: sources, references, keys -----------------------------------------------------------------

FACT_TABLES = [
    "core_operators",
    "core_aircraft",
    "core_sanctions",
    "core_episodes",
    "core_claims",
    "core_events",
]


@pytest.mark.parametrize("table", FACT_TABLES + ["core_stops"])
def test_every_fact_row_cites_a_known_source(built_project, table):
    # observed stops cite the track files in their notes instead; every reported row must cite a source
    reported = "evidence = 'reported'" if table == "core_stops" else "TRUE"
    cited = queries.sql(
        f"""
        SELECT *, unnest(string_split(coalesce(source_ids, ''), ';')) AS sid FROM "{table}" WHERE {reported}
    """,
        project=built_project,
    )
    assert cited.height > 0
    unknown = cited.filter(~pl.col("sid").is_in(queries.sources(built_project)["source_id"].to_list()))
    assert unknown.height == 0, unknown.select("sid")


def test_no_orphan_references(built_project):
    orphans = queries.sql(
        """
        SELECT 'stop aircraft' AS what, stop_id AS id FROM core_stops WHERE aircraft_id NOT IN (SELECT aircraft_id FROM core_aircraft)
        UNION ALL SELECT 'stop place', stop_id FROM core_stops WHERE place_id NOT IN (SELECT place_id FROM core_places)
        UNION ALL SELECT 'stop episode', stop_id FROM core_stops WHERE episode_id NOT IN (SELECT episode_id FROM core_episodes)
        UNION ALL SELECT 'claim episode', claim_id FROM core_claims WHERE episode_id NOT IN (SELECT episode_id FROM core_episodes)
        UNION ALL SELECT 'aircraft type', aircraft_id FROM core_aircraft WHERE type_name IS NULL
        UNION ALL SELECT 'leg without ends', leg_id FROM core_legs WHERE from_place_id IS NULL OR to_place_id IS NULL
    """,
        project=built_project,
    )
    assert orphans.height == 0, orphans


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("core_sources", "source_id"),
        ("core_stops", "stop_id"),
        ("core_legs", "leg_id"),
        ("core_claims", "claim_id"),
        ("core_events", "event_id"),
        ("core_places", "place_id"),
        ("core_aircraft", "aircraft_id"),
        ("out_findings", "finding_id"),
        ("out_episode_summary", "episode_id"),
    ],
)
def test_no_duplicate_keys(built_project, table, key):
    dupes = queries.sql(
        f'SELECT "{key}", count(*) AS n FROM "{table}" GROUP BY ALL HAVING n > 1', project=built_project
    )
    assert dupes.height == 0, dupes


def test_seed_episodes_and_recurring_airframe(built_project):
    ids = queries.episode_ids(built_project)
    assert set(SEEDS) <= set(ids)
    assert "undated-ra78765-maiquetia" in ids
    undated = queries.episode("undated-ra78765-maiquetia", project=built_project)
    assert not undated["is_dated"]  # the undated trip stays undated
    episodes_with = queries.sql(
        "SELECT count(DISTINCT episode_id) AS n FROM core_stops WHERE aircraft_id = ?",
        ["RA-78765"],
        built_project,
    )
    assert episodes_with["n"][0] >= 2
    f = queries.findings(category="recurring airframes", project=built_project)
    assert "recurring-airframe-RA-78765" in f["finding_id"].to_list()


@pytest.mark.parametrize(
    ("episode", "topic", "values"),
    [
        ("2025-10-caracas", "date", ["22", "24"]),
        ("2019-03-caracas", "title", ["chief of staff", "Mobilization"]),
        ("2019-03-caracas", "date", ["afternoon", "few hours"]),
        ("2022-12-il62-brasilia", "stops", ["North Africa", "Tehran"]),
        ("2026-02-san-antonio", "date", ["Sunday", "Tuesday"]),
    ],
)
def test_named_source_conflicts_are_recorded(built_project, episode, topic, values):
    c = queries.conflicts(episode, project=built_project).filter(pl.col("topic") == topic)
    assert c["conflict_id"].n_unique() >= 1
    assert c.group_by("conflict_id").len()["len"].min() >= 2  # at least two positions each
    text = " ".join(c["value"].to_list() + c["claim"].to_list())
    for v in values:
        assert v.lower() in text.lower(), (v, text)


def test_omitted_stop_is_encoded_as_a_route_variant(built_project):
    s = queries.stops("2026-02-san-antonio", main_only=False, project=built_project)
    assert set(s["variant"]) == {"main", "fox-news"}  # the seed-001 "order" was a list, not a second route
    fox = s.filter(pl.col("variant") == "fox-news")
    assert "Algeria" not in fox["place_name"].to_list()


def test_findings_cite_evidence_and_sources(built_project):
    f = queries.findings(project=built_project)
    assert f.height >= 10
    assert f.filter(pl.col("evidence") == "").height == 0
    assert set(f["confidence"]) <= {"high", "moderate", "low"}
    known = set(queries.sources(built_project)["source_id"])
    for ids in f["source_ids"]:
        assert set(filter(None, ids.split(";"))) <= known


def test_sanction_finding_counts_days_from_ofac_action(built_project):
    f = queries.findings("2025-10-caracas", category="sanctions at flight time", project=built_project)
    row = f.row(0, named=True)
    # OFAC acted on 26 Jan 2023; RA-78765 left Russia on 22 Oct 2025 local (the working date): ~999 days
    assert 990 < row["value"] < 1010


def test_unknown_episode_lists_valid_ids(built_project):
    with pytest.raises(queries.UnknownEpisodeError) as err:
        queries.episode("2099-01-nowhere", project=built_project)
    assert "2025-10-caracas" in str(err.value) and "2099-01-nowhere" in str(err.value)


def test_query_arguments_are_bound_not_pasted(built_project):
    assert queries.stops("x' OR '1'='1", project=built_project).height == 0
    assert queries.legs(["'; DROP TABLE core_legs; --"], project=built_project).height == 0
    assert queries.legs(project=built_project).height > 0


def test_every_time_precision_has_words_for_readers():
    """Each precision the parser gives (one example per grammar row) has a reader's label, so charts never show
    a code such as clock_no_zone; the timeline chart uses the words."""
    from analysis.timespec import PRECISION_LABELS

    examples = [
        "2008-09-10T16:50Z",
        "2008-09-10T16:50:07Z",
        "2025-10-01T11:30-04:00~",
        "2019-03-23",
        "2026-02-01 evening",
        "2026-01 late",
        "2019-03",
        "2019",
        "--02-07",
        "2019-03-02/2019-03-03",
        "2019-03-22T15:12 tz=unknown",
        "",
    ]
    got = {parse(e, "America/Caracas").precision for e in examples}
    assert got == set(PRECISION_LABELS)
    import polars as pl

    from analysis import charts

    items = pl.DataFrame(
        {
            "item_id": ["stop:a:arr", "stop:b:arr"],
            "episode_id": ["e", "e"],
            "kind": ["arrival", "arrival"],
            "label": ["x", "y"],
            "reported": ["2019-03-22T15:12 tz=unknown", "2019-03-23"],
            "precision": ["clock_no_zone", "day"],
            "earliest_utc": [
                parse("2019-03-22T15:12 tz=unknown", "UTC").earliest,
                parse("2019-03-23", "UTC").earliest,
            ],
            "latest_utc": [
                parse("2019-03-22T15:12 tz=unknown", "UTC").latest,
                parse("2019-03-23", "UTC").latest,
            ],
            "source_ids": ["S1", "S1"],
        }
    )
    spec = charts.timeline(items, zoom=None).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert {v["precision"] for v in values} == {"clock time, time zone unknown", "a day"}
