"""Discovery on the local engine: archive ingest, rules, and recall/precision on a generated global day."""

from __future__ import annotations

import gzip
import io
import json
import math
import tarfile

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from analysis.discover import discover, load_rules, match_aircraft
from analysis.discover.rules import crosses_meridian
from analysis.paths import REPO_DIR
from analysis.tracks.archive import ingest_archive, list_members, read_store_bucket, store_buckets
from synth.tracks import generate, write_readsb_tree


def _all(store) -> pa.Table:
    t = pa.concat_tables([read_store_bucket(b) for b in store_buckets(store)])
    return t.take(pc.sort_indices(t, [("icao_int", "ascending"), ("time_utc", "ascending")]))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    g = generate(25, 3, seed=5, noise_rate=0.003)
    root = tmp_path_factory.mktemp("arch")
    write_readsb_tree(g.positions, root / "tree")
    with tarfile.open(root / "day.tar", "w") as tf:
        tf.add(root / "tree" / "traces", arcname="traces")
    with tarfile.open(root / "day.tar.gz", "w:gz") as tf:
        tf.add(root / "tree" / "traces", arcname="traces")
    return g, root


@pytest.mark.parametrize("name", ["tree", "day.tar", "day.tar.gz"])
def test_archive_ingest_gives_the_clean_positions(small, tmp_path, name):
    g, root = small
    res = ingest_archive(
        root / name, tmp_path / "store", n_buckets=3, processes=2, batch_bytes=1 << 16, progress=False
    )
    got = _all(tmp_path / "store")
    clean = g.clean
    assert res.members == 25 and res.skipped == []
    assert got.num_rows == clean.num_rows == res.rows
    for col in ("time_utc", "lat", "lon", "alt_ft", "on_ground", "callsign", "registration"):
        assert got.column(col).equals(clean.column(col).cast(got.schema.field(col).type)), col
    assert got.column("icao24").to_pylist() == clean.column("icao24").to_pylist()
    # the planted noise was removed and counted as such
    assert sum(res.noise.values()) == sum(g.noise.values())
    # every aircraft lands in exactly one bucket: icao_int % 3
    for b in store_buckets(tmp_path / "store"):
        ic = read_store_bucket(b).column("icao_int").to_numpy()
        assert set(ic % 3) == {int(b.name.split("=")[1])}


def test_list_members_reads_tar_headers_only(small):
    _g, root = small
    kind, items = list_members(root / "day.tar")
    assert kind == "tar" and len(items) == 25
    assert all(name.startswith("traces/") and off % 512 == 0 for name, off, _s in items)
    assert list_members(root / "day.tar.gz")[0] == "stream"


def test_tar_header_scan_agrees_with_tarfile(small, tmp_path):
    """The direct ustar scan finds the members tarfile finds (with a ustar prefix for long paths), and
    leaves archives with headers it does not read (pax long names) to tarfile."""
    _g, root = small
    trace = sorted((root / "tree" / "traces").rglob("trace_full_*.json"))[0]
    deep = "traces/" + "d" * 120 + "/trace_full_abc123.json"  # > 100 bytes: ustar prefix field
    for fmt, name in ((tarfile.USTAR_FORMAT, "ustar.tar"), (tarfile.PAX_FORMAT, "pax.tar")):
        with tarfile.open(tmp_path / name, "w", format=fmt) as tf:
            tf.add(root / "tree" / "traces", arcname="traces")
            tf.add(trace, arcname=deep)
        with tarfile.open(tmp_path / name) as tf:
            want = [(m.name, m.offset_data, m.size) for m in tf if m.isfile()]
        kind, got = list_members(tmp_path / name)
        assert kind == "tar" and got == want and deep in [g[0] for g in got]
    from analysis.tracks.archive import _scan_ustar

    assert _scan_ustar(tmp_path / "ustar.tar") is not None
    # a pax archive with a long name has an 'x' header: the scan declines and tarfile reads it
    assert _scan_ustar(tmp_path / "pax.tar") is None


def test_ground_and_unknown_altitude_and_callsigns_from_an_archive(tmp_path):
    """'ground' sets on_ground with no altitude, null is an unknown altitude in the air, a callsign
    lasts until the next details object, and a single-row member parses like the others."""
    doc = {
        "icao": "4b1805",
        "timestamp": 1704067200.0,
        "r": "HB-JVA",
        "t": "A20N",
        "trace": [
            [
                0,
                47.45,
                8.56,
                "ground",
                5.0,
                None,
                0,
                None,
                {"flight": "SWR12   "},
                "adsb_icao",
                None,
                None,
                None,
                None,
            ],
            [20, 47.46, 8.57, None, 140.0, None, 0, None, None, "adsb_icao", None, None, None, None],
            [
                40,
                47.48,
                8.60,
                1500,
                160.0,
                None,
                0,
                None,
                {"flight": "SWR12A"},
                "adsb_icao",
                None,
                None,
                None,
                None,
            ],
            [60, 47.50, 8.63, 2500.5, 170.0, None, 0, None, None, "adsb_icao", None, None, None, None],
        ],
    }
    one = {
        "icao": "4b1806",
        "timestamp": 1704067200.0,
        "trace": [[5, 46.0, 7.0, 3000, 200.0, None, 0, None, None, "adsb_icao", None, None, None, None]],
    }
    with tarfile.open(tmp_path / "d.tar", "w") as tf:
        for d in (doc, one):
            data = gzip.compress(json.dumps(d).encode())
            ti = tarfile.TarInfo(f"traces/{d['icao'][-2:]}/trace_full_{d['icao']}.json")
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    res = ingest_archive(tmp_path / "d.tar", tmp_path / "store", n_buckets=1, processes=1, progress=False)
    assert res.rows == 5 and res.skipped == []
    t = _all(tmp_path / "store")
    assert t.column("icao24").to_pylist() == ["4b1805"] * 4 + ["4b1806"]
    assert t.column("on_ground").to_pylist() == [True, False, False, False, False]
    assert t.column("alt_ft").to_pylist() == [None, None, 1500.0, 2500.5, 3000.0]
    assert t.column("callsign").to_pylist() == ["SWR12", "SWR12", "SWR12A", "SWR12A", None]
    assert t.column("registration").to_pylist() == ["HB-JVA"] * 4 + [None]
    assert t.schema.field("callsign").type == pa.string()  # the store holds plain text


def test_bad_member_is_skipped_and_named(small, tmp_path):
    _g, root = small
    with tarfile.open(root / "day.tar") as src, tarfile.open(tmp_path / "bad.tar", "w") as dst:
        for m in src:
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        bad = gzip.compress(b'{"icao":"abc123","timestamp":1704067200,"trace":[[0,91.5,')  # truncated JSON
        ti = tarfile.TarInfo("traces/23/trace_full_abc123.json")
        ti.size = len(bad)
        dst.addfile(ti, io.BytesIO(bad))
    res = ingest_archive(tmp_path / "bad.tar", tmp_path / "store", n_buckets=2, progress=False)
    assert res.members == 26
    assert [s[0] for s in res.skipped] == ["traces/23/trace_full_abc123.json"]
    assert "expected" in res.skipped[0][1]
    man = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert man["skipped"][0][0] == "traces/23/trace_full_abc123.json"


def test_rules_are_the_raw_tables():
    r = load_rules()
    assert {"IL76", "IL62", "A124", "IL96", "T160", "T204"} <= set(r.types)
    assert ("RA-", "reg-ra") in r.reg_prefixes
    assert (0x100000, 0x1FFFFF, "hex-ru") in r.hex_blocks
    assert {"VE", "CU", "NI", "BR", "MX"} <= set(r.regions)  # the study's destination areas (corridors.csv)
    assert r.regions["VE"] == "corridors:VE"
    assert r.param("crossed_atlantic", "meridian_lon") == -30
    assert "RA-78765" in r.airframes_reg  # study aircraft, watchlist and sanctions
    assert all(r.sources[k] for k in ("type-il76", "hex-ru", "reg-ra"))


def test_match_aircraft_by_each_rule():
    ac = pl.DataFrame(
        {
            "icao24": ["a1b2c3", "150001", "3c0001", "3c0002", "4b0001", "3c0003"],
            "registration": ["N123AB", None, "RA-12345", "D-ABCD", "HB-XYZ", "ra-78765"],
            "type_code": ["B738", None, "A320", "IL96", "A320", None],
            "owner_operator": [None, None, None, None, "Aviacon Zitotrans LLC", None],
        }
    )
    m = {r["icao24"]: r["aircraft_rules"] for r in match_aircraft(ac, load_rules()).iter_rows(named=True)}
    assert "a1b2c3" not in m
    assert m["150001"] == "hex-ru"  # address block only
    assert m["3c0001"] == "reg-ra"
    assert m["3c0002"] == "type-il96"
    # operator named in the ADS-B database: every sanction of that operator
    sa = pl.read_csv(REPO_DIR / "data" / "raw" / "sanctions.csv", infer_schema=False)
    want = sa.filter((pl.col("target_table") == "operators") & (pl.col("target_id") == "aviacon-zitotrans"))
    assert want.height >= 1
    assert m["4b0001"] == ";".join(sorted(f"sanction:{s}" for s in want["sanction_id"]))
    assert "aircraft:RA-78765" in m["3c0003"] and "reg-ra" in m["3c0003"]  # case-insensitive registration


def test_crosses_meridian():
    # Dakar -> Caracas: the closed form for a great circle's latitude at a longitude gives 14.654 N
    lat1, lon1, lat2, lon2, lon = (math.radians(v) for v in (14.74, -17.49, 10.60, -66.99, -30))
    exact = math.degrees(
        math.atan(
            (math.tan(lat1) * math.sin(lon - lon2) - math.tan(lat2) * math.sin(lon - lon1))
            / math.sin(lon1 - lon2)
        )
    )
    assert crosses_meridian(14.74, -17.49, 10.60, -66.99, -30, -60, 70) == pytest.approx(exact, abs=0.05)
    assert crosses_meridian(53.0, 158.0, 19.4, -99.1, -30, -60, 70) is None  # over the Pacific
    assert crosses_meridian(51.47, -0.46, 40.64, -73.78, -30, -60, 50) is None  # at ~53 N, outside lat range
    assert crosses_meridian(40.64, -73.78, 51.47, -0.46, -30, -60, 70) is not None  # either direction


@pytest.fixture(scope="module")
def local_run(day, reported, tmp_path_factory):
    out = tmp_path_factory.mktemp("disc") / "discover"
    return discover([day.path], out, n_buckets=4, reported=reported, progress=False)


def test_global_day_recall_and_precision(day, local_run):
    got = local_run.candidates
    truth = day.truth
    assert sorted(got["icao24"]) == sorted(truth["icao24"])  # recall 1.0 and precision 1.0
    joined = truth.join(got, on="icao24", suffix="_got")
    for r in joined.iter_rows(named=True):
        assert r["status_got"] == r["status"], r["key"]
        assert r["patterns_got"] == r["patterns"], r["key"]
    # the decoys: RA- domestic airliners match aircraft rules but no pattern
    decoys = day.aircraft.filter(pl.col("role") == "decoy_interest_aircraft")["icao24"].to_list()
    assert decoys and not set(decoys) & set(got["icao24"])


def test_known_candidate_cites_the_episode_and_sources(local_run):
    c = local_run.candidates
    known = c.filter(pl.col("status") == "known").row(0, named=True)
    assert known["registration"] == "RA-78765" and known["episode_id"] == "2025-10-caracas"
    assert known["route"] == "GOOY > SVMI" and known["region_countries"] == "VE"
    assert known["source_members"] == f"traces/61/trace_full_{known['icao24']}.json"
    assert known["source_inputs"] == "day.tar"
    assert "seed-000" in known["rule_source_ids"].split(";")
    il76 = c.filter(pl.col("registration") == "RA-78830").row(0, named=True)
    assert il76["route"] == "UUEE > DAAG > GOOY > SVMI" and il76["n_legs"] == 3 and il76["status"] == "new"
    assert il76["countries"] == "RU;DZ;SN;VE"


def test_outputs_written(local_run):
    from analysis.discover.rules import CANDIDATE_COLUMNS, CANDIDATE_DESCRIPTIONS

    assert local_run.candidates.columns == CANDIDATE_COLUMNS == list(CANDIDATE_DESCRIPTIONS)
    out = local_run.out
    for f in ("out_candidates", "out_candidate_legs", "disc_legs", "disc_gaps", "disc_aircraft"):
        assert (out / f"{f}.parquet").exists(), f
    cl = pl.read_parquet(out / "out_candidate_legs.parquet")
    assert set(cl["candidate_id"]) == set(local_run.candidates["candidate_id"])
    assert cl.filter(pl.col("registration") == "RA-78830").height == 3
    # dwell times between the planted legs are 1.5-3 h; legs are in time order
    t = cl.filter(pl.col("registration") == "RA-78830").sort("leg_no")
    dwell = (t["first_seen_utc"][1:].to_numpy() - t["last_seen_utc"][:-1].to_numpy()) / np.timedelta64(1, "h")
    assert ((dwell > 1.4) & (dwell < 3.5)).all()


def test_opensky_hourly_files_ingest(small, tmp_path):
    from analysis.discover import read_aircraft
    from analysis.tracks.noise import clean_positions
    from analysis.tracks.readers import read_opensky
    from synth.tracks import write_opensky

    g, _root = small
    hexes = sorted(set(g.positions.column("icao24").to_pylist()))
    half = pa.array(hexes[: len(hexes) // 2])
    a = g.positions.filter(pc.is_in(g.positions.column("icao24"), half))
    b = g.positions.filter(pc.invert(pc.is_in(g.positions.column("icao24"), half)))
    d = tmp_path / "opensky"
    d.mkdir()
    write_opensky(a, d / "states_2024-01-01-00.parquet", stale_rows=5, seed=1)
    write_opensky(b, d / "states_2024-01-01-01.csv", stale_rows=5, seed=2)
    want = sum(clean_positions(read_opensky(f).table)[0].num_rows for f in sorted(d.iterdir()))
    res = ingest_archive(d, tmp_path / "store", n_buckets=2, progress=False)
    assert res.rows == want == _all(tmp_path / "store").num_rows
    assert res.noise["opensky_stale"] == 10
    ac = read_aircraft(tmp_path / "store")
    assert sorted(ac["icao24"]) == hexes
    assert set(ac["source_member"]) == {"states_2024-01-01-00.parquet", "states_2024-01-01-01.csv"}


def test_command_line_on_a_store(local_run, tmp_path, capsys):
    from analysis.discover.__main__ import main

    assert (
        main(["--store", local_run.manifest["store"], "--out", str(tmp_path / "cli"), "--no-reported"]) == 0
    )
    out = capsys.readouterr().out
    # the store was ingested from a generated day: every row says SYNTHETIC before its status
    lines = [ln.replace("  SYNTHETIC ", "  ", 1) for ln in out.splitlines()]
    lines = [ln for ln in lines if ln.startswith("  new") or ln.startswith("  known")]
    assert "SYNTHETIC DATA" in out
    assert len(lines) == local_run.candidates.height
    assert all(ln.startswith("  new") for ln in lines)  # no reported episodes given: every trip is new
    assert "UUEE > DAAG > GOOY > SVMI" in out
    assert pl.read_parquet(tmp_path / "cli" / "out_candidates.parquet").height == local_run.candidates.height


def test_candidates_page_shows_the_discovery_output(local_run, built_project, tmp_path):
    """The report's Candidates page: how to run discovery without an output; with one, a map of the legs and a
    table with the new candidates first, their rules and inputs; the site key follows the output."""
    import re
    import shutil

    from analysis import site
    from analysis.paths import Project

    project = Project(tmp_path / "study")
    project.derived.mkdir(parents=True)
    project.raw.symlink_to(built_project.raw)
    without = site.candidates_body(project)
    assert "make discover" in without and "<table" not in without
    assert site.discover_fingerprint(project) == "none"
    shutil.copytree(local_run.out, project.derived / "discover")
    page = site.candidates_body(project)
    c = local_run.candidates
    rows = re.findall(r'<tr id="candidate-([^"]+)">(.*?)</tr>', page)
    assert sorted(r[0] for r in rows) == sorted(c["candidate_id"])
    statuses = [re.search(r'class="status-(\w+)"', r[1]).group(1) for r in rows]
    assert statuses == sorted(statuses, key=lambda s: s != "new") and {"new", "known"} <= set(statuses)
    known = next(r[1] for r in rows if "RA-78765" in r[1])
    assert "known" in known and 'href="episode-2025-10-caracas.html"' in known and "day.tar" in known
    il76 = next(r[1] for r in rows if "RA-78830" in r[1])
    assert "new" in il76 and "UUEE &gt; DAAG &gt; GOOY &gt; SVMI" in il76
    spec = json.loads(re.search(r'class="flights-spec"[^>]*>(.*?)</script>', page, re.S).group(1))
    name = next(layer["data"]["name"] for layer in spec["layer"] if layer["mark"]["type"] == "line")
    pts = spec["datasets"][name]
    legs = pl.read_parquet(local_run.out / "out_candidate_legs.parquet")
    assert len({p["leg_key"] for p in pts}) == legs.height
    # each leg is a great-circle arc: every point is on the shortest path between the leg's ends
    from analysis.geo import great_circle_km as haversine_km

    for key in {p["leg_key"] for p in pts}:
        arc = sorted((p for p in pts if p["leg_key"] == key), key=lambda p: p["point_seq"])
        a, z = arc[0], arc[-1]
        whole = haversine_km(a["lat"], a["lon"], z["lat"], z["lon"])
        for p in arc[1:-1]:
            via = haversine_km(a["lat"], a["lon"], p["lat"], p["lon"]) + haversine_km(
                p["lat"], p["lon"], z["lat"], z["lon"]
            )
            assert abs(via - whole) < 1e-6 * max(whole, 1)
    assert site.candidates_body(project) == page  # same output, same bytes
    before = site.discover_fingerprint(project)
    (project.derived / "discover" / "manifest.json").write_text("{}")
    assert site.discover_fingerprint(project) not in (before, "none")


def test_discovery_tables_in_dictionary_and_search(local_run, built_project, tmp_path):
    """Every column of every discovery output file is described on the Dictionary page, and every candidate is
    in the search box's index, linking to its row on the Candidates page."""
    import shutil

    from analysis import dictionary, site
    from analysis.paths import Project

    project = Project(tmp_path / "study")
    project.derived.mkdir(parents=True)
    project.raw.symlink_to(built_project.raw)
    (project.derived / "current").symlink_to(built_project.current.resolve())  # the study's build, read only
    assert site.discovery_tables(project) == {}
    shutil.copytree(local_run.out, project.derived / "discover")
    disc = site.discovery_tables(project)
    assert set(disc) == set(dictionary.DISCOVERY_TABLES)
    undescribed = [
        f"{t}.{c}"
        for t, (cols, _n) in disc.items()
        for c in cols
        if not dictionary.discovery_description(t, c)
    ]
    assert undescribed == []
    assert disc["out_candidates"][1] == local_run.candidates.height
    entries = [e for e in site.search_index(project, []) if e["kind"] == "candidate"]
    assert len(entries) == local_run.candidates.height
    page = site.candidates_body(project)
    for e in entries:
        assert e["url"].startswith("candidates.html#") and f'id="{e["url"].split("#")[1]}"' in page
    known = next(e for e in entries if "RA-78765" in e["label"])
    assert known["detail"].startswith("known")


def test_the_demo_day_says_it_is_synthetic_everywhere(
    day, local_run, tmp_path, capsys, built_project, monkeypatch
):
    """A generated day marks itself (a member of its archive); discovery marks every candidate found in it, in
    out_candidates, the manifest, the command-line output, the Candidates page and the exports."""
    import re
    import shutil

    from analysis import site
    from analysis.discover.__main__ import main
    from analysis.discover.synthetic import SYNTHETIC_NOTE, synthetic_inputs
    from analysis.paths import Project

    assert synthetic_inputs([day.path]) == {"day.tar"}
    c = local_run.candidates
    assert c.height and c["synthetic"].all()
    assert (
        local_run.manifest["synthetic_inputs"] == ["day.tar"] and local_run.manifest["synthetic"] == c.height
    )
    monkeypatch.setenv(
        "FLIGHTS_ROOT", str(built_project.root)
    )  # a built study (a fresh clone has none built)
    assert main([str(day.path), "--out", str(tmp_path / "cli"), "--buckets", "2"]) == 0
    out = capsys.readouterr().out
    assert SYNTHETIC_NOTE in out
    rows = [
        ln for ln in out.splitlines() if re.search(r"\b[0-9a-f]{6}-\d{8}T\d{4}\b", ln) and ln.startswith("  ")
    ]
    assert rows and all(ln.startswith("  SYNTHETIC ") for ln in rows)
    project = Project(tmp_path / "study")
    project.derived.mkdir(parents=True)
    project.raw.symlink_to(built_project.raw)
    shutil.copytree(local_run.out, project.derived / "discover")
    page = site.candidates_body(project)
    assert 'class="synthetic-banner"' in page and "Synthetic data." in page
    assert page.count('class="synthetic-mark"') == c.height  # a marker on every synthetic row
    from analysis.exports import _csv

    _csv(c, tmp_path / "x.csv")
    assert "synthetic" in (tmp_path / "x.csv").read_text().splitlines()[0]


def test_one_definition_of_a_trip_and_of_the_region():
    """analysis.trips: the trip break and the region come from data/raw; legs split where the aircraft was unseen
    in the air for more than the break (exactly the break still joins), in time order whatever the input order."""
    from datetime import UTC, datetime, timedelta

    from analysis import trips
    from analysis.validate import load_raw

    raw = load_raw(REPO_DIR / "data" / "raw")
    assert trips.trip_break(raw["interest_patterns"]) == timedelta(hours=72)  # max_stop_h=72 in the table
    region = trips.study_region(raw["corridors"])
    dest = set(raw["corridors"].filter(pl.col("role") == "destination")["area"].to_list())
    assert region == dest and {"VE", "CU", "NI"} <= region and "RU" not in region
    assert set(load_rules().regions) == region  # discovery's region is the study's
    t = lambda d, h=0: datetime(2025, 10, d, h, tzinfo=UTC)  # noqa: E731
    legs = [
        {
            "leg_no": 3,
            "first_seen_utc": t(8, 12),
            "last_seen_utc": t(8, 18),
        },  # 72 h after leg 2 ends: same trip
        {"leg_no": 1, "first_seen_utc": t(1), "last_seen_utc": t(1, 10)},
        {"leg_no": 2, "first_seen_utc": t(2), "last_seen_utc": t(5, 12)},
        {
            "leg_no": 4,
            "first_seen_utc": t(11, 19),
            "last_seen_utc": t(11, 20),
        },  # 72 h + 1 h later: a new trip
    ]
    got = [[leg["leg_no"] for leg in trip] for trip in trips.split_trips(legs, timedelta(hours=72))]
    assert got == [[1, 2, 3], [4]]
    assert [[leg["leg_no"] for leg in tr] for tr in trips.split_trips(legs, timedelta(hours=1))] == [
        [1],
        [2],
        [3],
        [4],
    ]
    assert trips.split_trips([], timedelta(hours=72)) == []
    with pytest.raises(KeyError, match="interest_patterns.csv"):
        trips.trip_break(raw["interest_patterns"].filter(pl.col("pattern_id") != "trip"))
