"""Places on the globe: airports (airportsdata), countries (pycountry) and great circles.

The one place for geodesy (:data:`EARTH_RADIUS_KM`, :func:`great_circle_km`, the vectorised :func:`haversine_km`)
and for loading the airport reference (:func:`airports` as records, :func:`airport_columns` as arrays, both from
the same airportsdata file). airportsdata and pycountry are imported when first needed.

>>> round(great_circle_km(10.6012, -66.9913, 22.9892, -82.4091))  # SVMI -> MUHA
2139
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np

__all__ = [
    "EARTH_RADIUS_KM",
    "airport",
    "country",
    "country_name",
    "country_numeric",
    "great_circle_km",
    "great_circle_points",
    "haversine_km",
    "airports",
    "airport_columns",
    "country_at",
    "countries_at",
]

#: mean Earth radius (IUGG), km
EARTH_RADIUS_KM = 6371.0088


@lru_cache(maxsize=1)
def airports() -> dict[str, dict]:
    """All airports by ICAO code (airportsdata)."""
    import airportsdata

    return cast("dict[str, dict]", airportsdata.load("ICAO"))  # TypedDict records, read as plain dicts


@lru_cache(maxsize=1)
def airport_columns() -> dict[str, np.ndarray]:
    """The airport reference as arrays, in the order of :func:`airports` (the rows of airportsdata's file):
    ``icao``, ``iata`` (None when it has none), ``name``, ``country`` (object arrays), ``lat``, ``lon`` (float64).

    Read with Arrow's CSV reader from the file :func:`airports` reads (tens of milliseconds, against a few hundred
    for the records); the same values (``tests/test_geo.py`` compares them)."""
    import airportsdata
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    text = ("icao", "iata", "name", "country")
    tbl = pacsv.read_csv(
        Path(airportsdata.__file__).with_name("airports.csv"),
        read_options=pacsv.ReadOptions(use_threads=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in text} | {"lat": pa.float64(), "lon": pa.float64()},
            include_columns=[*text, "lat", "lon"],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    # airportsdata drops rows without a code (no Python scalar here, and below no to_numpy: in pyarrow both load
    # pandas, which the observed path does not otherwise need)
    tbl = tbl.filter(pc.cast(pc.utf8_length(tbl.column("icao")), pa.bool_()))
    cols = {c: np.array(tbl.column(c).to_pylist(), dtype=object) for c in text}
    cols["iata"] = np.array([v or None for v in cols["iata"]], dtype=object)
    for c in ("lat", "lon"):
        cols[c] = np.array(tbl.column(c).to_pylist(), np.float64)
    return cols


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
    import pycountry

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


def haversine_km(lat1, lon1, lat2, lon2):
    """:func:`great_circle_km` vectorised over numpy arrays (or scalars), in km.

    >>> round(float(haversine_km(0, 0, 0, 1)), 1)
    111.2
    """
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def great_circle_points(
    lat1: float, lon1: float, lat2: float, lon2: float, n: int = 64
) -> list[tuple[float, float]]:
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


# ------------------------------------------------------------------------------------ point in country
def _basemap_path() -> Path:
    from .paths import REPO_DIR

    return REPO_DIR / "data" / "raw" / "basemap" / "countries-110m.json"


def _unwrap(p: np.ndarray) -> np.ndarray:
    """A ring whose longitudes jump across the antimeridian (179 to -179) made continuous (179 to 181), so that
    every edge is a real border and the ring stays closed: a ring crossing 180 degrees then spans past it, and
    :func:`countries_at` tests each point at its longitude and at that longitude plus or minus 360.

    >>> _unwrap(np.array([[179.0, 0.0], [-179.0, 0.0], [-179.0, 1.0], [179.0, 1.0], [179.0, 0.0]]))[:, 0].tolist()
    [179.0, 181.0, 181.0, 179.0, 179.0]
    """
    lon = p[:, 0].copy()
    d = np.diff(lon)
    shift = np.concatenate([[0.0], np.cumsum(np.where(d > 180, -360.0, np.where(d < -180, 360.0, 0.0)))])
    return np.column_stack([lon + shift, p[:, 1]])


@lru_cache(maxsize=2)
def _country_shapes(path: str) -> list[tuple[str, tuple[float, float, float, float], np.ndarray]]:
    """(alpha-2, bbox (lon0, lat0, lon1, lat1), edges array (k, 4) x1 y1 x2 y2) per country of the
    Natural Earth 1:110m TopoJSON (world-atlas). Features without an ISO numeric id (N. Cyprus,
    Somaliland, Kosovo) have no alpha-2 code and are left out, so a point there gives None."""
    import pycountry

    topo = json.loads(Path(path).read_text())
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        q = np.cumsum(np.asarray(arc, dtype=np.float64), axis=0)
        arcs.append(np.column_stack([q[:, 0] * sx + tx, q[:, 1] * sy + ty]))

    def ring(idx: list[int]) -> np.ndarray:
        pts = []
        for k, a in enumerate(idx):
            c = arcs[a] if a >= 0 else arcs[~a][::-1]
            pts.append(c if k == 0 else c[1:])
        return np.concatenate(pts)

    out = []
    for g in topo["objects"]["countries"]["geometries"]:
        num = g.get("id")
        c = pycountry.countries.get(numeric=num) if num else None
        if c is None:
            continue
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]] if g["type"] == "Polygon" else []
        edges = []
        for poly in polys:
            for r in poly:
                p = _unwrap(ring(r))
                edges.append(np.column_stack([p[:-1], p[1:]]))
        e = np.concatenate(edges)
        bbox = (
            min(e[:, 0].min(), e[:, 2].min()),
            min(e[:, 1].min(), e[:, 3].min()),
            max(e[:, 0].max(), e[:, 2].max()),
            max(e[:, 1].max(), e[:, 3].max()),
        )
        out.append((c.alpha_2, bbox, e))
    return out


def countries_at(lat, lon, basemap: str | Path | None = None) -> np.ndarray:
    """Vectorised :func:`country_at`: object array of ISO alpha-2 codes or None, one per point.

    Each country's bounding box prefilters the points; the survivors get an even-odd ray test
    against all the country's ring edges (holes included), in numpy."""
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    out = np.full(len(lat), None, dtype=object)
    ok = np.isfinite(lat) & np.isfinite(lon)
    for a2, (x0, y0, x1, y1), e in _country_shapes(str(basemap or _basemap_path())):
        # a ring unwrapped across the antimeridian spans past +-180: test each point there too
        for offset in (0.0, 360.0, -360.0) if (x0 < -180 or x1 > 180) else (0.0,):
            plon = lon + offset
            cand = np.flatnonzero(
                ok & (plon >= x0) & (plon <= x1) & (lat >= y0) & (lat <= y1) & (out == None)  # noqa: E711
            )
            for s in range(0, len(cand), 2048):
                ci = cand[s : s + 2048]
                px, py = plon[ci][:, None], lat[ci][:, None]
                ex1, ey1, ex2, ey2 = (e[:, j][None, :] for j in range(4))
                straddle = (ey1 > py) != (ey2 > py)
                with np.errstate(divide="ignore", invalid="ignore"):
                    xcross = ex1 + (py - ey1) * (ex2 - ex1) / (ey2 - ey1)
                inside = (np.count_nonzero(straddle & (px < xcross), axis=1) % 2) == 1
                out[ci[inside]] = a2
    return out


def country_at(lat: float, lon: float, basemap: str | Path | None = None) -> str | None:
    """ISO 3166-1 alpha-2 code of the country containing a position, or None (sea, or no ISO code).

    Uses the offline Natural Earth 1:110m basemap in data/raw/basemap (coarse: a point a few km off
    a coast or on a small island may fall outside every country).

    >>> country_at(10.48, -66.90), country_at(23.11, -82.37), country_at(30.0, -40.0)
    ('VE', 'CU', None)
    """
    return countries_at([lat], [lon], basemap)[0]
