"""Findings and the evidence behind them, against facts a reader can check by hand."""

from __future__ import annotations

import csv
import math

import polars as pl
import pytest

from analysis import findings, provenance, queries
from analysis.build import build
from analysis.geo import airport
from analysis.timespec import display, parse


def haversine_km(lat1, lon1, lat2, lon2, r=6371.0088):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    return (
        2
        * r
        * math.asin(math.sqrt(math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2))
    )


def _finding(project, finding_id):
    f = queries.findings(project=project).filter(pl.col("finding_id") == finding_id)
    assert f.height == 1, finding_id
    return f.row(0, named=True)


# --- dates as the sources give them -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("2025-10-22", "22 Oct 2025"),  # a reported local day, not its UTC start (21 Oct 21:00Z)
        ("2025-08-07", "7 Aug 2025"),
        ("2026-01 late", "late Jan 2026"),  # not "21 Jan"
        ("2026-02-01 evening", "evening of 1 Feb 2026"),
        ("2019-03-02/2019-03-03", "2-3 Mar 2019"),
        ("2019-03-22T15:12 tz=unknown", "22 Mar 2019 15:12 (time zone not stated)"),
        ("2008-09-19T01:16+04:00", "19 Sep 2008 01:16 UTC+04:00"),
        ("--02-07", "7 Feb (year not stated)"),
        ("", "not reported"),
        (None, "not reported"),
    ],
)
def test_display_prints_the_reported_date(text, shown):
    assert display(text) == shown


def test_statements_print_reported_days_not_utc_bounds(built_project):
    f = queries.findings(project=built_project)
    text = " ".join(f["statement"])
    assert "22 Oct 2025" in text and "21 Oct 2025" not in text
    assert "late Jan 2026" in text and "21 Jan 2026" not in text


def test_clock_time_without_zone_is_kept_and_flagged(built_project):
    t = parse("2019-03-22T15:12 tz=unknown")
    assert t.precision == "clock_no_zone" and (t.latest - t.earliest).total_seconds() / 3600 > 26
    s = queries.stops("2019-03-caracas", project=built_project).filter(pl.col("role") == "origin")
    assert set(s["dep_precision"]) == {"clock_no_zone"}
    assert all("tz=unknown" in x for x in s["dep_reported"])


def test_day_range_covers_both_local_days():
    t = parse("2019-03-02/2019-03-03", "America/Caracas")
    assert t.precision == "day_range" and (t.latest - t.earliest).total_seconds() == 48 * 3600


# --- places -----------------------------------------------------------------------------------------------------


def test_nouakchott_resolves_to_the_sourced_gqno_location(built_project):
    p = queries.places(built_project).filter(pl.col("place_id") == "city-nouakchott").row(0, named=True)
    assert (p["loc_icao"], p["lat"], p["lon"], p["is_sourced_location"]) == ("GQNO", 18.31, -15.96972, True)
    assert airport("GQNO") is None  # airportsdata lacks it: the location is the cited one (S50)


def test_stop_at_gqnn_after_its_closure_is_flagged(fresh_project):
    # a curator who assumed the old Nouakchott airport (GQNN, closed June 2016) for a dated 2025 stop is warned
    places, stops = fresh_project.raw / "places.csv", fresh_project.raw / "stops.csv"
    old = "city-nouakchott,Nouakchott,city,,MR,Africa/Nouakchott,GQNO,"
    assert old in places.read_text(encoding="utf-8")
    places.write_text(
        places.read_text(encoding="utf-8").replace(old, old.replace("GQNO", "GQNN")), encoding="utf-8"
    )
    row = "2025-10-caracas.RA-78765.main.11,2025-10-caracas,RA-78765,main,11,city-nouakchott,staging,,"
    assert row in stops.read_text(encoding="utf-8")
    stops.write_text(
        stops.read_text(encoding="utf-8").replace(row, row[:-1] + "2025-10-30,"), encoding="utf-8"
    )
    provenance.accept(fresh_project.raw)
    build(fresh_project, quiet=True)
    s = queries.stops("2025-10-caracas", project=fresh_project).filter(
        pl.col("place_id") == "city-nouakchott"
    )
    assert s["loc_icao"].to_list() == ["GQNN"] and s["is_after_closure"].to_list() == [True]
    assert (
        queries.places(fresh_project).filter(pl.col("place_id") == "GQNN")["loc_closed_reported"][0]
        == "2016-06"
    )


# --- independent origins ------------------------------------------------------------------------------------


def test_a_relayed_copy_is_not_a_second_origin(built_project):
    src = queries.sources(built_project)
    origin = dict(zip(src["source_id"], src["origin_id"], strict=True))
    assert origin["seed-001"] == origin["S10"] == "defense-news-2026-02-02"  # one Defense News report, copied
    assert origin["S48"] == origin["S49"] == "wapo-2025-10-31"  # two relays of one Washington Post report
    c = findings.rubric(1, False, False, False, False)
    assert c[0] != "high"  # one origin, however many pages, is never high


def test_no_high_confidence_rests_on_one_origin(built_project):
    f = queries.findings(project=built_project)
    assert set(f["confidence"]) <= {"high", "moderate", "low"}
    assert f.filter((pl.col("confidence") == "high") & (pl.col("origin_count") < 2)).height == 0
    assert f.filter(pl.col("confidence_reason").is_null() | (pl.col("confidence_reason") == "")).height == 0
    assert set(f["likelihood"]) <= set(findings.LIKELIHOOD)


# --- corridors, gateway, range ------------------------------------------------------------------------------


def test_corridor_of_an_episode(built_project):
    assert "Syria / East Mediterranean" in _finding(built_project, "corridor-2019-03-caracas")["statement"]
    st = _finding(built_project, "corridor-2025-08-brasilia-caracas")["statement"]
    assert "Caucasus / Iran" in st and "North and West Africa" in st and "Syria" not in st


def test_routes_by_period_names_n_and_the_test(built_project):
    f = _finding(built_project, "routes-by-period")
    assert "Fisher p = " in f["headline"]
    # no route through Syria after the 2022 airspace closures, whatever corridor leads the headline
    assert "Syria / East Mediterranean 2 of 7 and 0 of 10" in f["statement"]
    assert "Kinds of flight counted" in f["statement"] and "instead" not in f["statement"]


def test_gateway_leg_is_the_great_circle(built_project):
    legs = queries.legs("2025-08-brasilia-caracas", project=built_project)
    leg = legs.filter(
        (pl.col("from_place_id") == "city-conakry") & (pl.col("to_place_id") == "city-brasilia")
    ).row(0, named=True)
    a, b = airport("GUCY"), airport("SBBR")
    assert leg["distance_km"] == pytest.approx(haversine_km(a["lat"], a["lon"], b["lat"], b["lon"]), abs=0.5)
    assert round(leg["distance_km"]) == 4719
    f = _finding(built_project, "crossing-2025-08-brasilia-caracas")
    assert "Conakry" in f["statement"] and "4,719 km" in f["statement"]
    # the Oct 2025 crossing from Mauritania is measured from GQNO's cited location, not the closed GQNN
    m = airport("SVMI")
    gq = _finding(built_project, "crossing-2025-10-caracas")
    assert f"{haversine_km(18.31, -15.96972, m['lat'], m['lon']):,.0f} km" in gq["statement"]


# --- timing, similarity, counts -----------------------------------------------------------------------------


def test_no_finding_counts_days_to_the_nearest_event(built_project):
    f = queries.findings(project=built_project)
    assert "timing against preceding events" not in set(f["category"])
    assert not any("days after" in s for s in f["statement"])
    for r in f.filter(pl.col("category") == "context within 30 days").iter_rows(named=True):
        assert "nothing here says one led to the other" in r["statement"]


def test_every_headline_is_quotable(built_project):
    f = queries.findings(project=built_project)
    for r in f.iter_rows(named=True):
        assert findings.headline_problem(r["headline"]) is None, (r["finding_id"], r["headline"])
    summary = queries.sql("SELECT sentence FROM out_summary ORDER BY seq", project=built_project)["sentence"]
    assert all(findings.headline_problem(s) is None or len(s.split()) <= 45 for s in summary)


def test_stub_routes_are_not_compared(built_project):
    s = queries.route_similarity(project=built_project)
    pair = s.filter(
        (pl.col("episode_a") == "2019-06-il62-caracas") & (pl.col("episode_b") == "2026-02-il62-caracas")
    )
    assert pair["is_comparable"].to_list() == [False] and pair["similarity"].to_list() == [None]
    assert "no staging stop reported" in pair["reason"][0]


def test_conflict_count_counts_conflicts_not_positions(built_project):
    e = queries.episode("2019-03-caracas", project=built_project)
    n = queries.conflicts("2019-03-caracas", project=built_project)["conflict_id"].n_unique()
    assert e["conflict_count"] == n and n >= 3


def test_summary_sentences_cite_existing_key_findings(built_project):
    f = queries.findings(project=built_project)
    key = f.filter(pl.col("is_key"))
    assert 1 <= key.height <= len(findings.KEY_CATEGORIES) and key["category"].n_unique() == key.height
    summary = queries.sql("SELECT * FROM out_summary ORDER BY seq", project=built_project)
    assert summary.height == key.height + 1
    for ids in summary["finding_ids"]:
        assert set(ids) <= set(f["finding_id"])


def test_reported_distance_shorter_than_the_great_circle_is_a_disagreement(full_project):
    claims = full_project.raw / "claims.csv"
    header = claims.read_text(encoding="utf-8").splitlines()[0].split(",")
    row = {c: "" for c in header} | {
        "claim_id": "test-conakry-brasilia-4000",
        "episode_id": "2025-08-brasilia-caracas",
        "aircraft_id": "RA-78765",
        "from_stop_id": "2025-08-brasilia-caracas.RA-78765.main.04",
        "stop_id": "2025-08-brasilia-caracas.RA-78765.main.05",
        "kind": "flight_distance",
        "subject": "The crossing was 4,000 km",
        "quantity": "4000",
        "unit": "km",
        "qualifier": "about",
        "claimant": "a test",
        "verification": "unverified",
        "source_ids": "S11",
    }
    with open(claims, "a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow([row[c] for c in header])
    provenance.accept(full_project.raw)
    build(full_project, quiet=True)
    f = _finding(full_project, "reported-distance-test-conakry-brasilia-4000")
    # 4,000 km reported against 4,719 km great-circle: a disagreement, never "flown 0.85 times the shortest path"
    assert f["value"] == pytest.approx(4000 - 4719.3, abs=1) and "disagree" in f["statement"]
    assert "times the shortest" not in f["statement"]
