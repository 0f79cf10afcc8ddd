"""Segmentation: positions -> observed legs, stops and transponder gaps.

One pure kernel, :func:`segment_batch` (positions of whole aircraft in, ``(legs, gaps)`` out; it sorts
by aircraft and time itself, so any row order gives the same legs). :func:`segment_parquet` runs it
over parquet row groups in aircraft order: row groups are grouped into work units that never split an
aircraft (from the row-group min/max statistics of ``icao_int``), and two threads process units in
parallel (the compiled loops of :mod:`.kernels`, numpy and the parquet reader release the GIL; an input of fewer
than ``kernels.COMPILE_MIN_ROWS`` rows runs the same loops in the interpreter, so a small input loads no numba).
Memory is bounded by the unit size; the frames are assembled once per file.

Rules (``SegmentParams``):

* **Ground state with hysteresis**: the reported on-ground flag changes state only when the next
  ``ground_confirm_fixes`` fixes of the same stretch (no gap, same aircraft; fewer at its end) all
  report the new state, so a flag that flickers for one or two fixes changes nothing.
* A **candidate leg** is a maximal run of airborne fixes of one aircraft. A new one also starts at a
  readsb new-leg flag (bit 2) and after a transponder gap when the aircraft was low on both sides
  (< ``low_alt_ft``), or when the gap's implied speed is below ``min_gap_speed_kt`` (it must have
  stopped somewhere), or when the gap is longer than ``max_gap_in_leg_h``.
* **A leg is a flight**: a candidate is refused (its fixes count as ground, the reason is counted)
  with fewer than ``min_leg_fixes`` fixes (``too_few_fixes``), lasting less than ``min_leg_s``
  (``too_short``), or, seen from takeoff to landing, climbing less than ``min_climb_ft`` (altitudes
  as the median of each fix and its neighbours, so one glitched fix at 39,000 ft is no climb) or,
  without altitudes, ending less than ``min_leg_km`` from where it began (``no_climb``).
* **Takeoff observed**: the fix before the leg is the same aircraft on the ground, at most
  ``gap_min_s`` earlier. **Landing observed** likewise after the leg. The departure point is that
  ground fix (else the first airborne fix), the arrival point the ground fix after (else the last).
  ``dep_time_utc``/``arr_time_utc`` are the first/last airborne fix of a leg whose takeoff/landing
  was observed (null otherwise); ``first_seen_utc``/``last_seen_utc`` are always set.
* **Block times**: ``off_block_utc`` = first movement before takeoff (the first fix after the last
  parked run of the ground stretch before takeoff, else the stretch's first fix), ``on_block_utc`` =
  coming to rest after landing (the first fix of the first parked run after landing, else the last
  ground fix of the stretch). A ground stretch is cut by a gap and by the readsb new-leg flag, so a
  flag set on the ground starts the next leg's block. Parked = stationary (< 1 kt, or < 15 m moved)
  for ``park_s`` or more.
* **Callsign**: the one most of the leg's own airborne fixes carry; ``callsign_changes`` lists the
  sequence (``A>B``) when it changed within the leg.
* **Airports**: nearest airport within ``airport_radius_km`` of the departure/arrival point, only
  when the point is on the ground or below ``airport_max_alt_ft`` (a trace that starts at cruise
  altitude mid-ocean gets no airport); none that close: null (unknown), never the nearest far one.
* **Gaps**: consecutive fixes of one aircraft more than ``gap_min_s`` apart with at least one of the
  two airborne; ``in_leg_no`` is null when the gap separates two legs. ``implied_speed_kt`` is the
  jump over the gap's duration; ``is_implausible`` when above ``max_gap_speed_kt`` (spoofing or bad
  data). Legs count such jumps (and single steps above ``max_speed_kt``) in ``n_implausible_jumps``.
* **Stops**: between consecutive legs of an aircraft (dwell from last airborne fix to the next first
  airborne fix), :func:`stops_from_legs`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import kernels as K
from .airports import EARTH_RADIUS_KM, haversine_km, nearest_airport
from .arrays import from_numpy, scalar, strings, to_numpy

__all__ = [
    "SegmentParams",
    "Segments",
    "segment_batch",
    "segment_batch_counted",
    "segment_parquet",
    "stops_from_legs",
    "work_units",
    "SEGMENT_COLUMNS",
    "LEGS_SCHEMA",
    "GAPS_SCHEMA",
    "STOPS_SCHEMA",
]

log = logging.getLogger(__name__)

SEGMENT_COLUMNS = [
    "icao_int",
    "time_utc",
    "lat",
    "lon",
    "alt_ft",
    "on_ground",
    "readsb_flags",
    "callsign",
    "registration",
    "gs_kt",
]


@dataclass(frozen=True)
class SegmentParams:
    """Thresholds of the segmentation rules (see module docstring)."""

    gap_min_s: float = 600.0
    low_alt_ft: float = 10000.0
    min_gap_speed_kt: float = 60.0
    max_gap_in_leg_h: float = 20.0
    airport_radius_km: float = 20.0
    airport_max_alt_ft: float = 5000.0
    ground_confirm_fixes: int = 3
    min_leg_fixes: int = 5
    min_leg_s: float = 120.0
    min_climb_ft: float = 300.0
    min_leg_km: float = 5.0
    park_s: float = 300.0
    max_speed_kt: float = 1200.0
    max_gap_speed_kt: float = 800.0


@dataclass
class Segments:
    """Legs, stops and gaps as polars DataFrames (times Datetime('us', 'UTC'))."""

    legs: pl.DataFrame
    stops: pl.DataFrame
    gaps: pl.DataFrame
    n_positions: int
    rejected: dict = field(default_factory=dict)


def work_units(path, max_rows: int = 2_000_000) -> list[list[int]]:
    """Row-group index lists; consecutive groups sharing an aircraft are kept together."""
    md = pq.ParquetFile(path).metadata
    ci = md.schema.to_arrow_schema().get_field_index("icao_int")
    units: list[list[int]] = []
    rows = 0
    prev_max = None
    for rg in range(md.num_row_groups):
        r = md.row_group(rg)
        st = r.column(ci).statistics
        if st is None or not st.has_min_max:
            raise ValueError(f"{path}: row group {rg} has no icao_int statistics")
        joined = prev_max is not None and st.min == prev_max
        if units and (joined or rows + r.num_rows <= max_rows):
            units[-1].append(rg)
            rows += r.num_rows
        else:
            units.append([rg])
            rows = r.num_rows
        if prev_max is not None and st.min < prev_max:
            raise ValueError(f"{path}: row groups not sorted by icao_int (group {rg})")
        prev_max = st.max
    return units


def _chunk(tbl: pa.Table, p: SegmentParams, kern):
    """The kernel's pass over a table sorted by (icao_int, time_utc) of whole aircraft: the row-level work in
    loops of :mod:`.kernels` (one pass each; compiled for a big table), the per-leg and per-gap work in numpy."""
    n = tbl.num_rows
    ic = to_numpy(tbl.column("icao_int"))
    t = to_numpy(tbl.column("time_utc").cast(pa.int64()))
    lat = to_numpy(tbl.column("lat"))
    lon = to_numpy(tbl.column("lon"))
    alt32 = to_numpy(tbl.column("alt_ft"))  # float32, NaN for null
    gnd_raw = to_numpy(tbl.column("on_ground").fill_null(scalar(False, pa.bool_())))
    gs = to_numpy(tbl.column("gs_kt")) if "gs_kt" in tbl.column_names else None
    fl = tbl.column("readsb_flags")
    newleg = np.zeros(n, bool)
    if fl.null_count < n:
        newleg = (to_numpy(fl.fill_null(scalar(0, fl.type))) & 2).astype(bool)
    gap_us = int(p.gap_min_s * 1e6)
    # same aircraft as the row before, time steps, the rows ending a gap (sparse) and the ground-state
    # hysteresis: a change of state counts when the next k fixes of the same stretch (same aircraft, no gap;
    # fewer at its end) all report the new state; a short ground run at the end of a stretch counts only after
    # a low approach (a landing, then the transponder off), not after a fix at cruise (a flag flicker)
    same, dt, gi, air = kern.rows_state(
        ic, t, alt32, gnd_raw, gap_us, float(p.airport_max_alt_ft), max(int(p.ground_confirm_fixes), 1)
    )
    big = np.zeros(n, bool)
    big[gi] = True
    jump = haversine_km(lat[gi - 1], lon[gi - 1], lat[gi], lon[gi]) if len(gi) else np.empty(0)
    # gaps that end a leg: low on both sides, implied speed too low, or too long (altitude either side of
    # the gap: an airborne fix without one takes the nearest known altitude of the aircraft)
    split_rows = np.empty(0, np.int64)
    if len(gi):
        a0, a1 = kern.gap_altitudes(alt32, ic, air, gi)
        low = (np.nan_to_num(a0, nan=0.0) < p.low_alt_ft) & (np.nan_to_num(a1, nan=0.0) < p.low_alt_ft)
        spd = jump / 1.852 / (dt[gi] / 3.6e9)
        split = low | (spd < p.min_gap_speed_kt) | (dt[gi] > p.max_gap_in_leg_h * 3.6e9)
        split_rows = gi[split & air[gi] & air[gi - 1]]
    # candidate legs, the range of their altitudes (median of 3 within one aircraft, so a single glitched
    # fix is no climb) and takeoff / landing seen
    starts, ends, hi, lo, tko, lnd = kern.candidates(air, same, newleg, split_rows, alt32, gap_us, dt)
    rejected: dict[str, int] = {}
    if not len(starts):
        return {"n": n, "legs": None, "gaps": None, "rejected": rejected}
    n_fix = ends - starts + 1
    dur_s = (t[ends] - t[starts]) / 1e6
    climb = hi - lo
    span_km = haversine_km(lat[starts], lon[starts], lat[ends], lon[ends])
    no_alt = np.isnan(hi)
    few = n_fix < p.min_leg_fixes
    short = ~few & (dur_s < p.min_leg_s)
    # a flight seen from takeoff to landing climbs; without altitudes it must at least go somewhere
    flat = ~few & ~short & tko & lnd & np.where(no_alt, span_km < p.min_leg_km, ~(climb >= p.min_climb_ft))
    bad = few | short | flat
    if bad.any():
        for name, m in (("too_few_fixes", few), ("too_short", short), ("no_climb", flat)):
            if m.any():
                rejected[name] = rejected.get(name, 0) + int(m.sum())
        kern.clear_ranges(air, starts[bad], ends[bad])  # refused candidates count as ground
        keep = np.flatnonzero(~bad)
        if not len(keep):
            return {"n": n, "legs": None, "gaps": None, "rejected": rejected}
        # the highest altitude from a leg's start to the next leg's start, over the candidates in between
        max_alt = np.fmax.reduceat(hi, keep)
        starts, ends = starts[keep], ends[keep]
    else:
        max_alt = hi
    gnd = ~air
    # path length: equirectangular steps in float32 (exact haversine for the sparse gap steps) from each row
    # of a leg to the next, summed in float64
    c = lat.astype(np.float32)
    c *= np.float32(np.pi / 180)
    np.cos(c, out=c)
    deg_km = np.radians(1.0) * EARTH_RADIUS_KM
    # and the implausible steps inside a leg (faster than any aircraft; over a gap the lower gap limit)
    sums, imp_leg = kern.leg_steps(
        lat,
        lon,
        c,
        starts,
        ends,
        gi,
        jump,
        dt,
        deg_km,
        gap_us,
        float(p.max_speed_kt),
        float(p.max_gap_speed_kt),
    )
    del c
    path_km = sums * deg_km
    # takeoff / landing observed: adjacent ground fix of the same aircraft within gap_min_s
    sp = starts - 1
    tko = (starts > 0) & same[starts] & gnd[np.maximum(sp, 0)] & (dt[starts] <= gap_us)
    en = np.minimum(ends + 1, n - 1)
    lnd = (ends + 1 < n) & same[en] & gnd[en] & (dt[en] <= gap_us)
    dep_i = np.where(tko, sp, starts)
    arr_i = np.where(lnd, en, ends)
    off_i, on_i = _block(t, lat, lon, gs, gnd, same, big, newleg, starts, ends, tko, lnd, p)
    call, changes = _callsigns(tbl.column("callsign"), starts, ends, n, kern)
    reg = tbl.column("registration").take(from_numpy(starts)).cast(pa.string())
    alt_d, alt_a = alt32[dep_i].astype(np.float64), alt32[arr_i].astype(np.float64)
    legs = {
        "icao_int": ic[starts],
        "first_us": t[starts],
        "last_us": t[ends],
        "off_us": np.where(off_i >= 0, t[np.maximum(off_i, 0)], 0),
        "on_us": np.where(on_i >= 0, t[np.maximum(on_i, 0)], 0),
        "has_off": off_i >= 0,
        "has_on": on_i >= 0,
        "dep_lat": lat[dep_i],
        "dep_lon": lon[dep_i],
        "arr_lat": lat[arr_i],
        "arr_lon": lon[arr_i],
        "dep_low": gnd[dep_i] | (np.nan_to_num(alt_d, nan=0.0) <= p.airport_max_alt_ft),
        "arr_low": gnd[arr_i] | (np.nan_to_num(alt_a, nan=0.0) <= p.airport_max_alt_ft),
        "tko": tko,
        "lnd": lnd,
        "n_positions": ends - starts + 1,
        "max_alt_ft": max_alt,
        "gc_km": haversine_km(lat[starts], lon[starts], lat[ends], lon[ends]),
        "path_km": path_km,
        "n_implausible": imp_leg,
        "callsign": call,
        "callsign_changes": changes,
        "registration": reg,
    }
    gaps = None
    gmask = air[gi] | air[gi - 1]
    g = gi[gmask]
    if len(g):
        inleg = air[g] & air[g - 1] & ~np.isin(g, starts)
        leg_idx = np.searchsorted(starts, g, "right") - 1
        gaps = {
            "icao_int": ic[g],
            "start_us": t[g - 1],
            "end_us": t[g],
            "jump_km": jump[gmask],
            "start_lat": lat[g - 1],
            "start_lon": lon[g - 1],
            "end_lat": lat[g],
            "end_lon": lon[g],
            "leg_idx": np.where(inleg, leg_idx, -1),
        }
    return {"n": n, "legs": legs, "gaps": gaps, "rejected": rejected}


def _block(t, lat, lon, gs, gnd, same, big, newleg, starts, ends, tko, lnd, p: SegmentParams):
    """Row index of the first movement before each leg (off block) and of the arrival at rest after it
    (on block), or -1 when not seen.

    A ground *stretch* is a run of ground fixes of one aircraft without a gap of more than
    ``gap_min_s``, cut at a readsb new-leg flag. A fix is *stationary* when its ground speed is below
    1 kt (without a speed: it moved less than 15 m since the fix before); a stationary run lasting
    ``park_s`` or more is *parked*. Off block = the first fix after the last parked run of the stretch
    before takeoff (else the stretch's first fix: the first movement seen). On block = the first fix of
    the first parked run of the stretch after landing (else the stretch's last ground fix)."""
    off = np.full(len(starts), -1)
    on = np.full(len(starts), -1)
    gi = np.flatnonzero(gnd)  # work on the ground fixes only: far fewer than all fixes
    m = len(gi)
    if m == 0:
        return off, on
    contig = np.zeros(m, bool)  # the ground fix before is the previous row, same aircraft, no gap or flag
    contig[1:] = (gi[1:] == gi[:-1] + 1) & same[gi[1:]] & ~big[gi[1:]] & ~newleg[gi[1:]]
    brk = ~contig  # first fix of a ground stretch
    moved_m = np.full(m, np.inf)
    c = np.flatnonzero(contig)
    if len(c):
        moved_m[c] = haversine_km(lat[gi[c] - 1], lon[gi[c] - 1], lat[gi[c]], lon[gi[c]]) * 1000.0
    still = moved_m < 15.0
    if gs is not None:
        gsv = gs[gi].astype(np.float64)
        still = np.where(np.isnan(gsv), still, gsv < 1.0)
    k = np.arange(m)
    run_start = still & ~(np.r_[False, still[:-1]] & contig)
    parked = np.zeros(m, bool)
    rs = np.flatnonzero(run_start)
    if len(rs):
        rid = np.cumsum(run_start) - 1
        run_last = np.maximum.accumulate(np.where(still, k, 0))
        end_of = run_last[np.r_[rs[1:], m] - 1]
        dur = (t[gi[end_of]] - t[gi[rs]]) / 1e6
        parked = still & (dur[np.maximum(rid, 0)] >= p.park_s)
    g0 = np.maximum.accumulate(np.where(brk, k, 0))  # stretch start at or before k
    lp = np.maximum.accumulate(np.where(parked, k, -1))  # last parked at or before k
    nb = np.minimum.accumulate(np.where(np.r_[brk[1:], True], k, m)[::-1])[::-1]  # stretch end at or after k
    fp = np.minimum.accumulate(np.where(parked, k, m)[::-1])[::-1]  # first parked at or after k
    b = np.searchsorted(gi, starts[tko] - 1)  # the ground fix before takeoff
    off[tko] = gi[np.where(lp[b] >= g0[b], np.minimum(lp[b] + 1, b), g0[b])]
    a = np.searchsorted(gi, ends[lnd] + 1)  # the ground fix after landing
    on[lnd] = gi[np.where(fp[a] <= nb[a], fp[a], nb[a])]
    return off, on


def _callsigns(col, starts, ends, n, kern):
    """Per leg: the callsign of most of its own airborne fixes (ties: the earlier), and the sequence of
    callsigns when it changed within the leg ('A>B'), else null."""
    m = len(starts)
    if not n:
        enc = None
    elif pa.types.is_dictionary(col.type):
        enc = col.unify_dictionaries().combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    else:
        enc = pc.dictionary_encode(col).combine_chunks()
    if enc is None or len(enc.dictionary) == 0:
        return pa.nulls(m, pa.string()), pa.nulls(m, pa.string())
    codes = to_numpy(enc.indices.fill_null(scalar(-1, enc.indices.type)))
    names = enc.dictionary.to_pylist()
    best, seq, off = kern.callsign_runs(codes, starts, ends)
    call = [names[c] if c >= 0 else None for c in best.tolist()]
    seq_l, off_l = seq.tolist(), off.tolist()
    changes = [
        ">".join(names[c] for c in seq_l[off_l[i] : off_l[i + 1]]) if off_l[i + 1] > off_l[i] else None
        for i in range(m)
    ]
    return strings(call), strings(changes)


def _hex(ints: np.ndarray) -> list[str]:
    return [(f"~{v & 0xFFFFFF:06x}" if v >> 24 else f"{v:06x}") for v in ints.tolist()]


def _ts(us) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _prepare(positions: pa.Table, kern) -> pa.Table:
    """Kernel input -> the columns of :data:`SEGMENT_COLUMNS`, sorted by (icao_int, time_utc, lat, lon).

    ``icao_int`` is derived from ``icao24`` when absent; ``readsb_flags``, ``callsign`` and
    ``registration`` may be absent (nulls). The sort is skipped when the rows are already in order
    (a cheap check), so store files pay nothing for it."""
    missing = [
        c for c in ("time_utc", "lat", "lon", "alt_ft", "on_ground") if c not in positions.column_names
    ]
    if "icao_int" not in positions.column_names and "icao24" not in positions.column_names:
        missing.insert(0, "icao24")
    if missing:
        raise ValueError(f"segment_batch: positions lack columns {missing}; expected {SEGMENT_COLUMNS}")
    n = positions.num_rows
    if "icao_int" not in positions.column_names:
        from .readers import icao_to_int

        enc = pc.dictionary_encode(positions.column("icao24")).combine_chunks()
        ints = icao_to_int(np.array(enc.dictionary.to_pylist(), dtype=object))
        col = ints[to_numpy(enc.indices)] if len(ints) else np.empty(0, np.uint32)
        positions = positions.append_column("icao_int", from_numpy(col, pa.uint32()))
    from .readers import POSITIONS_SCHEMA

    cols = []
    for name in SEGMENT_COLUMNS:  # types as the readers declare them; icao_int is the kernel's own key
        typ = pa.uint32() if name == "icao_int" else POSITIONS_SCHEMA.field(name).type
        if name in positions.column_names:
            c = positions.column(name)
            if pa.types.is_dictionary(c.type) and pa.types.is_string(typ):
                cols.append(c)  # callsign/registration stay dictionary-encoded (cheap)
                continue
            cols.append(c if c.type == typ else c.cast(typ))
        else:
            cols.append(pa.nulls(n, typ))
    tbl = pa.Table.from_arrays(
        [pa.chunked_array(c) if isinstance(c, pa.Array) else c for c in cols], SEGMENT_COLUMNS
    )
    if n > 1:
        tbl = tbl.combine_chunks()  # one chunk per column: the kernel's arrays are views, not copies
        ic = to_numpy(tbl.column("icao_int"))
        t = to_numpy(tbl.column("time_utc").cast(pa.int64()))
        if not kern.is_sorted(ic, t):  # one pass; sorted input (store files) pays nothing more
            keys = [
                ("icao_int", "ascending"),
                ("time_utc", "ascending"),
                ("lat", "ascending"),
                ("lon", "ascending"),
            ]
            tbl = tbl.take(pc.sort_indices(tbl, keys))
    return tbl


def segment_batch(
    positions: pa.Table, params: SegmentParams | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """THE segmentation kernel: positions of one or more whole aircraft -> (legs, gaps).

    Pure: no I/O, no global state; the same rows in any order give the same result (the kernel
    sorts by aircraft, time, lat, lon itself). Give it *whole* aircraft: an aircraft split over two
    calls is segmented as two aircraft.

    Input columns (the positions store's names, :data:`analysis.tracks.store.STORE_SCHEMA`):

    ============== ============================ ===========================================
    icao24         string, 6 hex (or icao_int)  aircraft address; ``icao_int`` uint32 also accepted
    time_utc       timestamp[us, UTC]           time of the fix
    lat, lon       float64, degrees             WGS84 position (cleaned: see :mod:`.noise`)
    alt_ft         float32, ft, null on ground  barometric altitude
    on_ground      bool                         ground state reported by the source
    readsb_flags   uint8, optional              readsb bit 2 = start of a new leg
    callsign       string, optional             callsign in force at the fix
    registration   string, optional             registration of the aircraft
    ============== ============================ ===========================================

    Output ``legs`` (:data:`LEGS_SCHEMA`, sorted by icao24, leg_no) and ``gaps``
    (:data:`GAPS_SCHEMA`): one row per leg / per transponder gap; times ``Datetime('us', 'UTC')``;
    airports are ICAO codes from airportsdata within ``params.airport_radius_km`` or null.
    See the module docstring for the rules. :func:`stops_from_legs` derives the stops.
    """
    legs, gaps, _ = segment_batch_counted(positions, params)
    return legs, gaps


def segment_batch_counted(
    positions: pa.Table, params: SegmentParams | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """:func:`segment_batch` plus the count of candidate legs refused by the flight rules, by reason
    (``too_few_fixes``, ``too_short``, ``no_climb``)."""
    p = params or SegmentParams()
    r = _raw(positions, p)
    if r["legs"] is None:
        return pl.DataFrame(schema=LEGS_SCHEMA), pl.DataFrame(schema=GAPS_SCHEMA), r["rejected"]
    legs, gaps = _assemble(r["legs"], r["gaps"], p)
    return legs, gaps, r["rejected"]


def _raw(positions: pa.Table, p: SegmentParams, kern=None) -> dict:
    """The kernel without the assembly of the frames: per leg and per gap, numpy and arrow columns. ``kern``: the
    loops to run (:func:`analysis.tracks.kernels.for_rows`; by default chosen by the size of ``positions``)."""
    kern = kern or K.for_rows(positions.num_rows)  # numba for a big input, the interpreter for a small one
    tbl = _prepare(positions, kern)
    if not tbl.num_rows:
        return {"n": 0, "legs": None, "gaps": None, "rejected": {}}
    return _chunk(tbl, p, kern)


def _concat_raw(rs: list[dict]) -> dict:
    """The raw results of consecutive work units (whole aircraft each, in aircraft order) as one: assembled
    once, they give the rows the units' frames concatenated would (gap ``leg_idx`` shifted by the legs before)."""

    def cat(vs):
        if isinstance(vs[0], (pa.Array, pa.ChunkedArray)):
            return pa.chunked_array(
                [c for v in vs for c in (v.chunks if isinstance(v, pa.ChunkedArray) else [v])], pa.string()
            )
        return np.concatenate(vs)

    with_legs = [r for r in rs if r["legs"] is not None]
    rejected: dict[str, int] = {}
    for r in rs:
        for k, v in r["rejected"].items():
            rejected[k] = rejected.get(k, 0) + v
    if not with_legs:
        return {"n": sum(r["n"] for r in rs), "legs": None, "gaps": None, "rejected": rejected}
    if len(with_legs) == 1:
        return with_legs[0] | {"n": sum(r["n"] for r in rs), "rejected": rejected}
    legs = {k: cat([r["legs"][k] for r in with_legs]) for k in with_legs[0]["legs"]}
    gl, shift = [], 0
    for r in with_legs:
        if r["gaps"] is not None:
            g = dict(r["gaps"])
            g["leg_idx"] = np.where(g["leg_idx"] >= 0, g["leg_idx"] + shift, -1)
            gl.append(g)
        shift += len(r["legs"]["icao_int"])
    gaps = {k: np.concatenate([g[k] for g in gl]) for k in gl[0]} if gl else None
    return {"n": sum(r["n"] for r in rs), "legs": legs, "gaps": gaps, "rejected": rejected}


def segment_parquet(
    paths, params: SegmentParams | None = None, threads: int = 2, max_unit_rows: int = 2_000_000
) -> Segments:
    """Segment one or more store-layout parquet files (each sorted by icao_int, time_utc; the files
    must hold disjoint aircraft, as parts merged by :func:`analysis.tracks.observed` do).

    Work units of whole aircraft (row groups, see :func:`work_units`) go through
    :func:`segment_batch`, two at a time."""
    p = params or SegmentParams()
    if isinstance(paths, (str, Path)):
        paths = [paths]
    jobs = [(i, path, u) for i, path in enumerate(paths) for u in work_units(path, max_unit_rows)]
    # the loops for the whole input's size (a small last unit of a big file runs compiled too)
    kern = K.for_rows(sum(pq.ParquetFile(path).metadata.num_rows for path in paths))

    def run(job):
        pf = pq.ParquetFile(job[1], read_dictionary=["callsign", "registration"])
        tbl = pf.read_row_groups(job[2], columns=SEGMENT_COLUMNS, use_threads=False)
        return tbl.num_rows, _raw(tbl, p, kern)

    if threads > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(threads) as ex:
            results = list(ex.map(run, jobs))
    else:
        results = [run(j) for j in jobs]
    n_pos = sum(r[0] for r in results)
    # the frames are assembled once per file (their fixed cost is paid once, not per work unit)
    legs_l, gaps_l, rejected = [], [], {}  # type: list[pl.DataFrame], list[pl.DataFrame], dict[str, int]
    for i in range(len(paths)):
        r = _concat_raw([res[1] for job, res in zip(jobs, results, strict=True) if job[0] == i])
        for k, v in r["rejected"].items():
            rejected[k] = rejected.get(k, 0) + v
        if r["legs"] is not None:
            lg, gp = _assemble(r["legs"], r["gaps"], p)
            legs_l.append(lg)
            gaps_l.append(gp)
    legs = pl.concat(legs_l, how="vertical") if legs_l else pl.DataFrame(schema=LEGS_SCHEMA)
    gaps = pl.concat(gaps_l, how="vertical") if gaps_l else pl.DataFrame(schema=GAPS_SCHEMA)
    return Segments(legs, stops_from_legs(legs), gaps, n_pos, rejected)


def stops_from_legs(legs: pl.DataFrame) -> pl.DataFrame:
    """Stops between consecutive legs of one aircraft (:data:`STOPS_SCHEMA`): the place is the
    arrival airport of the leg before, else the departure airport of the leg after; dwell from
    its last airborne fix to the next leg's first."""
    if legs.is_empty():
        return pl.DataFrame(schema=STOPS_SCHEMA)
    nxt = lambda c: pl.col(c).shift(-1).over("icao24")  # noqa: E731
    return (
        legs.sort("icao24", "leg_no")
        .with_columns(
            nxt("leg_no").alias("next_leg_no"),
            nxt("dep_icao").alias("_next_dep"),
            nxt("first_seen_utc").alias("dep_time_utc_"),
            nxt("registration").alias("_next_reg"),
        )
        .filter(pl.col("next_leg_no").is_not_null())
        .select(
            "icao24",
            pl.col("_next_reg").alias("registration"),
            pl.coalesce("arr_icao", "_next_dep").alias("icao"),
            pl.col("last_seen_utc").alias("arr_time_utc"),
            pl.col("dep_time_utc_").alias("dep_time_utc"),
            ((pl.col("dep_time_utc_") - pl.col("last_seen_utc")).dt.total_microseconds() / 3.6e9).alias(
                "dwell_h"
            ),
            pl.col("arr_lat").alias("lat"),
            pl.col("arr_lon").alias("lon"),
            pl.col("leg_no").alias("prev_leg_no"),
            "next_leg_no",
        )
        .cast(STOPS_SCHEMA)  # type: ignore[arg-type]  # a dict of name -> dtype, as cast takes it
    )


LEGS_SCHEMA: dict[str, Any] = {
    "icao24": pl.String,
    "registration": pl.String,
    "callsign": pl.String,
    "callsign_changes": pl.String,
    "leg_no": pl.Int64,
    "dep_time_utc": pl.Datetime("us", "UTC"),
    "arr_time_utc": pl.Datetime("us", "UTC"),
    "first_seen_utc": pl.Datetime("us", "UTC"),
    "last_seen_utc": pl.Datetime("us", "UTC"),
    "off_block_utc": pl.Datetime("us", "UTC"),
    "on_block_utc": pl.Datetime("us", "UTC"),
    "dep_icao": pl.String,
    "arr_icao": pl.String,
    "dep_airport_km": pl.Float64,
    "arr_airport_km": pl.Float64,
    "dep_lat": pl.Float64,
    "dep_lon": pl.Float64,
    "arr_lat": pl.Float64,
    "arr_lon": pl.Float64,
    "is_takeoff_observed": pl.Boolean,
    "is_landing_observed": pl.Boolean,
    "n_positions": pl.Int64,
    "max_alt_ft": pl.Float64,
    "gc_distance_km": pl.Float64,
    "path_km": pl.Float64,
    "n_implausible_jumps": pl.Int64,
}
STOPS_SCHEMA: dict[str, Any] = {
    "icao24": pl.String,
    "registration": pl.String,
    "icao": pl.String,
    "arr_time_utc": pl.Datetime("us", "UTC"),
    "dep_time_utc": pl.Datetime("us", "UTC"),
    "dwell_h": pl.Float64,
    "lat": pl.Float64,
    "lon": pl.Float64,
    "prev_leg_no": pl.Int64,
    "next_leg_no": pl.Int64,
}
GAPS_SCHEMA: dict[str, Any] = {
    "icao24": pl.String,
    "registration": pl.String,
    "start_utc": pl.Datetime("us", "UTC"),
    "end_utc": pl.Datetime("us", "UTC"),
    "duration_min": pl.Float64,
    "jump_km": pl.Float64,
    "start_lat": pl.Float64,
    "start_lon": pl.Float64,
    "end_lat": pl.Float64,
    "end_lon": pl.Float64,
    "in_leg_no": pl.Int64,
    "implied_speed_kt": pl.Float64,
    "is_implausible": pl.Boolean,
}


def _assemble(L: dict, G: dict | None, p: SegmentParams) -> tuple[pl.DataFrame, pl.DataFrame]:
    L = {k: (v.cast(pa.string()) if isinstance(v, (pa.Array, pa.ChunkedArray)) else v) for k, v in L.items()}
    ic = L["icao_int"]
    nl = len(ic)
    new_ac = np.r_[True, ic[1:] != ic[:-1]]
    first_of_ac = np.maximum.accumulate(np.where(new_ac, np.arange(nl), 0))
    leg_no = np.arange(nl) - first_of_ac + 1
    dep_icao, dep_km = nearest_airport(
        np.where(L["dep_low"], L["dep_lat"], np.nan), L["dep_lon"], p.airport_radius_km
    )
    arr_icao, arr_km = nearest_airport(
        np.where(L["arr_low"], L["arr_lat"], np.nan), L["arr_lon"], p.airport_radius_km
    )
    hexes = np.array(_hex(ic), dtype=object)
    legs = (
        pl.DataFrame(
            {
                "icao24": hexes.tolist(),
                "registration": pl.from_arrow(L["registration"]),
                "callsign": pl.from_arrow(L["callsign"]),
                "callsign_changes": pl.from_arrow(L["callsign_changes"]),
                "leg_no": leg_no.astype(np.int64),
                "dep_time_utc": _ts(np.where(L["tko"], L["first_us"], 0)),
                "arr_time_utc": _ts(np.where(L["lnd"], L["last_us"], 0)),
                "first_seen_utc": _ts(L["first_us"]),
                "last_seen_utc": _ts(L["last_us"]),
                "off_block_utc": _ts(L["off_us"]),
                "on_block_utc": _ts(L["on_us"]),
                "_has_off": L["has_off"],
                "_has_on": L["has_on"],
                "dep_icao": dep_icao.tolist(),
                "arr_icao": arr_icao.tolist(),
                "dep_airport_km": dep_km,
                "arr_airport_km": arr_km,
                "dep_lat": L["dep_lat"],
                "dep_lon": L["dep_lon"],
                "arr_lat": L["arr_lat"],
                "arr_lon": L["arr_lon"],
                "is_takeoff_observed": L["tko"],
                "is_landing_observed": L["lnd"],
                "n_positions": L["n_positions"].astype(np.int64),
                "max_alt_ft": L["max_alt_ft"].astype(np.float64),
                "gc_distance_km": L["gc_km"],
                "path_km": L["path_km"],
                "n_implausible_jumps": L["n_implausible"].astype(np.int64),
            },
            schema_overrides={"dep_icao": pl.String, "arr_icao": pl.String},
        )
        .with_columns(
            pl.when(pl.col("is_takeoff_observed")).then(pl.col("dep_time_utc")).alias("dep_time_utc"),
            pl.when(pl.col("is_landing_observed")).then(pl.col("arr_time_utc")).alias("arr_time_utc"),
            pl.when(pl.col("_has_off")).then(pl.col("off_block_utc")).alias("off_block_utc"),
            pl.when(pl.col("_has_on")).then(pl.col("on_block_utc")).alias("on_block_utc"),
            pl.col("dep_airport_km").fill_nan(None),
            pl.col("arr_airport_km").fill_nan(None),
            pl.col("max_alt_ft").fill_nan(None),
        )
        .select(list(LEGS_SCHEMA))
    )
    if G is not None:
        li = G["leg_idx"]
        gaps = (
            pl.DataFrame(
                {
                    "icao24": _hex(G["icao_int"]),
                    "registration": legs["registration"].gather(
                        np.minimum(np.searchsorted(ic, G["icao_int"]), nl - 1)
                    ),
                    "start_utc": _ts(G["start_us"]),
                    "end_utc": _ts(G["end_us"]),
                    "duration_min": (G["end_us"] - G["start_us"]) / 6e7,
                    "jump_km": G["jump_km"],
                    "start_lat": G["start_lat"],
                    "start_lon": G["start_lon"],
                    "end_lat": G["end_lat"],
                    "end_lon": G["end_lon"],
                    "in_leg_no": pl.Series(np.where(li >= 0, leg_no[np.maximum(li, 0)], 0)).cast(pl.Int64),
                    "_in": li >= 0,
                },
                schema_overrides={"registration": pl.String},
            )
            .with_columns(
                pl.when(pl.col("_in")).then(pl.col("in_leg_no")).alias("in_leg_no"),
                (pl.col("jump_km") / 1.852 / (pl.col("duration_min") / 60)).alias("implied_speed_kt"),
            )
            .with_columns((pl.col("implied_speed_kt") > p.max_gap_speed_kt).alias("is_implausible"))
            .select(list(GAPS_SCHEMA))
        )
    else:
        gaps = pl.DataFrame(schema=GAPS_SCHEMA)
    return legs, gaps
