"""Every reader option error and time-zone error is a named TrackInputError, never a traceback (issue 9, point 7)."""

from __future__ import annotations

import pytest

from analysis.tracks import observed
from analysis.tracks.readers import TrackInputError, read_track

CSV = (
    "hex,t,lat,lon,alt\n1510c2,2024-01-02 07:22:55,10.6,-66.99,0\n1510c2,2024-01-02 07:23:55,10.61,-66.99,0\n"
)
MAP = {"icao24": "hex", "time": "t", "lat": "lat", "lon": "lon", "alt": "alt"}


@pytest.mark.parametrize(
    ("fmt", "options", "needle"),
    [
        ("generic_csv", {"mapping": MAP, "tz": "Europe/Mosow"}, "options.tz"),
        ("generic_csv", {"mapping": MAP, "tz": 3}, "options.tz"),
        ("generic_csv", {"mapping": MAP, "tz": "UTC", "time_format": 5}, "options.time_format"),
        ("generic_csv", {"mapping": MAP, "tz": "UTC", "alt_unit": ["ft"]}, "options.alt_unit"),
        ("generic_csv", {"mapping": {"time": 1}}, "options.mapping"),
        ("generic_csv", {"mapping": MAP, "timezone": "UTC"}, "options.timezone"),
        ("generic_csv", "tz=UTC", "options"),
        ("generic_csv", {"mapping": MAP, "tz": "UTC", "time_format": "%Q"}, "record 0"),
        ("opensky", {"stale_s": "fifteen"}, "options.stale_s"),
        ("fr24_csv", {"icao24": 1510}, "options.icao24"),
    ],
)
def test_option_errors_are_named(tmp_path, fmt, options, needle):
    f = tmp_path / "x.csv"
    f.write_text(CSV)
    with pytest.raises(TrackInputError) as e:
        read_track(f, fmt, options)
    assert "x.csv" in str(e.value) and needle in str(e.value)


def test_naive_times_with_a_valid_zone_read(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text(CSV)
    r = read_track(f, "generic_csv", {"mapping": MAP, "tz": "America/Caracas"})
    assert r.table.column("time_utc")[0].as_py().hour == 11  # 07:22 in Caracas (UTC-4)


def test_options_on_a_readsb_tree_are_refused(tree, tmp_path):
    with pytest.raises(TrackInputError, match="options.tz"):
        observed([(tree, "readsb", {"tz": "UTC"})], cache_dir=tmp_path / "c")
