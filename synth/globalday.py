"""A realistic global day of ADS-B in day-archive form, with the truth of which trips are candidates.

:func:`generate_day` writes a tar of ``traces/<xx>/trace_full_<hex>.json`` members (gzip content, the
readsb trace format with type, registration and dbFlags in the header) for one UTC day and returns the
truth. The day holds:

* **ordinary traffic**: airliners of many States (addresses outside the Russian block, no RA-
  registration, common types) flying 1-4 legs between big airports, some across the Atlantic, some
  landing in Caracas or Havana, some going dark over the ocean: each matches a pattern but not an
  aircraft rule, so none is a candidate;
* **decoys of interest**: RA- registered airliners in the Russian address block flying domestic legs
  (match an aircraft rule, no pattern, so no candidate);
* **planted trips of interest** (the truth): an Il-76 Moscow > Algiers > Dakar > Caracas (new), an
  An-124 Dakar > Havana going dark mid-Atlantic (new), an Il-96 St Petersburg > Lajes going dark west
  of Portugal (new), an aircraft known only by its Russian address Havana > Managua (new), and the
  sanctioned Il-76TD RA-78765 Dakar > Caracas on the dates of the reported 2025-10-caracas episode
  (known).

Each trace: 10 ground fixes (15 s) at the departure airport, airborne fixes every 15 s in the first and
last 15 min and every 60 s in cruise (great circle, climb to and descent from cruise altitude), 10
ground fixes at the arrival airport. A planted dark gap removes 45-90 min of cruise where the track,
its ends and its middle are over the sea (checked against the basemap).

    python -m synth.globalday OUT.tar [--aircraft 300] [--seed 0]

The day is **synthetic**: every aircraft, registration and track in it is generated (the "known" RA-78765 trip
replays the dates of a reported episode over a made-up track). The archive says so in a member of its own,
:data:`analysis.discover.synthetic.SYNTHETIC_MEMBER` (trace readers skip it), so that discovery marks every candidate
found in it as synthetic (:func:`analysis.discover.synthetic.synthetic_inputs`), on the Candidates page, in the
exports and in its command-line output. The markers are the reading side's, in the ``analysis`` package; this
generator imports them from there.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from analysis import geo
from analysis.discover.synthetic import SYNTHETIC_MEMBER, SYNTHETIC_NOTE

__all__ = ["generate_day", "GlobalDay", "DAY", "PLANTED"]

DAY = datetime(2025, 10, 26, tzinfo=UTC)  # the reported 2025-10-caracas episode landed in Caracas that day

HUBS = [
    "EGLL",
    "LFPG",
    "EDDF",
    "EHAM",
    "LEMD",
    "LIRF",
    "KJFK",
    "KMIA",
    "KLAX",
    "CYYZ",
    "MMMX",
    "SKBO",
    "SPJC",
    "SCEL",
    "SBGR",
    "FACT",
    "DNMM",
    "HAAB",
    "HECA",
    "GMMN",
    "OMDB",
    "VIDP",
    "RJTT",
    "ZBAA",
    "WSSS",
    "YSSY",
    "SVMI",
    "MUHA",
    "LTAI",
]
RU_DOMESTIC = ["UUEE", "UUWW", "URSS", "USSS", "ULLI", "UWWW", "UNNT", "ULMM"]
ORDINARY_TYPES = ["A320", "B738", "A321", "B77W", "A359", "B789", "E190", "A333"]
FOREIGN_PREFIX = ["N", "D-A", "F-G", "G-E", "EC-", "PP-", "C-F", "XA-", "HK-", "JA", "B-", "VT-", "A6-"]

#: planted trips of interest: (key, hex, registration, type, route, status, patterns, dark gap minutes)
PLANTED: list[tuple[str, str, str | None, str | None, list[str], str, set[str], int]] = [
    (
        "il76-caracas",
        "14f2a1",
        "RA-78830",
        "IL76",
        ["UUEE", "DAAG", "GOOY", "SVMI"],
        "new",
        {"crossed_atlantic", "landed_in_region"},
        0,
    ),
    (
        "an124-havana-dark",
        "151c07",
        "RA-82077",
        "A124",
        ["GOOY", "MUHA"],
        "new",
        {"crossed_atlantic", "landed_in_region", "dark_over_ocean"},
        60,
    ),
    ("il96-lajes-dark", "15d3e2", "RA-96022", "IL96", ["ULLI", "LPLA"], "new", {"dark_over_ocean"}, 45),
    (
        "hex-only-managua",
        "1a0b33",
        None,
        None,
        ["MUHA", "MNMG"],
        "new",
        {"departed_region", "landed_in_region"},
        0,
    ),
    (
        "ra78765-known",
        "152e61",
        "RA-78765",
        "IL76",
        ["GOOY", "SVMI"],
        "known",
        {"crossed_atlantic", "landed_in_region"},
        0,
    ),
]


@dataclass
class GlobalDay:
    """Generator output: the archive path and the truth."""

    path: Path
    truth: pl.DataFrame  # planted candidates: icao24, registration, type_code, status, patterns
    aircraft: pl.DataFrame  # every aircraft: icao24, registration, type_code, role
    n_positions: int


def _slerp(lat1, lon1, lat2, lon2, f):
    p1 = np.radians([lat1, lon1])
    p2 = np.radians([lat2, lon2])
    a = np.array([np.cos(p1[0]) * np.cos(p1[1]), np.cos(p1[0]) * np.sin(p1[1]), np.sin(p1[0])])
    b = np.array([np.cos(p2[0]) * np.cos(p2[1]), np.cos(p2[0]) * np.sin(p2[1]), np.sin(p2[0])])
    w = np.arccos(np.clip(a @ b, -1, 1))
    if w < 1e-9:
        v = np.outer(np.ones_like(f), a)
    else:
        v = (np.sin((1 - f) * w)[:, None] * a + np.sin(f * w)[:, None] * b) / np.sin(w)
    return np.degrees(np.arctan2(v[:, 2], np.hypot(v[:, 0], v[:, 1]))), np.degrees(
        np.arctan2(v[:, 1], v[:, 0])
    )


def _airport(code: str) -> dict:
    """An airport of the generated day (every code used here is in airportsdata)."""
    ap = geo.airport(code)
    if ap is None:
        raise KeyError(f"airport {code!r} is not in airportsdata")
    return ap


def _leg(dep: str, arr: str, t0: float, rng, dark_min: float = 0.0):
    """Rows (t, lat, lon, alt or 'ground', gs) of one flight from dep to arr starting at unix t0."""
    a, b = _airport(dep), _airport(arr)
    dist = geo.great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])
    gs_kt = 450.0
    dur = dist / (gs_kt * 1.852) * 3600 + 900  # + climb/descent allowance
    edge = min(900.0, dur / 3)
    ts = np.r_[
        np.arange(0, edge, 15.0), np.arange(edge, dur - edge, 60.0), np.arange(dur - edge, dur + 1e-6, 15.0)
    ]
    ts = np.unique(np.clip(ts, 0, dur))
    f = ts / dur
    lat, lon = _slerp(a["lat"], a["lon"], b["lat"], b["lon"], f)
    climb = np.minimum(np.minimum(ts, dur - ts) / 1200.0, 1.0)
    alt = np.maximum(np.round(300 + climb * (35000 - 300)), 300)
    keep = np.ones(len(ts), bool)
    gap = None
    if dark_min:
        cruise = np.flatnonzero((ts > edge + 600) & (ts < dur - edge - 600))
        sea = geo.countries_at(lat[cruise], lon[cruise]) == None  # noqa: E711
        need = int(dark_min * 60 / 60) + 3
        best = None
        run = 0
        for k, s in enumerate(sea):
            run = run + 1 if s else 0
            if run >= need:
                best = k
        if best is None:
            raise ValueError(f"{dep}>{arr}: no stretch of {dark_min} min at sea to plant a dark gap")
        hi = cruise[best] - 1
        lo = hi - int(dark_min) + 1
        keep[lo : hi + 1] = False
        gap = (ts[lo - 1] + t0, ts[hi + 1] + t0)
    gnd_out = t0 + np.arange(-10, 0) * 15.0
    gnd_in = t0 + dur + np.arange(1, 11) * 15.0
    rows: list[tuple] = [(t, a["lat"], a["lon"], "ground", 5.0) for t in gnd_out]
    rows += [
        (t0 + t, la, lo, int(al), gs_kt)
        for t, la, lo, al, k in zip(ts, lat, lon, alt, keep, strict=True)
        if k
    ]
    rows += [(t, b["lat"], b["lon"], "ground", 5.0) for t in gnd_in]
    return rows, t0 + dur + 150, gap


def _trace(hexa, reg, typ, db_flags, callsign, rows, day0: float) -> bytes:
    ts0 = float(day0)
    trace = []
    prev_t = None
    for i, (t, la, lo, al, gs) in enumerate(rows):
        flags = 0
        if prev_t is not None and t - prev_t > 20:
            flags |= 1
        det = {"flight": callsign.ljust(8), "squawk": "2000"} if i == 0 else None
        if i == 0:
            flags |= 2
        trace.append(
            [
                round(t - ts0, 2),
                round(float(la), 6),
                round(float(lo), 6),
                al,
                gs,
                None,
                flags,
                None,
                det,
                "adsb_icao",
                None if al == "ground" else al,
                None,
                None,
                None,
            ]
        )
        prev_t = t
    obj = {"icao": hexa, "timestamp": ts0, "trace": trace}
    if reg:
        obj["r"] = reg
    if typ:
        obj["t"] = typ
    if db_flags is not None:
        obj["dbFlags"] = db_flags
    return gzip.compress(json.dumps(obj, separators=(",", ":")).encode(), compresslevel=1, mtime=0)


def _flights(route, t_start, rng, dark_min=0.0):
    rows, t, gaps = [], t_start, []
    for k, (d, a) in enumerate(zip(route[:-1], route[1:], strict=True)):
        r, t_end, gap = _leg(d, a, t, rng, dark_min if k == len(route) - 2 else 0.0)
        rows += r
        if gap:
            gaps.append(gap)
        t = t_end + rng.uniform(1.5, 3.0) * 3600
    return rows, gaps


def generate_day(path, n_aircraft: int = 300, seed: int = 0, day: datetime = DAY) -> GlobalDay:
    """Write the day archive (tar of gzip trace members) to ``path``; return the truth.

    ``n_aircraft`` ordinary aircraft (plus 8 RA- domestic decoys and the 5 planted trips). Deterministic
    for a seed.
    """
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    day0 = day.timestamp()
    members: list[tuple[str, bytes]] = []
    who: list[tuple[str, str | None, str | None, str]] = []
    n_pos = 0
    used: set[int] = set()

    def fresh_hex(lo, hi):
        while True:
            v = int(rng.integers(lo, hi))
            if v not in used and not (0x100000 <= v <= 0x1FFFFF):
                used.add(v)
                return f"{v:06x}"

    for _key, h, *_ in PLANTED:
        used.add(int(h, 16))
    # ordinary traffic
    for i in range(n_aircraft):
        h = fresh_hex(0x200000, 0xF00000)
        pre = FOREIGN_PREFIX[i % len(FOREIGN_PREFIX)]
        reg = f"{pre}{rng.integers(100, 999)}{chr(65 + i % 26)}"
        typ = ORDINARY_TYPES[int(rng.integers(len(ORDINARY_TYPES)))]
        n_legs = int(rng.integers(1, 4))
        route = [HUBS[int(rng.integers(len(HUBS)))]]
        while len(route) <= n_legs:
            nxt = HUBS[int(rng.integers(len(HUBS)))]
            if (
                nxt != route[-1]
                and geo.great_circle_km(
                    _airport(route[-1])["lat"],
                    _airport(route[-1])["lon"],
                    _airport(nxt)["lat"],
                    _airport(nxt)["lon"],
                )
                < 9000
            ):
                route.append(nxt)
        dark = 45.0 if (i % 17 == 0 and _has_sea(route[0], route[1])) else 0.0
        rows, _g = _flights(route[:2] if dark else route, day0 + rng.uniform(0, 6) * 3600, rng, dark)
        rows = [r for r in rows if day0 <= r[0] < day0 + 86400]
        if len(rows) < 2:
            continue
        members.append((h, _trace(h, reg, typ, 0, f"{pre.strip('-')[:3]}{i:04d}", rows, day0)))
        who.append((h, reg, typ, "ordinary"))
        n_pos += len(rows)
    # decoys: RA- airliners in the Russian block, domestic legs only
    for i in range(8):
        h = f"{0x150000 + 0x123 * (i + 1):06x}"
        used.add(int(h, 16))
        a, b = RU_DOMESTIC[i % len(RU_DOMESTIC)], RU_DOMESTIC[(i + 3) % len(RU_DOMESTIC)]
        rows, _g = _flights([a, b, a], day0 + 3600 * (1 + i), rng)
        rows = [r for r in rows if day0 <= r[0] < day0 + 86400]
        members.append((h, _trace(h, f"RA-73{i:03d}", "A320", 0, f"AFL{100 + i}", rows, day0)))
        who.append((h, f"RA-73{i:03d}", "A320", "decoy_interest_aircraft"))
        n_pos += len(rows)
    truth: list[dict] = []
    for key, h, p_reg, p_typ, route, status, pats, dark in PLANTED:
        rows, _g = _flights(route, day0 + 3600 * 0.5, rng, float(dark))
        if rows[-1][0] >= day0 + 86400:
            raise ValueError(f"planted trip {key} does not fit in the day")
        members.append((h, _trace(h, p_reg, p_typ, 1, f"RFF{len(truth) + 7001}", rows, day0)))
        who.append((h, p_reg, p_typ, f"planted:{key}"))
        truth.append(
            {
                "key": key,
                "icao24": h,
                "registration": p_reg,
                "type_code": p_typ,
                "status": status,
                "patterns": ";".join(sorted(pats)),
                "route": " > ".join(route),
            }
        )
        n_pos += len(rows)
    members.sort()
    tmp = path.with_name(path.name + ".tmp")
    with tarfile.open(tmp, "w") as tf:
        note = json.dumps(
            {
                "synthetic": True,
                "note": SYNTHETIC_NOTE,
                "generator": "synth.globalday",
                "seed": seed,
                "aircraft": n_aircraft,
            },
            indent=1,
        ).encode()
        ti = tarfile.TarInfo(SYNTHETIC_MEMBER)
        ti.size = len(note)
        ti.mtime = int(day0)
        tf.addfile(ti, io.BytesIO(note))
        for h, data in members:
            ti = tarfile.TarInfo(f"traces/{h[-2:]}/trace_full_{h}.json")
            ti.size = len(data)
            ti.mtime = int(day0)
            tf.addfile(ti, io.BytesIO(data))
    tmp.replace(path)
    return GlobalDay(
        path=path,
        truth=pl.DataFrame(truth).sort("icao24"),
        aircraft=pl.DataFrame(who, schema=["icao24", "registration", "type_code", "role"], orient="row").sort(
            "icao24"
        ),
        n_positions=n_pos,
    )


def _has_sea(dep, arr) -> bool:
    a, b = _airport(dep), _airport(arr)
    la, lo = _slerp(a["lat"], a["lon"], b["lat"], b["lon"], np.linspace(0.2, 0.8, 40))
    sea = geo.countries_at(la, lo) == None  # noqa: E711
    best = run = 0
    for s in sea:
        run = run + 1 if s else 0
        best = max(best, run)
    return best >= 12 and geo.great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"]) > 3000


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m synth.globalday", description=__doc__.split("\n")[0])
    ap.add_argument("out", help="tar archive to write")
    ap.add_argument("--aircraft", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    g = generate_day(a.out, a.aircraft, a.seed)
    g.truth.write_csv(Path(a.out).with_suffix(".truth.csv"))
    print(SYNTHETIC_NOTE)
    print(
        f"wrote {g.path}: {g.aircraft.height} aircraft, {g.n_positions:,} positions; truth {g.truth.height} candidates"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
