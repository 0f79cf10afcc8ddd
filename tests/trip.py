"""Test support: one aircraft's multi-stop trip as ADS-B positions, with a transponder-off stretch.

The project's traffic generator (``synth.tracks``) flies random legs between random airports;
these tests need a chosen route at chosen times (a watched Il-76 through Africa to Caracas), so this module
lays the positions of a given itinerary: ground fixes at each airport, great-circle climb/cruise/descent every
30 s, and an optional gap (no fixes) over the middle of chosen legs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from analysis.geo import airport, great_circle_km, great_circle_points
from analysis.tracks.readers import POSITIONS_SCHEMA


def trip_positions(
    icao24: str,
    registration: str,
    itinerary: list[tuple[str, datetime | None, datetime | None]],
    dark_legs: frozenset[int] = frozenset(),
    cruise_kt: float = 430.0,
    step_s: int = 30,
) -> pa.Table:
    """Positions for ``itinerary`` = [(ICAO, arrival UTC or None, departure UTC or None), ...].

    Leg i flies from stop i to stop i+1, departing at stop i's departure; its duration follows from the distance
    and ``cruise_kt``. Legs in ``dark_legs`` have no fixes over their middle 40 % (transponder off).
    """
    rows: dict[str, list] = {f.name: [] for f in POSITIONS_SCHEMA}

    def fix(t, lat, lon, alt, ground, gs):
        for k, v in (
            ("icao24", icao24),
            ("registration", registration),
            ("callsign", "RFF7075"),
            ("time_utc", t),
            ("lat", lat),
            ("lon", lon),
            ("alt_ft", alt),
            ("on_ground", ground),
            ("gs_kt", gs),
            ("track_deg", None),
            ("vrate_fpm", None),
            ("source_format", "readsb"),
            ("readsb_flags", 0),
        ):
            rows[k].append(v)

    for i in range(len(itinerary) - 1):
        a, b = airport(itinerary[i][0]), airport(itinerary[i + 1][0])
        dep = itinerary[i][2]
        km = great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])
        dur = timedelta(hours=km / (cruise_kt * 1.852))
        for k in range(6):  # taxi out
            fix(dep - timedelta(seconds=15 * (6 - k)), a["lat"], a["lon"], None, True, 12.0)
        n = max(2, int(dur.total_seconds() // step_s))
        pts = great_circle_points(a["lat"], a["lon"], b["lat"], b["lon"], n)
        for k, (lat, lon) in enumerate(pts[1:-1], start=1):
            frac = k / n
            if i in dark_legs and 0.3 < frac < 0.7:
                continue
            alt = min(33000.0, 33000.0 * min(frac, 1 - frac) * 12)
            fix(dep + dur * frac, lat, lon, max(alt, 1500.0), False, cruise_kt)
        arr = dep + dur
        for k in range(6):  # taxi in
            fix(arr + timedelta(seconds=15 * (k + 1)), b["lat"], b["lon"], None, True, 10.0)
    return pa.table(rows, schema=POSITIONS_SCHEMA)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
