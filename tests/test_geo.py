"""Country lookup across the antimeridian (issue 17.3): inland Chukotka and Fiji's islands on either side of 180."""

from __future__ import annotations

import pytest

from analysis import geo


@pytest.mark.parametrize(("lat", "lon", "country"), [
    (65.5, -174.0, "RU"),   # Chukotka east of 180 (inland, west of Cape Dezhnev)
    (66.0, 175.0, "RU"),    # Chukotka west of 180
    (68.0, -179.5, "RU"),   # just east of the antimeridian
    (-17.8, 178.0, "FJ"),   # Viti Levu
    (-16.6, 179.3, "FJ"),   # Vanua Levu, whose outline crosses 180
    (65.0, -150.0, "US"),   # inland Alaska: a ring near, not across, the antimeridian
    (55.75, 37.6, "RU"),    # Moscow: the rest of the country is unchanged
    (30.0, -40.0, None),    # mid-Atlantic
])
def test_country_at_across_the_antimeridian(lat, lon, country):
    assert geo.country_at(lat, lon) == country


def test_unwrapped_ring_stays_closed():
    import numpy as np

    ring = np.array([[179.0, 0.0], [-179.0, 0.0], [-179.0, 1.0], [179.0, 1.0], [179.0, 0.0]])
    out = geo._unwrap(ring)
    assert out[0].tolist() == out[-1].tolist() and (np.abs(np.diff(out[:, 0])) <= 180).all()
