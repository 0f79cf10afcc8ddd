"""Each finding on a few hand-written rows of a small second study (tests/minstudy.py), checked by hand.

These run in seconds: no report, no files beyond the study's CSVs.
"""

from __future__ import annotations

import pytest
from minstudy import derive, episode, findings, one, stops, study

from analysis import findings as fmod
from analysis import payload
from analysis.geo import airport, great_circle_km
from analysis.stats import fisher_exact


def km(a: str, b: str) -> float:
    x, y = airport(a), airport(b)
    return great_circle_km(x["lat"], x["lon"], y["lat"], y["lon"])


def _trip(eid, ac, via, dest="SVMI", day="2021-03-01", variant="main"):
    route = (
        [("OIIE", "origin", None, f"{day}")]
        + [(p, "staging", None, None) for p in via]
        + [(dest, "destination", None, None)]
    )
    return stops(eid, ac, route, variant=variant)


# --- routes by period: Fisher's exact test, by hand ---------------------------------------------------------


def test_routes_by_period_fisher_by_hand(tmp_path):
    eps, st = [], []
    for i, day in enumerate(
        ["2019-03-01", "2019-06-01", "2019-09-01"]
    ):  # before the event: all via the Levant
        eps.append(episode(f"b{i}"))
        st += _trip(f"b{i}", "EP-AAA", ["OSLK"], day=day)
    for i, day in enumerate(["2021-03-01", "2021-06-01", "2021-09-01"]):  # after: all via the Maghreb
        eps.append(episode(f"a{i}"))
        st += _trip(f"a{i}", "EP-AAA", ["DAAG"], day=day)
    event = {
        "event_id": "cut",
        "kind": "route_constraint",
        "title": "Levant airspace closes",
        "start": "2020-06-01",
        "description": "A test event.",
        "source_ids": "A1",
    }
    p = study(tmp_path, episodes=eps, stops=st, events=[event])
    (p.raw / "study.csv").write_text((p.raw / "study.csv").read_text().replace(",en;es,,", ",en;es,cut,"))
    f = one(findings(p), "routes-by-period")
    # 3 of 3 before through the Levant, 0 of 3 after: two-sided Fisher p = 2 / C(6,3) = 0.1
    assert fisher_exact(3, 0, 0, 3) == pytest.approx(0.1)
    assert "3 of 3 before" in f["statement"] and "0 of 3 from then on" in f["statement"]
    assert "p = 0.100" in f["statement"] and "could well arise by chance" in f["statement"]
    assert f["confidence"] == "low" and "fewer than 5" in f["confidence_reason"]  # groups of 3 routes
    assert "instead" not in f["statement"].lower()


# --- ocean crossings by jump-off kind -------------------------------------------------------------------------


def test_crossings_classified_by_jump_off(tmp_path):
    p = study(
        tmp_path,
        episodes=[episode("e1"), episode("e2"), episode("e3")],
        stops=_trip("e1", "EP-AAA", ["DAAG", "GOBD"])
        + _trip("e2", "EP-AAA", ["DAAG"], day="2021-04-01")
        + _trip("e3", "EP-BBB", [], day="2021-05-01"),
    )
    f = findings(p)
    key = one(f, "ocean-crossings")
    # e1 jumps off from Dakar (West Africa), e2 from Algiers (North Africa); e3 reports no stop at all
    assert key["value"] == 2
    assert key["headline"] == (
        "2 of 2 ocean crossings with a reported last stop before the ocean were Atlantic, "
        "1 from West Africa; 1 crossing had no such stop reported."
    )
    assert "Dakar Blaise Diagne" in one(f, "crossing-e1")["statement"]
    assert f.filter(f["finding_id"] == "crossing-e3").height == 0  # nothing to classify


# --- payload against range, by hand ---------------------------------------------------------------------------

CURVE = [
    {
        "range_id": f"T1-{i}",
        "type_id": "T1",
        "range_km": r,
        "payload_condition": c,
        "payload_t": pt,
        "source_class": "manufacturer",
        "source_ids": "A1",
    }
    for i, (r, c, pt) in enumerate(
        [("4000", "max_payload", "40"), ("6000", "stated_payload", "20"), ("8000", "ferry", "0")]
    )
]


def test_payload_interval_by_hand():
    cs = payload.curves(
        [r | {"range_km": float(r["range_km"]), "payload_t": float(r["payload_t"])} for r in CURVE]
    )["T1"]
    d = km("GOBD", "SVMI")  # 5,425.5 km
    low, high = payload.payload_interval(cs, d)
    assert high == pytest.approx(40 - 20 * (d - 4000) / 2000)  # 25.7 t over the great circle
    assert low == pytest.approx(40 - 20 * (d * 1.1 - 4000) / 2000)  # 20.3 t over a path 10% longer
    assert payload.payload_interval(cs, km("OIIE", "SVMI")) == (
        None,
        None,
    )  # 11,757 km: past the 8,000 km ferry range


@pytest.mark.parametrize(
    ("load", "verdict"),
    [("18", "fits"), ("22", "fits only if the path was close to the great circle"), ("30", "does not fit")],
)
def test_payload_claim_verdicts(tmp_path, load, verdict):
    claim = {
        "claim_id": "c1",
        "episode_id": "e1",
        "aircraft_id": "EP-AAA",
        "kind": "cargo",
        "subject": f"{load} t of cargo",
        "quantity": load,
        "unit": "t",
        "claimant": "a test minister",
        "verification": "unverified",
        "source_ids": "A1",
    }
    p = study(
        tmp_path,
        episodes=[episode("e1")],
        stops=_trip("e1", "EP-AAA", ["DAAG", "GOBD"]),
        type_ranges=CURVE,
        claims=[claim],
    )
    assert km("OIIE", "DAAG") < km("GOBD", "SVMI") and km("DAAG", "GOBD") < km("GOBD", "SVMI")
    f = findings(p)
    c = one(f, "payload-claim-c1")
    assert (
        f"on EP-AAA (alone: {float(load):.1f} t), the route via Algiers and Dakar Blaise Diagne: {verdict} (longest "
        "hop Dakar Blaise Diagne to Caracas Maiquetia 5,426 km"
    ) in c["statement"]
    t = one(f, "payload-T1")
    assert t["value_high"] == pytest.approx(25.74, abs=0.01) and t["value_low"] == pytest.approx(
        20.32, abs=0.01
    )


def test_could_not_fly_nonstop_only_past_the_ferry_range(tmp_path):
    p = study(tmp_path, episodes=[episode("e1")], stops=_trip("e1", "EP-AAA", []), type_ranges=CURVE)
    t = one(findings(p), "payload-T1")
    assert (
        "not flyable nonstop" in t["statement"]
        and "Tehran Imam Khomeini to Caracas Maiquetia 11,757 km" in t["statement"]
    )
    # a curve without a ferry point says nothing about where nonstop flight ends: not computed, never "could not"
    p2 = study(
        tmp_path / "b", episodes=[episode("e1")], stops=_trip("e1", "EP-AAA", []), type_ranges=CURVE[:2]
    )
    t2 = one(findings(p2), "payload-T1")
    assert "not computed" in t2["headline"] and "not flyable" not in t2["statement"]
    assert t2["value"] is None and "No cited figure gives a ferry range" in t2["statement"]


# --- where a sanctioned airframe was on the ground ----------------------------------------------------------


def test_sanctioned_airframe_countries_and_host_statements(tmp_path):
    sanction = {
        "sanction_id": "s1",
        "authority": "A test treasury",
        "authority_country": "US",
        "target_table": "aircraft",
        "target_id": "EP-AAA",
        "kind": "blocked_property",
        "action": "Blocked the aircraft.",
        "effective": "2020-01-15",
        "is_relayed_only": "false",
        "source_ids": "A1",
    }
    host = {
        "statement_id": "h1",
        "episode_id": "e1",
        "country": "VE",
        "authority": "Venezuelan aviation authority",
        "kind": "permission",
        "about": "It said the flight had a landing permit.",
        "source_ids": "B1",
    }
    conflict = [
        {"conflict_id": "k1", "episode_id": "e1", "topic": "stops", "summary": "One source adds Havana."}
    ]
    positions = [
        {
            "conflict_id": "k1",
            "position_id": "a",
            "claim": "Caracas only",
            "value": "SVMI",
            "variant": "main",
            "source_ids": "A1",
        },
        {
            "conflict_id": "k1",
            "position_id": "b",
            "claim": "On to Havana",
            "value": "MUHA",
            "variant": "on-to-havana",
            "source_ids": "B1",
        },
    ]
    st = _trip("e1", "EP-AAA", ["DAAG", "GOBD"]) + stops(
        "e1",
        "EP-AAA",
        [
            ("OIIE", "origin", None, "2021-03-01"),
            ("SVMI", "destination", None, None),
            ("MUHA", "onward", None, None),
        ],
        variant="on-to-havana",
        sources="B1",
    )
    p = study(
        tmp_path,
        episodes=[episode("e1")],
        stops=st,
        sanctions=[sanction],
        host_statements=[host],
        conflicts=conflict,
        conflict_positions=positions,
    )
    f = one(findings(p), "on-the-ground-EP-AAA")
    # Algeria, Senegal and Venezuela on the main route; Cuba named only in the disputed variant
    assert (
        f["value"] == 4 and "in 4 countries" in f["headline"] and "(3 on the main routes)" in f["statement"]
    )
    assert "Cuba (Mar 2021; named in a disputed or alternative route only)" in f["statement"]
    assert (
        "Venezuelan aviation authority (permission): It said the flight had a landing permit"
        in f["statement"]
    )
    assert "let it land" not in f["statement"]


# --- similarity ranks as the sources do ---------------------------------------------------------------------


def test_similarity_ranks_same_chain_first(tmp_path):
    st = (
        _trip("e1", "EP-AAA", ["DAAG", "GOBD"])
        + _trip("e2", "EP-AAA", ["GMMN", "DAAG", "GOBD"], dest="MUHA", day="2021-06-01")
        + _trip("e3", "EP-BBB", ["OSLK"], day="2021-07-01")
    )
    t = derive(study(tmp_path, episodes=[episode("e1"), episode("e2", "CU"), episode("e3")], stops=st))
    sim = {(r["episode_a"], r["episode_b"]): r for r in t["out_route_similarity"].iter_rows(named=True)}
    e12 = sim[("e1", "e2")]
    # countries: LCS([DZ, SN], [MA, DZ, SN]) = 2 -> (2/2 + 4/5) / 2; corridors Maghreb, Sahel coast on both -> 1
    assert (e12["country_score"], e12["corridor_score"], e12["jump_off_score"]) == (0.9, 1.0, 1.0)
    assert e12["similarity"] == pytest.approx(0.967) and e12["is_alike"]
    assert sim[("e1", "e3")]["similarity"] == 0.0 and not sim[("e1", "e3")]["is_alike"]


def test_one_shared_stop_is_not_alike(tmp_path):
    st = _trip("e1", "EP-AAA", ["GMMN"]) + _trip("e2", "EP-BBB", ["GMMN"], day="2021-06-01")
    t = derive(study(tmp_path, episodes=[episode("e1"), episode("e2")], stops=st))
    r = t["out_route_similarity"].row(0, named=True)
    assert (
        r["similarity"] == 1.0 and not r["is_alike"]
    )  # both via Casablanca: one stop in common, not a chain


def test_destination_region_stop_is_not_staging(tmp_path):
    st = _trip("e1", "EP-AAA", ["DAAG", "GOBD", "SVMI"], dest="MUHA")  # Caracas on the way to Havana
    t = derive(study(tmp_path, episodes=[episode("e1", "CU")], stops=st))
    from analysis.similarity import staging_sequences

    assert staging_sequences(t["core_stops"], t["core_corridors"])["e1"]["countries"] == ["DZ", "SN"]


# --- reported figures honour their qualifiers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("qualifier", "quantity", "agrees"),
    [
        ("more_than", "5000", True),
        ("", "5000", False),
        ("about", "5300", True),
        ("about", "5000", False),
        ("at_most", "5000", False),
    ],
)
def test_reported_distance_qualifiers(tmp_path, qualifier, quantity, agrees):
    st = _trip("e1", "EP-AAA", ["GOBD"])
    claim = {
        "claim_id": "d1",
        "episode_id": "e1",
        "from_stop_id": st[1]["stop_id"],
        "stop_id": st[2]["stop_id"],
        "kind": "flight_distance",
        "subject": "The crossing was long",
        "quantity": quantity,
        "unit": "km",
        "qualifier": qualifier,
        "claimant": "a test ministry",
        "verification": "unverified",
        "source_ids": "A1",
    }
    f = one(
        findings(study(tmp_path, episodes=[episode("e1")], stops=st, claims=[claim])), "reported-distance-d1"
    )
    assert ("disagrees" not in f["headline"]) == agrees, f["statement"]
    if qualifier == "more_than":
        assert "more than 5,000 km" in f["headline"]


# --- no invented lags; headlines; a second study speaks of itself -------------------------------------------


def test_no_days_after_event_findings_and_context_has_no_causal_word(tmp_path):
    event = {
        "event_id": "ev",
        "kind": "sanction",
        "title": "New sanctions on the airline",
        "start": "2021-02-20",
        "concerns": "VE;IR",
        "description": "A test event.",
        "source_ids": "A1",
    }
    p = study(tmp_path, episodes=[episode("e1")], stops=_trip("e1", "EP-AAA", ["DAAG"]), events=[event])
    f = findings(p)
    assert not any("days after" in s for s in f["statement"])
    c = one(f, "context-e1")
    assert "New sanctions on the airline (20 Feb 2021, before the departure)" in c["statement"]
    for word in ("because", "in response", "led to", "triggered", "prompted"):
        assert word not in c["statement"].replace("nothing here says one led to the other", "")


def test_every_headline_is_quotable_and_the_study_speaks_of_itself(tmp_path):
    sanction = {
        "sanction_id": "s1",
        "authority": "A test treasury",
        "authority_country": "US",
        "target_table": "operators",
        "target_id": "op1",
        "kind": "designation",
        "action": "Designated the airline.",
        "effective": "2019-06-01",
        "is_relayed_only": "false",
        "source_ids": "A1",
    }
    st = (
        _trip("e1", "EP-AAA", ["DAAG", "GOBD"])
        + _trip("e2", "EP-AAA", ["GMMN", "DAAG", "GOBD"], day="2021-06-01")
        + _trip("e3", "EP-AAA", ["DAAG", "GOBD"], day="2021-09-01")
    )
    t = derive(
        study(
            tmp_path,
            episodes=[episode(e) for e in ("e1", "e2", "e3")],
            stops=st,
            sanctions=[sanction],
            type_ranges=CURVE,
        )
    )
    f = t["out_findings"]
    assert f.height >= 8
    for r in f.iter_rows(named=True):
        assert fmod.headline_problem(r["headline"]) is None, (r["finding_id"], r["headline"])
    text = " ".join(
        f["headline"].to_list() + f["statement"].to_list() + t["out_summary"]["sentence"].to_list()
    )
    for word in ("Russia", "Russian", "Moscow", "Syria", "Il-76", "Americas", "Caucasus"):
        assert word not in text, word
    assert "Iran" in one(f, "on-the-ground-EP-AAA")["statement"]  # home, named from the study's data
    assert one(f, "repeated-chain-EP-AAA")["headline"].startswith("EP-AAA made 3 reported trips")


def test_headline_rules():
    assert fmod.headline_problem("A plain sentence of a few words.") is None
    assert "words" in fmod.headline_problem(" ".join(["word"] * 31) + ".")
    assert fmod.headline_problem("Two leg(s) were long.") is not None
    assert fmod.headline_problem("The 2025-10-caracas trip was long.") is not None


# --- a new study by command -----------------------------------------------------------------------------------


def test_new_study_names_the_first_rows_to_write(tmp_path):
    from analysis.newstudy import new_study
    from analysis.validate import RawValidationError, load_raw

    root = tmp_path / "iran-cargo"
    written = new_study(root)
    assert (root / "README.md") in written and (root / "data/raw/basemap/countries-110m.json").exists()
    with pytest.raises(RawValidationError) as exc:
        load_raw(root / "data" / "raw")
    text = str(exc.value)
    assert "study.csv, line 2, field 'home_countries'" in text and "episodes.csv" in text
    with pytest.raises(FileExistsError, match="expected a new or empty folder"):
        new_study(root)


def test_a_corridor_renamed_or_recased_changes_no_finding(tmp_path):
    st = _trip("e1", "EP-AAA", ["DAAG", "GOBD"]) + _trip("e2", "EP-AAA", ["DAAG"], day="2021-06-01")
    base = findings(study(tmp_path / "a", episodes=[episode("e1"), episode("e2")], stops=st))
    p = study(tmp_path / "b", episodes=[episode("e1"), episode("e2")], stops=st)
    corr = p.raw / "corridors.csv"
    corr.write_text(
        corr.read_text(encoding="utf-8")
        .replace("Venezuela and Cuba", "venezuela AND cuba")
        .replace(",Maghreb,", ",maghreb,"),
        encoding="utf-8",
    )
    renamed = findings(p)
    assert sorted(renamed["finding_id"]) == sorted(
        base["finding_id"]
    )  # roles are enumerated values, not names
    assert (
        renamed.group_by("category")
        .len()
        .sort("category")
        .equals(base.group_by("category").len().sort("category"))
    )
