"""Country lookup across the antimeridian (issue 17.3): inland Chukotka and Fiji's islands on either side of 180."""

from __future__ import annotations

import pytest

from analysis import geo


@pytest.mark.parametrize(
    ("lat", "lon", "country"),
    [
        (65.5, -174.0, "RU"),  # Chukotka east of 180 (inland, west of Cape Dezhnev)
        (66.0, 175.0, "RU"),  # Chukotka west of 180
        (68.0, -179.5, "RU"),  # just east of the antimeridian
        (-17.8, 178.0, "FJ"),  # Viti Levu
        (-16.6, 179.3, "FJ"),  # Vanua Levu, whose outline crosses 180
        (
            -16.2,
            -179.95,
            "FJ",
        ),  # Vanua Levu's tip east of 180 (the part of the 1:110m outline at negative longitudes)
        (65.0, -150.0, "US"),  # inland Alaska: a ring near, not across, the antimeridian
        (55.75, 37.6, "RU"),  # Moscow: the rest of the country is unchanged
        (30.0, -40.0, None),  # mid-Atlantic
    ],
)
def test_country_at_across_the_antimeridian(lat, lon, country):
    assert geo.country_at(lat, lon) == country


def test_unwrapped_ring_stays_closed():
    import numpy as np

    ring = np.array([[179.0, 0.0], [-179.0, 0.0], [-179.0, 1.0], [179.0, 1.0], [179.0, 0.0]])
    out = geo._unwrap(ring)
    assert out[0].tolist() == out[-1].tolist() and (np.abs(np.diff(out[:, 0])) <= 180).all()


def test_airport_columns_are_the_airportsdata_records():
    """The arrays the tracks code matches against hold what airportsdata.load() gives, row for row."""
    import airportsdata
    import numpy as np

    recs = list(airportsdata.load().values())
    cols = geo.airport_columns()
    assert cols["icao"].tolist() == [r["icao"] for r in recs]
    assert cols["iata"].tolist() == [r["iata"] or None for r in recs]
    assert cols["name"].tolist() == [r["name"] for r in recs]
    assert cols["country"].tolist() == [r["country"] for r in recs]
    assert np.array_equal(cols["lat"], np.array([float(r["lat"]) for r in recs]))
    assert np.array_equal(cols["lon"], np.array([float(r["lon"]) for r in recs]))
    assert geo.airports()["SVMI"]["country"] == "VE" and "SVMI" in set(cols["icao"])


def test_haversine_km_is_great_circle_km():
    import numpy as np

    a = geo.haversine_km(
        np.array([10.6012, 0.0]),
        np.array([-66.9913, 0.0]),
        np.array([22.9892, 0.0]),
        np.array([-82.4091, 1.0]),
    )
    assert (
        round(float(a[0])) == 2139
        and abs(a[0] - geo.great_circle_km(10.6012, -66.9913, 22.9892, -82.4091)) < 1e-9
    )
    assert round(float(a[1]), 1) == 111.2
