"""Airport reference and vectorised nearest-airport matching.

Airports come from the ``airportsdata`` package, loaded by :func:`analysis.geo.airport_columns` (keyed by ICAO code).
airportsdata has no airport-type field. We keep **every** entry: all of them carry an ICAO code,
and the airfields that matter for state/military airlift (e.g. MUSA, UUMU, military strips in
Africa and Latin America) often have no IATA code, so an "IATA only" filter would lose exactly
the fields we study. ``load_airports(require_iata=True)`` gives the stricter list when wanted.

Matching is done with a uniform 3-D grid on the unit sphere (cell edge = search radius), so the
search has no trouble at the poles or across the antimeridian and is fully vectorised in numpy:
each query looks in its 27 neighbouring cells via ``searchsorted`` on the sorted cell keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .. import geo as _geo

__all__ = ["Airports", "load_airports", "airport_grid", "nearest_airport", "haversine_km", "EARTH_RADIUS_KM"]

log = logging.getLogger(__name__)

#: the geodesy of :mod:`analysis.geo`, re-exported for the tracks modules
EARTH_RADIUS_KM = _geo.EARTH_RADIUS_KM
haversine_km = _geo.haversine_km


@dataclass(frozen=True)
class Airports:
    """Column arrays of the airport reference (one row per ICAO code)."""

    icao: np.ndarray  # str objects
    iata: np.ndarray
    name: np.ndarray
    country: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    def __len__(self) -> int:
        return len(self.icao)

    def index(self, code: str) -> int:
        """Row index of an ICAO code (KeyError when unknown)."""
        hits = np.flatnonzero(self.icao == code)
        if not len(hits):
            raise KeyError(code)
        return int(hits[0])


@lru_cache(maxsize=4)
def load_airports(require_iata: bool = False) -> Airports:
    """The airport reference as arrays (:func:`analysis.geo.airport_columns`); ``require_iata`` keeps only
    airports with an IATA code."""
    cols = _geo.airport_columns()
    keep = np.array([v is not None for v in cols["iata"]], bool) if require_iata else slice(None)
    log.debug("loaded %d airports (require_iata=%s)", len(cols["icao"][keep]), require_iata)
    return Airports(**{k: cols[k][keep] for k in ("icao", "iata", "name", "country", "lat", "lon")})


def _unit(lat, lon):
    la, lo = np.radians(lat), np.radians(lon)
    c = np.cos(la)
    return np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)], axis=-1)


class _Grid:
    def __init__(self, lat, lon, radius_km):
        self.cell = radius_km / EARTH_RADIUS_KM  # chord <= arc, so neighbours cover the radius
        self.m = int(2.0 / self.cell) + 8
        self.off = self.m // 2
        keys = self._keys(_unit(lat, lon))
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]

    def _ijk(self, v):
        return np.floor(v / self.cell).astype(np.int64) + self.off

    def _key(self, ijk):
        return (ijk[:, 0] * self.m + ijk[:, 1]) * self.m + ijk[:, 2]

    def _keys(self, v):
        return self._key(self._ijk(v))

    def candidates(self, lat, lon):
        """Return (query index, airport index) pairs of all airports in the 27 neighbouring cells
        (9 key ranges: the three z-neighbours of a cell have consecutive keys)."""
        ijk = self._ijk(_unit(lat, lon))
        qs, cs = [], []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                k = self._key(ijk + np.array([dx, dy, 0]))
                lo = np.searchsorted(self.keys, k - 1, "left")
                hi = np.searchsorted(self.keys, k + 1, "right")
                n = hi - lo
                if not n.any():
                    continue
                q = np.repeat(np.arange(len(k)), n)
                start = np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
                qs.append(q)
                cs.append(self.order[start])
        if not qs:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(qs), np.concatenate(cs)


@lru_cache(maxsize=8)
def airport_grid(radius_km: float, require_iata: bool = False) -> _Grid:
    """The search grid over :func:`load_airports` for ``radius_km`` (cached): ``.candidates(lat, lon)`` gives the
    (query, airport) index pairs of the 27 neighbouring cells."""
    ap = load_airports(require_iata)
    return _Grid(ap.lat, ap.lon, radius_km)


def nearest_airport(lat, lon, radius_km: float = 20.0, require_iata: bool = False):
    """Nearest airport within ``radius_km`` of each point (vectorised).

    Returns ``(icao, dist_km)``: an object array (None where no airport is within the radius) and a
    float array (NaN there). NaN inputs give None.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    n = len(lat)
    out_icao = np.full(n, None, dtype=object)
    out_d = np.full(n, np.nan)
    ok = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    if not len(ok):
        return out_icao, out_d
    ap = load_airports(require_iata)
    q, c = airport_grid(float(radius_km), require_iata).candidates(lat[ok], lon[ok])
    if not len(q):
        return out_icao, out_d
    d = haversine_km(lat[ok][q], lon[ok][q], ap.lat[c], ap.lon[c])
    keep = d <= radius_km
    q, c, d = q[keep], c[keep], d[keep]
    o = np.lexsort((d, q))
    q, c, d = q[o], c[o], d[o]
    first = np.ones(len(q), bool)
    first[1:] = q[1:] != q[:-1]
    out_icao[ok[q[first]]] = ap.icao[c[first]]
    out_d[ok[q[first]]] = d[first]
    return out_icao, out_d
