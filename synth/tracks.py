"""Synthetic traffic with known truth, for demos, tests and benchmarks (deterministic for a seed).

Aircraft fly great-circle legs between real airports (airportsdata, IATA airports with no other
airport within 10 km, so the nearest-airport answer is unambiguous). Each leg: 12 taxi-out ground
fixes (15 s), airborne fixes every 1-10 s near the ends ("in coverage") and every 30-60 s in the
middle third-ish of long legs, 12 taxi-in ground fixes, then a parked dwell of 2-30 h without fixes.
Planted: transponder-off gaps over the middle of long legs (35 % .. 65 % of the flight time), traces
that start or end in mid-air (no departure / arrival airport), and noise (speed spikes, exact
duplicates, backwards times, stale repeats) whose counts are returned as truth.

* :func:`generate` -> :class:`Generated` (noisy positions in file order, clean positions, truth)
* :func:`generate_positions_parquet` writes clean positions straight into the store layout, in
  chunks (vectorised numpy), for the 10 M / 100 M benchmarks.
* Format writers (for correctness tests on small sizes): :func:`write_readsb_tree`,
  :func:`write_opensky`, :func:`write_fr24_csv`, :func:`write_fr24_kml`, :func:`write_fr24_json`,
  :func:`write_generic_csv`.
* :func:`demo_input` writes a generated readsb tree with its truth, the demo trace of ``notebooks/observed.ipynb``.
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from analysis.tracks.airports import airport_grid, haversine_km, load_airports
from analysis.tracks.readers import FPM_PER_MS, FT_PER_M, KT_PER_MS, POSITIONS_SCHEMA

__all__ = [
    "Generated",
    "generate",
    "generate_positions_parquet",
    "write_readsb_tree",
    "write_opensky",
    "write_fr24_csv",
    "write_fr24_kml",
    "write_fr24_json",
    "write_generic_csv",
    "GAP_WINDOW",
    "demo_input",
]

log = logging.getLogger(__name__)

TAXI_FIXES = 12
TAXI_STEP_S = 15
GAP_WINDOW = (0.35, 0.65)
GAP_MIN_KM = 2500.0
EPOCH_2024 = 1704067200  # 2024-01-01T00:00:00Z


@dataclass
class Generated:
    """Generator output. ``positions`` is what a file would hold (noise included, file order per aircraft);
    ``clean`` the true positions sorted by (icao24, time); ``legs``/``gaps`` the truth; ``noise`` reason->count."""

    positions: pa.Table
    clean: pa.Table
    legs: pl.DataFrame
    gaps: pl.DataFrame
    noise: dict

    def write_truth(self, directory) -> Path:
        """Write truth_legs.parquet, truth_gaps.parquet and truth_noise.json into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.legs.write_parquet(d / "truth_legs.parquet")
        self.gaps.write_parquet(d / "truth_gaps.parquet")
        (d / "truth_noise.json").write_text(json.dumps(self.noise, indent=1))
        return d


@lru_cache(maxsize=1)
def _airport_pool():
    """IATA airports, |lat| < 70, with no other airportsdata entry within 10 km."""
    ap_all = load_airports(False)
    ap = load_airports(True)
    sel = np.flatnonzero(np.abs(ap.lat) < 70)
    q, c = airport_grid(10.0, False).candidates(ap.lat[sel], ap.lon[sel])
    d = haversine_km(ap.lat[sel][q], ap.lon[sel][q], ap_all.lat[c], ap_all.lon[c])
    near = np.bincount(q[d <= 10.0], minlength=len(sel))
    sel = sel[near == 1]  # only itself
    return ap.icao[sel], ap.lat[sel], ap.lon[sel]


@lru_cache(maxsize=1)
def _strips():
    """Landing places far from any airport (military strips, say): points on land with no airportsdata
    entry within 40 km, so the right answer is an unknown airport. Fixed seed: the same strips every run."""
    from analysis.geo import countries_at
    from analysis.tracks.airports import nearest_airport

    rng = np.random.default_rng(20261122)
    lat = rng.uniform(-45, 60, 4000)
    lon = rng.uniform(-120, 140, 4000)
    land = countries_at(lat, lon) != None  # noqa: E711
    far = nearest_airport(lat, lon, 40.0)[0] == None  # noqa: E711
    keep = np.flatnonzero(land & far)[:300]
    return np.round(lat[keep], 4), np.round(lon[keep], 4)


def _unit(lat, lon):
    la, lo = np.radians(lat), np.radians(lon)
    return np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)


def _plan(
    rng, n_ac, n_legs, icao_int, *, t_start, p_start_air, p_end_air, gap_prob, dense_s, coarse_s, p_strip=0.0
):
    """Per-leg arrays for n_ac aircraft x n_legs legs (aircraft-major order). With ``p_strip`` > 0 a stop is
    a strip far from any airport (truth: unknown airport) with that probability."""
    codes, alat, alon = _airport_pool()
    n_ap = len(codes)
    if p_strip > 0:
        slat, slon = _strips()
        codes = np.r_[codes, np.full(len(slat), None, dtype=object)]
        alat, alon = np.r_[alat, slat], np.r_[alon, slon]
    L = n_ac * n_legs
    ac = np.repeat(np.arange(n_ac), n_legs)
    j = np.tile(np.arange(n_legs), n_ac)
    seq = np.empty((n_ac, n_legs + 1), np.int64)
    seq[:, 0] = rng.integers(0, n_ap, n_ac)
    for k in range(1, n_legs + 1):
        cur = seq[:, k - 1]
        nxt = rng.integers(0, n_ap, n_ac)
        for _ in range(50):
            d = haversine_km(alat[cur], alon[cur], alat[nxt], alon[nxt])
            bad = (d < 300) | (d > 8000)
            if not bad.any():
                break
            nxt[bad] = rng.integers(0, n_ap, int(bad.sum()))
        if p_strip > 0:  # now and then a strip instead, within range of the current stop
            slat, slon = alat[n_ap:], alon[n_ap:]
            for a in np.flatnonzero(rng.random(n_ac) < p_strip):
                d = haversine_km(alat[cur[a]], alon[cur[a]], slat, slon)
                ok = np.flatnonzero((d >= 300) & (d <= 8000))
                if len(ok):
                    nxt[a] = n_ap + ok[rng.integers(0, len(ok))]
        seq[:, k] = nxt
    dep = seq[:, :-1].reshape(-1)
    arr = seq[:, 1:].reshape(-1)
    dist = haversine_km(alat[dep], alon[dep], alat[arr], alon[arr])
    v_kt = rng.uniform(430, 480, L)
    cruise = rng.integers(28, 40, L) * 1000.0
    dur = np.round(dist / (v_kt * 1.852) * 3600 + 900).astype(np.int64)
    dwell = rng.integers(2 * 3600, 30 * 3600, L)
    taxi = TAXI_FIXES * TAXI_STEP_S
    # times: leg k starts (taxi-out) after the previous leg's taxi-in and dwell
    block = taxi + dur + taxi + dwell
    block2 = block.reshape(n_ac, n_legs)
    start_ac = t_start + rng.integers(0, 86400, n_ac)
    leg_start = (start_ac[:, None] + np.cumsum(block2, axis=1) - block2).reshape(-1)
    t0 = leg_start + taxi
    t1 = t0 + dur
    dense = rng.integers(dense_s[0], dense_s[1] + 1, n_ac)[ac]
    coarse = rng.integers(coarse_s[0], coarse_s[1] + 1, n_ac)[ac]
    has_gap = (dist >= GAP_MIN_KM) & (rng.random(L) < gap_prob)
    start_air = (j == 0) & (rng.random(L) < p_start_air)
    end_air = (j == n_legs - 1) & (rng.random(L) < p_end_air)
    csn = rng.integers(1000, 9999, L)
    return dict(
        ac=ac,
        j=j,
        icao_int=icao_int[ac],
        dep=dep,
        arr=arr,
        dist=dist,
        v_kt=v_kt,
        cruise=cruise,
        t0=t0,
        t1=t1,
        dur=dur,
        dense=dense,
        coarse=coarse,
        has_gap=has_gap,
        start_air=start_air,
        end_air=end_air,
        callsign=np.array([f"RFF{c}" for c in csn], dtype=object),
        alat=alat,
        alon=alon,
        codes=codes,
    )


def _expand(P, rng):
    """Rows (sorted by aircraft, time) from the leg plan, gaps and mid-air starts/ends applied."""
    L = len(P["t0"])
    t0, t1, dur, dense, coarse = P["t0"], P["t1"], P["dur"], P["dense"], P["coarse"]
    long_leg = P["dist"] >= 1500
    n1 = np.where(long_leg, (0.15 * dur) // dense, dur // dense + 1).astype(np.int64)
    p1 = t0 + n1 * dense
    n2 = np.where(long_leg, np.maximum((t1 - 0.15 * dur - p1) // coarse, 0), 0).astype(np.int64)
    p2 = p1 + n2 * coarse
    n3 = np.where(long_leg, (t1 - p2) // dense + 1, 0).astype(np.int64)
    # segments: kind 0 taxi-out, 1 dense, 2 coarse, 3 dense, 4 taxi-in
    seg_t = np.stack([t0 - TAXI_FIXES * TAXI_STEP_S, t0, p1, p2, t1 + TAXI_STEP_S], 1)
    seg_step = np.stack([np.full(L, TAXI_STEP_S), dense, coarse, dense, np.full(L, TAXI_STEP_S)], 1)
    seg_n = np.stack([np.full(L, TAXI_FIXES), n1, n2, n3, np.full(L, TAXI_FIXES)], 1)
    seg_leg = np.repeat(np.arange(L), 5)
    seg_kind = np.tile(np.arange(5), L)
    seg_t, seg_step, seg_n = seg_t.reshape(-1), seg_step.reshape(-1), seg_n.reshape(-1)
    total = int(seg_n.sum())
    sid = np.repeat(np.arange(len(seg_n)), seg_n)
    k = np.arange(total) - np.repeat(np.cumsum(seg_n) - seg_n, seg_n)
    t = seg_t[sid] + k * seg_step[sid]
    leg = seg_leg[sid]
    kind = seg_kind[sid]
    air = (kind >= 1) & (kind <= 3)
    f = np.where(air, (t - t0[leg]) / dur[leg], 0.0)
    keep = np.ones(total, bool)
    g = P["has_gap"][leg] & air
    keep &= ~(g & (f > GAP_WINDOW[0]) & (f < GAP_WINDOW[1]))
    sa = P["start_air"][leg]
    keep &= ~(sa & ((kind == 0) | (air & (f < 0.5))))
    ea = P["end_air"][leg]
    keep &= ~(ea & ((kind == 4) | (air & (f > 0.55))))
    t, leg, kind, air, f = t[keep], leg[keep], kind[keep], air[keep], f[keep]
    n = len(t)
    alat, alon = P["alat"], P["alon"]
    # airborne: slerp along the great circle
    ax, ay, az = _unit(alat[P["dep"]], alon[P["dep"]])
    bx, by, bz = _unit(alat[P["arr"]], alon[P["arr"]])
    om = np.arccos(np.clip(ax * bx + ay * by + az * bz, -1, 1))
    so = np.sin(om)
    fa = np.sin((1 - f) * om[leg]) / so[leg]
    fb = np.sin(f * om[leg]) / so[leg]
    x = fa * ax[leg] + fb * bx[leg]
    y = fa * ay[leg] + fb * by[leg]
    z = fa * az[leg] + fb * bz[leg]
    lat = np.degrees(np.arcsin(np.clip(z, -1, 1)))
    lon = np.degrees(np.arctan2(y, x))
    # ground: at the airport, within ~250 m
    gnd = ~air
    at_dep = kind == 0
    ap_idx = np.where(at_dep, P["dep"][leg], P["arr"][leg])
    jit = rng.uniform(-0.002, 0.002, (2, int(gnd.sum())))
    glat = alat[ap_idx[gnd]] + jit[0]
    lat[gnd] = glat
    lon[gnd] = alon[ap_idx[gnd]] + jit[1] / np.maximum(np.cos(np.radians(glat)), 0.2)
    lat = np.round(lat, 6)
    lon = np.round(lon, 6)
    tt = (t - t0[leg]).astype(np.float64)
    tr = P["t1"][leg] - t
    climb = 500 + 2500 * tt / 60
    desc = 500 + 2500 * tr / 60
    cr = P["cruise"][leg]
    alt = np.round(np.minimum(np.minimum(climb, desc), cr) / 25) * 25
    vr = np.where(alt >= cr, 0.0, np.where(climb < desc, 2500.0, -2500.0))
    v = P["v_kt"][leg]
    gs = np.round(150 + (v - 150) * np.minimum(alt / 10000, 1), 1)
    # track: bearing to the destination
    la1, lo1 = np.radians(lat), np.radians(lon)
    la2, lo2 = np.radians(alat[P["arr"]][leg]), np.radians(alon[P["arr"]][leg])
    trk = (
        np.degrees(
            np.arctan2(
                np.sin(lo2 - lo1) * np.cos(la2),
                np.cos(la1) * np.sin(la2) - np.sin(la1) * np.cos(la2) * np.cos(lo2 - lo1),
            )
        )
        % 360
    )
    trk = np.round(trk, 1)
    alt[gnd] = np.nan
    vr[gnd] = 0.0
    gs[gnd] = 12.0
    return dict(t=t, leg=leg, kind=kind, air=air, lat=lat, lon=lon, alt=alt, gs=gs, trk=trk, vr=vr, n=n)


def _icao_str(ints):
    return np.array([f"{v:06x}" for v in ints], dtype=object)


def _rows_table(P, R, icao_hex, regs) -> pa.Table:
    leg = R["leg"]
    n = R["n"]
    ac = P["ac"][leg]
    icao = pa.DictionaryArray.from_arrays(pa.array(ac.astype(np.int32)), pa.array(icao_hex)).cast(pa.string())
    reg = pa.DictionaryArray.from_arrays(pa.array(ac.astype(np.int32)), pa.array(regs)).cast(pa.string())
    cs = pa.DictionaryArray.from_arrays(pa.array(leg.astype(np.int32)), pa.array(P["callsign"])).cast(
        pa.string()
    )
    t = pa.array(R["t"].astype(np.int64) * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    alt = R["alt"].astype(np.float32)
    cols = [
        icao,
        reg,
        cs,
        t,
        pa.array(R["lat"]),
        pa.array(R["lon"]),
        pa.array(alt, mask=np.isnan(alt)),
        pa.array(~R["air"]),
        pa.array(R["gs"].astype(np.float32)),
        pa.array(R["trk"].astype(np.float32)),
        pa.array(R["vr"].astype(np.float32)),
        pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array(["generated"])).cast(
            pa.string()
        ),
        pa.nulls(n, pa.uint8()),
    ]
    return pa.Table.from_arrays(cols, schema=POSITIONS_SCHEMA)


def _truth(P, R, icao_hex, regs):
    codes = P["codes"]
    leg, air, t = R["leg"], R["air"], R["t"]
    ai = np.flatnonzero(air)
    la = leg[ai]
    first = np.r_[True, la[1:] != la[:-1]]
    last = np.r_[la[1:] != la[:-1], True]
    legs_present = la[first]
    ac = P["ac"][legs_present]
    legs = (
        pl.DataFrame(
            {
                "icao24": icao_hex[ac].tolist(),
                "registration": regs[ac].tolist(),
                "callsign": P["callsign"][legs_present].tolist(),
                "leg_no": (P["j"][legs_present] + 1).astype(np.int64),
                "dep_icao": [
                    None if s else codes[d]
                    for s, d in zip(P["start_air"][legs_present], P["dep"][legs_present], strict=True)
                ],
                "arr_icao": [
                    None if e else codes[a]
                    for e, a in zip(P["end_air"][legs_present], P["arr"][legs_present], strict=True)
                ],
                "is_takeoff_observed": ~P["start_air"][legs_present],
                "is_landing_observed": ~P["end_air"][legs_present],
                "first_air_s": t[ai[first]],
                "last_air_s": t[ai[last]],
                "n_air": np.diff(np.r_[np.flatnonzero(first), len(ai)]),
                "gc_km": P["dist"][legs_present],
            }
        )
        .with_columns(
            pl.from_epoch("first_air_s").dt.replace_time_zone("UTC").alias("first_air_utc"),
            pl.from_epoch("last_air_s").dt.replace_time_zone("UTC").alias("last_air_utc"),
        )
        .drop("first_air_s", "last_air_s")
    )
    # gaps: consecutive airborne fixes of one leg more than 10 min apart (only planted ones exist)
    dt = np.diff(t[ai])
    same = la[1:] == la[:-1]
    gi = np.flatnonzero(same & (dt > 600))
    gaps = (
        pl.DataFrame(
            {
                "icao24": icao_hex[P["ac"][la[gi]]].tolist(),
                "leg_no": (P["j"][la[gi]] + 1).astype(np.int64),
                "start_s": t[ai[gi]],
                "end_s": t[ai[gi + 1]],
                "start_lat": R["lat"][ai[gi]],
                "start_lon": R["lon"][ai[gi]],
                "end_lat": R["lat"][ai[gi + 1]],
                "end_lon": R["lon"][ai[gi + 1]],
            },
            schema_overrides={"start_s": pl.Int64, "end_s": pl.Int64},
        )
        .with_columns(
            pl.from_epoch("start_s").dt.replace_time_zone("UTC").alias("start_utc"),
            pl.from_epoch("end_s").dt.replace_time_zone("UTC").alias("end_utc"),
        )
        .drop("start_s", "end_s")
    )
    return legs, gaps


def _plant_noise(tbl: pa.Table, R, rng, rate: float):
    """Insert/modify rows; return (noisy table in file order, counts)."""
    n = tbl.num_rows
    t, leg, air = R["t"], R["leg"], R["air"]
    if rate <= 0 or n < 3:
        return tbl, {}
    ok = np.zeros(n, bool)
    i = np.arange(1, n - 1)
    ok[1:-1] = (
        air[i]
        & air[i - 1]
        & air[i + 1]
        & (leg[i - 1] == leg[i])
        & (leg[i + 1] == leg[i])
        & (t[i] - t[i - 1] <= 120)
        & (t[i + 1] - t[i] <= 120)
        & (i % 37 == 5)
    )
    cand = np.flatnonzero(ok)
    p = min(1.0, rate * 37)
    chosen = cand[rng.random(len(cand)) < p]
    typ = rng.integers(0, 4, len(chosen))  # 0 spike, 1 duplicate, 2 backwards, 3 stale (all inserted rows)
    room = (t[np.minimum(chosen + 1, n - 1)] - t[chosen]) >= 2  # spikes/stale need a free second
    typ = np.where(((typ == 3) | (typ == 0)) & ~room, 1, typ)
    ins = chosen
    ityp = typ
    ins_src = np.where(ityp == 2, ins - 1, ins)
    src = np.insert(np.arange(n), ins + 1, ins_src)
    out = tbl.take(pa.array(src))
    out_pos = ins + 1 + np.arange(len(ins))
    tt = out.column("time_utc").cast(pa.int64()).to_numpy().copy()
    st = out_pos[(ityp == 3) | (ityp == 0)]
    tt[st] += 1_000_000
    lat = out.column("lat").to_numpy().copy()
    sp = out_pos[ityp == 0]
    lat[sp] = np.where(lat[sp] > 80, lat[sp] - 3.0, lat[sp] + 3.0)
    out = out.set_column(3, "time_utc", pa.array(tt).cast(pa.timestamp("us", tz="UTC")))
    out = out.set_column(4, "lat", pa.array(lat))
    # a copy of the previous fix listed after the next one: once sorted in time, an exact duplicate
    counts = {
        "speed_spike": int((ityp == 0).sum()),
        "duplicate": int((ityp == 1).sum() + (ityp == 2).sum()),
        "stale_repeat": int((ityp == 3).sum()),
    }
    return out, counts


#: realistic rates of the failure classes real-world data shows (``generate(failures=True)``)
FAILURE_RATES = {
    "unsorted_aircraft": 0.2,  # aircraft whose later flights are listed before earlier ones (OpenSky output)
    "ground_flicker": 0.02,  # taxi fixes reported airborne for one fix
    "altitude_glitch": 0.005,  # taxi fixes reported airborne at 39,000 ft
    "air_flicker": 0.002,  # cruise fixes reported on the ground for one fix
    "callsign_change": 0.05,  # legs whose callsign changes after 60 % of the flight
    "spoofed_run": 0.03,  # legs with a run of 3-8 cruise fixes displaced by 3-6 degrees
    "strip": 0.03,  # stops at strips far from any airport (unknown airport is the right answer)
}


def _plant_failures(tbl: pa.Table, P, R, rng, rates) -> tuple[pa.Table, pa.Table, dict, dict]:
    """Row-aligned failures (flag flicker, altitude glitches, spoofed runs) on a copy of ``tbl``; returns
    (failed table, clean table with the callsign changes, planted counts, {leg index: new callsign}): a
    callsign change is real, so the clean table carries it too."""
    leg, kind, air, t = R["leg"], R["kind"], R["air"], R["t"]
    gnd = tbl.column("on_ground").to_numpy(zero_copy_only=False).copy()
    alt = tbl.column("alt_ft").to_numpy(zero_copy_only=False).astype(np.float32).copy()
    lat = tbl.column("lat").to_numpy().copy()
    lon = tbl.column("lon").to_numpy().copy()
    taxi = np.flatnonzero((kind == 0) | (kind == 4))
    flick = taxi[rng.random(len(taxi)) < rates["ground_flicker"]]
    gnd[flick] = False
    alt[flick] = 300.0
    glitch = taxi[rng.random(len(taxi)) < rates["altitude_glitch"]]
    gnd[glitch] = False
    alt[glitch] = 39000.0
    f = np.where(air, (t - P["t0"][leg]) / P["dur"][leg], 0.0)
    cruise = np.flatnonzero(air & (f > 0.2) & (f < 0.8))
    aflick = cruise[rng.random(len(cruise)) < rates["air_flicker"]]
    gnd[aflick] = True
    alt[aflick] = np.nan
    # spoofed runs in cruise, away from gaps: 3-8 consecutive fixes shifted 3-6 degrees
    spoofed = 0
    legs_with = np.flatnonzero(rng.random(len(P["t0"])) < rates["spoofed_run"])
    for L in legs_with:
        rows = np.flatnonzero((leg == L) & air & (f > 0.25) & (f < 0.33))
        k = int(rng.integers(3, 9))
        if len(rows) < k + 2 or (np.diff(t[rows]) > 300).any():
            continue
        a = rows[int(rng.integers(1, len(rows) - k))]
        lat[a : a + k] = np.clip(lat[a : a + k] + rng.choice([-1, 1]) * rng.uniform(3, 6), -89, 89)
        spoofed += k
    # callsign changes (real: applied to the clean table too)
    cs = tbl.column("callsign").to_pylist()
    changes = {}
    for L in np.flatnonzero(rng.random(len(P["t0"])) < rates["callsign_change"]):
        rows = np.flatnonzero((leg == L) & (f >= 0.6) & air)
        if len(rows):
            new = P["callsign"][L] + "A"
            for i in np.r_[rows, np.flatnonzero((leg == L) & (kind == 4))]:
                cs[i] = new
            changes[int(L)] = new
    out = tbl.set_column(tbl.schema.get_field_index("callsign"), "callsign", pa.array(cs, pa.string()))
    clean = out
    out = out.set_column(out.schema.get_field_index("on_ground"), "on_ground", pa.array(gnd))
    out = out.set_column(out.schema.get_field_index("alt_ft"), "alt_ft", pa.array(alt, mask=np.isnan(alt)))
    out = out.set_column(out.schema.get_field_index("lat"), "lat", pa.array(lat))
    out = out.set_column(out.schema.get_field_index("lon"), "lon", pa.array(lon))
    counts = {
        "ground_flicker": len(flick),
        "altitude_glitch": len(glitch),
        "air_flicker": len(aflick),
        "implausible_run": spoofed,
        "callsign_change": len(changes),
    }
    return out, clean, counts, changes


def _unsort(tbl: pa.Table, P, rng, rate: float) -> tuple[pa.Table, int]:
    """File order as OpenSky gives it: for a share of aircraft, the rows from their second flight on are
    listed before those of their first."""
    import pyarrow.compute as pc

    if rate <= 0 or tbl.num_rows == 0:
        return tbl, 0
    enc = pc.dictionary_encode(tbl.column("icao24")).combine_chunks()
    ac = enc.indices.to_numpy(zero_copy_only=False)
    hexes = enc.dictionary.to_pylist()
    n_ac = len(hexes)
    chosen = rng.random(n_ac) < rate
    first_leg: dict[int, int] = {}
    for L, a in enumerate(P["ac"]):
        first_leg.setdefault(int(a), L)
    split = np.full(n_ac, np.iinfo(np.int64).max)
    ac_of_hex = {h: i for i, h in enumerate(P["icao_hex"])} if "icao_hex" in P else {}
    for i, h in enumerate(hexes):
        a = ac_of_hex.get(h)
        if a is not None and chosen[i] and first_leg[a] + 1 < len(P["t0"]) and P["ac"][first_leg[a] + 1] == a:
            split[i] = (P["t0"][first_leg[a] + 1] - 3600) * 1_000_000
    t = tbl.column("time_utc").cast(pa.int64()).to_numpy()
    late_first = (t < split[ac]).astype(np.int8)  # 0 = later flights, listed first
    order = np.lexsort((np.arange(len(t)), late_first, ac))
    return tbl.take(pa.array(order)), int((split < np.iinfo(np.int64).max).sum())


def generate(
    n_aircraft: int = 50,
    legs_per_aircraft: int = 4,
    seed: int = 0,
    *,
    noise_rate: float = 0.002,
    gap_prob: float = 0.5,
    p_start_airborne: float = 0.1,
    p_end_airborne: float = 0.1,
    dense_s=(1, 10),
    coarse_s=(30, 60),
    t_start: int = EPOCH_2024,
    failures: bool | dict = False,
) -> Generated:
    """Generate traffic with truth. ``noise_rate`` ~ fraction of airborne fixes given planted noise.

    ``failures=True`` (or a dict overriding :data:`FAILURE_RATES`) also plants the failure classes of
    real-world data: unsorted rows, ground-flag flicker, altitude glitches, callsign changes, spoofed runs,
    strips far from any airport (and, as always, starts/ends en route). Planted counts join ``noise``
    under their class names; the truth legs carry ``callsign_changes``."""
    rates = FAILURE_RATES | (failures if isinstance(failures, dict) else {}) if failures else None
    rng = np.random.default_rng(seed)
    icao_int = np.sort(rng.choice(np.arange(0x100000, 0xF00000), n_aircraft, replace=False))
    icao_hex = _icao_str(icao_int)
    regs = np.array([f"RA-{v:05d}" for v in rng.integers(0, 99999, n_aircraft)], dtype=object)
    P = _plan(
        rng,
        n_aircraft,
        legs_per_aircraft,
        icao_int,
        t_start=t_start,
        p_start_air=p_start_airborne,
        p_end_air=p_end_airborne,
        gap_prob=gap_prob,
        dense_s=dense_s,
        coarse_s=coarse_s,
        p_strip=rates["strip"] if rates else 0.0,
    )
    R = _expand(P, rng)
    clean = _rows_table(P, R, icao_hex, regs)
    legs, gaps = _truth(P, R, icao_hex, regs)
    if not rates:
        noisy, counts = _plant_noise(clean, R, rng, noise_rate)
        return Generated(positions=noisy, clean=clean, legs=legs, gaps=gaps, noise=counts)
    P["icao_hex"] = icao_hex[np.arange(n_aircraft)]
    failed, clean, planted, changes = _plant_failures(clean, P, R, rng, rates)
    noisy, counts = _plant_noise(failed, R, rng, noise_rate)
    noisy, n_unsorted = _unsort(noisy, P, rng, rates["unsorted_aircraft"])
    change_of = {int(L): c for L, c in changes.items()}
    # truth callsign of a changed leg: the one most of its *present* airborne fixes carry
    f = np.where(R["air"], (R["t"] - P["t0"][R["leg"]]) / P["dur"][R["leg"]], 0.0)
    majority = {}
    for L, c in change_of.items():
        m = R["air"] & (R["leg"] == L)
        majority[L] = c if (m & (f >= 0.6)).sum() > (m & (f < 0.6)).sum() else P["callsign"][L]
    leg_index = P["j"] + P["ac"] * legs_per_aircraft  # plan index of each (aircraft, leg_no)
    truth_idx = [
        int(np.flatnonzero(icao_hex == h)[0]) * legs_per_aircraft + k - 1
        for h, k in zip(legs["icao24"], legs["leg_no"], strict=True)
    ]
    legs = legs.with_columns(
        pl.Series("callsign", [majority.get(L, P["callsign"][L]) for L in truth_idx], dtype=pl.String),
        pl.Series(
            "callsign_changes",
            [
                f"{P['callsign'][L]}>{change_of[L]}" if L in change_of else None
                for L in leg_index[
                    [
                        int(np.flatnonzero(icao_hex == h)[0]) * legs_per_aircraft + k - 1
                        for h, k in zip(legs["icao24"], legs["leg_no"], strict=True)
                    ]
                ]
            ],
            dtype=pl.String,
        ),
    )
    counts = (
        dict(counts) | {"planted_" + k: v for k, v in planted.items()} | {"unsorted_aircraft": n_unsorted}
    )
    return Generated(positions=noisy, clean=clean, legs=legs, gaps=gaps, noise=counts)


def generate_positions_parquet(
    path,
    n_positions: int,
    seed: int = 0,
    legs_per_aircraft: int = 5,
    chunk_aircraft: int = 1500,
    rg_rows: int = 1_000_000,
) -> dict:
    """Write about ``n_positions`` clean positions, sorted, in the store layout (chunked, vectorised).

    Returns stats: rows, aircraft, legs (true airborne legs), gaps, seconds.
    """
    import time

    from analysis.tracks.store import STORE_SCHEMA, _PartWriter

    t_begin = time.perf_counter()
    rng = np.random.default_rng(seed)
    w = _PartWriter(Path(path), rg_rows)
    rows = n_ac = n_legs = n_gaps = 0
    c = 0
    while rows < n_positions:
        icao_int = (0x100000 + (n_ac + np.arange(chunk_aircraft)) * 7).astype(np.int64)
        icao_hex = _icao_str(icao_int)
        regs = np.array([f"RA-{v:05d}" for v in rng.integers(0, 99999, chunk_aircraft)], dtype=object)
        P = _plan(
            rng,
            chunk_aircraft,
            legs_per_aircraft,
            icao_int,
            t_start=EPOCH_2024,
            p_start_air=0.1,
            p_end_air=0.1,
            gap_prob=0.5,
            dense_s=(1, 10),
            coarse_s=(30, 60),
        )
        R = _expand(P, rng)
        if rows + R["n"] > n_positions:  # trim at an aircraft boundary
            ac_rows = np.bincount(P["ac"][R["leg"]], minlength=chunk_aircraft)
            k = int(np.searchsorted(np.cumsum(ac_rows), n_positions - rows)) + 1
            keep = P["ac"][R["leg"]] < k
            R = {
                key: (v[keep] if isinstance(v, np.ndarray) and len(v) == R["n"] else v)
                for key, v in R.items()
            }
            R["n"] = int(keep.sum())
        tbl = _rows_table(P, R, icao_hex, regs)
        ints = pa.array(icao_int[P["ac"][R["leg"]]].astype(np.uint32))
        w.add(tbl.append_column("icao_int", ints).cast(STORE_SCHEMA))
        legs_true, gaps_true = _truth(P, R, icao_hex, regs)
        n_legs += legs_true.height
        n_gaps += gaps_true.height
        rows += R["n"]
        n_ac += len(np.unique(P["ac"][R["leg"]]))
        c += 1
    w.close()
    return {
        "rows": rows,
        "aircraft": n_ac,
        "legs": n_legs,
        "gaps": n_gaps,
        "seconds": time.perf_counter() - t_begin,
    }


# --------------------------------------------------------------------------------------- writers
def _groups(tbl: pa.Table):
    """Yield (icao24, sub-table) per aircraft, keeping row order."""
    ic = np.array(tbl.column("icao24").to_pylist(), dtype=object)
    if not len(ic):
        return
    starts = np.flatnonzero(np.r_[True, ic[1:] != ic[:-1]])
    ends = np.r_[starts[1:], len(ic)]
    for a, b in zip(starts, ends, strict=True):
        yield ic[a], tbl.slice(a, b - a)


def _cols(t: pa.Table):
    d = {
        c: t.column(c).to_numpy(zero_copy_only=False)
        for c in ("lat", "lon", "alt_ft", "gs_kt", "track_deg", "vrate_fpm", "on_ground")
    }
    d["t"] = t.column("time_utc").cast(pa.int64()).to_numpy() / 1e6
    d["callsign"] = t.column("callsign").to_pylist()
    d["registration"] = t.column("registration").to_pylist()
    return d


def write_readsb_tree(positions: pa.Table, root, gz: bool = True, extended: bool = True) -> list[Path]:
    """Write ``root/traces/<last 2 hex>/trace_full_<hex>.json`` (gzip content when ``gz``).

    ``extended`` writes the post-2022 columns 9..13. Details (callsign) on the first fix and whenever
    the callsign changes; flag 2 (new leg) on the first fix and after a ground stop of more than 30 min
    without fixes; flag 1 (stale) after > 20 s without a fix.
    """
    root = Path(root)
    out = []
    for hexa, t in _groups(positions):
        d = _cols(t)
        ts0 = float(np.floor(d["t"].min()))  # offsets >= 0 even when rows are out of time order
        off = np.round(d["t"] - ts0, 2).tolist()
        alt = [
            "ground" if g else (None if np.isnan(a) else int(round(a)))
            for g, a in zip(d["on_ground"], d["alt_ft"], strict=True)
        ]
        cs = d["callsign"]
        dtp = np.r_[0, np.diff(d["t"])]
        flags = np.where(dtp > 20, 1, 0)
        change = [i for i in range(len(cs)) if i == 0 or cs[i] != cs[i - 1]]
        det: list[dict | None] = [None] * len(cs)
        # readsb's new-leg flag: the first fix, and the first fix after a ground stop without fixes
        gnd = np.asarray(d["on_ground"], bool)
        new_leg = np.r_[True, (dtp[1:] > 1800) & gnd[1:] & gnd[:-1]]
        flags[new_leg] |= 2
        for i in change:
            if cs[i] is not None:
                det[i] = {"flight": cs[i].ljust(8), "squawk": "1200", "category": "A5"}
        lat = np.round(d["lat"], 6).tolist()
        lon = np.round(d["lon"], 6).tolist()
        gs = [None if np.isnan(x) else round(float(x), 1) for x in d["gs_kt"]]
        trk = [None if np.isnan(x) else round(float(x), 1) for x in d["track_deg"]]
        vr = [None if np.isnan(x) else int(round(x)) for x in d["vrate_fpm"]]
        fl = flags.tolist()
        if extended:
            trace = [
                [o, la, lo, a, g, tr, f, v, dt, "adsb_icao", None if a == "ground" else a, v, None, None]
                for o, la, lo, a, g, tr, f, v, dt in zip(
                    off, lat, lon, alt, gs, trk, fl, vr, det, strict=True
                )
            ]
        else:
            trace = [
                [o, la, lo, a, g, tr, f, v, dt]
                for o, la, lo, a, g, tr, f, v, dt in zip(
                    off, lat, lon, alt, gs, trk, fl, vr, det, strict=True
                )
            ]
        obj = {
            "icao": hexa,
            "r": d["registration"][0],
            "t": "IL96",
            "dbFlags": 1,
            "desc": "ILYUSHIN IL-96",
            "timestamp": ts0,
            "trace": trace,
        }
        p = root / "traces" / hexa[-2:] / f"trace_full_{hexa}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(obj, separators=(",", ":")).encode()
        p.write_bytes(gzip.compress(data, compresslevel=1, mtime=0) if gz else data)
        out.append(p)
    return out


def write_opensky(positions: pa.Table, path, stale_rows: int = 0, seed: int = 0) -> Path:
    """OpenSky ``state_vectors_data4``-like CSV or parquet (by suffix), rows ordered by time.

    ``stale_rows`` extra rows with ``time - lastcontact = 100`` s (OpenSky keeps rows after coverage is
    lost) are added as noise the reader must drop.
    """
    path = Path(path)
    d = _cols(positions)
    hexes = positions.column("icao24").to_pylist()
    n = len(hexes)
    alt_m = np.round(d["alt_ft"] / FT_PER_M, 2)
    df = pl.DataFrame(
        {
            "time": d["t"].astype(np.int64),
            "icao24": hexes,
            "lat": d["lat"],
            "lon": d["lon"],
            "velocity": np.round(d["gs_kt"] / KT_PER_MS, 3),
            "heading": d["track_deg"].astype(np.float64),
            "vertrate": np.round(d["vrate_fpm"] / FPM_PER_MS, 3),
            "callsign": [(c or "").ljust(8) for c in d["callsign"]],
            "onground": d["on_ground"],
            "alert": np.zeros(n, bool),
            "spi": np.zeros(n, bool),
            "squawk": ["1200"] * n,
            "baroaltitude": alt_m,
            "geoaltitude": alt_m,
            "lastposupdate": d["t"],
            "lastcontact": d["t"],
        }
    ).with_columns(pl.col("baroaltitude").fill_nan(None), pl.col("geoaltitude").fill_nan(None))
    if stale_rows:
        rng = np.random.default_rng(seed)
        pick = df.filter(~pl.col("onground")).sample(stale_rows, seed=int(rng.integers(1 << 30)))
        stale = pick.with_columns((pl.col("time") + 100).alias("time"), pl.col("lastcontact"))
        df = pl.concat([df, stale])
    df = df.with_columns((pl.col("time") // 3600 * 3600).alias("hour")).sort(
        "time", "icao24", maintain_order=True
    )
    if path.suffix == ".parquet":
        df.write_parquet(path)
    else:
        df.write_csv(path)
    return path


def write_fr24_csv(positions: pa.Table, path) -> Path:
    """FR24 web CSV for ONE aircraft: ``Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction``."""
    import datetime as _dt

    d = _cols(positions)
    lines = ["Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction"]
    for i in range(len(d["t"])):
        ts = int(d["t"][i])
        utc = _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        alt = 0 if d["on_ground"][i] else int(round(d["alt_ft"][i]))
        lines.append(
            f'{ts},{utc},{d["callsign"][i] or ""},"{d["lat"][i]:.6f},{d["lon"][i]:.6f}",{alt},'
            f"{int(round(d['gs_kt'][i]))},{int(round(d['track_deg'][i]))}"
        )
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_fr24_kml(positions: pa.Table, path) -> Path:
    """FR24-like KML for ONE aircraft: a Placemark per fix (TimeStamp + Point lon,lat,alt_m) plus a LineString."""
    import datetime as _dt

    d = _cols(positions)
    pts = []
    coords = []
    for i in range(len(d["t"])):
        when = _dt.datetime.fromtimestamp(int(d["t"][i]), _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        alt_m = 0 if d["on_ground"][i] else int(round(d["alt_ft"][i] / FT_PER_M))
        c = f"{d['lon'][i]:.6f},{d['lat'][i]:.6f},{alt_m}"
        coords.append(c)
        pts.append(
            f"<Placemark><name>{d['callsign'][i] or ''}</name><TimeStamp><when>{when}</when></TimeStamp>"
            f'<ExtendedData><Data name="speed"><value>{int(round(d["gs_kt"][i]))}</value></Data>'
            f'<Data name="heading"><value>{int(round(d["track_deg"][i]))}</value></Data></ExtendedData>'
            f"<Point><altitudeMode>absolute</altitudeMode><coordinates>{c}</coordinates></Point></Placemark>"
        )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n'
        + "\n".join(pts)
        + f"\n<Placemark><name>Trail</name><LineString><coordinates>{' '.join(coords)}</coordinates></LineString>"
        "</Placemark>\n</Document></kml>\n"
    )
    Path(path).write_text(doc)
    return Path(path)


def write_fr24_json(positions: pa.Table, path) -> Path:
    """FR24 site JSON for ONE aircraft: ``result.response.data.flight.track[]`` (+ identification, aircraft)."""
    d = _cols(positions)
    hexa = positions.column("icao24")[0].as_py()
    track = []
    for i in range(len(d["t"])):
        ft = 0 if d["on_ground"][i] else int(round(d["alt_ft"][i]))
        kts = int(round(d["gs_kt"][i]))
        track.append(
            {
                "latitude": round(float(d["lat"][i]), 6),
                "longitude": round(float(d["lon"][i]), 6),
                "altitude": {"feet": ft, "meters": int(round(ft / FT_PER_M))},
                "speed": {"kts": kts, "kmh": round(kts * 1.852, 1), "mph": round(kts * 1.15078, 1)},
                "verticalSpeed": {
                    "fpm": int(round(d["vrate_fpm"][i])),
                    "ms": round(float(d["vrate_fpm"][i]) / FPM_PER_MS, 2),
                },
                "heading": int(round(d["track_deg"][i])),
                "squawk": "1200",
                "timestamp": int(d["t"][i]),
                "ems": None,
            }
        )
    obj = {
        "result": {
            "request": {"format": "json"},
            "response": {
                "data": {
                    "flight": {
                        "identification": {"id": "2f0a1b2c", "callsign": d["callsign"][0]},
                        "aircraft": {
                            "model": {"code": "IL96", "text": "Ilyushin Il-96-300"},
                            "identification": {"modes": hexa.upper(), "registration": d["registration"][0]},
                        },
                        "track": track,
                    }
                }
            },
        }
    }
    Path(path).write_text(json.dumps(obj))
    return Path(path)


def write_generic_csv(positions: pa.Table, path, tz: str | None = None) -> dict:
    """Generic CSV in metres and m/s with ISO times; returns the reader ``options`` (mapping, units).

    With ``tz`` the times are written as local wall-clock times without offset in that zone, and the
    returned options declare ``tz`` (the only way such a file is accepted).
    """
    d = _cols(positions)
    ts = pl.from_epoch(pl.Series(d["t"].astype(np.int64)), time_unit="s").dt.replace_time_zone("UTC")
    if tz:
        times = ts.dt.convert_time_zone(tz).dt.strftime("%Y-%m-%d %H:%M:%S")
    else:
        times = ts.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    df = pl.DataFrame(
        {
            "hex": positions.column("icao24").to_pylist(),
            "when": times,
            "latitude": d["lat"],
            "longitude": d["lon"],
            "altitude_m": np.where(d["on_ground"], 0.0, np.round(d["alt_ft"] / FT_PER_M, 2)),
            "speed_ms": np.round(d["gs_kt"] / KT_PER_MS, 3),
            "heading": d["track_deg"],
            "gnd": d["on_ground"].astype(np.int8),
            "flight": d["callsign"],
        }
    )
    df.write_csv(path)
    opts = {
        "mapping": {
            "icao24": "hex",
            "time": "when",
            "lat": "latitude",
            "lon": "longitude",
            "alt": "altitude_m",
            "gs": "speed_ms",
            "track": "heading",
            "on_ground": "gnd",
            "callsign": "flight",
        },
        "alt_unit": "m",
        "speed_unit": "m/s",
        "time_format": "iso",
    }
    if tz:
        opts["tz"] = tz
    return opts


def demo_input(directory=None, seed: int = 3) -> tuple[list[tuple[str, str, dict]], str]:
    """A generated readsb ``traces/`` tree of a few aircraft with every failure class planted (:func:`generate`),
    written under ``directory`` (a new temporary folder when None) with its truth unless already there; returns
    (tracks, the hex of one aircraft), the arguments of :func:`analysis.tracks.explore.trace_of`. The demo trace of
    ``notebooks/observed.ipynb``."""
    import tempfile

    d = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="observed-demo-"))
    g = generate(4, 4, seed=seed, failures=True, p_start_airborne=0.5)
    if not (d / "traces").exists():
        write_readsb_tree(g.positions, d)
        g.write_truth(d / "truth")
    return [(str(d / "traces"), "readsb", {})], g.legs["icao24"][0]
