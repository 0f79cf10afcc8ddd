"""Scoring the observed path against the generator's truth: how many of the true legs it found, phantom legs,
boundaries, airports and callsigns (:func:`accuracy`), and one run of it on generated traffic with every failure
class planted (:func:`observed_path_accuracy`: what the benchmark reports and a test checks on a small run)."""

from __future__ import annotations

import os
import time

__all__ = ["accuracy", "observed_path_accuracy"]


def accuracy(truth, legs) -> dict:
    """Found legs against the generator's truth legs.

    A truth leg is *found* when a found leg of the same aircraft overlaps it for more than half of the
    truth leg's airborne time (one-to-one, best overlap first); found legs matching no truth leg are
    *phantom*. Boundaries: first and last airborne fix both within 2 minutes. Airports (departure and
    arrival of found legs): *right* (same ICAO code, or both unknown), *wrong* (a code where the truth has
    another code or none), *missed* (unknown where the truth has a code)."""
    import polars as pl

    t = truth.select(
        "icao24",
        pl.col("leg_no").alias("t_leg"),
        "first_air_utc",
        "last_air_utc",
        pl.col("dep_icao").alias("t_dep"),
        pl.col("arr_icao").alias("t_arr"),
        pl.col("callsign").alias("t_cs"),
        (
            pl.col("callsign_changes") if "callsign_changes" in truth.columns else pl.lit(None, pl.String)
        ).alias("t_chg"),
    )
    f = legs.select(
        "icao24",
        "leg_no",
        "first_seen_utc",
        "last_seen_utc",
        "dep_icao",
        "arr_icao",
        "callsign",
        "callsign_changes",
    )
    j = (
        t.join(f, on="icao24", how="inner")
        .with_columns(
            (
                pl.min_horizontal("last_air_utc", "last_seen_utc")
                - pl.max_horizontal("first_air_utc", "first_seen_utc")
            )
            .dt.total_seconds()
            .alias("ov"),
            (pl.col("last_air_utc") - pl.col("first_air_utc")).dt.total_seconds().alias("tdur"),
        )
        .filter(pl.col("ov") > 0.5 * pl.col("tdur"))
    )
    j = j.sort("ov", descending=True).unique(["icao24", "t_leg"], keep="first", maintain_order=True)
    j = j.unique(["icao24", "leg_no"], keep="first", maintain_order=True)
    n_truth, n_found = truth.height, legs.height
    bound = j.filter(
        ((pl.col("first_seen_utc") - pl.col("first_air_utc")).dt.total_seconds().abs() <= 120)
        & ((pl.col("last_seen_utc") - pl.col("last_air_utc")).dt.total_seconds().abs() <= 120)
    ).height

    def score(got, want):
        right = j.filter(
            (pl.col(got) == pl.col(want)) | (pl.col(got).is_null() & pl.col(want).is_null())
        ).height
        wrong = j.filter(
            pl.col(got).is_not_null() & (pl.col(want).is_null() | (pl.col(got) != pl.col(want)))
        ).height
        missed = j.filter(pl.col(got).is_null() & pl.col(want).is_not_null()).height
        return right, wrong, missed

    dr, dw, dm = score("dep_icao", "t_dep")
    ar, aw, am = score("arr_icao", "t_arr")
    cs_right = j.filter(pl.col("callsign") == pl.col("t_cs")).height
    chg_right = j.filter(
        pl.col("t_chg").is_not_null() & (pl.col("callsign_changes") == pl.col("t_chg"))
    ).height
    return {
        "truth_legs": n_truth,
        "found_legs": n_found,
        "legs_found": j.height,
        "legs_found_pct": 100.0 * j.height / max(n_truth, 1),
        "phantom_legs": n_found - j.height,
        "boundaries_within_2min": bound,
        "boundaries_pct": 100.0 * bound / max(j.height, 1),
        "airports_right": dr + ar,
        "airports_wrong": dw + aw,
        "airports_missed": dm + am,
        "callsigns_right": cs_right,
        "callsign_changes_found": chg_right,
        "callsign_changes_planted": int(truth["callsign_changes"].is_not_null().sum())
        if "callsign_changes" in truth.columns
        else 0,
    }


def observed_path_accuracy(n_aircraft: int, seed: int) -> dict:
    """Generate traffic with every failure class planted, run the observed path's noise filter and
    kernel on the noisy file order and on a shuffle of it, and score against the truth."""
    import numpy as np
    import pyarrow as pa

    from analysis.tracks.noise import clean_positions
    from analysis.tracks.segment import segment_batch_counted

    from .tracks import generate

    g = generate(n_aircraft, 4, seed=seed, noise_rate=0.002, failures=True)
    t = time.perf_counter()
    cleaned, noise = clean_positions(g.positions)
    legs, gaps, rejected = segment_batch_counted(cleaned)
    secs = time.perf_counter() - t
    shuffled = g.positions.take(pa.array(np.random.default_rng(seed).permutation(g.positions.num_rows)))
    legs2, _, _ = segment_batch_counted(clean_positions(shuffled)[0])
    return accuracy(g.legs, legs) | {
        "positions": g.positions.num_rows,
        "seconds": secs,
        "loadavg_1m": os.getloadavg()[0],
        "planted": g.noise,
        "noise_dropped": dict(noise),
        "rejected": rejected,
        "implausible_gaps": int(gaps["is_implausible"].sum()),
        "shuffled_equals_file_order": legs2.equals(legs),
    }
