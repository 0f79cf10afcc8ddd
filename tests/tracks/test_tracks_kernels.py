"""The segmentation loops run two ways (analysis.tracks.kernels): by the interpreter for a small input, compiled by
numba for a big one. Both must give the same results, to the last bit: each kernel on hand-made rows, and the whole
segmentation (legs, gaps, stops, refusals, every column) on hand-made and generated tracks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from analysis.tracks import kernels as K
from analysis.tracks.readers import POSITIONS_SCHEMA
from analysis.tracks.segment import segment_batch_counted, segment_parquet, stops_from_legs
from analysis.tracks.store import write_positions
from synth.tracks import generate

NAN = np.nan


def _same(a, b):
    """Two kernel results equal element by element, with the same types (NaN equal to NaN)."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
        return
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        if a.dtype.kind == "f":
            # bit for bit (NaN at the same places, the sign of a zero kept)
            assert np.array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")), (a, b)
        else:
            assert np.array_equal(a, b), (a, b)
        return
    assert a == b and bool(a) is bool(b), (a, b)


def _both(name, *args):
    """Run a kernel plainly and compiled (on copies: some write into their arguments) and compare."""
    plain = getattr(K, name)(*[x.copy() if isinstance(x, np.ndarray) else x for x in args])
    jit = getattr(K.compiled(), name)(*[x.copy() if isinstance(x, np.ndarray) else x for x in args])
    _same(plain, jit)
    return plain


def _rows():
    """Two aircraft: ground, a flag flicker, a climb with a glitched and a missing altitude, a 20-min gap at cruise,
    an antimeridian crossing, a landing; the second aircraft one short hop and ground fixes only."""
    ic = np.array([1] * 14 + [2] * 8, np.uint32)
    t_s = [0, 10, 20, 30, 40, 50, 60, 1260, 1270, 1280, 1290, 1300, 1310, 1320]
    t_s += [0, 10, 20, 30, 40, 50, 60, 70]
    t = np.array(t_s, np.int64) * 1_000_000
    alt = np.array(
        [NAN, NAN, 900, 3000, 39000, NAN, 12000, 11000, 9000, 6000, 2000, NAN, NAN, NAN]
        + [NAN, 800, 1500, 1200, NAN, NAN, NAN, NAN],
        np.float32,
    )
    gnd = np.array(
        [True, True, False, False, False, False, True, False, False, False, False, True, True, True]
        + [True, False, False, False, True, True, True, True]
    )
    lat = np.array([10.0 + 0.01 * i for i in range(22)])
    lon = np.array([179.9 + 0.02 * i if i < 14 else -60.0 + 0.01 * i for i in range(22)])
    lon = np.where(lon > 180, lon - 360, lon)
    return ic, t, alt, gnd, lat, lon


@pytest.mark.parametrize("k", [1, 2, 3])
def test_kernels_agree_on_hand_made_rows(k):
    ic, t, alt, gnd, lat, lon = _rows()
    n = len(ic)
    assert _both("is_sorted", ic, t) is True
    assert _both("is_sorted", ic[::-1].copy(), t[::-1].copy()) is False
    gap_us = 600 * 1_000_000
    same, dt, gi, air = _both("rows_state", ic, t, alt, gnd, gap_us, 5000.0, k)
    assert gi.tolist() == [7]  # the 20-minute gap of the first aircraft
    _both("gap_altitudes", alt, ic, air, gi)
    newleg = np.zeros(n, bool)
    newleg[9] = True
    for split in (np.empty(0, np.int64), gi):
        starts, ends, hi, lo, tko, lnd = _both("candidates", air, same, newleg, split, alt, gap_us, dt)
    assert len(starts) >= 2
    cleared = air.copy()
    K.clear_ranges(cleared, starts[:1], ends[:1])
    jit = air.copy()
    K.compiled().clear_ranges(jit, starts[:1], ends[:1])
    _same(cleared, jit)
    cosl = np.cos(lat.astype(np.float32) * np.float32(np.pi / 180))
    jump = np.array([250.0])
    for mx in (1200.0, 1.0):  # a low speed limit makes every long step implausible
        _both("leg_steps", lat, lon, cosl, starts, ends, gi, jump, dt, 111.2, gap_us, mx, mx)
    codes = np.array([0, 0, -1, 1, 1, 0, 2, -1, 2, 2, 1, 1, -1, 0] + [3, 3, 4, 4, 4, -1, -1, 3], np.int64)
    _both("callsign_runs", codes, starts, ends)


def test_long_legs_sum_pairwise_the_same():
    """Steps of a leg longer than numpy's 128-value blocks (the pairwise sum splits it): the same sums."""
    rng = np.random.default_rng(5)
    n = 1500
    lat = np.cumsum(rng.normal(0, 0.01, n)) + 40.0
    lon = np.cumsum(rng.normal(0.02, 0.01, n))
    cosl = np.cos(lat.astype(np.float32) * np.float32(np.pi / 180))
    starts, ends = np.array([0, 700]), np.array([699, n - 1])
    dt = np.full(n, 4_000_000, np.int64)
    _both(
        "leg_steps",
        lat,
        lon,
        cosl,
        starts,
        ends,
        np.empty(0, np.int64),
        np.empty(0),
        dt,
        111.2,
        600e6,
        1200.0,
        800.0,
    )


def _segment_both(tbl, monkeypatch, tmp_path=None):
    """The whole segmentation of ``tbl``, once by the interpreted loops and once compiled."""
    out = []
    for threshold in (10**12, 0):  # every input small, then every input big
        monkeypatch.setattr(K, "COMPILE_MIN_ROWS", threshold)
        if tmp_path is None:
            legs, gaps, rejected = segment_batch_counted(tbl)
            out.append((legs, gaps, stops_from_legs(legs), rejected))
        else:
            s = segment_parquet(tmp_path, max_unit_rows=20_000)
            out.append((s.legs, s.gaps, s.stops, s.rejected))
    (l1, g1, s1, r1), (l2, g2, s2, r2) = out
    assert l1.equals(l2) and g1.equals(g2) and s1.equals(s2) and r1 == r2
    assert l1.schema == l2.schema and g1.schema == g2.schema
    return l1, g1, r1


def test_generated_tracks_same_legs_both_ways(gen, monkeypatch, tmp_path):
    """The session's generated traffic (planted gaps, mid-air starts and ends, noise), clean and as read with its
    noise, through segment_batch and through the parquet path's work units."""
    legs, gaps, _ = _segment_both(gen.clean, monkeypatch)
    assert legs.height >= 30 and gaps.height > 0 and legs["dep_icao"].null_count() < legs.height
    _segment_both(gen.positions, monkeypatch)
    p = tmp_path / "pos.parquet"
    write_positions(gen.clean, p, rg_rows=5_000)
    _segment_both(None, monkeypatch, p)


def test_failure_classes_same_legs_both_ways(monkeypatch):
    """Generated traffic with every failure class of real data (unsorted rows, ground-flag flicker, altitude
    glitches, callsign changes, spoofed runs, strips far from any airport): refusals included."""
    g = generate(6, 3, seed=4, failures={"callsign_change": 0.5, "spoofed_run": 0.3, "air_flicker": 0.01})
    legs, _, rejected = _segment_both(g.positions, monkeypatch)
    assert legs.height > 0 and legs["callsign_changes"].null_count() < legs.height
    assert sum(rejected.values()) > 0


def test_hand_made_track_same_legs_both_ways(monkeypatch):
    ic, t, alt, gnd, lat, lon = _rows()
    n = len(ic)
    tbl = pa.table(
        {
            "icao24": pa.array([f"{v:06x}" for v in ic.tolist()]),
            "registration": pa.array(["RA-96019"] * 14 + [None] * 8, pa.string()),
            "callsign": pa.array(["RSD041"] * 7 + ["RSD042"] * 7 + [None] * 8, pa.string()),
            "time_utc": pa.array(t + 1_704_180_000_000_000).cast(pa.timestamp("us", tz="UTC")),
            "lat": pa.array(lat),
            "lon": pa.array(lon),
            "alt_ft": pa.array(alt, mask=np.isnan(alt)),
            "on_ground": pa.array(gnd),
            "gs_kt": pa.nulls(n, pa.float32()),
            "track_deg": pa.nulls(n, pa.float32()),
            "vrate_fpm": pa.nulls(n, pa.float32()),
            "source_format": pa.array(["test"] * n),
            "readsb_flags": pa.array([0] * n, pa.uint8()),
        },
        schema=POSITIONS_SCHEMA,
    )
    _segment_both(tbl, monkeypatch)


def test_small_input_runs_the_plain_loops():
    assert K.for_rows(K.COMPILE_MIN_ROWS - 1).rows_state is K.rows_state
    assert K.for_rows(K.COMPILE_MIN_ROWS).rows_state is K.compiled().rows_state
