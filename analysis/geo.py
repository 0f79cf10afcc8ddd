"""Places on the globe: airports (airportsdata), countries (pycountry) and great circles.

>>> round(great_circle_km(10.6012, -66.9913, 22.9892, -82.4091))  # SVMI -> MUHA
2139
"""

from __future__ import annotations

import math
from functools import lru_cache

import airportsdata
import pycountry

__all__ = ["EARTH_RADIUS_KM", "airport", "country", "country_name", "country_numeric", "great_circle_km",
           "great_circle_points", "airports"]

#: mean Earth radius (IUGG), km
EARTH_RADIUS_KM = 6371.0088


@lru_cache(maxsize=1)
def airports() -> dict[str, dict]:
    """All airports by ICAO code (airportsdata)."""
    return airportsdata.load("ICAO")


def airport(icao: str | None) -> dict | None:
    """The airportsdata record for an ICAO code, or None."""
    if not icao:
        return None
    return airports().get(icao.upper())


@lru_cache(maxsize=512)
def country(alpha2: str | None):
    """The pycountry record for an ISO 3166-1 alpha-2 code, or None."""
    if not alpha2 or len(alpha2) != 2 or not alpha2.isupper():
        return None
    return pycountry.countries.get(alpha_2=alpha2)


def country_name(alpha2: str | None) -> str | None:
    """Display name (pycountry common_name when present)."""
    c = country(alpha2)
    if c is None:
        return None
    return getattr(c, "common_name", None) or c.name


def country_numeric(alpha2: str | None) -> str | None:
    """ISO numeric code as a 3-digit string: the feature id in Natural Earth / world-atlas."""
    c = country(alpha2)
    return c.numeric if c is not None else None


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a sphere of radius :data:`EARTH_RADIUS_KM` (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def great_circle_points(lat1: float, lon1: float, lat2: float, lon2: float, n: int = 64) -> list[tuple[float, float]]:
    """``n + 1`` points (lat, lon) along the great circle from the first point to the second (slerp)."""
    p1, l1, p2, l2 = map(math.radians, (lat1, lon1, lat2, lon2))
    a = [math.cos(p1) * math.cos(l1), math.cos(p1) * math.sin(l1), math.sin(p1)]
    b = [math.cos(p2) * math.cos(l2), math.cos(p2) * math.sin(l2), math.sin(p2)]
    omega = math.acos(max(-1.0, min(1.0, sum(x * y for x, y in zip(a, b, strict=True)))))
    if omega < 1e-9:
        return [(lat1, lon1)] * (n + 1)
    out = []
    for i in range(n + 1):
        t = i / n
        s1, s2 = math.sin((1 - t) * omega) / math.sin(omega), math.sin(t * omega) / math.sin(omega)
        x, y, z = (s1 * u + s2 * v for u, v in zip(a, b, strict=True))
        out.append((math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))))
    return out
