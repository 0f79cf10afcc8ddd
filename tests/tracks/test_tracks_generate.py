"""Generator: deterministic, truth consistent with the positions, truth files written."""

from __future__ import annotations

import json

import polars as pl

from synth.tracks import generate


def test_deterministic_for_a_seed():
    a = generate(3, 2, seed=5)
    b = generate(3, 2, seed=5)
    c = generate(3, 2, seed=6)
    assert a.positions.equals(b.positions) and a.legs.equals(b.legs) and a.noise == b.noise
    assert not a.positions.equals(c.positions)


def test_truth_files(tmp_path, gen):
    d = gen.write_truth(tmp_path / "truth")
    assert pl.read_parquet(d / "truth_legs.parquet").equals(gen.legs)
    assert json.loads((d / "truth_noise.json").read_text()) == gen.noise
    assert gen.positions.num_rows == gen.clean.num_rows + sum(gen.noise.values())


def test_sampling_and_utc(gen):
    t = gen.clean.column("time_utc")
    assert str(t.type) == "timestamp[us, tz=UTC]"
    legs = gen.legs
    assert legs["dep_icao"].null_count() < legs.height  # mostly real airports
    assert (legs["n_air"] > 10).all()


def test_every_failure_class_planted_and_handled():
    """Small run of the bench's accuracy check: each failure class is planted, and the observed path finds
    every leg, with no phantom leg, no wrong airport, the changed callsigns, and file order = shuffle."""
    from synth.score import observed_path_accuracy

    r = observed_path_accuracy(24, 5)
    planted = r["planted"]
    for k in (
        "planted_ground_flicker",
        "planted_altitude_glitch",
        "planted_air_flicker",
        "unsorted_aircraft",
    ):
        assert planted[k] > 0, k
    assert r["legs_found"] == r["truth_legs"] == 96
    assert r["phantom_legs"] == 0 and r["airports_wrong"] == 0
    assert r["boundaries_within_2min"] == r["legs_found"]
    assert r["callsign_changes_found"] == r["callsign_changes_planted"]
    assert r["shuffled_equals_file_order"]
