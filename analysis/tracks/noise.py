"""Noise filtering of positions, per aircraft, in time order.

Rows are first sorted by (aircraft, time, lat, lon): files are often not in time order (OpenSky
output, concatenated exports), and a fix is judged against its neighbours in *time*, never in file
order. So shuffled input gives exactly the rows of sorted input, and no flight is lost for being
listed after a later one.

Reasons (each dropped row counts once, under the first rule that catches it, in this order):

* ``latlon_out_of_range``  lat outside [-90, 90] or lon outside [-180, 180] (or NaN)
* ``duplicate``            same aircraft, time, lat and lon as the previous kept fix
* ``stale_repeat``         airborne fix repeating the previous fix's lat/lon/altitude at a later time
* ``speed_spike``          implied speed above ``max_speed_kt`` (default 1,200 kt) to both neighbours
                           (or to its only neighbour at a track end, when that neighbour is consistent);
                           up to three passes, so an isolated spike never takes a good fix with it
* ``implausible_run``      a run of up to ``MAX_RUN_FIXES`` fixes (or ``MAX_RUN_S``) reached and left by
                           steps faster than ``max_speed_kt`` while the fixes on either side of it are
                           consistent with each other (spoofed or corrupted stretches); at a track end,
                           a run shorter than the consistent run next to it

Readers add their own reasons (``opensky_stale``: time - lastcontact > 15 s; ``no_position``).
The readsb "stale" flag (bit 1: no position for 20 s before this fix) is kept in ``readsb_flags``
and not treated as noise: such a fix is a real, isolated observation.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import arrays
from .airports import EARTH_RADIUS_KM

__all__ = ["clean_positions", "NOISE_REASONS", "MAX_SPEED_KT"]

log = logging.getLogger(__name__)

MAX_SPEED_KT = 1200.0
MAX_RUN_FIXES = 60
MAX_RUN_S = 1800.0
NOISE_REASONS = (
    "latlon_out_of_range",
    "duplicate",
    "stale_repeat",
    "speed_spike",
    "implausible_run",
    "opensky_stale",
    "no_position",
)


def _step_km(lat, lon):
    """km between consecutive rows (len n-1): equirectangular (exact enough for a > 1,200 kt test,
    and several times cheaper than haversine), antimeridian-safe."""
    dla = np.diff(lat)
    dlo = np.diff(lon)
    dlo = np.where(dlo > 180, dlo - 360, np.where(dlo < -180, dlo + 360, dlo))
    dlo *= np.cos(np.radians(lat[1:]))
    return np.hypot(dla, dlo) * (np.pi / 180 * EARTH_RADIUS_KM)


def clean_positions(
    tbl: pa.Table, max_speed_kt: float = MAX_SPEED_KT, key: np.ndarray | None = None
) -> tuple[pa.Table, Counter]:
    """Drop noisy rows; return (table sorted by icao24, time_utc; Counter reason -> rows dropped).

    ``key``: an integer per row that orders aircraft as their ``icao24`` text does (the archive's
    ``icao_int``); given, it replaces the dictionary encoding of the text and the final sort by text.
    Rows already in (aircraft, strictly increasing time) order, as a readsb trace is, are not sorted.
    """
    counts: Counter = Counter()
    n = tbl.num_rows
    if n == 0:
        return tbl, counts
    if key is None:
        enc = pc.dictionary_encode(tbl.column("icao24")).combine_chunks()
        codes = arrays.to_numpy(enc.indices)
        # codes follow first appearance; unless that is also text order, the output is re-sorted by icao24
        names = enc.dictionary.to_pylist()
        by_text = names != sorted(names)
    else:
        codes = np.asarray(key)
        by_text = False
    t_all = arrays.to_numpy(tbl.column("time_utc").cast(pa.int64()))
    lat_all = arrays.to_numpy(tbl.column("lat"))
    lon_all = arrays.to_numpy(tbl.column("lon"))
    alt_all = arrays.to_numpy(tbl.column("alt_ft"))
    # time order per aircraft (lat, lon, alt break ties so that any input order gives the same rows);
    # rows already grouped by aircraft with strictly increasing times are in that order: no sort
    dk = np.diff(codes.astype(np.int64, copy=False))
    if n < 2 or ((dk >= 0).all() and ((dk > 0) | (np.diff(t_all) > 0)).all()):
        order = np.arange(n)
    else:
        order = np.lexsort((alt_all, lon_all, lat_all, t_all, codes))
    g = codes[order]
    t = t_all[order]
    lat = lat_all[order]
    lon = lon_all[order]
    alt = alt_all[order]
    ground = arrays.to_numpy(tbl.column("on_ground"))[order]
    idx = order

    def drop(mask, reason):
        nonlocal g, t, lat, lon, alt, ground, idx
        k = int(mask.sum())
        if k:
            counts[reason] += k
            keep = ~mask
            g, t, lat, lon, alt, ground, idx = (a[keep] for a in (g, t, lat, lon, alt, ground, idx))

    with np.errstate(invalid="ignore"):
        drop(~((np.abs(lat) <= 90) & (np.abs(lon) <= 180)), "latlon_out_of_range")

    def same_prev():
        s = np.zeros(len(g), bool)
        s[1:] = g[1:] == g[:-1]
        return s

    if len(t) > 1:
        sp = same_prev()
        dup = np.zeros(len(g), bool)
        dup[1:] = sp[1:] & (t[1:] == t[:-1]) & (lat[1:] == lat[:-1]) & (lon[1:] == lon[:-1])
        drop(dup, "duplicate")
    if len(t) > 1:
        sp = same_prev()
        same_alt = (alt[1:] == alt[:-1]) | (np.isnan(alt[1:]) & np.isnan(alt[:-1]))
        st = np.zeros(len(g), bool)
        st[1:] = (
            sp[1:]
            & ~ground[1:]
            & ~ground[:-1]
            & (t[1:] > t[:-1])
            & (lat[1:] == lat[:-1])
            & (lon[1:] == lon[:-1])
            & same_alt
        )
        drop(st, "stale_repeat")

    km = None  # steps of the current rows, kept for the run test when the spike test drops nothing
    for _ in range(3):
        if len(t) < 2:
            break
        sp = same_prev()[1:]
        dt_h = np.maximum((t[1:] - t[:-1]) / 3.6e9, 1 / 3600)
        km = _step_km(lat, lon)
        fast = sp & (km / 1.852 / dt_h > max_speed_kt)
        bad_prev = np.zeros(len(t), bool)
        bad_prev[1:] = fast
        bad_next = np.zeros(len(t), bool)
        bad_next[:-1] = fast
        first = ~np.concatenate([[False], sp])
        last = ~np.concatenate([sp, [False]])
        nn = np.zeros(len(t), bool)  # is the next step (i+1 -> i+2) fast too?
        nn[:-2] = fast[1:]
        pp = np.zeros(len(t), bool)
        pp[2:] = fast[:-1]
        nn2 = np.zeros(len(t), bool)  # does the step after the next stay within the same aircraft?
        nn2[:-2] = sp[1:]
        pp2 = np.zeros(len(t), bool)
        pp2[2:] = sp[:-1]
        spike = (bad_prev & bad_next) | (first & bad_next & nn2 & ~nn) | (last & bad_prev & pp2 & ~pp)
        if not spike.any():
            break
        drop(spike, "speed_spike")
        km = None

    for _ in range(3):
        if len(t) < 3:
            break
        bad = _implausible_runs(g, t, lat, lon, max_speed_kt, km)
        if not bad.any():
            break
        drop(bad, "implausible_run")
        km = None

    if len(idx) == n and not by_text and (idx[1:] > idx[:-1]).all():
        return tbl, counts  # nothing dropped, already in order
    if (idx[1:] > idx[:-1]).all():  # an increasing subset: a boolean filter is cheaper than a take
        keep = np.zeros(n, bool)
        keep[idx] = True
        out = tbl.filter(arrays.from_numpy(keep))
    else:
        out = tbl.take(arrays.from_numpy(idx))
    if by_text:  # rows are in (dictionary code, time) order; make the (icao24, time) order explicit
        out = out.take(pc.sort_indices(out, [("icao24", "ascending"), ("time_utc", "ascending")]))
    return out, counts


def _implausible_runs(g, t, lat, lon, max_speed_kt, km=None) -> np.ndarray:
    """Rows of short runs cut off from the rest of their track by impossible steps (see module doc).
    ``km``: the steps between consecutive rows when already known."""
    n = len(t)
    same = g[1:] == g[:-1]
    dt_h = np.maximum((t[1:] - t[:-1]) / 3.6e9, 1 / 3600)
    km = _step_km(lat, lon) if km is None else km
    fast = same & (km / 1.852 / dt_h > max_speed_kt) & (km > 2.0)
    if not fast.any():
        return np.zeros(n, bool)
    cut = np.r_[True, ~same | fast]  # a run starts here
    rs = np.flatnonzero(cut)
    re_ = np.r_[rs[1:], n] - 1
    ln = re_ - rs + 1
    dur_s = (t[re_] - t[rs]) / 1e6
    fast_before = np.r_[False, fast][rs]  # the run is entered by an impossible step
    fast_after = np.r_[fast, False][re_]  # and left by one
    small = (ln <= MAX_RUN_FIXES) & (dur_s <= MAX_RUN_S)
    bad_run = np.zeros(len(rs), bool)
    # inner runs: the fixes either side of the run agree with each other
    inner = np.flatnonzero(small & fast_before & fast_after)
    if len(inner):
        a, b = rs[inner] - 1, re_[inner] + 1
        d = _pair_km(lat[a], lon[a], lat[b], lon[b])
        h = np.maximum((t[b] - t[a]) / 3.6e9, 1 / 3600)
        bad_run[inner] = d / 1.852 / h <= max_speed_kt
    # runs at a track end: shorter than the consistent neighbour run they jump to/from
    head = np.flatnonzero(small & ~fast_before & fast_after)
    head = head[head + 1 < len(rs)]
    bad_run[head] |= ln[head] < ln[head + 1]
    tail = np.flatnonzero(small & fast_before & ~fast_after)
    tail = tail[tail >= 1]
    bad_run[tail] |= ln[tail] < ln[tail - 1]
    if not bad_run.any():
        return np.zeros(n, bool)
    mark = np.zeros(n + 1, np.int64)
    np.add.at(mark, rs[bad_run], 1)
    np.add.at(mark, re_[bad_run] + 1, -1)
    return np.cumsum(mark[:-1]) > 0


def _pair_km(lat1, lon1, lat2, lon2):
    dla = lat2 - lat1
    dlo = lon2 - lon1
    dlo = np.where(dlo > 180, dlo - 360, np.where(dlo < -180, dlo + 360, dlo))
    dlo = dlo * np.cos(np.radians((lat1 + lat2) / 2))
    return np.hypot(dla, dlo) * (np.pi / 180 * EARTH_RADIUS_KM)
