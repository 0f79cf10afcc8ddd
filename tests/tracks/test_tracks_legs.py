"""A leg is a flight: hysteresis, flight rules, block times, callsigns, implausible jumps (hand-made fixes)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analysis.tracks.segment import SegmentParams, segment_batch, segment_batch_counted

SVMI = (10.6012, -66.9913)
MUHA = (22.9892, -82.4091)


def _tbl(rows, hexa="aaaaaa"):
    """rows: (t_s, lat, lon, alt_ft or None = on ground, gs_kt, callsign, flags)."""
    n = len(rows)
    alt = np.array([np.nan if r[3] is None else r[3] for r in rows], np.float32)
    return pa.table(
        {
            "icao24": [hexa] * n,
            "time_utc": pa.array([int(r[0] * 1e6) for r in rows], pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "lat": pa.array([float(r[1]) for r in rows]),
            "lon": pa.array([float(r[2]) for r in rows]),
            "alt_ft": pa.array(alt, mask=np.isnan(alt)),
            "on_ground": [r[3] is None for r in rows],
            "gs_kt": pa.array([r[4] for r in rows], pa.float32()),
            "callsign": pa.array([r[5] for r in rows], pa.string()),
            "readsb_flags": pa.array([r[6] for r in rows], pa.uint8()),
        }
    )


def _flight(t0, a, b, cs="RFF8001", taxi=True, park_before=0, park_after=0, flags0=0):
    """Taxi out (8 fixes, 15 s), fly a->b (30 min, fixes every 30 s), taxi in; optional parked fixes."""
    rows = []
    t = t0
    for _ in range(park_before):  # parked at the stand: still, 60 s apart
        rows.append((t, a[0], a[1], None, 0.0, cs, 0))
        t += 60
    if taxi:
        for k in range(8):
            rows.append((t, a[0] + 0.001 * k, a[1], None, 12.0, cs, flags0 if k == 0 else 0))
            t += 15
    for k in range(61):
        f = k / 60
        alt = min(2500 * k, 30000, 2500 * (60 - k)) + 300
        rows.append((t, a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, alt, 450.0, cs, 0))
        t += 30
    if taxi:
        for k in range(8):
            rows.append((t, b[0] + 0.001 * k, b[1], None, 12.0, cs, 0))
            t += 15
    for _ in range(park_after):
        rows.append((t, b[0] + 0.007, b[1], None, 0.0, cs, 0))
        t += 60
    return rows


def test_flag_flicker_and_altitude_glitch_make_no_leg():
    """Taxiing with the ground flag flickering and one fix at 39,000 ft: no phantom leg."""
    rows = []
    for k in range(40):
        air = k in (5, 17, 18, 30)  # single and double flicker, and the glitch
        alt = 39000 if k == 30 else (300 if air else None)
        rows.append((k * 10, SVMI[0] + 0.0005 * k, SVMI[1], alt, 15.0, "RFF1", 0))
    legs, gaps, rej = segment_batch_counted(_tbl(rows))
    assert legs.height == 0 and gaps.height == 0


def test_short_hop_refused_with_reason():
    """Five airborne fixes in a minute between taxi fixes: too short to be a flight, counted."""
    rows = [(k * 10, SVMI[0], SVMI[1] + 0.001 * k, None, 15.0, None, 0) for k in range(10)]
    rows += [(100 + k * 12, SVMI[0], SVMI[1] + 0.02 + 0.001 * k, 500, 120.0, None, 0) for k in range(5)]
    rows += [(170 + k * 10, SVMI[0], SVMI[1] + 0.03 + 0.001 * k, None, 15.0, None, 0) for k in range(10)]
    legs, _, rej = segment_batch_counted(_tbl(rows))
    assert legs.height == 0 and rej == {"too_short": 1}


def test_real_flight_with_flicker_at_cruise_is_one_leg_with_block_times():
    rows = _flight(1_700_000_000, SVMI, MUHA, park_before=10, park_after=10)
    k = 8 + 10 + 30  # a ground flag for one fix at cruise
    t, la, lo, _, gs, cs, fl = rows[k]
    rows[k] = (t, la, lo, None, gs, cs, fl)
    legs, _ = segment_batch(_tbl(rows))
    assert legs.height == 1
    leg = legs.row(0, named=True)
    assert (leg["dep_icao"], leg["arr_icao"]) == ("SVMI", "MUHA")
    t0 = 1_700_000_000
    off = t0 + 10 * 60  # first fix after the parked run: first movement
    tko = off + 8 * 15
    ldg = tko + 60 * 30
    on = ldg + 30 + 8 * 15  # first parked fix after the taxi in
    assert leg["off_block_utc"].timestamp() == off
    assert leg["dep_time_utc"].timestamp() == tko
    assert leg["arr_time_utc"].timestamp() == ldg
    assert leg["on_block_utc"].timestamp() == on
    assert leg["n_positions"] == 61


def test_new_leg_flag_on_the_ground_and_callsign_per_leg():
    """Two flights with a ground stop in between that has no gap: the new-leg flag set on the ground
    starts the block of the second; each leg keeps its own callsign; a change within a leg is recorded."""
    a = _flight(1_700_000_000, SVMI, MUHA, cs="RFF8001")
    t1 = a[-1][0] + 15
    b = _flight(t1, MUHA, SVMI, cs="RFF8002", flags0=2)
    # the second flight changes callsign halfway
    b = [(r[0], r[1], r[2], r[3], r[4], "RFF8003" if i > 8 + 40 else r[5], r[6]) for i, r in enumerate(b)]
    legs, _ = segment_batch(_tbl(a + b))
    assert legs["callsign"].to_list() == ["RFF8001", "RFF8002"]
    assert legs["callsign_changes"].to_list() == [None, "RFF8002>RFF8003"]
    assert legs["on_block_utc"][0].timestamp() == a[-1][0]  # last ground fix before the flagged one
    assert legs["off_block_utc"][1].timestamp() == t1  # the flagged fix starts the second block


def test_spoofed_jump_over_a_gap_is_flagged():
    """563 km in 10 min 10 s (about 1,800 kt) over a transponder gap: flagged, and counted on the leg."""
    rows = [(k * 30, 20.0, -60.0 + 0.1 * k, 30000, 450.0, "X", 0) for k in range(20)]
    last = rows[-1]
    rows += [(last[0] + 610 + k * 30, 20.0 + 5.06, -58.0 + 0.1 * k, 30000, 450.0, "X", 0) for k in range(20)]
    legs, gaps = segment_batch(_tbl(rows))
    assert gaps.height == 1
    g = gaps.row(0, named=True)
    assert 550 < g["jump_km"] < 580 and g["is_implausible"]
    assert legs["n_implausible_jumps"].sum() == 1


def test_shuffled_input_same_legs():
    rows = _flight(1_700_000_000, SVMI, MUHA) + _flight(1_700_100_000, MUHA, SVMI, cs="RFF8002")
    tbl = _tbl(rows)
    shuffled = tbl.take(pa.array(np.random.default_rng(5).permutation(tbl.num_rows)))
    assert segment_batch(tbl)[0].equals(segment_batch(shuffled)[0])
    assert segment_batch(tbl)[0].height == 2


def test_flight_rules_are_parameters():
    rows = [(k * 10, SVMI[0], SVMI[1] + 0.001 * k, None, 15.0, None, 0) for k in range(10)]
    rows += [(100 + k * 12, SVMI[0], SVMI[1] + 0.02 + 0.001 * k, 500, 120.0, None, 0) for k in range(5)]
    rows += [(170 + k * 10, SVMI[0], SVMI[1] + 0.03 + 0.001 * k, None, 15.0, None, 0) for k in range(10)]
    p = SegmentParams(min_leg_s=30, min_climb_ft=0)
    assert segment_batch(_tbl(rows), p)[0].height == 1


def test_ground_flag_flicker_next_to_a_transponder_gap_does_not_split_the_leg():
    """One fix flagged on the ground at cruise, right after (or before) a 2-hour gap, is a flicker, not a
    landing: the flight stays one leg."""
    rows = _flight(1_700_000_000, SVMI, MUHA)
    k = 8 + 20  # cruise fixes 20..39 go dark for two hours
    rows = rows[:k] + [(r[0] + 7200, *r[1:]) for r in rows[k + 20 :]]
    t, la, lo, _, gs, cs, fl = rows[k]
    rows[k] = (t, la, lo, None, gs, cs, fl)  # the first fix after the gap says "ground"
    legs, gaps = segment_batch(_tbl(rows))
    assert legs.height == 1 and legs["arr_icao"][0] == "MUHA"
    assert gaps.height == 1 and gaps["in_leg_no"][0] == 1
    t, la, lo, _, gs, cs, fl = rows[k - 1]
    rows[k - 1] = (t, la, lo, None, gs, cs, fl)  # and the last one before it
    assert segment_batch(_tbl(rows))[0].height == 1
