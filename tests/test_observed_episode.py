"""Observed flight records of a watched aircraft join the study beside the reported evidence."""

from __future__ import annotations

import polars as pl
import pytest
from trip import at

from analysis import queries
from analysis.geo import airport, great_circle_km


def test_observed_trip_joins_the_matching_reported_episode(extended_project):
    s = queries.stops("2025-10-caracas", project=extended_project)
    assert set(s["evidence"]) == {"reported", "observed"}
    obs = s.filter(pl.col("evidence") == "observed").sort("seq")
    assert obs["loc_icao"].to_list() == ["URSS", "GQNN", "SVMI", "MUHA"]
    assert obs["source_ids"].to_list() == ["track-ra78765-2025-10"] * 4  # the trace tree is cited as a source
    # on the ground at SVMI from touchdown (left GQNN 25 Oct 22:30 + flight time at 430 kt) to 29 Oct 03:00
    a, b = airport("GQNN"), airport("SVMI")
    flight_h = great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"]) / (430 * 1.852)
    expected = (at("2025-10-29T03:00Z") - at("2025-10-25T22:30Z")).total_seconds() / 3600 - flight_h
    assert obs.filter(pl.col("loc_icao") == "SVMI")["dwell_h"][0] == pytest.approx(expected, abs=0.1)


def test_observed_and_reported_are_compared_stop_by_stop(extended_project):
    cmp_ = queries.observed_vs_reported("2025-10-caracas", project=extended_project)
    caracas = cmp_.filter(pl.col("place") == "Caracas").sort("reported_arr_earliest_utc").row(0, named=True)
    assert (
        caracas["status"] == "agree"
    )  # touchdown ~05:10Z on 26 Oct lies in the reported predawn (04:00-10:00Z)
    havana = cmp_.filter(pl.col("place") == "Havana").row(0, named=True)
    # reported: 28 Oct (a Havana day, 04:00Z 28 Oct to 04:00Z 29 Oct); observed: about 05:45Z on 29 Oct
    assert havana["status"] == "time_differs"
    assert 1.0 < havana["arr_diff_h"] < 2.5
    assert "not_observed" in cmp_["status"].to_list()  # e.g. Armenia, never seen in the trace
    gaps = queries.gaps("2025-10-caracas", project=extended_project)
    assert gaps.height >= 1 and gaps["jump_km"].max() > 1000  # the dark Atlantic crossing


def test_unmatched_trip_becomes_an_observed_episode(extended_project):
    ids = queries.episode_ids(extended_project)
    new = [i for i in ids if i.startswith("obs-ra-78765-2026")]
    assert new, ids
    e = queries.episode(new[0], project=extended_project)
    assert e["evidence_kinds"] == ["observed"]
    assert e["destination_country"] == "NI"
    legs = queries.legs(new[0], project=extended_project)
    assert legs["distance_basis"].to_list() == ["airports"] * 3
    f = queries.findings(category="recurring airframes", project=extended_project)
    assert new[0] in f.filter(pl.col("finding_id") == "recurring-airframe-RA-78765")["episode_ids"][0].split(
        ";"
    )  # named in words in the statement


def test_observed_episode_and_side_by_side_comparison_are_in_the_report(extended_report):
    ids = [i for i in queries.episode_ids(extended_report) if i.startswith("obs-")]
    assert (extended_report.reports / f"episode-{ids[0]}.html").exists()
    page = (extended_report.reports / "episode-2025-10-caracas.html").read_text(encoding="utf-8")
    assert "time_differs" in page and "not_observed" in page  # the stop-by-stop table
    assert "track-ra78765-2025-10" in page


def test_methods_page_lists_what_the_observed_records_left_out(extended_project, built_project):
    """Issue 9: every row of core_observed_excluded is on the methods page with a readable reason and a count per
    reason; a study without observed records says so."""
    import html
    import re

    from analysis import site
    from analysis.observed import EXCLUDED_REASONS

    assert "No observed flight records in this study" in site.observed_excluded_section(built_project)
    excluded = queries.sql("SELECT * FROM core_observed_excluded", project=extended_project)
    assert excluded.height
    page = site.methods_body(extended_project)
    section = page[page.index('id="observed-excluded"') :]
    rows = re.findall(r"<tr><td>(.*?)</td>", section)
    assert len(rows) == excluded.height
    for reason, g in excluded.group_by("reason"):
        label = html.escape(EXCLUDED_REASONS[reason[0]])
        assert rows.count(label) == g.height
        assert f"<strong>{label}</strong> (<code>{reason[0]}</code>): {g.height} row(s)" in section
