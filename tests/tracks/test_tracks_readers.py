"""Each reader reproduces the generator's positions within the format's precision; bad input raises
TrackInputError naming file, record and field."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analysis.tracks.noise import clean_positions
from analysis.tracks.readers import (
    POSITIONS_SCHEMA,
    TrackInputError,
    read_fr24_csv,
    read_fr24_json,
    read_fr24_kml,
    read_generic_csv,
    read_opensky,
    read_readsb_file,
)
from synth.tracks import (
    write_fr24_csv,
    write_fr24_json,
    write_fr24_kml,
    write_generic_csv,
    write_opensky,
    write_readsb_tree,
)


def one(tbl, hexa):
    return tbl.filter(pc.equal(tbl.column("icao24"), hexa))


def first_hex(gen):
    return gen.clean.column("icao24")[0].as_py()


def assert_same(
    got: pa.Table, want: pa.Table, *, pos=1e-6, alt=0.01, gs=0.01, trk=0.06, vr=None, callsign=True
):
    assert got.schema.equals(POSITIONS_SCHEMA)
    assert got.num_rows == want.num_rows
    assert got.column("icao24").to_pylist() == want.column("icao24").to_pylist()
    assert got.column("time_utc").equals(want.column("time_utc"))
    assert str(got.schema.field("time_utc").type) == "timestamp[us, tz=UTC]"
    for c, tol in (("lat", pos), ("lon", pos), ("gs_kt", gs), ("track_deg", trk)):
        np.testing.assert_allclose(
            got.column(c).to_numpy(zero_copy_only=False),
            want.column(c).to_numpy(zero_copy_only=False),
            atol=tol,
            err_msg=c,
        )
    assert got.column("on_ground").equals(want.column("on_ground"))
    a, b = (t.column("alt_ft").to_numpy(zero_copy_only=False) for t in (got, want))
    assert np.array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], atol=alt)
    if vr is not None:
        np.testing.assert_allclose(
            got.column("vrate_fpm").to_numpy(zero_copy_only=False),
            want.column("vrate_fpm").to_numpy(zero_copy_only=False),
            atol=vr,
        )
    if callsign:
        assert got.column("callsign").to_pylist() == want.column("callsign").to_pylist()


# ------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("extended", [True, False])
@pytest.mark.parametrize("gz", [True, False])
def test_readsb_roundtrip_with_noise(gen, tmp_path, gz, extended):
    files = write_readsb_tree(gen.positions, tmp_path, gz=gz, extended=extended)
    assert files[0].name.endswith(".json")
    assert (files[0].read_bytes()[:2] == b"\x1f\x8b") == gz
    tables, noise = [], {}
    for f in files:
        r = read_readsb_file(f)
        t, c = clean_positions(r.table)
        tables.append(t)
        for k, v in c.items():
            noise[k] = noise.get(k, 0) + v
    got = pa.concat_tables(tables)
    assert noise == {k: v for k, v in gen.noise.items() if v}
    want = gen.clean.drop(["source_format", "readsb_flags"])
    assert_same(got, gen.clean, alt=0, gs=0.051, vr=0.5)
    assert got.column("registration").to_pylist() == want.column("registration").to_pylist()
    assert set(got.column("source_format").to_pylist()) == {"readsb"}
    flags = got.column("readsb_flags").to_numpy()
    assert (flags & 2).sum() >= gen.legs.height  # the writer flags each callsign change as a new leg


def test_readsb_ground_and_details(tmp_path):
    obj = {
        "icao": "1510C2",
        "r": "RA-96019",
        "timestamp": 1704180000.5,
        "trace": [
            [0, 10.60, -66.99, "ground", 5, 90, 2, None, {"flight": "RSD1   ", "squawk": "1200"}],
            [10.2, 10.61, -66.98, 500, 150, 90, 0, 1500, None],
            [20.0, 10.62, -66.97, None, 160, 90, 1, None, None],
        ],
    }
    p = tmp_path / "trace_full_1510c2.json"
    p.write_bytes(gzip.compress(json.dumps(obj).encode()))
    t = read_readsb_file(p).table
    assert t.column("icao24").to_pylist() == ["1510c2"] * 3
    assert t.column("on_ground").to_pylist() == [True, False, False]
    assert t.column("alt_ft").to_pylist() == [None, 500.0, None]
    assert t.column("callsign").to_pylist() == ["RSD1"] * 3
    assert t.column("readsb_flags").to_pylist() == [2, 0, 1]
    assert t.column("time_utc")[1].as_py().isoformat() == "2024-01-02T07:20:10.700000+00:00"


def test_opensky_csv_and_parquet(gen, tmp_path):
    for suffix in ("csv", "parquet"):
        p = write_opensky(gen.clean, tmp_path / f"sv.{suffix}", stale_rows=7)
        r = read_opensky(p)
        assert dict(r.noise) == {"opensky_stale": 7}
        got, counts = clean_positions(r.table)
        assert not counts
        assert_same(got, gen.clean, alt=0.05, gs=0.01, vr=0.01)
        assert set(got.column("source_format").to_pylist()) == {"opensky"}


def test_opensky_watch_filter(gen, tmp_path):
    p = write_opensky(gen.clean, tmp_path / "sv.parquet")
    h = first_hex(gen)
    r = read_opensky(p, watch_hex={h})
    assert set(r.table.column("icao24").to_pylist()) == {h}


def test_fr24_csv_kml_json(gen, tmp_path):
    h = first_hex(gen)
    want = one(gen.clean, h)
    p = write_fr24_csv(want, tmp_path / "f.csv")
    got, _ = clean_positions(read_fr24_csv(p, options={"icao24": h}).table)
    assert_same(got, want, alt=0, gs=0.51, trk=0.51)
    p = write_fr24_kml(want, tmp_path / "f.kml")
    got, _ = clean_positions(read_fr24_kml(p, options={"icao24": h}).table)
    assert_same(got, want, alt=2.2, gs=0.51, trk=0.51)
    p = write_fr24_json(want, tmp_path / "f.json")
    got, _ = clean_positions(read_fr24_json(p).table)
    assert_same(got, want, alt=0, gs=0.51, trk=0.51, callsign=False)
    assert got.column("registration")[0].as_py() == want.column("registration")[0].as_py()


def test_generic_csv_utc_and_declared_zone(gen, tmp_path):
    opts = write_generic_csv(gen.clean, tmp_path / "g.csv")
    got, _ = clean_positions(read_generic_csv(tmp_path / "g.csv", options=opts).table)
    assert_same(got, gen.clean, alt=0.05, gs=0.01)
    # local wall-clock times are accepted only when the mapping declares the zone
    opts = write_generic_csv(gen.clean, tmp_path / "l.csv", tz="America/Havana")
    got, _ = clean_positions(read_generic_csv(tmp_path / "l.csv", options=opts).table)
    assert got.column("time_utc").equals(gen.clean.column("time_utc"))
    del opts["tz"]
    with pytest.raises(TrackInputError, match=r"l\.csv: record 0, field 'when': expected a timezone-aware"):
        read_generic_csv(tmp_path / "l.csv", options=opts)


# ------------------------------------------------------------------------------- bad input
def _trace(n=30):
    return {
        "icao": "abc123",
        "timestamp": 1704180000,
        "trace": [[i * 5.0, 10.0 + i * 0.01, -60.0, 30000, 450, 90, 0, 0, None] for i in range(n)],
    }


def _write(path, obj, gz=True):
    data = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_readsb_bad_field_names_file_record_field(tmp_path):
    obj = _trace()
    obj["trace"][17][1] = "x"
    p = _write(tmp_path / "traces/23/trace_full_abc123.json", obj)
    with pytest.raises(TrackInputError) as e:
        read_readsb_file(p, label="traces/23/trace_full_abc123.json")
    assert str(e.value) == (
        "traces/23/trace_full_abc123.json: record 17, field 'lat': expected a number in [-inf, inf], got 'x'"
    ) or "record 17, field 'lat'" in str(e.value)


@pytest.mark.parametrize(
    "case,pattern",
    [
        ("truncated_gzip", r"t\.json: file: expected a complete gzip stream"),
        ("truncated_json", r"t\.json: line 1 col \d+: expected complete JSON"),
        ("empty", r"t\.json: file: expected data, got an empty file"),
        ("non_utf8", r"t\.json: line 1 \(byte \d+\): expected UTF-8 text"),
        ("missing_trace", r"t\.json: file, field 'trace': expected top-level key 'trace'"),
        ("short_entry", r"t\.json: record 3: expected a list of at least 8 values"),
        (
            "absurd_alt",
            r"t\.json: record 5, field 'alt': expected a number in \[-2000, 150000\], got 9000000",
        ),
        ("bad_hex", r"t\.json: file, field 'icao': expected a 24-bit ICAO address"),
        ("absurd_time", r"t\.json: file, field 'timestamp': expected a unix time between 1990 and 2100"),
    ],
)
def test_readsb_bad_inputs(tmp_path, case, pattern):
    p = tmp_path / "t.json"
    raw = json.dumps(_trace()).encode()
    if case == "truncated_gzip":
        p.write_bytes(gzip.compress(raw)[:-30])
    elif case == "truncated_json":
        p.write_bytes(raw[:-40])
    elif case == "empty":
        p.write_bytes(b"")
    elif case == "non_utf8":
        p.write_bytes(raw[:50] + b"\xff\xfe" + raw[50:])
    else:
        obj = _trace()
        if case == "missing_trace":
            del obj["trace"]
        elif case == "short_entry":
            obj["trace"][3] = [1, 2, 3]
        elif case == "absurd_alt":
            obj["trace"][5][3] = 9e6
        elif case == "bad_hex":
            obj["icao"] = "zz"
        elif case == "absurd_time":
            obj["timestamp"] = 12
        _write(p, obj, gz=False)
    with pytest.raises(TrackInputError, match=pattern):
        read_readsb_file(p)


def test_opensky_bad_inputs(gen, tmp_path):
    p = write_opensky(gen.clean.slice(0, 50), tmp_path / "sv.csv")
    lines = p.read_text().splitlines()
    # missing column
    hdr = lines[0].split(",")
    i = hdr.index("lat")
    (tmp_path / "m.csv").write_text(
        "\n".join(",".join(c for j, c in enumerate(ln.split(",")) if j != i) for ln in lines) + "\n"
    )
    with pytest.raises(TrackInputError, match=r"m\.csv: header, field 'lat': expected columns"):
        read_opensky(tmp_path / "m.csv")
    # wrong type in record 7
    row = lines[8].split(",")
    row[i] = "north"
    (tmp_path / "w.csv").write_text("\n".join(lines[:8] + [",".join(row)] + lines[9:]) + "\n")
    with pytest.raises(
        TrackInputError, match=r"w\.csv: record 7, field 'lat': expected a number .*got 'north'"
    ):
        read_opensky(tmp_path / "w.csv")
    # naive timestamps in parquet
    t = pq.read_table(write_opensky(gen.clean.slice(0, 50), tmp_path / "sv.parquet"))
    naive = pa.array(t.column("time").to_numpy() * 1_000_000, pa.int64()).cast(pa.timestamp("us"))
    pq.write_table(t.set_column(0, "time", naive), tmp_path / "n.parquet")
    with pytest.raises(
        TrackInputError, match=r"n\.parquet: record 0, field 'time': expected a timezone-aware time"
    ):
        read_opensky(tmp_path / "n.parquet")
    assert read_opensky(tmp_path / "n.parquet", options={"tz": "UTC"}).table.num_rows == 50
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(TrackInputError, match=r"e\.csv: file: expected data, got an empty file"):
        read_opensky(tmp_path / "e.csv")


def test_fr24_bad_inputs(gen, tmp_path):
    h = first_hex(gen)
    want = one(gen.clean, h).slice(0, 40)
    p = write_fr24_csv(want, tmp_path / "f.csv")
    lines = p.read_text().splitlines()
    lines[5] = lines[5].replace('"', "")  # Position no longer quoted -> column shift
    bad = tmp_path / "b.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(TrackInputError, match=r"b\.csv: record 4: expected a well-formed CSV row"):
        read_fr24_csv(bad, options={"icao24": h})
    lines = p.read_text().splitlines()
    lines[5] = lines[5].split('"')[0] + '"north,west"' + lines[5].split('"')[2]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(TrackInputError, match=r"b\.csv: record 4, field 'Position': expected a quoted"):
        read_fr24_csv(bad, options={"icao24": h})
    with pytest.raises(TrackInputError, match=r"f\.csv: file, field 'icao24': expected options"):
        read_fr24_csv(p)
    bad.write_bytes(p.read_bytes().replace(b"RFF", b"R\xe9F", 1))
    with pytest.raises(TrackInputError, match=r"b\.csv: line 2 \(byte \d+\): expected UTF-8"):
        read_fr24_csv(bad, options={"icao24": h})
    k = write_fr24_kml(want, tmp_path / "f.kml")
    bad = tmp_path / "b.kml"
    bad.write_bytes(k.read_bytes()[:-200])
    with pytest.raises(TrackInputError, match=r"b\.kml: line \d+ col \d+: expected complete KML/XML"):
        read_fr24_kml(bad, options={"icao24": h})
    j = write_fr24_json(want, tmp_path / "f.json")
    bad = tmp_path / "b.json"
    bad.write_bytes(j.read_bytes()[:-100])
    with pytest.raises(TrackInputError, match=r"b\.json: line 1 col \d+: expected complete JSON"):
        read_fr24_json(bad)
    obj = json.loads(j.read_text())
    obj["result"]["response"]["data"]["flight"]["track"][9]["latitude"] = "n/a"
    bad.write_text(json.dumps(obj))
    with pytest.raises(TrackInputError, match=r"b\.json: record 9, field 'latitude': expected a number"):
        read_fr24_json(bad)
    del obj["result"]["response"]["data"]
    bad.write_text(json.dumps(obj))
    with pytest.raises(TrackInputError, match=r"b\.json: file, field 'result.response.data': expected"):
        read_fr24_json(bad)


def test_generic_csv_bad_inputs(gen, tmp_path):
    opts = write_generic_csv(gen.clean.slice(0, 30), tmp_path / "g.csv")
    text = (tmp_path / "g.csv").read_text().splitlines()
    # absurd altitude in record 12
    row = text[13].split(",")
    row[4] = "99999999"
    (tmp_path / "a.csv").write_text("\n".join(text[:13] + [",".join(row)] + text[14:]) + "\n")
    with pytest.raises(TrackInputError, match=r"a\.csv: record 12, field 'altitude_m': expected a number in"):
        read_generic_csv(tmp_path / "a.csv", options=opts)
    # times without zone and no declared tz
    (tmp_path / "n.csv").write_text("\n".join([text[0]] + [r.replace("+00:00", "") for r in text[1:]]) + "\n")
    with pytest.raises(
        TrackInputError, match=r"n\.csv: record 0, field 'when': expected a timezone-aware time"
    ):
        read_generic_csv(tmp_path / "n.csv", options=opts)
    # mapping names a column the file lacks
    bad = dict(opts, mapping=dict(opts["mapping"], lat="LAT"))
    with pytest.raises(TrackInputError, match=r"g\.csv: header, field 'LAT': expected columns"):
        read_generic_csv(tmp_path / "g.csv", options=bad)
    with pytest.raises(TrackInputError, match=r"field 'alt_unit': expected one of"):
        read_generic_csv(tmp_path / "g.csv", options=dict(opts, alt_unit="furlong"))


@pytest.mark.parametrize("extended", [True, False])
def test_readsb_fast_path_equals_exact_path(gen, tmp_path, extended):
    import gzip

    from analysis.tracks.readers import parse_readsb_rows, split_readsb

    files = write_readsb_tree(gen.positions, tmp_path, extended=extended)
    for f in files[:4]:
        parse_readsb_rows(
            [split_readsb(gzip.decompress(f.read_bytes()), "x")]
        )  # the fast path is really taken
        fast, exact = read_readsb_file(f), read_readsb_file(f, fast=False)
        assert fast.table.equals(exact.table) and fast.header == exact.header


def test_all_digit_hex_and_callsign_stay_text(tmp_path):
    p = tmp_path / "sv.csv"
    p.write_text(
        "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,baroaltitude\n"
        "1704180000,042424,10.6,-67.0,100.0,90.0,0.0,0123,False,1000.0\n"
        "1704180010,042424,10.61,-67.0,100.0,90.0,0.0,0123,False,1000.0\n"
    )
    t = read_opensky(p).table
    assert t.column("icao24").to_pylist() == ["042424", "042424"]
    assert t.column("callsign").to_pylist() == ["0123", "0123"]


@pytest.mark.parametrize(
    ("col", "value", "field"),
    [(7, 999999, "vrate"), (5, 720.0, "track"), (4, -3.0, "gs"), (0, 11 * 86400, "offset")],
)
def test_one_set_of_limits_for_a_file_and_an_archive_member(col, value, field):
    """The same readsb limits on a single file and in the archive's batch parse: a value outside is named by record and
    field in both (the archive skips and lists the member; its other members are kept)."""
    import gzip
    import json

    from analysis.tracks.archive import parse_readsb_members

    def doc(hexa, bad):
        rows = [
            [t, 10.0 + t / 1e4, -66.0, 3000, 250.0, 90.0, 0, 0, None, "adsb_icao", 3000, None, None, None]
            for t in range(0, 100, 10)
        ]
        if bad:
            rows[3][col] = value
        return gzip.compress(
            json.dumps({"icao": hexa, "timestamp": 1704067200, "trace": rows}, separators=(",", ":")).encode()
        )

    with pytest.raises(TrackInputError, match=rf"f\.json: record 3, field '{field}'"):
        read_readsb_file(doc("0d0001", True), label="f.json")
    tbl, metas, _noise, skipped = parse_readsb_members(
        [("a.json", doc("0d0001", True)), ("b.json", doc("0d0002", False))], "day.tar"
    )
    assert [s[0] for s in skipped] == ["a.json"] and f"record 3, field '{field}'" in skipped[0][1]
    assert set(tbl.column("icao24").to_pylist()) == {"0d0002"} and tbl.num_rows == 10
