"""observed(): ingest cache and dedup, bad-trace skipping, watch filter, multi-source merge, noise report."""

from __future__ import annotations

import dataclasses
import gzip
import shutil

import polars as pl
import pyarrow.compute as pc
import pytest

from analysis.tracks import ObservedResult, TrackInputError, observed
from synth.tracks import write_fr24_csv, write_opensky


def test_tree_against_truth(gen, tree, tmp_path):
    r = observed([(tree, "readsb", {})], cache_dir=tmp_path / "c")
    assert isinstance(r, ObservedResult)
    assert r.n_positions == gen.clean.num_rows
    assert r.legs.height == gen.legs.height
    assert r.gaps.filter(pl.col("in_leg_no").is_not_null()).height == gen.gaps.height
    noise = dict(zip(r.noise["reason"], r.noise["n"], strict=True))
    assert noise == {k: v for k, v in gen.noise.items() if v}
    assert r.skipped == []
    assert r.legs["source_format"].unique().to_list() == ["readsb"]
    one = r.legs.row(0, named=True)
    assert one["source_files"] == f"trace_full_{one['icao24']}.json"
    assert set(r.legs.columns) >= {
        "icao24",
        "registration",
        "callsign",
        "leg_no",
        "dep_time_utc",
        "arr_time_utc",
        "dep_icao",
        "arr_icao",
        "dep_airport_km",
        "arr_airport_km",
        "dep_lat",
        "dep_lon",
        "arr_lat",
        "arr_lon",
        "is_takeoff_observed",
        "is_landing_observed",
        "n_positions",
        "max_alt_ft",
        "gc_distance_km",
        "path_km",
        "source_format",
        "source_files",
    }
    assert list(r.stops.columns) == [
        "icao24",
        "registration",
        "icao",
        "arr_time_utc",
        "dep_time_utc",
        "dwell_h",
        "lat",
        "lon",
        "prev_leg_no",
        "next_leg_no",
    ]
    assert list(r.gaps.columns) == [
        "icao24",
        "registration",
        "start_utc",
        "end_utc",
        "duration_min",
        "jump_km",
        "start_lat",
        "start_lon",
        "end_lat",
        "end_lon",
        "in_leg_no",
        "implied_speed_kt",
        "is_implausible",
    ]
    assert list(r.noise.columns) == ["reason", "n"]


def test_ingest_twice_and_copies_do_not_duplicate(gen, tree, tmp_path):
    cache = tmp_path / "c"
    a = observed([(tree, "readsb", {})], cache_dir=cache)
    b = observed([(tree, "readsb", {})], cache_dir=cache)  # cached part reused
    copy = tmp_path / "copy" / "traces"
    shutil.copytree(tree, copy)
    c = observed([(tree, "readsb", {}), (copy, "readsb", {})], cache_dir=cache)  # same content twice
    assert a.n_positions == b.n_positions == c.n_positions
    assert a.legs.equals(b.legs) and a.legs.drop("source_files").equals(c.legs.drop("source_files"))
    assert len(list((cache / "positions").glob("part-*.json"))) == 1  # key = content hash, not path


def test_one_bad_trace_among_many_is_skipped(gen, tree, tmp_path):
    bad_tree = tmp_path / "t" / "traces"
    shutil.copytree(tree, bad_tree)
    victim = sorted(bad_tree.rglob("*.json"))[3]
    victim.write_bytes(gzip.compress(b'{"icao": "abc123", "timestamp": 1704180000, "trace": [[0, 1, 2')[:-4])
    r = observed([(bad_tree, "readsb", {})], cache_dir=tmp_path / "c")
    assert len(r.skipped) == 1
    f, rec, reason = r.skipped[0]
    assert f.endswith(victim.name) and "gzip" in reason and f in reason
    hexa = victim.name.split("_")[-1].split(".")[0]
    assert hexa not in set(r.legs["icao24"])
    assert r.legs.height == gen.legs.filter(pl.col("icao24") != hexa).height
    # the same file given alone raises
    with pytest.raises(TrackInputError, match=victim.name):
        observed([(victim, "readsb", {})], cache_dir=tmp_path / "c2")


def test_watch_filter_and_multi_source_merge(gen, tree, tmp_path):
    hexes = sorted(set(gen.clean.column("icao24").to_pylist()))
    watch = {hexes[0].upper(), hexes[1]}
    sv = write_opensky(gen.clean, tmp_path / "sv.parquet")
    h0 = gen.clean.filter(pc.equal(gen.clean.column("icao24"), hexes[0]))
    fr = write_fr24_csv(h0, tmp_path / "fr.csv")
    r = observed(
        [(tree, "readsb", {}), (sv, "opensky"), (fr, "fr24_csv", {"icao24": hexes[0]})],
        watch_hex=watch,
        cache_dir=tmp_path / "c",
        progress=False,
    )
    assert set(r.legs["icao24"]) == {hexes[0], hexes[1]}
    want = gen.legs.filter(pl.col("icao24").is_in(hexes[:2]))
    assert r.legs.height == want.height
    assert r.legs.select("icao24", "leg_no", "dep_icao", "arr_icao").equals(
        want.select("icao24", "leg_no", "dep_icao", "arr_icao")
    )
    srcs = set(";".join(r.legs["source_format"]).split(";"))
    assert srcs == {"readsb", "opensky", "fr24_csv"}
    noise = dict(zip(r.noise["reason"], r.noise["n"], strict=True))
    assert noise["duplicate_across_sources"] > 0  # the same fixes came from three sources


def test_progress_goes_to_stderr(gen, tree, tmp_path, capsys):
    observed([(tree, "readsb", {})], cache_dir=tmp_path / "c", progress=True)
    err = capsys.readouterr().err
    assert "files" in err and "rows/s" in err


def test_result_is_a_dataclass(gen, tree, tmp_path):
    r = observed([(tree, "readsb")], cache_dir=tmp_path / "c")
    assert {f.name for f in dataclasses.fields(r)} >= {"legs", "stops", "gaps", "noise", "skipped"}


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(TrackInputError, match="expected a format"):
        observed([(tmp_path, "kml")], cache_dir=tmp_path / "c")
    with pytest.raises(TrackInputError, match="nothing there"):
        observed([(tmp_path / "nope.json", "readsb")], cache_dir=tmp_path / "c")


def test_globe_history_days_merge_per_aircraft(gen, tmp_path):
    """One aircraft split over two day directories (globe_history layout) is merged before segmenting."""
    from synth.tracks import write_readsb_tree

    hexa = gen.clean.column("icao24")[0].as_py()
    ac = gen.clean.filter(pc.equal(gen.clean.column("icao24"), hexa))
    t = ac.column("time_utc").cast("int64").to_numpy()
    legs = gen.legs.filter(pl.col("icao24") == hexa)
    # cut during the first dwell: after leg 1's last airborne fix + taxi-in
    cut = int(legs["last_air_utc"][0].timestamp() * 1e6) + 3600 * 10**6
    i = int((t <= cut).sum())
    write_readsb_tree(ac.slice(i), tmp_path / "gh" / "2024-01-02")  # later day written first
    write_readsb_tree(ac.slice(0, i), tmp_path / "gh" / "2024-01-01")
    r = observed([(tmp_path / "gh", "readsb")], cache_dir=tmp_path / "c")
    assert r.n_positions == ac.num_rows
    assert r.legs.select("leg_no", "dep_icao", "arr_icao").equals(
        legs.select("leg_no", "dep_icao", "arr_icao")
    )


def test_generic_csv_unix_seconds(gen, tmp_path):
    hexa = gen.clean.column("icao24")[0].as_py()
    ac = gen.clean.filter(pc.equal(gen.clean.column("icao24"), hexa))
    t = ac.column("time_utc").cast("int64").to_numpy() // 10**6
    g = ac.column("on_ground").to_pylist()
    lines = ["ts,lat,lon,alt_ft,ground"] + [
        f"{a},{b},{c},{'' if d is None else d},{int(e)}"
        for a, b, c, d, e in zip(
            t,
            ac.column("lat").to_pylist(),
            ac.column("lon").to_pylist(),
            ac.column("alt_ft").to_pylist(),
            g,
            strict=True,
        )
    ]
    (tmp_path / "u.csv").write_text("\n".join(lines) + "\n")
    opts = {
        "icao24": hexa,
        "time_format": "unix",
        "mapping": {"time": "ts", "lat": "lat", "lon": "lon", "alt": "alt_ft", "on_ground": "ground"},
    }
    r = observed([(tmp_path / "u.csv", "generic_csv", opts)], cache_dir=tmp_path / "c")
    want = gen.legs.filter(pl.col("icao24") == hexa)
    assert r.legs.select("leg_no", "dep_icao", "arr_icao").equals(
        want.select("leg_no", "dep_icao", "arr_icao")
    )
    assert r.legs["source_format"].unique().to_list() == ["generic_csv"]


def test_watch_list_without_matches_gives_empty_frames(tree, tmp_path):
    r = observed([(tree, "readsb")], watch_hex={"000001"}, cache_dir=tmp_path / "c")
    assert r.n_positions == 0 and r.legs.is_empty() and r.stops.is_empty() and r.gaps.is_empty()
    assert "dep_time_utc" in r.legs.columns
    empty = tmp_path / "empty" / "traces"
    empty.mkdir(parents=True)
    with pytest.raises(TrackInputError, match="expected trace_"):
        observed([(empty, "readsb")], cache_dir=tmp_path / "c")
