"""Point in country from the offline Natural Earth basemap (analysis.geo.country_at)."""

from __future__ import annotations

import numpy as np

from analysis.geo import countries_at, country_at


def test_hand_picked_points():
    assert country_at(10.48, -66.90) == "VE"  # Caracas
    assert country_at(23.11, -82.37) == "CU"  # Havana
    assert country_at(12.13, -86.25) == "NI"  # Managua
    assert country_at(30.0, -40.0) is None  # mid-Atlantic
    assert country_at(64.7, 177.5) == "RU"  # Anadyr, east of the antimeridian cut
    assert country_at(64.8, -147.7) == "US"  # Fairbanks
    assert country_at(float("nan"), 0.0) is None


def test_vectorised_matches_scalar():
    lat = np.array([10.48, 23.11, 30.0, 36.7, -34.6])
    lon = np.array([-66.90, -82.37, -40.0, 3.2, -58.4])
    got = countries_at(lat, lon).tolist()
    assert got == [country_at(a, b) for a, b in zip(lat, lon, strict=True)]
    assert got == ["VE", "CU", None, "DZ", "AR"]
