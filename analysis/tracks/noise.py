"""Noise filtering of positions, per aircraft, in the order the file gave them.

Reasons (each dropped row counts once, under the first rule that catches it, in this order):

* ``latlon_out_of_range``  lat outside [-90, 90] or lon outside [-180, 180] (or NaN)
* ``time_backwards``       time earlier than a previous fix of the same aircraft in file order
* ``duplicate``            same aircraft, time, lat and lon as the previous kept fix
* ``stale_repeat``         airborne fix repeating the previous fix's lat/lon/altitude at a later time
* ``speed_spike``          implied speed above ``max_speed_kt`` (default 1,200 kt) to both neighbours
                           (or to its only neighbour at a track end, when that neighbour is consistent);
                           up to three passes, so an isolated spike never takes a good fix with it

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

from .airports import EARTH_RADIUS_KM

__all__ = ["clean_positions", "NOISE_REASONS", "MAX_SPEED_KT"]

log = logging.getLogger(__name__)

MAX_SPEED_KT = 1200.0
NOISE_REASONS = (
    "latlon_out_of_range",
    "time_backwards",
    "duplicate",
    "stale_repeat",
    "speed_spike",
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


def clean_positions(tbl: pa.Table, max_speed_kt: float = MAX_SPEED_KT) -> tuple[pa.Table, Counter]:
    """Drop noisy rows; return (table sorted by icao24, time_utc; Counter reason -> rows dropped)."""
    counts: Counter = Counter()
    n = tbl.num_rows
    if n == 0:
        return tbl, counts
    enc = pc.dictionary_encode(tbl.column("icao24")).combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable") if len(enc.dictionary) > 1 else np.arange(n)
    g = codes[order]
    t = tbl.column("time_utc").cast(pa.int64()).to_numpy(zero_copy_only=False)[order]
    lat = tbl.column("lat").to_numpy(zero_copy_only=False)[order]
    lon = tbl.column("lon").to_numpy(zero_copy_only=False)[order]
    alt = tbl.column("alt_ft").to_numpy(zero_copy_only=False)[order]
    ground = tbl.column("on_ground").to_numpy(zero_copy_only=False)[order]
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

    # time running backwards: compare with the running max of earlier fixes of the same aircraft
    single = len(enc.dictionary) <= 1
    if len(t):
        if single:  # one aircraft: the times themselves
            key = t
        else:  # several: dense time ranks offset per aircraft, so one running max serves all
            _, rank = np.unique(t, return_inverse=True)
            key = g.astype(np.int64) * (len(t) + 1) + rank.astype(np.int64)
        cm = np.maximum.accumulate(key)
        prev = np.empty_like(cm)
        prev[0] = np.iinfo(np.int64).min
        prev[1:] = cm[:-1]
        drop(key < prev, "time_backwards")

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

    for _ in range(3):
        if len(t) < 2:
            break
        sp = same_prev()[1:]
        dt_h = np.maximum((t[1:] - t[:-1]) / 3.6e9, 1 / 3600)
        fast = sp & (_step_km(lat, lon) / 1.852 / dt_h > max_speed_kt)
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

    if single and len(idx) == n:
        return tbl, counts  # nothing dropped; times already non-decreasing
    if single:  # idx is an increasing subset: a boolean filter is cheaper than a take
        keep = np.zeros(n, bool)
        keep[idx] = True
        return tbl.filter(pa.array(keep)), counts
    out = tbl.take(pa.array(idx))
    if not single:
        # file order per aircraft is now monotonic in time; make the (icao24, time) order explicit
        out = out.take(pc.sort_indices(out, [("icao24", "ascending"), ("time_utc", "ascending")]))
    return out, counts
