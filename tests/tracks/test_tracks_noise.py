"""Noise rules on hand-made fixes: each reason counted once, good fixes kept."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analysis.tracks.noise import clean_positions
from analysis.tracks.readers import POSITIONS_SCHEMA


def _tbl(rows):
    """rows: (hex, t_s, lat, lon, alt or None=ground)."""
    n = len(rows)
    alt = np.array([np.nan if r[4] is None else r[4] for r in rows], np.float32)
    return pa.table(
        {
            "icao24": [r[0] for r in rows],
            "registration": pa.nulls(n, pa.string()),
            "callsign": pa.nulls(n, pa.string()),
            "time_utc": pa.array([r[1] * 1_000_000 for r in rows], pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "lat": pa.array([float(r[2]) for r in rows]),
            "lon": pa.array([float(r[3]) for r in rows]),
            "alt_ft": pa.array(alt, mask=np.isnan(alt)),
            "on_ground": [r[4] is None for r in rows],
            "gs_kt": pa.nulls(n, pa.float32()),
            "track_deg": pa.nulls(n, pa.float32()),
            "vrate_fpm": pa.nulls(n, pa.float32()),
            "source_format": ["test"] * n,
            "readsb_flags": pa.nulls(n, pa.uint8()),
        },
        schema=POSITIONS_SCHEMA,
    )


def test_each_reason_counted():
    a, b = "aaaaaa", "bbbbbb"
    rows = [
        (a, 0, 10.0, -60.0, 30000),
        (b, 0, 20.0, 20.0, None),  # another aircraft interleaved (file order by time)
        (a, 10, 10.0, -59.98, 30000),
        (a, 10, 10.0, -59.98, 30000),  # exact duplicate
        (a, 20, 10.0, -59.96, 30000),
        (a, 15, 10.0, -59.97, 30000),  # listed out of time order: sorted in, kept
        (a, 30, 14.0, -59.94, 30000),  # spike: 4 degrees in 10 s
        (a, 40, 10.0, -59.92, 30000),
        (a, 45, 10.0, -59.92, 30000),  # stale repeat (airborne, same position later)
        (a, 50, 95.0, -59.90, 30000),  # latitude out of range
        (a, 60, 10.0, -59.88, 30000),
        (b, 60, 20.0, 20.0, None),  # parked on the ground: same position is fine
    ]
    out, counts = clean_positions(_tbl(rows))
    assert dict(counts) == {
        "duplicate": 1,
        "speed_spike": 1,
        "stale_repeat": 1,
        "latlon_out_of_range": 1,
    }
    assert out.column("icao24").to_pylist() == [a] * 6 + [b] * 2
    t = out.column("time_utc").cast(pa.int64()).to_numpy() // 1_000_000
    assert t.tolist() == [0, 10, 15, 20, 40, 60, 0, 60]


def test_spike_at_track_end_and_antimeridian():
    a = "cccccc"
    rows = [
        (a, i * 10, 0.0, 179.99 + i * 0.02 - (360 if 179.99 + i * 0.02 > 180 else 0), 35000) for i in range(6)
    ]
    rows.append((a, 60, 5.0, -179.8, 35000))  # last fix jumps 5 degrees in 10 s
    out, counts = clean_positions(_tbl(rows))
    assert dict(counts) == {"speed_spike": 1}  # crossing the antimeridian is not a spike
    assert out.num_rows == 6


def test_shuffled_rows_give_the_rows_of_sorted_input():
    """An earlier flight listed after a later one is sorted in, not dropped (issue 9, point 1)."""
    a = "dddddd"
    later = [(a, 100_000 + i * 10, 10.0, -60.0 + i * 0.02, 30000) for i in range(50)]
    earlier = [(a, i * 10, 20.0, -60.0 + i * 0.02, 30000) for i in range(50)]
    out_sorted, c1 = clean_positions(_tbl(earlier + later))
    out_file, c2 = clean_positions(_tbl(later + earlier))
    rng = np.random.default_rng(1)
    rows = earlier + later
    out_shuf, c3 = clean_positions(_tbl([rows[i] for i in rng.permutation(len(rows))]))
    assert out_sorted.num_rows == 100 and not c1
    assert out_file.equals(out_sorted) and out_shuf.equals(out_sorted) and not c2 and not c3


def test_run_of_impossible_steps_is_dropped_and_counted():
    """A spoofed stretch of 4 fixes 500 km away (several impossible steps in a row) is removed; the
    fixes on either side agree with each other and stay."""
    a = "eeeeee"
    rows = [(a, i * 10, 10.0, -60.0 + i * 0.02, 30000) for i in range(30)]
    for k in range(10, 14):
        rows[k] = (a, k * 10, 14.5, -60.0 + k * 0.02, 30000)  # about 500 km north, for 40 s
    out, counts = clean_positions(_tbl(rows))
    assert dict(counts) == {"implausible_run": 4}
    assert out.num_rows == 26
    assert (out.column("lat").to_numpy() == 10.0).all()
