"""The row loops of the segmentation kernel (:mod:`analysis.tracks.segment`): plain Python, compiled with numba
for inputs big enough to pay for it.

Each function does in one pass over the rows what took the numpy version of the kernel several full-length array
passes (and a temporary array each). They compute exactly what those passes computed, in the same arithmetic
(float32 where it was float32, the same order of operations, no fast-math), so the legs are identical to the last
bit; what stays in numpy is what must match numpy bit for bit (``np.cos`` of float32, the pairwise sum of
``np.add.reduceat``) or is per leg or per gap (few).

One source, two ways to run it: :func:`for_rows` gives these functions as written (run by the interpreter on numpy
scalars, the same IEEE arithmetic) for an input of fewer than :data:`COMPILE_MIN_ROWS` rows, and their numba
versions (:func:`compiled`) otherwise, so a small input loads neither numba nor its machine code.
``tests/tracks/test_tracks_kernels.py`` runs both on the same inputs and compares every column of the results.

The numba versions are compiled on first use and cached on disk (``cache=True``: beside this file in
``__pycache__``, or, where that is not writable, numba's per-user cache directory), so a process pays the compile
once per machine and code version (about 10 s) and afterwards only loads the machine code (about half a second,
with the import of numba).
"""

from __future__ import annotations

import threading
import types
from functools import lru_cache

import numpy as np

#: the kernels, each plain Python here and compiled by :func:`compiled`
_KERNELS = (
    "is_sorted",
    "rows_state",
    "gap_altitudes",
    "candidates",
    "clear_ranges",
    "leg_steps",
    "callsign_runs",
)
__all__ = [*_KERNELS, "COMPILE_MIN_ROWS", "compiled", "for_rows"]

#: below this many rows the interpreter runs the loops rather than numba: measured on a generated trace at load 6 on
#: 2 cores, the interpreted loops cost about 26 us of CPU a row, importing numba and loading the cached machine code
#: of the kernels about 0.8 CPU-s in a fresh process (the same at about 31,000 rows)
COMPILE_MIN_ROWS = 30_000


def is_sorted(ic, t):
    """True when rows are in (icao_int, time_utc) order with strictly increasing times within an aircraft."""
    for i in range(1, len(ic)):
        if ic[i] < ic[i - 1] or (ic[i] == ic[i - 1] and t[i] <= t[i - 1]):
            return False
    return True


def _low(gnd, a, low_max_ft):
    """On the ground, or no higher than ``low_max_ft`` (no altitude counts as 0)."""
    return gnd or ((0.0 if np.isnan(a) else np.float64(a)) <= low_max_ft)


def rows_state(ic, t, alt, gnd_raw, gap_us, low_max_ft, k):
    """Per row: same aircraft as the row before, the time step (us), the rows ending a gap (> gap_us, same
    aircraft) and the airborne state after the hysteresis of :func:`analysis.tracks.segment` (runs of constant
    reported state; a run takes its own state when it is at least ``k`` fixes long, reaches the end of its
    stretch or opens it, with the low-fix conditions on short ground runs at a stretch end; else it keeps the
    state before)."""
    n = len(ic)
    same = np.empty(n, np.bool_)
    dt = np.empty(n, np.int64)
    gi = np.empty(n, np.int64)
    ng = 0
    for i in range(n):
        if i == 0:
            same[i] = False
            dt[i] = 0
        else:
            same[i] = ic[i] == ic[i - 1]
            dt[i] = t[i] - t[i - 1]
            if same[i] and dt[i] > gap_us:
                gi[ng] = i
                ng += 1
    air = np.empty(n, np.bool_)
    if k <= 1:
        for i in range(n):
            air[i] = not gnd_raw[i]
        return same, dt, gi[:ng].copy(), air
    state = False
    rs = 0
    first = True
    while rs < n:
        ra = not gnd_raw[rs]
        re = rs + 1
        while re < n and (not gnd_raw[re]) == ra and same[re] and dt[re] <= gap_us:
            re += 1
        ln = re - rs
        opens = (not same[rs]) or dt[rs] > gap_us
        closes = re == n or (not same[re]) or dt[re] > gap_us
        before = True if rs == 0 else _low(gnd_raw[rs - 1], alt[rs - 1], low_max_ft)
        after = True if re == n else _low(gnd_raw[re], alt[re], low_max_ft)
        closes = closes and (ra or before or opens)
        opens = opens and (ra or after or closes or ln >= k)
        if first or opens or closes or ln >= k:
            state = ra
        first = False
        for j in range(rs, re):
            air[j] = state
        rs = re
    return same, dt, gi[:ng].copy(), air


def gap_altitudes(alt, ic, air, gi):
    """Altitude either side of each gap (rows gi-1 and gi); an airborne fix without one takes the nearest
    known altitude of the same aircraft (before the gap on its start side, after it on its end side), else NaN."""
    m = len(gi)
    a0 = np.empty(m, np.float64)
    a1 = np.empty(m, np.float64)
    n = len(alt)
    for g in range(m):
        i = gi[g]
        v = np.float64(alt[i - 1])
        if np.isnan(v) and air[i - 1]:
            j = i - 1
            while j >= 0 and ic[j] == ic[i] and np.isnan(alt[j]):
                j -= 1
            v = np.float64(alt[j]) if j >= 0 and ic[j] == ic[i] else np.nan
        a0[g] = v
        v = np.float64(alt[i])
        if np.isnan(v) and air[i]:
            j = i
            while j < n and ic[j] == ic[i] and np.isnan(alt[j]):
                j += 1
            v = np.float64(alt[j]) if j < n and ic[j] == ic[i] else np.nan
        a1[g] = v
    return a0, a1


def candidates(air, same, newleg, split_rows, alt, gap_us, dt):
    """Candidate legs: maximal runs of airborne fixes of one aircraft, also cut at a new-leg flag and at the
    gap rows ``split_rows`` (sorted). Returns starts, ends (row indices), per candidate the float32 maximum
    and minimum of the 3-point median altitude over its rows up to the next candidate's start (the last:
    to the end; NaN-ignoring), and whether the fix before is a ground fix of the same aircraft within
    ``gap_us`` (takeoff seen) and likewise the fix after (landing seen)."""
    n = len(air)
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    nc = 0
    p = 0
    ns = len(split_rows)
    inleg = False
    for i in range(n):
        if not air[i]:
            if inleg:
                ends[nc - 1] = i - 1
            inleg = False
            continue
        while p < ns and split_rows[p] < i:
            p += 1
        st = (not (same[i] and i > 0 and air[i - 1])) or newleg[i] or (p < ns and split_rows[p] == i)
        if st:
            if inleg:
                ends[nc - 1] = i - 1
            starts[nc] = i
            nc += 1
        inleg = True
    if inleg:
        ends[nc - 1] = n - 1
    starts = starts[:nc].copy()
    ends = ends[:nc].copy()
    hi = np.full(nc, np.nan, np.float32)
    lo = np.full(nc, np.nan, np.float32)
    tko = np.zeros(nc, np.bool_)
    lnd = np.zeros(nc, np.bool_)
    for c in range(nc):
        s = starts[c]
        e = ends[c]
        stop = starts[c + 1] if c + 1 < nc else n
        h = np.float32(np.nan)
        lw = np.float32(np.nan)
        for i in range(s, stop):
            a = alt[i]
            if n >= 3 and i > 0 and i + 1 < n and same[i] and same[i + 1]:
                pv = alt[i - 1]
                nx = alt[i + 1]
                if not (np.isnan(pv) or np.isnan(nx) or np.isnan(a)):
                    a = max(min(pv, a), min(max(pv, a), nx))
            if not np.isnan(a):
                if np.isnan(h) or a > h:
                    h = a
                if np.isnan(lw) or a < lw:
                    lw = a
        hi[c] = h
        lo[c] = lw
        tko[c] = s > 0 and same[s] and not air[s - 1] and dt[s] <= gap_us
        lnd[c] = e + 1 < n and same[e + 1] and not air[e + 1] and dt[e + 1] <= gap_us
    return starts, ends, hi, lo, tko, lnd


def clear_ranges(air, starts, ends):
    """Set rows starts[i]..ends[i] (inclusive) to ground, in place."""
    for c in range(len(starts)):
        for i in range(starts[c], ends[c] + 1):
            air[i] = False


def _block_sum(a, lo, n):
    """numpy's pairwise summation of at most 128 values: sequential under 8, else 8 accumulators."""
    if n < 8:
        r = 0.0
        for i in range(n):
            r += np.float64(a[lo + i])
        return r
    r0 = np.float64(a[lo])
    r1 = np.float64(a[lo + 1])
    r2 = np.float64(a[lo + 2])
    r3 = np.float64(a[lo + 3])
    r4 = np.float64(a[lo + 4])
    r5 = np.float64(a[lo + 5])
    r6 = np.float64(a[lo + 6])
    r7 = np.float64(a[lo + 7])
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    r = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        r += a[lo + i]
        i += 1
    return r


def _pairwise(a, lo, n):
    """numpy's pairwise summation (as ``np.add.reduce`` of float32 into float64 does it) of a[lo:lo+n]: blocks
    of at most 128 summed by :func:`_block_sum`, longer runs split in two halves (the first a multiple of 8)
    and added. Without recursion (a cached recursive numba function crashes when loaded), on a stack."""
    if n <= 128:
        return _block_sum(a, lo, n)
    s_lo = np.empty(64, np.int64)
    s_n = np.empty(64, np.int64)
    s_state = np.zeros(64, np.int64)
    vals = np.empty(64, np.float64)
    top = 0
    nv = 0
    s_lo[0] = lo
    s_n[0] = n
    s_state[0] = 0
    while top >= 0:
        cl = s_lo[top]
        cn = s_n[top]
        if cn <= 128:
            vals[nv] = _block_sum(a, cl, cn)
            nv += 1
            top -= 1
            continue
        n2 = cn // 2
        n2 -= n2 % 8
        st = s_state[top]
        if st == 0:
            s_state[top] = 1
            top += 1
            s_lo[top] = cl
            s_n[top] = n2
            s_state[top] = 0
        elif st == 1:
            s_state[top] = 2
            top += 1
            s_lo[top] = cl + n2
            s_n[top] = cn - n2
            s_state[top] = 0
        else:
            nv -= 1
            r = vals[nv]
            nv -= 1
            vals[nv] = vals[nv] + r
            nv += 1
            top -= 1
    return vals[0]


def leg_steps(lat, lon, cosl, starts, ends, gi, gap_km, dt, deg_km, gap_us, max_speed_kt, max_gap_speed_kt):
    """Per leg, the sum of its steps (degrees of arc; rows s..e-1 to the next row) and its implausible steps.

    A step is the float32 equirectangular distance to the next row: dlat, dlon wrapped to +-180 and scaled by
    the float32 cosine of the latitude of the row after (``cosl``, computed by numpy), sqrt(dlat^2 + dlon^2);
    over a gap (rows ``gi``) the exact great-circle ``gap_km`` instead. The sum is the first step plus numpy's
    pairwise sum of the others, in float64, as ``np.add.reduceat(steps, ..., dtype=float64)`` gives it.
    Implausible: a step into rows s+1..e-1 faster than ``max_speed_kt`` and longer than 2 km, or over a gap
    (> ``gap_us``) faster than ``max_gap_speed_kt``; the speed is the step over its time step (at least 1 s),
    in float64."""
    m = len(starts)
    sums = np.zeros(m, np.float64)
    imp = np.zeros(m, np.int64)
    longest = 0
    for c in range(m):
        longest = max(longest, ends[c] - starts[c])
    buf = np.empty(max(longest, 1), np.float32)
    p = 0
    ng = len(gi)
    for c in range(m):
        s = starts[c]
        e = ends[c]
        k = 0
        while p < ng and gi[p] < s + 1:
            p += 1
        nxt = gi[p] if p < ng else -1  # the next row that ends a gap
        for j in range(s, e):
            if j + 1 == nxt:
                v = np.float32(gap_km[p] / deg_km)
                p += 1
                nxt = gi[p] if p < ng else -1
            else:
                dlat = np.float32(lat[j + 1]) - np.float32(lat[j])
                dlon = np.float32(lon[j + 1]) - np.float32(lon[j])
                if dlon > 180:
                    dlon -= np.float32(360)
                elif dlon < -180:
                    dlon += np.float32(360)
                dlon = dlon * cosl[j + 1]
                v = np.sqrt(dlat * dlat + dlon * dlon)
            buf[j - s] = v
            if j > s:  # the step into row j (same aircraft: inside a leg)
                km = np.float64(buf[j - s - 1]) * deg_km
                if km > 2.0 or dt[j] > gap_us:  # else not implausible: the speed need not be computed
                    d = dt[j] if dt[j] > 1_000_000 else 1_000_000
                    kt = km / 1.852 / (d / 3.6e9)
                    if dt[j] > gap_us:
                        if kt > max_gap_speed_kt:
                            k += 1
                    elif kt > max_speed_kt:
                        k += 1
        imp[c] = k
        if e > s:
            sums[c] = np.float64(buf[0]) + _pairwise(buf, 1, e - s - 1)
    return sums, imp


def callsign_runs(codes, starts, ends):
    """Per leg, the runs of one callsign code among its rows (null codes, -1, skipped; runs of one code split
    only by nulls merged): the code most rows carry (ties: the one seen first; -1 when none), and, flattened with
    offsets, the sequence of run codes of the legs that have more than one run."""
    m = len(starts)
    best = np.full(m, -1, np.int64)
    seq = np.empty(0, np.int64)
    off = np.zeros(m + 1, np.int64)
    buf_c = np.empty(64, np.int64)
    buf_n = np.empty(64, np.int64)
    out = np.empty(1024, np.int64)
    no = 0
    for c in range(m):
        k = 0
        last = -2
        for i in range(starts[c], ends[c] + 1):
            v = codes[i]
            if v < 0:
                continue
            if v == last:
                buf_n[k - 1] += 1
                continue
            if k == len(buf_c):
                nb = np.empty(2 * k, np.int64)
                nb[:k] = buf_c
                buf_c = nb
                nn = np.empty(2 * k, np.int64)
                nn[:k] = buf_n
                buf_n = nn
            buf_c[k] = v
            buf_n[k] = 1
            k += 1
            last = v
        if k:
            bc = -1
            bn = -1
            for r in range(k):  # total per code, first occurrence wins ties
                seen = False
                for q in range(r):
                    if buf_c[q] == buf_c[r]:
                        seen = True
                        break
                if seen:
                    continue
                tot = 0
                for q in range(r, k):
                    if buf_c[q] == buf_c[r]:
                        tot += buf_n[q]
                if tot > bn:
                    bn = tot
                    bc = buf_c[r]
            best[c] = bc
        if k > 1:
            while no + k > len(out):
                o2 = np.empty(2 * len(out), np.int64)
                o2[:no] = out[:no]
                out = o2
            out[no : no + k] = buf_c[:k]
            no += k
        off[c + 1] = no
    seq = out[:no].copy()
    return best, seq, off


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _compile() -> types.SimpleNamespace:
    from numba import njit

    # the compiled functions call each other's compiled versions: copies of the functions over one namespace that
    # holds those (the module's own names stay the plain functions)
    ns = dict(globals())

    def jit(name: str, **options):
        f = globals()[name]
        g = types.FunctionType(f.__code__, ns, f.__name__, f.__defaults__, f.__closure__)
        g.__qualname__, g.__module__, g.__doc__ = f.__qualname__, f.__module__, f.__doc__
        ns[name] = njit(cache=True, nogil=True, **options)(g)
        return ns[name]

    jit("_low", inline="always")
    jit("_block_sum")
    jit("_pairwise")
    return types.SimpleNamespace(**{name: jit(name) for name in _KERNELS})


def compiled() -> types.SimpleNamespace:
    """The numba versions of the kernels (attributes named as the functions), made when first asked for."""
    with _lock:  # two segmentation threads may ask at once
        return _compile()


def for_rows(n: int):
    """The kernels for an input of ``n`` rows: the compiled ones from :data:`COMPILE_MIN_ROWS` rows on, else this
    module's plain functions (the same results)."""
    if n >= COMPILE_MIN_ROWS:
        return compiled()
    return _PLAIN


_PLAIN = types.SimpleNamespace(**{name: globals()[name] for name in _KERNELS})
