"""Property-based fuzzing (Hypothesis) of the evidence base and the flight-record readers.

* generated *valid* additions to the evidence base (a new episode with its sources, places and a route of
  2-6 stops, times in every precision of the grammar, text in many scripts) always build, without a traceback;
* generated *invalid* edits (any text, hostile characters, wrong numbers, in any cell of any table) either build
  or are refused with errors that each name the file and line, and the edited cell's field when the value breaks
  a text rule;
* generated track files (random bytes, gzip, JSON of any shape and depth, CSV) never hang and never crash a
  reader: every reader returns or raises its own named ``TrackInputError``, within a time limit;
* generated interest-rule parameters (any names, numbers, NaN, repeats, swapped bounds, stray separators) are either
  valid (every value in its range, bounds in order) or refused by ``make validate`` naming the file, line and field;
* generated day archives with damaged tar headers (any byte of a header changed, sizes past the end, cuts at any
  offset, link and device members) are ingested or refused with a named error, never a traceback or a hang.

``make test`` runs a bounded number of examples (profile ``ci``); ``make fuzz`` runs many more
(``FLIGHTS_FUZZ=fuzz``). Example counts per profile are in ``EXAMPLES``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import signal
import string
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import provenance
from analysis.build import build
from analysis.paths import REPO_DIR, Project
from analysis.schema import TABLES
from analysis.validate import RawValidationError, text_problem

PROFILE = os.environ.get("FLIGHTS_FUZZ", "ci")
#: examples per test: (valid bases, invalid edits, track files, rule parameters, archive headers)
EXAMPLES = {"ci": (3, 15, 120, 30, 40), "fuzz": (60, 600, 3000, 2000, 1000)}[PROFILE]
SETTINGS = dict(
    deadline=None,
    database=None,
    derandomize=PROFILE == "ci",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-template")
    shutil.copytree(REPO_DIR / "data" / "raw", root / "raw")
    return root / "raw"


_counter = iter(range(10**9))


def _fresh(template: Path, base: Path) -> Project:
    root = base / f"p{next(_counter)}"
    shutil.copytree(template, root / "data" / "raw")
    return Project(root)


def _append(path: Path, rows: list[dict]) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with open(path, "a", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        for row in rows:
            w.writerow({k: row.get(k, "") for k in header})


# --- valid evidence bases -------------------------------------------------------------------------------------

#: real airports with their countries (airportsdata knows them)
AIRPORTS = [
    ("UUEE", "RU"),
    ("URSS", "RU"),
    ("UUMU", "RU"),
    ("SVMI", "VE"),
    ("MUHA", "CU"),
    ("MNMG", "NI"),
    ("GQNN", "MR"),
    ("DAAG", "DZ"),
    ("LEMD", "ES"),
    ("GCXO", "ES"),
    ("SKBO", "CO"),
    ("MMMX", "MX"),
]
COUNTRY_TZ = {
    "RU": "Europe/Moscow",
    "VE": "America/Caracas",
    "CU": "America/Havana",
    "NI": "America/Managua",
    "MR": "Africa/Nouakchott",
    "DZ": "Africa/Algiers",
    "ES": "Europe/Madrid",
    "CO": "America/Bogota",
    "MX": "America/Mexico_City",
}

# free text: letters of many scripts, digits, punctuation, emoji; always NFC and free of control/format chars
_TEXT = (
    st.text(
        st.characters(
            codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\u2028\u2029"
        ),
        min_size=1,
        max_size=40,
    )
    .map(lambda s: __import__("unicodedata").normalize("NFC", s).strip() or "x")
    .filter(lambda s: text_problem(s) is None)
)


@st.composite
def _times(draw, n: int) -> list[tuple[str, str]]:
    """(arr, dep) as reported for ``n`` stops, strictly later stop by stop, in mixed precisions."""
    day = draw(st.integers(1, 20))
    month = draw(st.integers(1, 12))
    year = draw(st.integers(2009, 2026))
    out = []
    for i in range(n):
        d = day + 2 * i  # two days per stop keeps every precision in order
        if d > 28:
            d, month = d - 28, month % 12 + 1
            year += month == 1

        def one(hour: int, d=d, month=month, year=year) -> str:
            kind = draw(
                st.sampled_from(["day", "minute", "second", "approx", "evening" if hour >= 18 else "morning"])
            )
            date = f"{year:04d}-{month:02d}-{d:02d}"
            if kind == "day":
                return date
            if kind == "minute":
                return f"{date}T{hour:02d}:{draw(st.integers(0, 59)):02d}Z"
            if kind == "second":
                return f"{date}T{hour:02d}:05:{draw(st.integers(0, 59)):02d}+00:00"
            if kind == "approx":
                return f"{date}T{hour:02d}:30Z~"
            return f"{date} {kind}"

        arr = "" if i == 0 else one(7)
        dep = ""
        if i < n - 1:
            # a departure on the day after the arrival, so that any two precisions are in order
            dep_day = f"{year:04d}-{month:02d}-{d + 1:02d}"
            dep = draw(
                st.sampled_from([dep_day, f"{dep_day}T20:10Z", f"{dep_day} evening", f"{dep_day}T19:00Z~"])
            )
        out.append((arr, dep))
    return out


@st.composite
def evidence_additions(draw) -> dict:
    n = draw(st.integers(2, 6))
    route = [draw(st.sampled_from(AIRPORTS)) for _ in range(n)]
    times = draw(_times(n))
    precision = [draw(st.sampled_from(["airport", "city", "country"])) for _ in range(n)]
    return {
        "route": route,
        "times": times,
        "precision": precision,
        "title": draw(_TEXT),
        "summary": draw(_TEXT),
        "outlet": draw(_TEXT),
        "place_names": [draw(_TEXT) for _ in range(n)],
        "notes": draw(st.one_of(st.just(""), _TEXT)),
        "published": draw(
            st.sampled_from(["2026-11-20", "2026-11", "2026", "2026-11-20T10:00Z", "--11-20", ""])
        ),
    }


def _add(raw: Path, g: dict) -> int:
    eid = "fz-episode"
    _append(
        raw / "sources.csv",
        [
            {
                "source_id": "FZ-1",
                "outlet": g["outlet"],
                "title": g["title"],
                "published": g["published"],
                "url": "https://example.org/fz?a=1&b=%27x%27",
                "kind": "news",
                "language": "en",
                "is_secondary": "false",
                "notes": g["notes"],
                "read_status": "read",
            }
        ],
    )
    places = []
    for i, ((icao, country), prec, name) in enumerate(
        zip(g["route"], g["precision"], g["place_names"], strict=True)
    ):
        row = {
            "place_id": f"fz-p{i}",
            "name": name,
            "precision": prec,
            "country": country,
            "source_ids": "FZ-1",
        }
        if prec == "airport":
            row["icao"] = icao
        elif prec == "city":
            row |= {"inferred_icao": icao, "inference_basis": "the city's main airport (generated test)"}
        else:
            row["tz"] = COUNTRY_TZ[country]
        places.append(row)
    _append(raw / "places.csv", places)
    _append(
        raw / "episodes.csv",
        [
            {
                "episode_id": eid,
                "title": g["title"],
                "destination_country": g["route"][-1][1],
                "summary": g["summary"],
                "source_ids": "FZ-1",
                "notes": g["notes"],
                "kind": "state_cargo",
            }
        ],
    )
    stops = []
    n = len(g["route"])
    for i, (arr, dep) in enumerate(g["times"]):
        stops.append(
            {
                "stop_id": f"fz.{i + 1}",
                "episode_id": eid,
                "aircraft_id": "RA-78765",
                "variant": "main",
                "seq": str(i + 1),
                "place_id": f"fz-p{i}",
                "role": "origin" if i == 0 else ("destination" if i == n - 1 else "staging"),
                "arr_time": arr,
                "dep_time": dep,
                "is_inferred": "false",
                "source_ids": "FZ-1",
            }
        )
    _append(raw / "stops.csv", stops)
    return n


@settings(max_examples=EXAMPLES[0], **SETTINGS)
@given(g=evidence_additions())
def test_generated_valid_evidence_bases_build(g, template: Path, tmp_path: Path) -> None:
    project = _fresh(template, tmp_path)
    n = _add(project.raw, g)
    provenance.accept(project.raw)  # validates first: a valid base is recorded
    result = build(project, quiet=True)
    assert result["status"] == "built"
    import polars as pl

    stops = pl.read_parquet(project.current / "core_stops.parquet").filter(
        pl.col("episode_id") == "fz-episode"
    )
    assert stops.height == n
    assert stops.sort("seq")["place_id"].to_list() == [f"fz-p{i}" for i in range(n)]
    shutil.rmtree(project.root, ignore_errors=True)


# --- invalid edits ----------------------------------------------------------------------------------------------

_HOSTILE = st.sampled_from(
    [
        "\u202e",
        "\u200b",
        "\ufeff",
        "\ufffe",
        "\x07",
        "\t",
        "\x1b",
        "\u2066",
        "\u0301",
        "\uff11",
        "\u0661",
        "_",
        "=",
        "'",
        '"',
        ",",
        ";",
        "\n",
        "\u0410",
        "\U0010ffff",
    ]
)
_ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\x00"), max_size=30)
_VALUES = st.one_of(
    _ANY_TEXT,
    st.builds(
        lambda a, h, b: a + h + b,
        st.text(string.ascii_letters + string.digits + "-", max_size=8),
        _HOSTILE,
        st.text(string.ascii_letters + string.digits, max_size=8),
    ),
    st.sampled_from(
        [
            "",
            "nan",
            "-inf",
            "1e400",
            "1_000",
            "０",
            "٣",
            "  ",
            "obs-x",
            "2019-02-30",
            "9" * 30,
            "-1",
            "2019-03-23T25:00Z",
            "RA-78765;RA-78765",
            "../x",
            "javascript:x",
        ]
    ),
)


@st.composite
def invalid_edits(draw):
    table = draw(st.sampled_from(TABLES))
    column = draw(st.sampled_from(table.columns))
    return table, column, draw(st.integers(0, 10**6)), draw(_VALUES)


@settings(max_examples=EXAMPLES[1], **SETTINGS)
@given(edit=invalid_edits())
def test_generated_invalid_edits_get_named_errors(edit, template: Path, tmp_path: Path) -> None:
    table, column, pick, value = edit
    project = _fresh(template, tmp_path)
    path = project.raw / f"{table.name}.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    index = 1 + pick % (len(rows) - 1)
    rows[index][rows[0].index(column.name)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    # the physical line of the edited record (cells may span lines)
    reader = csv.reader(io.StringIO(buf.getvalue(), newline=""))
    line = 0
    for i, _ in enumerate(reader):
        if i == index:
            line = reader.line_num
            break
    provenance.accept(project.raw, check=False)
    try:
        build(project, quiet=True)
    except RawValidationError as exc:
        assert exc.errors
        for e in exc.errors:
            assert e.file.startswith("data/raw/") and e.file.endswith(".csv"), e
            assert e.expected and str(e).startswith(e.file), e
            assert e.line is not None or e.field is None or e.file != f"data/raw/{table.name}.csv", e
        stripped = value.strip()
        bad = text_problem(stripped, allow_newline=column.kind == "str")
        if bad is not None:
            hits = [e for e in exc.errors if e.file == f"data/raw/{table.name}.csv" and e.line == line]
            assert any(e.field == column.name for e in hits) or any(e.field is None for e in hits), (
                value,
                [str(e) for e in exc.errors][:5],
            )
    else:  # the edit was harmless: then the value passes text hygiene
        assert text_problem(value.strip(), allow_newline=column.kind == "str") is None, value
    finally:
        shutil.rmtree(project.root, ignore_errors=True)


# --- track files ------------------------------------------------------------------------------------------------


@contextmanager
def _time_limit(seconds: float):
    def alarm(signum, frame):
        raise TimeoutError(f"a reader ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


_KEYS = st.sampled_from(
    [
        "icao",
        "r",
        "t",
        "timestamp",
        "trace",
        "result",
        "response",
        "data",
        "flight",
        "track",
        "aircraft",
        "identification",
        "modes",
        "registration",
        "latitude",
        "longitude",
        "altitude",
        "feet",
        "speed",
        "kts",
        "heading",
        "hex",
        "x",
    ]
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=30,
)


@st.composite
def readsb_like(draw) -> bytes:
    trace = draw(
        st.lists(
            st.lists(
                st.one_of(
                    st.floats(allow_nan=False, width=32),
                    st.integers(-1, 10**6),
                    st.none(),
                    st.text(max_size=4),
                    _JSON,
                ),
                min_size=0,
                max_size=9,
            ),
            max_size=20,
        )
    )
    obj = {
        "icao": draw(st.sampled_from(["1522a4", "ZZZZZZ", "", "1522A4", "~abc"])),
        "timestamp": draw(st.one_of(st.floats(allow_nan=False), st.integers(), st.text(max_size=3))),
        "trace": trace,
    }
    if draw(st.booleans()):
        obj["r"] = draw(st.text(max_size=8))
    return json.dumps(obj).encode()


@st.composite
def csv_like(draw) -> bytes:
    header = draw(
        st.sampled_from(
            [
                "hex,t,lat,lon,alt",
                "Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction",
                "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,baroaltitude,"
                "geoaltitude,lastposupdate,lastcontact",
                "a,b",
            ]
        )
    )
    cell = st.one_of(
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.integers().map(str),
        st.sampled_from(["1522a4", "2025-10-26T10:00:00Z", "1761472800", '"10.5,-66.0"', ""]),
    )
    n = header.count(",") + 1
    rows = draw(st.lists(st.lists(cell, min_size=max(0, n - 1), max_size=n + 1), max_size=12))
    buf = io.StringIO()
    buf.write(header + "\n")
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8", "surrogatepass")


def _deep(draw) -> bytes:
    n = draw(st.integers(1, 300_000))
    return b'{"result": ' + b"[" * n + b"]" * draw(st.integers(0, n)) + b"}"


TRACK_BYTES = st.one_of(
    st.binary(max_size=2000),
    readsb_like(),
    csv_like(),
    _JSON.map(lambda o: json.dumps(o).encode()),
    st.composite(lambda draw: _deep(draw))(),
    st.binary(max_size=500).map(gzip.compress),
    readsb_like().map(gzip.compress),
    st.binary(max_size=300).map(lambda b: gzip.compress(b)[: max(2, len(b) // 2)]),
    st.integers(1, 200).map(lambda mb: zlib.compress(bytes(mb << 16), 9)),
    st.just(
        b'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><kml><Document><Placemark><name>&c;</name>'
        b"</Placemark></Document></kml>"
    ),
)

FORMATS = [
    ("readsb", None, "trace_full_1522a4.json"),
    ("opensky", None, "states.csv"),
    ("fr24_csv", {"icao24": "1522a4"}, "f.csv"),
    ("fr24_kml", {"icao24": "1522a4"}, "f.kml"),
    ("fr24_json", None, "f.json"),
    (
        "generic_csv",
        {"mapping": {"icao24": "hex", "time": "t", "lat": "lat", "lon": "lon", "alt": "alt"}},
        "g.csv",
    ),
]


@settings(max_examples=EXAMPLES[2], **SETTINGS)
@given(data=TRACK_BYTES, fmt=st.sampled_from(FORMATS))
def test_generated_track_files_never_hang_or_crash_a_reader(data: bytes, fmt, tmp_path: Path) -> None:
    from analysis.tracks import readers

    name, options, fname = fmt
    path = tmp_path / fname
    path.write_bytes(data)
    try:
        with _time_limit(20):
            readers.read_track(path, name, options=options)
    except readers.TrackInputError as exc:
        message = str(exc)
        assert str(path) in message and "expected" in message, message
    finally:
        path.unlink(missing_ok=True)


# --- interest-rule parameters ------------------------------------------------------------------------------------

_PARAM_NAMES = st.sampled_from(
    [
        "meridian_lon",
        "lat_min",
        "lat_max",
        "min_gap_min",
        "max_stop_h",
        "lat_mn",
        "x",
        "",
        " lat_min ",
        "LAT_MIN",
        "max_stop_h\u200b",
    ]
)
_PARAM_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(
        ["", "nan", "-inf", "1e400", "1_0", "\uff11", "72h", "0x10", "+30", ".5", "-0", "1e-9", " 72 "]
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\x00"), max_size=6),
)  # as _ANY_TEXT: a lone CR
# or NUL breaks the CSV itself (a file-level error, covered by the invalid-edit fuzz above)


@st.composite
def parameter_texts(draw) -> tuple[str, str]:
    pattern = draw(
        st.sampled_from(
            ["crossed_atlantic", "dark_over_ocean", "trip", "landed_in_region", "departed_region"]
        )
    )
    items = draw(
        st.lists(st.tuples(_PARAM_NAMES, st.sampled_from(["=", "==", ":", ""]), _PARAM_VALUES), max_size=5)
    )
    sep = draw(st.sampled_from([";", "; ", ";;", ","]))
    return pattern, sep.join(f"{k}{eq}{v}" for k, eq, v in items)


@settings(max_examples=EXAMPLES[3], **SETTINGS)
@given(case=parameter_texts())
def test_generated_rule_parameters_are_valid_or_refused_by_name(case, template: Path, tmp_path: Path) -> None:
    import math

    from analysis.validate import PATTERN_BOUNDS, PATTERN_PARAMETERS, load_raw, parse_parameters

    pattern, text = case
    values, problems = parse_parameters(text, pattern)  # never raises
    if not problems:
        spec = PATTERN_PARAMETERS[pattern]
        assert set(values) == set(spec), (text, values)
        for name, v in values.items():
            assert math.isfinite(v) and spec[name][0] <= v <= spec[name][1], (text, name, v)
        for pat, lo, hi in PATTERN_BOUNDS:
            if pat == pattern:
                assert values[lo] < values[hi], text
    project = _fresh(template, tmp_path)
    path = project.raw / "interest_patterns.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    row = next(i for i, r in enumerate(rows) if r[0] == pattern)
    rows[row][rows[0].index("parameters")] = text
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        load_raw(project.raw)
    except RawValidationError as exc:
        assert problems or text_problem(text.strip()) is not None, (text, str(exc))
        for e in exc.errors:
            assert e.file == "data/raw/interest_patterns.csv" and e.line is not None and e.field, e
    else:
        assert not problems, (text, problems)
    finally:
        shutil.rmtree(project.root, ignore_errors=True)


# --- archive headers ---------------------------------------------------------------------------------------------


def _archive_bytes() -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for h in ("1522a4", "1522b5", "3c0001"):
            obj = {
                "icao": h,
                "timestamp": 1761436800.0,
                "trace": [[i * 30.0, 10.0 + i * 0.05, -66.0, 30000, 450.0, 90.0, 0, 0] for i in range(20)],
            }
            data = gzip.compress(json.dumps(obj).encode())
            ti = tarfile.TarInfo(f"traces/{h[-2:]}/trace_full_{h}.json")
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


_ARCHIVE = _archive_bytes()
_HEADERS = [0]  # offsets of the member headers of _ARCHIVE
while True:
    _size = int(_ARCHIVE[_HEADERS[-1] + 124 : _HEADERS[-1] + 136].rstrip(b" \0") or b"0", 8)
    _next = _HEADERS[-1] + 512 + -(-_size // 512) * 512
    if _next + 512 > len(_ARCHIVE) or not _ARCHIVE[_next : _next + 512].strip(b"\0"):
        break
    _HEADERS.append(_next)


def _reseal(data: bytearray, at: int) -> None:
    """Give the header at ``at`` a valid checksum (so that the scanner reads the damaged fields themselves)."""
    data[at + 148 : at + 156] = b" " * 8
    data[at + 148 : at + 156] = b"%06o\0 " % (sum(data[at : at + 148]) + 256 + sum(data[at + 156 : at + 512]))


@st.composite
def damaged_archives(draw) -> dict:
    """How to damage the archive (small, so that a failing example prints readably): which header, what to change."""
    kind = draw(st.sampled_from(["byte", "size", "type", "name", "cut", "reseal-byte"]))
    spec = {"at": draw(st.sampled_from(_HEADERS)), "kind": kind, "bytes": [], "cut": None}
    if kind in ("byte", "reseal-byte"):
        spec["bytes"] = draw(
            st.lists(st.tuples(st.integers(0, 511), st.integers(0, 255)), min_size=1, max_size=8)
        )
    elif kind == "size":
        spec["size"] = draw(
            st.one_of(
                st.integers(0, 8**11 - 1).map(lambda n: b"%011o\0" % n),
                st.sampled_from([b"\x80" + bytes(11), b"zzzzzzzzzzz\0", bytes(12)]),
            )
        )
    elif kind == "type":
        spec["type"] = draw(st.sampled_from(b"0123456789xgLKSV\0A"))
    elif kind == "name":
        spec["name"] = draw(
            st.sampled_from(
                [
                    b"../../etc/trace_full_abcdef.json",
                    b"/abs/trace_full_abcdef.json",
                    b"traces/zz/trace_full_~abcde.json",
                    b"\xff\xfe",
                    b"",
                ]
            )
        )
    if kind == "cut" or draw(st.booleans()):
        spec["cut"] = draw(st.integers(0, len(_ARCHIVE)))
    return spec


def _damage(spec: dict) -> bytes:
    data = bytearray(_ARCHIVE)
    at = spec["at"]
    for off, value in spec["bytes"]:
        data[at + off] = value
    if "size" in spec:
        data[at + 124 : at + 136] = spec["size"]
    if "type" in spec:
        data[at + 156] = spec["type"]
    if "name" in spec:
        data[at : at + 100] = spec["name"][:100].ljust(100, b"\0")
    if spec["kind"] not in ("byte", "cut"):
        _reseal(data, at)
    return bytes(data if spec["cut"] is None else data[: spec["cut"]])


@settings(max_examples=EXAMPLES[4], **SETTINGS)
@given(spec=damaged_archives())
def test_generated_archive_headers_are_read_or_refused_by_name(spec: dict, tmp_path: Path) -> None:
    from analysis.safeio import UnsafeInputError
    from analysis.tracks.archive import ingest_archive
    from analysis.tracks.readers import TrackInputError

    path = tmp_path / "day.tar"
    path.write_bytes(_damage(spec))
    store = tmp_path / "store"
    try:
        with _time_limit(30):
            res = ingest_archive(path, store, n_buckets=2, processes=1, progress=False)
    except (TrackInputError, UnsafeInputError) as exc:
        message = str(exc)
        assert str(path) in message and "expected" in message, message
    else:
        assert res.rows >= 0 and all(
            len(s) == 2 and "expected" in s[1] or "not" in s[1] for s in res.skipped
        ), res.skipped
        assert (store / "manifest.json").is_file()
        outside = [p for p in tmp_path.rglob("*") if p.name.startswith("trace_full")]
        assert outside == [], outside  # never extracted, never written outside the store
    finally:
        shutil.rmtree(store, ignore_errors=True)
        path.unlink(missing_ok=True)
