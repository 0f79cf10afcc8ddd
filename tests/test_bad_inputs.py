"""A catalogue of bad inputs: every raw table and every flight-record reader, each bad in one way.

Each case edits one file of a private copy of the study, re-records its provenance (so that validation, not the
checksum check, is what fails) and runs the build. The error must name the file, the line (or record), the field
and what was expected, and nothing may be written to data/derived. Separate cases cover the checksum check itself.

The tally ("bad-input catalogue: N cases, N clear errors") is printed in pytest's terminal summary by
tests/conftest.py.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from studykit import REPORT_EPISODES

from analysis import provenance
from analysis.build import build
from analysis.paths import Project
from analysis.provenance import ProvenanceError
from analysis.validate import RawValidationError

# --- tally, reported by tests/conftest.py::pytest_terminal_summary ---------------------------------------------


def _tally(config: pytest.Config, clear: bool) -> None:
    stats = getattr(config, "bad_input_stats", None)
    if stats is None:
        stats = config.bad_input_stats = {"cases": 0, "clear": 0, "failed": []}
    stats["cases"] += 1
    stats["clear"] += int(clear)


@pytest.fixture
def tally(request):
    """Call with True when the case produced a clear error; a case that never calls it counts as unclear."""
    seen: list[bool] = []
    yield seen.append
    _tally(request.config, bool(seen) and all(seen))
    if not (seen and all(seen)):
        request.config.bad_input_stats["failed"].append(request.node.name)


# --- editing raw CSV ----------------------------------------------------------------------------------------


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def line_of(path: Path, record: int) -> int:
    """The line number (as csv.reader counts, 1 = header) on which data record ``record`` (0-based) ends."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for i, _ in enumerate(reader):
            if i == record:
                return reader.line_num
    raise IndexError(record)


Row = int | Callable[[dict], bool]


def _index(rows: list[list[str]], which: Row) -> int:
    if isinstance(which, int):
        return which
    header = rows[0]
    for i, r in enumerate(rows[1:]):
        if which(dict(zip(header, r, strict=True))):
            return i
    raise LookupError("no row matches the case's selector")


def set_cell(which: Row, column: str, value: str):
    def edit(path: Path) -> int:
        rows = read_rows(path)
        i = _index(rows, which)
        rows[1 + i][rows[0].index(column)] = value
        write_rows(path, rows)
        return line_of(path, i)

    return edit


def append_copy(which: Row, **changes: str):
    """Append a copy of a row (with some cells changed): duplicate keys."""

    def edit(path: Path) -> int:
        rows = read_rows(path)
        new = list(rows[1 + _index(rows, which)])
        for col, v in changes.items():
            new[rows[0].index(col)] = v
        rows.append(new)
        write_rows(path, rows)
        return line_of(path, len(rows) - 2)

    return edit


def drop_column(column: str):
    def edit(path: Path) -> int:
        rows = read_rows(path)
        j = rows[0].index(column)
        write_rows(path, [r[:j] + r[j + 1 :] for r in rows])
        return 1

    return edit


def add_column(column: str, value: str = "x"):
    def edit(path: Path) -> int:
        rows = read_rows(path)
        write_rows(path, [rows[0] + [column]] + [r + [value] for r in rows[1:]])
        return 1

    return edit


def rename_column(old: str, new: str):
    def edit(path: Path) -> int:
        rows = read_rows(path)
        rows[0][rows[0].index(old)] = new
        write_rows(path, rows)
        return 1

    return edit


def replace_bytes(make: Callable[[bytes], bytes], line: int):
    def edit(path: Path) -> int:
        path.write_bytes(make(path.read_bytes()))
        return line

    return edit


def _latin1_in_line(data: bytes, line: int) -> bytes:
    lines = data.split(b"\n")
    lines[line - 1] = lines[line - 1].replace(b",", b",Bogot\xe1 ", 1)  # 0xe1 alone is not UTF-8
    return b"\n".join(lines)


def _short_row(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[2] = b",".join(lines[2].split(b",")[:3])
    return b"\n".join(lines)


def _open_quote(data: bytes) -> bytes:
    return data.rstrip(b"\n") + b'\nbroken-row,"never closed\n'


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    table: str
    edit: Callable[[Path], int]
    field: str | None  # None: a file-level problem (no single field)
    got: str | None = None  # text the error must quote back (what was found)
    any_line: bool = False  # the error is reported on a related line (e.g. the next stop of a route)


def has_times(r: dict) -> bool:
    return bool(r["arr_time"] and r["dep_time"])


CASES = [
    # missing and extra columns
    Case("sources-missing-column", "columns", "sources", drop_column("kind"), "kind"),
    Case("stops-missing-column", "columns", "stops", drop_column("arr_time"), "arr_time"),
    Case("events-renamed-column", "columns", "events", rename_column("start", "begin"), "start"),
    Case("stops-extra-column", "columns", "stops", add_column("gate"), "gate"),
    Case("claims-extra-column", "columns", "claims", add_column("confidence", "high"), "confidence"),
    Case("episodes-repeated-column", "columns", "episodes", add_column("notes", ""), "notes"),
    Case("places-short-row", "columns", "places", replace_bytes(_short_row, 3), None, got="3 fields"),
    # wrong types
    Case(
        "types-payload-text",
        "types",
        "aircraft_types",
        set_cell(0, "max_payload_t", "heavy"),
        "max_payload_t",
        got="heavy",
    ),
    Case(
        "types-passengers-fraction",
        "types",
        "aircraft_types",
        set_cell(0, "max_passengers", "12.5"),
        "max_passengers",
        got="12.5",
    ),
    Case("stops-seq-word", "types", "stops", set_cell(3, "seq", "three"), "seq", got="three"),
    Case(
        "sources-bool-yes", "types", "sources", set_cell(0, "is_secondary", "yes"), "is_secondary", got="yes"
    ),
    Case("stops-role-unknown", "types", "stops", set_cell(1, "role", "layover"), "role", got="layover"),
    Case("claims-kind-unknown", "types", "claims", set_cell(0, "kind", "rumour"), "kind", got="rumour"),
    Case("claims-quantity-nan", "types", "claims", set_cell(0, "quantity", "nan"), "quantity", got="nan"),
    Case("claims-quantity-inf", "types", "claims", set_cell(0, "quantity", "inf"), "quantity", got="inf"),
    Case("episodes-title-empty", "types", "episodes", set_cell(0, "title", ""), "title"),
    Case("notes-control-char", "types", "claims", set_cell(0, "notes", "bell\x07here"), "notes"),
    Case(
        "notes-too-long", "types", "sources", set_cell(0, "notes", "x" * 5000), "notes", got="5000 characters"
    ),
    Case(
        "watch-hex-uppercase",
        "types",
        "watchlist",
        set_cell(0, "icao_hex", "15A2Z4"),
        "icao_hex",
        got="15A2Z4",
    ),
    Case("watch-no-hex-no-registration", "types", "watchlist", set_cell(0, "registration", ""), "icao_hex"),
    Case(
        "sources-url-javascript",
        "types",
        "sources",
        set_cell(0, "url", "javascript:alert(1)"),
        "url",
        got="javascript:alert(1)",
    ),
    Case(
        "episode-id-path",
        "types",
        "episodes",
        set_cell(0, "episode_id", "../../etc/passwd"),
        "episode_id",
        got="../../etc/passwd",
    ),
    Case(
        "episode-id-uppercase",
        "types",
        "episodes",
        set_cell(0, "episode_id", "2019-03-Caracas"),
        "episode_id",
    ),
    Case("ids-with-space", "types", "stops", set_cell(0, "source_ids", "S1; S 2"), "source_ids"),
    Case("ids-repeated", "types", "claims", set_cell(0, "source_ids", "S1;S1"), "source_ids", got="S1;S1"),
    # unparsable dates and times without a time zone
    Case(
        "stops-month-13",
        "dates",
        "stops",
        set_cell(0, "dep_time", "2019-13-01"),
        "dep_time",
        got="2019-13-01",
    ),
    Case(
        "sources-feb-30",
        "dates",
        "sources",
        set_cell(1, "published", "2026-02-30"),
        "published",
        got="2026-02-30",
    ),
    Case(
        "events-slash-date", "dates", "events", set_cell(0, "start", "23/01/2019"), "start", got="23/01/2019"
    ),
    Case("events-empty-start", "dates", "events", set_cell(0, "start", ""), "start"),
    Case(
        "sanctions-year-1850", "dates", "sanctions", set_cell(0, "effective", "1850"), "effective", got="1850"
    ),
    Case(
        "stops-hour-25",
        "dates",
        "stops",
        set_cell(0, "dep_time", "2019-03-22T25:00Z"),
        "dep_time",
        got="2019-03-22T25:00Z",
    ),
    Case(
        "stops-unknown-part-of-day",
        "dates",
        "stops",
        set_cell(0, "dep_time", "2019-03-22 noonish"),
        "dep_time",
    ),
    Case(
        "stops-time-no-zone",
        "no-timezone",
        "stops",
        set_cell(0, "dep_time", "2019-03-22T15:12"),
        "dep_time",
        got="2019-03-22T15:12",
    ),
    Case(
        "events-time-no-zone",
        "no-timezone",
        "events",
        set_cell(0, "start", "2019-01-23T10:00"),
        "start",
        got="2019-01-23T10:00",
    ),
    Case(
        "events-bad-tz",
        "no-timezone",
        "events",
        set_cell(0, "tz", "Mars/Olympus_Mons"),
        "tz",
        got="Mars/Olympus_Mons",
    ),
    # end before start
    Case(
        "events-end-before-start",
        "end-before-start",
        "events",
        set_cell(0, "end", "2019-01-01"),
        "end",
        got="2019-01-01",
    ),
    Case(
        "stops-dep-before-arr",
        "end-before-start",
        "stops",
        set_cell(has_times, "dep_time", "2019-03-20"),
        "dep_time",
        got="2019-03-20",
    ),
    Case(
        "stops-out-of-order",
        "end-before-start",
        "stops",
        set_cell(0, "dep_time", "2025-12-30"),
        "arr_time",
        any_line=True,
    ),
    # unknown airport and country codes
    Case("places-unknown-icao", "codes", "places", set_cell(0, "icao", "ZZZZ"), "icao", got="ZZZZ"),
    Case("places-unknown-country", "codes", "places", set_cell(0, "country", "XX"), "country", got="XX"),
    Case(
        "places-wrong-country-for-airport",
        "codes",
        "places",
        set_cell(0, "country", "CU"),
        "country",
        got="CU",
    ),
    Case(
        "operators-country-name",
        "codes",
        "operators",
        set_cell(0, "country", "Russia"),
        "country",
        got="Russia",
    ),
    Case(
        "episodes-country-lowercase",
        "codes",
        "episodes",
        set_cell(0, "destination_country", "ve"),
        "destination_country",
        got="ve",
    ),
    Case("places-airport-without-icao", "codes", "places", set_cell(0, "icao", ""), "icao"),
    # unknown ids (sources and other references)
    Case(
        "stops-unknown-source",
        "unknown-ids",
        "stops",
        set_cell(0, "source_ids", "S1;S999"),
        "source_ids",
        got="S999",
    ),
    Case(
        "claims-unknown-source",
        "unknown-ids",
        "claims",
        set_cell(0, "source_ids", "nope"),
        "source_ids",
        got="nope",
    ),
    Case(
        "claims-unknown-episode",
        "unknown-ids",
        "claims",
        set_cell(0, "episode_id", "1999-01-nowhere"),
        "episode_id",
        got="1999-01-nowhere",
    ),
    Case(
        "stops-unknown-place", "unknown-ids", "stops", set_cell(0, "place_id", "XXXX"), "place_id", got="XXXX"
    ),
    Case(
        "aircraft-unknown-type",
        "unknown-ids",
        "aircraft",
        set_cell(0, "type_id", "B747"),
        "type_id",
        got="B747",
    ),
    Case(
        "sanctions-unknown-target",
        "unknown-ids",
        "sanctions",
        set_cell(0, "target_id", "no-such-operator"),
        "target_id",
        got="no-such-operator",
    ),
    Case(
        "conflicts-unknown-working-position",
        "unknown-ids",
        "conflicts",
        set_cell(0, "working_position", "z"),
        "working_position",
        got="z",
    ),
    # duplicate keys
    Case("sources-duplicate-key", "duplicates", "sources", append_copy(0), "source_id"),
    Case("stops-duplicate-key", "duplicates", "stops", append_copy(0, seq="99"), "stop_id"),
    Case(
        "stops-duplicate-route-seq",
        "duplicates",
        "stops",
        append_copy(0, stop_id="dup-stop"),
        "episode_id,aircraft_id,variant,seq",
    ),
    Case(
        "positions-duplicate-composite-key",
        "duplicates",
        "conflict_positions",
        append_copy(0),
        "conflict_id,position_id",
    ),
    # empty files, encodings, broken CSV
    Case(
        "places-empty-file", "empty-files", "places", replace_bytes(lambda b: b"", 1), None, got="empty file"
    ),
    Case("claims-blank-file", "empty-files", "claims", replace_bytes(lambda b: b"\n\n  \n", 1), None),
    Case(
        "sources-latin1-byte",
        "encoding",
        "sources",
        replace_bytes(lambda b: _latin1_in_line(b, 4), 4),
        None,
        got="0xe1",
    ),
    Case(
        "episodes-utf16",
        "encoding",
        "episodes",
        replace_bytes(lambda b: b.decode().encode("utf-16"), 1),
        None,
    ),
    Case("claims-unclosed-quote", "encoding", "claims", replace_bytes(_open_quote, 0), None, any_line=True),
    # absurd values
    Case(
        "types-negative-range",
        "absurd",
        "aircraft_types",
        set_cell(0, "range_km", "-5"),
        "range_km",
        got="-5",
    ),
    Case(
        "types-range-1e9", "absurd", "aircraft_types", set_cell(0, "range_km", "1e9"), "range_km", got="1e9"
    ),
    Case(
        "types-payload-huge",
        "absurd",
        "aircraft_types",
        set_cell(0, "max_payload_t", "5000"),
        "max_payload_t",
    ),
    Case(
        "claims-negative-quantity",
        "absurd",
        "claims",
        set_cell(0, "quantity", "-100"),
        "quantity",
        got="-100",
    ),
    Case("stops-seq-zero", "absurd", "stops", set_cell(0, "seq", "0"), "seq"),
    # display spoofing: bidi controls, invisible, control and non-characters, decomposed text (round two)
    Case(
        "sources-title-rlo",
        "text-hygiene",
        "sources",
        set_cell(0, "title", "Report \u202egpj.exe"),
        "title",
        got="U+202E RIGHT-TO-LEFT OVERRIDE",
    ),
    Case(
        "sources-outlet-rli",
        "text-hygiene",
        "sources",
        set_cell(0, "outlet", "Wire \u2067x\u2069"),
        "outlet",
        got="U+2067 RIGHT-TO-LEFT ISOLATE",
    ),
    Case(
        "episodes-title-zero-width",
        "text-hygiene",
        "episodes",
        set_cell(0, "title", "Cara\u200bcas"),
        "title",
        got="U+200B ZERO WIDTH SPACE",
    ),
    Case(
        "episodes-summary-bom-inside",
        "text-hygiene",
        "episodes",
        set_cell(0, "summary", "a\ufeffb"),
        "summary",
        got="U+FEFF",
    ),
    Case(
        "places-name-noncharacter",
        "text-hygiene",
        "places",
        set_cell(0, "name", "Maiquet\ufffea"),
        "name",
        got="U+FFFE",
    ),
    Case("places-name-fdd0", "text-hygiene", "places", set_cell(1, "name", "X\ufdd0"), "name", got="U+FDD0"),
    Case(
        "places-name-decomposed",
        "text-hygiene",
        "places",
        set_cell(0, "name", "Maiqueti\u0301a"),
        "name",
        got="decomposed",
    ),
    Case("claims-notes-tab", "text-hygiene", "claims", set_cell(0, "notes", "a\tb"), "notes", got="U+0009"),
    Case("claims-notes-nul", "text-hygiene", "claims", set_cell(1, "notes", "a\x00b"), "notes", got="U+0000"),
    Case(
        "claims-subject-escape",
        "text-hygiene",
        "claims",
        set_cell(0, "subject", "x\x1b[31mred"),
        "subject",
        got="U+001B",
    ),
    Case(
        "sources-notes-line-separator",
        "text-hygiene",
        "sources",
        set_cell(0, "notes", "a\u2028b"),
        "notes",
        got="U+2028",
    ),
    Case(
        "sources-notes-private-use",
        "text-hygiene",
        "sources",
        set_cell(0, "notes", "a\ue000b"),
        "notes",
        got="U+E000",
    ),
    Case(
        "sources-notes-next-line",
        "text-hygiene",
        "sources",
        set_cell(0, "notes", "a\x85b"),
        "notes",
        got="U+0085",
    ),
    # ids, codes and registrations in their ASCII patterns, the offending character named
    Case(
        "watch-registration-cyrillic",
        "ascii-ids",
        "watchlist",
        set_cell(0, "registration", "R\u0410-78765"),
        "registration",
        got="U+0410 CYRILLIC CAPITAL LETTER A at position 2",
    ),
    Case(
        "aircraft-registration-lowercase",
        "ascii-ids",
        "aircraft",
        set_cell(0, "registration", "ra-78765"),
        "registration",
        got="ra-78765",
    ),
    Case(
        "aircraft-registration-space",
        "ascii-ids",
        "aircraft",
        set_cell(0, "registration", "RA 78765"),
        "registration",
        got="RA 78765",
    ),
    Case(
        "stops-id-cyrillic",
        "ascii-ids",
        "stops",
        set_cell(0, "stop_id", "2019-03-\u0441aracas.x"),
        "stop_id",
        got="U+0441 CYRILLIC SMALL LETTER ES at position 9",
    ),
    Case(
        "sources-url-homoglyph",
        "ascii-ids",
        "sources",
        set_cell(0, "url", "https://ex\u0430mple.org/a"),
        "url",
        got="U+0430 CYRILLIC SMALL LETTER A",
    ),
    Case(
        "sources-url-bidi",
        "ascii-ids",
        "sources",
        set_cell(0, "url", "https://example.org/\u202ecod.exe"),
        "url",
        got="U+202E",
    ),
    Case(
        "ids-fullwidth-semicolon",
        "ascii-ids",
        "claims",
        set_cell(0, "source_ids", "S1\uff1bS2"),
        "source_ids",
        got="U+FF1B",
    ),
    Case(
        "places-icao-fullwidth", "ascii-ids", "places", set_cell(0, "icao", "\uff33VMI"), "icao", got="U+FF33"
    ),
    Case(
        "episodes-id-reserved-obs",
        "ascii-ids",
        "episodes",
        set_cell(0, "episode_id", "obs-ra-78765-20251024"),
        "episode_id",
        got="obs-ra-78765-20251024",
    ),
    # numbers in ASCII digits only
    Case(
        "types-range-fullwidth",
        "ascii-numbers",
        "aircraft_types",
        set_cell(0, "range_km", "\uff11\uff10\uff10\uff10"),
        "range_km",
        got="U+FF11 FULLWIDTH DIGIT ONE",
    ),
    Case(
        "types-range-arabic-indic",
        "ascii-numbers",
        "aircraft_types",
        set_cell(0, "range_km", "\u0664\u0665\u0660\u0660"),
        "range_km",
        got="U+0664 ARABIC-INDIC DIGIT FOUR",
    ),
    Case(
        "types-range-underscore",
        "ascii-numbers",
        "aircraft_types",
        set_cell(0, "range_km", "1_000"),
        "range_km",
        got="1_000",
    ),
    Case("stops-seq-fullwidth", "ascii-numbers", "stops", set_cell(0, "seq", "\uff11"), "seq", got="U+FF11"),
    Case("stops-seq-plus-underscore", "ascii-numbers", "stops", set_cell(0, "seq", "0_1"), "seq", got="0_1"),
    Case(
        "claims-quantity-devanagari",
        "ascii-numbers",
        "claims",
        set_cell(0, "quantity", "\u0967\u0968"),
        "quantity",
        got="U+0967 DEVANAGARI DIGIT ONE",
    ),
    Case(
        "events-start-arabic-digits",
        "ascii-numbers",
        "events",
        set_cell(0, "start", "\u0662\u0660\u0661\u0669-01-23"),
        "start",
        got="U+0662",
    ),
    # round three: dates outside the study's window, offsets no zone uses
    Case(
        "stops-year-1900",
        "study-window",
        "stops",
        set_cell(0, "dep_time", "1900-01-01"),
        "dep_time",
        got="study window",
    ),
    Case(
        "stops-year-2100",
        "study-window",
        "stops",
        set_cell(has_times, "dep_time", "2100-01-01T10:00Z"),
        "dep_time",
        got="study window",
    ),
    Case(
        "sources-published-1901",
        "study-window",
        "sources",
        set_cell(0, "published", "1901"),
        "published",
        got="study window",
    ),
    Case(
        "stops-offset-plus-15",
        "utc-offsets",
        "stops",
        set_cell(has_times, "dep_time", "2019-03-22T10:00+15:00"),
        "dep_time",
        got="UTC offset range",
    ),
    Case(
        "events-offset-minus-13",
        "utc-offsets",
        "events",
        set_cell(0, "start", "2019-01-23T10:00-13:00"),
        "start",
        got="-12:00 to +14:00",
    ),
    Case(
        "stops-offset-minutes-75",
        "utc-offsets",
        "stops",
        set_cell(has_times, "arr_time", "2019-03-22T10:00+03:75"),
        "arr_time",
        got="UTC offset range",
    ),
    # round three: interest-rule parameters, checked by `make validate` (a bad one silently disabled a pattern)
    Case(
        "patterns-lat-bounds-swapped",
        "rule-parameters",
        "interest_patterns",
        set_cell(
            lambda r: r["pattern_id"] == "crossed_atlantic",
            "parameters",
            "meridian_lon=-30;lat_min=70;lat_max=-60",
        ),
        "parameters",
        got="lat_min below lat_max",
    ),
    Case(
        "patterns-parameter-typo",
        "rule-parameters",
        "interest_patterns",
        set_cell(
            lambda r: r["pattern_id"] == "crossed_atlantic",
            "parameters",
            "meridian_lon=-30;lat_mn=-60;lat_max=70",
        ),
        "parameters",
        got="unknown parameter 'lat_mn'",
    ),
    Case(
        "patterns-parameter-nan",
        "rule-parameters",
        "interest_patterns",
        set_cell(
            lambda r: r["pattern_id"] == "crossed_atlantic",
            "parameters",
            "meridian_lon=-30;lat_min=-60;lat_max=nan",
        ),
        "parameters",
        got="lat_max=nan",
    ),
    Case(
        "patterns-parameter-inf",
        "rule-parameters",
        "interest_patterns",
        set_cell(lambda r: r["pattern_id"] == "trip", "parameters", "max_stop_h=inf"),
        "parameters",
        got="max_stop_h=inf",
    ),
    Case(
        "patterns-parameter-repeated",
        "rule-parameters",
        "interest_patterns",
        set_cell(lambda r: r["pattern_id"] == "trip", "parameters", "max_stop_h=72;max_stop_h=1"),
        "parameters",
        got="given twice",
    ),
    Case(
        "patterns-parameter-word",
        "rule-parameters",
        "interest_patterns",
        set_cell(lambda r: r["pattern_id"] == "dark_over_ocean", "parameters", "min_gap_min=thirty"),
        "parameters",
        got="min_gap_min=thirty",
    ),
    Case(
        "patterns-parameter-negative",
        "rule-parameters",
        "interest_patterns",
        set_cell(lambda r: r["pattern_id"] == "dark_over_ocean", "parameters", "min_gap_min=-30"),
        "parameters",
        got="between 1 and 1440",
    ),
    Case(
        "patterns-meridian-out-of-range",
        "rule-parameters",
        "interest_patterns",
        set_cell(
            lambda r: r["pattern_id"] == "crossed_atlantic",
            "parameters",
            "meridian_lon=-330;lat_min=-60;lat_max=70",
        ),
        "parameters",
        got="between -180 and 180",
    ),
    Case(
        "patterns-parameter-missing",
        "rule-parameters",
        "interest_patterns",
        set_cell(lambda r: r["pattern_id"] == "trip", "parameters", ""),
        "parameters",
        got="max_stop_h",
    ),
    Case(
        "patterns-parameter-no-equals",
        "rule-parameters",
        "interest_patterns",
        set_cell(lambda r: r["pattern_id"] == "trip", "parameters", "max_stop_h 72"),
        "parameters",
        got="name=number",
    ),
    Case(
        "patterns-parameter-for-a-pattern-without",
        "rule-parameters",
        "interest_patterns",
        set_cell(lambda r: r["pattern_id"] == "landed_in_region", "parameters", "radius_km=50"),
        "parameters",
        got="unknown parameter 'radius_km'",
    ),
    Case(
        "hex-block-reversed",
        "rule-parameters",
        "interest_hex_blocks",
        set_cell(0, "end_hex", "0fffff"),
        "end_hex",
        got="0fffff",
    ),
    Case(
        "types-designator-lowercase",
        "rule-parameters",
        "interest_types",
        set_cell(0, "type_code", "il76"),
        "type_code",
        got="il76",
    ),
    Case(
        "types-designator-repeated",
        "rule-parameters",
        "interest_types",
        append_copy(0, rule_id="type-again"),
        "type_code",
        got="silently replace",
    ),
    Case(
        "registrations-prefix-form",
        "rule-parameters",
        "interest_registrations",
        set_cell(0, "prefix", "RA_"),
        "prefix",
        got="RA_",
    ),
]


def test_a_pattern_without_its_row_and_bad_rules_stop_discovery_by_name(
    fresh_project: Project, tally
) -> None:
    """A pattern row removed (discovery applies every pattern) is named by validation, and discovery's rule reader
    refuses bad rules with the same named errors instead of a traceback or a silently disabled pattern."""
    from analysis.discover.rules import load_rules

    path = fresh_project.raw / "interest_patterns.csv"
    rows = read_rows(path)
    write_rows(path, [r for r in rows if r[0] != "trip"])
    provenance.accept(fresh_project.raw, check=False)
    with pytest.raises(RawValidationError) as info:
        build(fresh_project, quiet=True)
    assert "data/raw/interest_patterns.csv, field 'pattern_id': expected a row for every pattern" in str(
        info.value
    )
    assert "no row for trip" in str(info.value)
    set_cell(
        lambda r: r["pattern_id"] == "crossed_atlantic",
        "parameters",
        "meridian_lon=-30;lat_min=70;lat_max=-60",
    )(path)
    provenance.accept(
        fresh_project.raw, check=False
    )  # discovery reads data/raw as a build does: reviewed first
    with pytest.raises(
        RawValidationError,
        match=r"interest_patterns\.csv, line \d+, field 'parameters': expected "
        r"lat_min below lat_max",
    ):
        load_rules(fresh_project.raw)
    _assert_nothing_written(fresh_project)
    tally(True)


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _assert_nothing_written(project: Project) -> None:
    derived = project.derived
    assert not (derived / "current").exists() and not (derived / "current").is_symlink(), (
        "a current build appeared"
    )
    builds = derived / "builds"
    assert not builds.exists() or not any(builds.iterdir()), f"something was written to {builds}"
    assert not project.reports.exists(), "reports/ appeared"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_raw_table(case: Case, fresh_project: Project, tally) -> None:
    path = fresh_project.raw / f"{case.table}.csv"
    line = case.edit(path)
    provenance.accept(fresh_project.raw, check=False)  # recorded unchecked: validation must catch the problem
    with pytest.raises(RawValidationError) as info:
        build(fresh_project, quiet=True)
    exc = info.value
    rel = f"data/raw/{case.table}.csv"
    message = str(exc)
    matching = [
        e
        for e in exc.errors
        if e.file == rel
        and e.field == case.field
        and e.line is not None
        and (case.any_line or e.line == line)
    ]
    assert matching, f"no error for {rel}, line {line}, field {case.field!r} in:\n{message}"
    err = matching[0]
    text = str(err)
    assert text in message
    assert rel in text and f"line {err.line}" in text and "expected" in text
    if case.field is not None:
        assert f"field '{case.field}'" in text
    if case.got is not None:
        assert case.got in text, text
    assert "Traceback" not in message
    _assert_nothing_written(fresh_project)
    tally(True)


# --- the checksum check --------------------------------------------------------------------------------------


def _sidecar(project: Project, table: str) -> Path:
    return project.raw / f"{table}.csv{provenance.SUFFIX}"


def _edit_without_accept(project: Project) -> None:
    set_cell(0, "notes", "edited after review")(project.raw / "claims.csv")


def _remove_sidecar(project: Project) -> None:
    _sidecar(project, "claims").unlink()


def _corrupt_sidecar(project: Project) -> None:
    side = _sidecar(project, "claims")
    side.write_text(side.read_text()[:40], encoding="utf-8")  # truncated JSON


def _list_sidecar(project: Project) -> None:
    _sidecar(project, "claims").write_text("[1, 2]\n", encoding="utf-8")


def _numeric_sha(project: Project) -> None:
    side = _sidecar(project, "claims")
    record = json.loads(side.read_text())
    record["sha256"] = 12345
    side.write_text(json.dumps(record), encoding="utf-8")


def _empty_licence(project: Project) -> None:
    side = _sidecar(project, "claims")
    record = json.loads(side.read_text())
    record["licence"] = " "
    side.write_text(json.dumps(record), encoding="utf-8")


def _latin1_sidecar(project: Project) -> None:
    _sidecar(project, "claims").write_bytes(b'{"what": "caf\xe9"}')


def _deep_sidecar(project: Project) -> None:
    _sidecar(project, "claims").write_text(
        '{"what": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8"
    )


def _huge_sidecar(project: Project) -> None:
    _sidecar(project, "claims").write_text('{"what": "' + "x" * (2 << 20) + '"}', encoding="utf-8")


def _sidecar_field(key: str, value):
    def edit(project: Project) -> None:
        side = _sidecar(project, "claims")
        record = json.loads(side.read_text())
        record[key] = value
        side.write_text(json.dumps(record), encoding="utf-8")

    return edit


def _replace_with(make: Callable[[Path], None]):
    """Replace data/raw/claims.csv by something that is not a regular file of the repository."""

    def edit(project: Project) -> None:
        path = project.raw / "claims.csv"
        path.unlink()
        make(path)

    return edit


def _outside_copy(path: Path) -> None:
    outside = path.parent.parent.parent / "elsewhere.csv"
    outside.write_bytes(b"claim_id\n")
    path.symlink_to(outside)


PROVENANCE_CASES = [
    ("changed-file", _edit_without_accept, "CHANGED"),
    ("sidecar-100k-deep-json", _deep_sidecar, "nested at most"),
    ("sidecar-2mb", _huge_sidecar, "at most"),
    ("sidecar-what-rlo", _sidecar_field("what", "Claims \u202etxt.exe"), "U+202E"),
    ("sidecar-origin-zero-width", _sidecar_field("origin", "cur\u200bated"), "U+200B"),
    ("sidecar-licence-not-text", _sidecar_field("licence", ["CC0"]), "field 'licence': expected text"),
    ("sidecar-what-noncharacter", _sidecar_field("what", "x\uffff"), "U+FFFF"),
    ("table-symlink-etc-passwd", _replace_with(lambda p: p.symlink_to("/etc/passwd")), "symbolic link"),
    ("table-symlink-dev-zero", _replace_with(lambda p: p.symlink_to("/dev/zero")), "symbolic link"),
    (
        "table-symlink-inside-repo",
        _replace_with(lambda p: p.symlink_to(p.parent / "stops.csv")),
        "symbolic link",
    ),
    ("table-symlink-outside", _replace_with(_outside_copy), "symbolic link"),
    ("table-fifo", _replace_with(lambda p: os.mkfifo(p)), "FIFO"),
    ("table-folder", _replace_with(lambda p: p.mkdir()), "expected a regular file"),
    ("table-65mb-sparse", _replace_with(lambda p: os.truncate(p.open("wb").name, 65 << 20)), "at most"),
    ("missing-sidecar", _remove_sidecar, "missing provenance record"),
    ("truncated-sidecar", _corrupt_sidecar, "expected a JSON object"),
    ("sidecar-not-object", _list_sidecar, "expected a JSON object"),
    ("sidecar-numeric-sha", _numeric_sha, "field 'sha256': expected the SHA-256"),
    ("sidecar-empty-licence", _empty_licence, "licence"),
    ("sidecar-not-utf8", _latin1_sidecar, "expected a JSON object"),
]


@pytest.mark.parametrize("name,edit,needle", PROVENANCE_CASES, ids=[c[0] for c in PROVENANCE_CASES])
def test_bad_provenance(name, edit, needle, fresh_project: Project, tally) -> None:
    edit(fresh_project)
    with pytest.raises(ProvenanceError) as info:
        build(fresh_project, quiet=True)
    message = str(info.value)
    assert "claims.csv" in message and needle in message, message
    assert "expected" in message or "CHANGED" in message
    _assert_nothing_written(fresh_project)
    tally(True)


# a recorded checksum is 64 lowercase hex digits or the file is unreviewed: every sidecar kind, every non-checksum
_NOT_CHECKSUMS = [
    ("null", None),
    ("zero", 0),
    ("false", False),
    ("true", True),
    ("empty-list", []),
    ("empty-object", {}),
    ("empty-text", ""),
    ("63-hex", "a" * 63),
    ("65-hex", "a" * 65),
    ("uppercase-hex", "A" * 64),
    ("prefixed", "sha256:" + "a" * 57),
    ("absent", KeyError),
]


def _sidecar_kind(project: Project, kind: str) -> tuple[Path, str]:
    """Give the study one input of ``kind`` (table, basemap, track file, track folder); returns (its sidecar, name)."""
    raw = project.raw
    if kind == "table":
        return _sidecar(project, "claims"), "claims.csv"
    if kind == "basemap":
        data = next(p for p in sorted((raw / "basemap").iterdir()) if not p.name.endswith(provenance.SUFFIX))
        return data.with_name(data.name + provenance.SUFFIX), data.name
    tracks = raw / "tracks"
    tracks.mkdir(exist_ok=True)
    if kind == "track-file":
        (tracks / "export.csv").write_text(GENERIC_CSV, encoding="utf-8")
        record = {"format": "generic_csv", "options": GENERIC}
        name = "export.csv"
    else:
        leaf = tracks / "tree" / "traces" / "a4"
        leaf.mkdir(parents=True)
        (leaf / "trace_full_1522a4.json").write_bytes(_trace_json("1522a4"))
        record = {"format": "readsb"}
        name = "tree"
    side = tracks / f"{name}{provenance.SUFFIX}"
    side.write_text(
        json.dumps({"what": "test track", "origin": "generated", "licence": "CC0", **record}),
        encoding="utf-8",
    )
    provenance.accept(raw)
    return side, name


@pytest.mark.parametrize("value", [v for _, v in _NOT_CHECKSUMS], ids=[n for n, _ in _NOT_CHECKSUMS])
@pytest.mark.parametrize("kind", ["table", "basemap", "track-file", "track-folder"])
def test_a_recorded_checksum_that_is_not_one_leaves_the_file_unreviewed(
    kind, value, fresh_project: Project, tally, monkeypatch, capsys
) -> None:
    """The review gate cannot be switched off: "sha256": null (0, false, [], a wrong length...) and then an edit
    of the file is refused by name, by `validate` and by the build, and nothing is published."""
    from analysis.cli import main

    side, name = _sidecar_kind(fresh_project, kind)
    record = json.loads(side.read_text(encoding="utf-8"))
    if value is KeyError:
        record.pop("sha256")
    else:
        record["sha256"] = value
    side.write_text(json.dumps(record), encoding="utf-8")
    monkeypatch.setenv("FLIGHTS_ROOT", str(fresh_project.root))
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert (
        f"{name}{provenance.SUFFIX}: field 'sha256': expected the SHA-256" in err and "unreviewed" in err
    ), err
    assert "Traceback" not in err
    with pytest.raises(ProvenanceError, match=f"{name}.*field 'sha256': expected the SHA-256"):
        build(fresh_project, quiet=True)
    _assert_nothing_written(fresh_project)
    tally(True)


def test_accept_raw_records_a_checksum_over_one_that_is_not_one(fresh_project: Project) -> None:
    side = _sidecar(fresh_project, "claims")
    record = json.loads(side.read_text(encoding="utf-8"))
    reviewed = record["sha256"]
    record["sha256"] = None
    side.write_text(json.dumps(record), encoding="utf-8")
    assert [c for c in provenance.accept(fresh_project.raw) if c.startswith("claims.csv")]
    assert json.loads(side.read_text(encoding="utf-8"))["sha256"] == reviewed
    provenance.verify(fresh_project.raw)


def test_changed_file_is_neither_used_nor_rejected_silently(fresh_project: Project) -> None:
    """A reviewed change is accepted by accept-raw and then built; an unreviewed one stops the build, named."""
    _edit_without_accept(fresh_project)
    with pytest.raises(ProvenanceError, match=r"data/raw/claims\.csv: CHANGED"):
        build(fresh_project, quiet=True)
    changed = provenance.accept(fresh_project.raw)
    assert [c for c in changed if c.startswith("claims.csv")] and len(changed) == 1, changed
    assert build(fresh_project, quiet=True)["status"] == "built"


def test_accept_raw_on_broken_sidecar_is_clear(fresh_project: Project) -> None:
    _corrupt_sidecar(fresh_project)
    with pytest.raises(ProvenanceError, match="claims.csv.provenance.json.*expected a JSON object"):
        provenance.accept(fresh_project.raw)


def test_bad_edit_after_good_build_leaves_current_intact(fresh_project: Project) -> None:
    build(fresh_project, quiet=True)
    target = os.readlink(fresh_project.current)
    before = _snapshot(fresh_project.current.resolve())
    builds_before = sorted(p.name for p in (fresh_project.derived / "builds").iterdir())
    for case in (CASES[0], CASES[13], CASES[36]):
        case.edit(fresh_project.raw / f"{case.table}.csv")
        provenance.accept(fresh_project.raw, check=False)
        with pytest.raises(RawValidationError):
            build(fresh_project, force=True, quiet=True)
        assert os.readlink(fresh_project.current) == target
        assert _snapshot(fresh_project.current.resolve()) == before
        assert sorted(p.name for p in (fresh_project.derived / "builds").iterdir()) == builds_before


# --- inputs that are unusual but fine -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["bom", "crlf", "bom+crlf", "trailing-blank-lines"])
def test_harmless_encodings_are_accepted(variant: str, fresh_project: Project) -> None:
    for table in ("stops", "sources", "episodes"):
        path = fresh_project.raw / f"{table}.csv"
        data = path.read_bytes()
        if "crlf" in variant:
            rows = read_rows(path)
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\r\n").writerows(rows)
            data = buf.getvalue().encode()
        if "bom" in variant:
            data = b"\xef\xbb\xbf" + data
        if variant == "trailing-blank-lines":
            data += b"\n\n,,,\n"
        path.write_bytes(data)
    provenance.accept(fresh_project.raw)
    result = build(fresh_project, quiet=True)
    assert result["rows"]["core_stops"] >= 90 and result["rows"]["core_episodes"] == len(REPORT_EPISODES)


def test_error_lines_count_multiline_cells(fresh_project: Project) -> None:
    """Line numbers are physical lines of the file, even after a quoted cell spanning several lines."""
    path = fresh_project.raw / "claims.csv"
    rows = read_rows(path)
    rows[1][rows[0].index("notes")] = "first line\nsecond line\nthird line"
    rows[3][rows[0].index("kind")] = "rumour"
    write_rows(path, rows)
    provenance.accept(fresh_project.raw, check=False)
    with pytest.raises(RawValidationError) as info:
        build(fresh_project, quiet=True)
    physical = path.read_text(encoding="utf-8").split("\n")
    (err,) = [e for e in info.value.errors if e.field == "kind"]
    assert ",rumour," in physical[err.line - 1], (err.line, physical[err.line - 1])


# --- flight-record readers (analysis.tracks, written by another engineer; used only if present) -----------------


def _readers():
    try:
        from analysis.tracks import readers
    except ImportError:  # pragma: no cover - the package is being written concurrently
        return None
    return readers


def _readsb_obj() -> dict:
    trace = [
        [
            i * 10.0,
            10.0 + i * 0.01,
            -66.0,
            30000,
            450.0,
            90.0,
            0,
            0,
            {"flight": "RFF7079 "} if i == 0 else None,
        ]
        for i in range(20)
    ]
    return {"icao": "1522a4", "r": "RA-78765", "timestamp": 1761436800.0, "trace": trace}


def _gz(obj) -> bytes:
    return gzip.compress(json.dumps(obj).encode())


GENERIC = {"mapping": {"icao24": "hex", "time": "t", "lat": "lat", "lon": "lon", "alt": "alt"}}
GENERIC_CSV = "hex,t,lat,lon,alt\n" + "".join(
    f"1522a4,2025-10-26T10:{m:02d}:00Z,10.{m:02d},-66.0,30000\n" for m in range(10)
)
FR24_CSV = "Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction\n" + "".join(
    f'{1761472800 + 60 * m},2025-10-26T10:{m:02d}:00Z,RFF7079,"10.{m:02d},-66.0",30000,450,90\n'
    for m in range(10)
)


_OPENSKY_HEADER = (
    "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,baroaltitude,"
    "geoaltitude,lastposupdate,lastcontact"
)


def _opensky_csv(extra: str | None = None) -> str:
    rows = [
        f"{1761472800 + 10 * i},1522a4,{10 + i * 0.01},-66.0,200,90,0,RFF1,False,False,False,1234,9000,9100,"
        f"{1761472800 + 10 * i},{1761472800 + 10 * i}"
        for i in range(5)
    ]
    if extra:
        return f"{_OPENSKY_HEADER},{extra}\n" + "".join(f"{r},1\n" for r in rows)
    return f"{_OPENSKY_HEADER}\n" + "".join(f"{r}\n" for r in rows)


def _opensky_parquet(dupe: str) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    t = pacsv.read_csv(
        io.BytesIO(_opensky_csv().encode()),
        convert_options=pacsv.ConvertOptions(column_types={"icao24": pa.string()}),
    )
    t = pa.Table.from_arrays(t.columns + [t.column(dupe)], names=t.column_names + [dupe])
    buf = io.BytesIO()
    pq.write_table(t, buf)
    return buf.getvalue()


def _bad_line(text: str, n: int, old: str, new: str) -> str:
    lines = text.split("\n")
    lines[n] = lines[n].replace(old, new, 1)
    return "\n".join(lines)


# (id, file name, format, options, bytes, text the error must contain besides file/expected)
READER_CASES = [
    (
        "readsb-truncated-gzip",
        "trace_full_1522a4.json.gz",
        "readsb",
        None,
        lambda: _gz(_readsb_obj())[:-40],
        "gzip",
    ),
    (
        "readsb-truncated-json",
        "trace_full_1522a4.json",
        "readsb",
        None,
        lambda: json.dumps(_readsb_obj()).encode()[:-25],
        "line 1",
    ),
    ("readsb-empty-file", "trace_full_1522a4.json", "readsb", None, lambda: b"", "empty"),
    ("readsb-empty-gzip", "trace_full_1522a4.json.gz", "readsb", None, lambda: gzip.compress(b""), "empty"),
    (
        "readsb-missing-trace",
        "trace_full_1522a4.json",
        "readsb",
        None,
        lambda: json.dumps({k: v for k, v in _readsb_obj().items() if k != "trace"}).encode(),
        "field 'trace'",
    ),
    (
        "readsb-lat-text",
        "trace_full_1522a4.json",
        "readsb",
        None,
        lambda: json.dumps(
            {**_readsb_obj(), "trace": _readsb_obj()["trace"][:3] + [[30, "north", -66.0, 1, 1, 1, 0, 0]]}
        ).encode(),
        "record 3, field 'lat'",
    ),
    (
        "readsb-bad-icao",
        "trace_full_1522a4.json",
        "readsb",
        None,
        lambda: json.dumps({**_readsb_obj(), "icao": "<script>"}).encode(),
        "field 'icao'",
    ),
    (
        "readsb-timestamp-1970",
        "trace_full_1522a4.json",
        "readsb",
        None,
        lambda: json.dumps({**_readsb_obj(), "timestamp": 5}).encode(),
        "field 'timestamp'",
    ),
    ("generic-empty-file", "t.csv", "generic_csv", GENERIC, lambda: b"", "empty"),
    ("generic-header-only", "t.csv", "generic_csv", GENERIC, lambda: b"hex,t,lat,lon,alt\n", "row"),
    (
        "generic-not-utf8",
        "t.csv",
        "generic_csv",
        GENERIC,
        lambda: GENERIC_CSV.encode().replace(b"1522a4,2025-10-26T10:03", b"1522a4,2025-10-26T10:03\xff", 1),
        "line 5",
    ),
    (
        "generic-missing-column",
        "t.csv",
        "generic_csv",
        GENERIC,
        lambda: GENERIC_CSV.replace("hex,t,lat,lon,alt", "hex,time,lat,lon,alt").encode(),
        "field 't'",
    ),
    (
        "generic-time-no-zone",
        "t.csv",
        "generic_csv",
        GENERIC,
        lambda: GENERIC_CSV.replace("Z,", ",").encode(),
        "'t'",
    ),
    (
        "generic-lat-text",
        "t.csv",
        "generic_csv",
        GENERIC,
        lambda: _bad_line(GENERIC_CSV, 4, ",10.03,", ",north,").encode(),
        "'lat'",
    ),
    (
        "generic-bad-hex",
        "t.csv",
        "generic_csv",
        GENERIC,
        lambda: _bad_line(GENERIC_CSV, 2, "1522a4", "zzzzzz").encode(),
        "record 1, field 'hex'",
    ),
    (
        "generic-altitude-absurd",
        "t.csv",
        "generic_csv",
        GENERIC,
        lambda: _bad_line(GENERIC_CSV, 3, ",30000", ",9999999").encode(),
        "'alt'",
    ),
    (
        "fr24-csv-truncated-row",
        "f.csv",
        "fr24_csv",
        {"icao24": "1522a4"},
        lambda: (FR24_CSV.rsplit("\n", 2)[0] + "\n1761473400,2025-10-26T1").encode(),
        "expected",
    ),
    ("fr24-csv-no-icao-option", "f.csv", "fr24_csv", {}, lambda: FR24_CSV.encode(), "icao24"),
    (
        "fr24-json-truncated",
        "f.json",
        "fr24_json",
        None,
        lambda: b'{"result": {"response": {"data": {"flight": {"track": [',
        "JSON",
    ),
    # round three: a header that names a column twice (the reader and a person could each see another one)
    (
        "opensky-repeated-column",
        "states.csv",
        "opensky",
        None,
        lambda: _opensky_csv(extra="lat").encode(),
        "field 'lat': expected each column once",
    ),
    (
        "opensky-parquet-repeated-column",
        "states.parquet",
        "opensky",
        None,
        lambda: _opensky_parquet(dupe="icao24"),
        "field 'icao24': expected each column once",
    ),
    (
        "generic-repeated-column",
        "t.csv",
        "generic_csv",
        GENERIC,
        lambda: GENERIC_CSV.replace("hex,t,lat,lon,alt", "hex,t,lat,lon,lat").encode(),
        "expected each column once",
    ),
    (
        "fr24-csv-repeated-column",
        "f.csv",
        "fr24_csv",
        {"icao24": "1522a4"},
        lambda: FR24_CSV.replace("Speed,Direction", "Speed,Speed").encode(),
        "field 'Speed': expected each column once",
    ),
]


@pytest.mark.parametrize("name,fname,fmt,options,make,needle", READER_CASES, ids=[c[0] for c in READER_CASES])
def test_bad_flight_record(name, fname, fmt, options, make, needle, tmp_path: Path, tally) -> None:
    readers = _readers()
    if readers is None:
        pytest.skip("analysis.tracks is not there yet")
    path = tmp_path / fname
    path.write_bytes(make())
    with pytest.raises(readers.TrackInputError) as info:
        readers.read_track(path, fmt, options=options)
    message = str(info.value)
    assert str(path) in message and "expected" in message and needle in message, message
    assert "Traceback" not in message
    tally(True)


def test_reader_latitude_out_of_range_is_skipped_and_counted(tmp_path: Path) -> None:
    """One fix at latitude 123 among good ones is dropped by the noise filter and counted, not kept."""
    readers = _readers()
    if readers is None:
        pytest.skip("analysis.tracks is not there yet")
    from analysis.tracks import noise

    path = tmp_path / "t.csv"
    path.write_text(_bad_line(GENERIC_CSV, 4, ",10.03,", ",123.0,"), encoding="utf-8")
    try:
        result = readers.read_track(path, "generic_csv", options=GENERIC)
    except readers.TrackInputError as exc:  # refusing the file, named, is also acceptable
        assert "lat" in str(exc) and "expected" in str(exc)
        return
    clean, counts = noise.clean_positions(result.table)
    assert max(clean.column("lat").to_pylist()) < 90
    assert clean.num_rows == result.table.num_rows - 1
    assert sum(counts.values()) == 1 and any("lat" in k for k in counts), counts


# --- bad track files in data/raw/tracks, through the command line ----------------------------------------------


def _trace_json(hex_: str, n: int = 40) -> bytes:
    obj = _readsb_obj()
    obj["icao"] = hex_
    obj["trace"] = [[i * 30.0, 10.0 + i * 0.05, -66.0 + i * 0.05, 30000, 450.0, 90.0, 0, 0] for i in range(n)]
    return json.dumps(obj).encode()


TRACK_FILE_CASES = [
    (
        "track-truncated-gzip",
        "trace_full_1522a4.json.gz",
        {"format": "readsb"},
        lambda: gzip.compress(_trace_json("1522a4"))[:-30],
        "gzip",
    ),
    (
        "track-empty-generic-csv",
        "export.csv",
        {"format": "generic_csv", "options": GENERIC},
        lambda: b"",
        "empty",
    ),
    (
        "track-fr24-not-utf8",
        "fr24.csv",
        {"format": "fr24_csv", "options": {"icao24": "1522a4"}},
        lambda: FR24_CSV.encode().replace(b"RFF7079", b"RFF\xff079", 1),
        "UTF-8",
    ),
]


@pytest.mark.parametrize(
    "name,fname,record,make,needle", TRACK_FILE_CASES, ids=[c[0] for c in TRACK_FILE_CASES]
)
def test_bad_track_file_stops_the_build_clearly(
    name, fname, record, make, needle, fresh_project: Project, tally
) -> None:
    import subprocess
    import sys

    from analysis.paths import REPO_DIR

    if _readers() is None:
        pytest.skip("analysis.tracks is not there yet")
    tracks = fresh_project.raw / "tracks"
    tracks.mkdir()
    (tracks / fname).write_bytes(make())
    (tracks / f"{fname}{provenance.SUFFIX}").write_text(
        json.dumps({"what": "test track", "origin": "generated", "licence": "CC0", **record}),
        encoding="utf-8",
    )
    provenance.accept(fresh_project.raw)
    env = dict(os.environ, FLIGHTS_ROOT=str(fresh_project.root))
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "build"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert fname in done.stderr and "expected" in done.stderr and needle in done.stderr, done.stderr
    assert not (fresh_project.current.exists() or fresh_project.current.is_symlink())
    builds = fresh_project.derived / "builds"
    assert not builds.exists() or not any(builds.iterdir())
    tally(True)


def test_one_bad_trace_among_many_is_skipped_and_counted(tmp_path: Path) -> None:
    """In a readsb traces/ tree, an unreadable trace is skipped, counted and named; the others are used."""
    if _readers() is None:
        pytest.skip("analysis.tracks is not there yet")
    from analysis import tracks

    root = tmp_path / "adsb" / "traces"
    good = [f"1522{i:02x}" for i in range(6)]
    for h in good:
        (root / h[-2:]).mkdir(parents=True, exist_ok=True)
        (root / h[-2:] / f"trace_full_{h}.json").write_bytes(_trace_json(h))
    (root / "ff").mkdir()
    (root / "ff" / "trace_full_1522ff.json").write_bytes(_trace_json("1522ff")[:-50])  # truncated JSON
    result = tracks.observed([(str(root), "readsb", {})], cache_dir=tmp_path / "cache")
    assert len(result.skipped) == 1, result.skipped
    where, _, why = result.skipped[0]
    assert "trace_full_1522ff.json" in str(where) and "expected" in str(why), result.skipped[0]
    assert result.n_positions >= 6 * 40 - 10


# --- hostile entries in data/raw/tracks: links, FIFOs, devices, bombs, deep JSON, bad sidecars ------------------


def _bomb() -> bytes:
    """About 100 kB of gzip that decompresses to 100 MB of zeros (the cap stops it at 64 MB)."""
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zero = bytes(1 << 20)
    return b"".join([c.compress(zero) for _ in range(100)] + [c.flush()])


def _put(name: str, make: Callable[[Path], None]):
    def setup(tracks: Path) -> str:
        make(tracks / name)
        return name

    return setup


def _bytes(name: str, data: Callable[[], bytes]):
    return _put(name, lambda p: p.write_bytes(data()))


def _tree_with_link(tracks: Path) -> str:
    leaf = tracks / "tree" / "traces" / "a4"
    leaf.mkdir(parents=True)
    (leaf / "trace_full_1522a4.json").write_bytes(_trace_json("1522a4"))
    (leaf / "trace_full_1522b4.json").symlink_to("/etc/passwd")
    return "tree"


def _tree_with_fifo(tracks: Path) -> str:
    leaf = tracks / "tree" / "traces" / "a4"
    leaf.mkdir(parents=True)
    os.mkfifo(leaf / "trace_full_1522a4.json")
    return "tree"


_DEEP_FR24 = lambda: b'{"result": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"  # noqa: E731

# (id, setup -> entry name, sidecar fields, accept first?, text the error must contain)
UNSAFE_TRACK_CASES = [
    (
        "track-symlink-dev-zero",
        _put("t.json", lambda p: p.symlink_to("/dev/zero")),
        {"format": "readsb"},
        False,
        "symbolic link",
    ),
    (
        "track-symlink-etc-passwd",
        _put("t.csv", lambda p: p.symlink_to("/etc/passwd")),
        {"format": "generic_csv", "options": GENERIC},
        False,
        "symbolic link",
    ),
    ("track-fifo", _put("t.json", lambda p: os.mkfifo(p)), {"format": "readsb"}, False, "FIFO"),
    ("track-tree-symlink", _tree_with_link, {"format": "readsb"}, False, "symbolic link"),
    ("track-tree-fifo", _tree_with_fifo, {"format": "readsb"}, False, "FIFO"),
    ("track-gzip-bomb", _bytes("trace_full_1522a4.json.gz", _bomb), {"format": "readsb"}, True, "bomb"),
    ("track-json-200k-deep", _bytes("f.json", _DEEP_FR24), {"format": "fr24_json"}, True, "deep"),
    (
        "track-sidecar-format-unknown",
        _bytes("t.csv", GENERIC_CSV.encode),
        {"format": "xlsx"},
        True,
        "field 'format'",
    ),
    (
        "track-sidecar-what-rlo",
        _bytes("t.csv", GENERIC_CSV.encode),
        {"format": "generic_csv", "options": GENERIC, "what": "track \u202egpj.exe"},
        True,
        "U+202E",
    ),
    (
        "track-sidecar-licence-zero-width",
        _bytes("t.csv", GENERIC_CSV.encode),
        {"format": "generic_csv", "options": GENERIC, "licence": "CC\u200b0"},
        True,
        "U+200B",
    ),
    (
        "track-sidecar-origin-formula",
        _bytes("t.csv", GENERIC_CSV.encode),
        {"format": "generic_csv", "options": GENERIC, "origin": '=HYPERLINK("x")\x07'},
        True,
        "U+0007",
    ),
    (
        "track-sidecar-options-list",
        _bytes("t.csv", GENERIC_CSV.encode),
        {"format": "generic_csv", "options": ["hex"]},
        True,
        "field 'options'",
    ),
    (
        "track-sidecar-option-bidi",
        _bytes("f.csv", FR24_CSV.encode),
        {"format": "fr24_csv", "options": {"icao24": "1522a4", "registration": "RA\u202e-1"}},
        True,
        "U+202E",
    ),
]


@pytest.mark.parametrize(
    "name,setup,record,accept_first,needle", UNSAFE_TRACK_CASES, ids=[c[0] for c in UNSAFE_TRACK_CASES]
)
def test_unsafe_track_entry_is_refused_without_hanging(
    name, setup, record, accept_first, needle, fresh_project: Project, tally, monkeypatch, capsys
) -> None:
    import subprocess
    import sys

    from analysis.paths import REPO_DIR

    tracks = fresh_project.raw / "tracks"
    tracks.mkdir()
    entry = setup(tracks)
    (tracks / f"{entry}{provenance.SUFFIX}").write_text(
        json.dumps(
            {"what": "test track", "origin": "generated", "licence": "CC0", "sha256": "0" * 64, **record}
        ),
        encoding="utf-8",
    )
    if accept_first:
        provenance.accept(fresh_project.raw, check=False)
    env = dict(os.environ, FLIGHTS_ROOT=str(fresh_project.root))
    if name.startswith(
        "track-sidecar"
    ):  # refused before any track byte is read: no hang possible, in process
        from analysis.cli import main

        monkeypatch.setenv("FLIGHTS_ROOT", str(fresh_project.root))
        for command in ("validate", "build"):
            assert main([command]) == 2
            err = capsys.readouterr().err
            assert "Traceback" not in err and entry in err and "expected" in err and needle in err, (
                command,
                err,
            )
        assert not (fresh_project.current.exists() or fresh_project.current.is_symlink())
        tally(True)
        return
    content_only = name in (
        "track-gzip-bomb",
        "track-json-200k-deep",
    )  # found by reading: the build's readers
    commands = ["build"] if content_only else ["validate", "build"]
    script = (
        "import sys\nfrom analysis.cli import main\n"
        f"for c in {commands!r}:\n    print('=' + c, file=sys.stderr)\n    print('rc', main([c]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=120
    )  # a hang fails the test here
    assert "Traceback" not in done.stderr, done.stderr
    for part in done.stderr.split("\n=")[1:]:
        command = part.split("\n", 1)[0]
        assert "\nrc 2" in part, (command, done.stdout, part)
        assert entry in part and "expected" in part and needle in part, (command, part)
    assert done.stderr.count("\nrc 2") == len(commands), done.stderr
    assert not (fresh_project.current.exists() or fresh_project.current.is_symlink())
    tally(True)


# --- round two: one read of every byte, review order, outputs that cannot be written ----------------------------


def test_raw_file_edited_during_the_build_is_not_published_as_reviewed(
    fresh_project: Project, monkeypatch, tally
) -> None:
    """The tables are parsed from the bytes that were checksummed: an edit after the read changes nothing that is
    published, and the next build reports the file as CHANGED."""
    from analysis import build as build_mod

    claims = fresh_project.raw / "claims.csv"
    reviewed = hashlib.sha256(claims.read_bytes()).hexdigest()
    real = build_mod.load_raw

    def tamper_then_load(raw_dir, data=None):
        set_cell(0, "kind", "rumour")(claims)  # an invalid edit lands between the read and the parse
        return real(raw_dir, data=data)

    monkeypatch.setattr(build_mod, "load_raw", tamper_then_load)
    result = build(fresh_project, quiet=True)
    monkeypatch.undo()
    manifest = json.loads((fresh_project.current / "manifest.json").read_text())
    assert manifest["raw_sha256"]["data/raw/claims.csv"] == reviewed
    kinds = set(pl_read(fresh_project, "core_claims")["kind"])
    assert "rumour" not in kinds and result["status"] == "built"
    with pytest.raises(ProvenanceError, match=r"data/raw/claims\.csv: CHANGED"):
        build(fresh_project, quiet=True)  # never "up to date" with unreviewed bytes
    tally(True)


def pl_read(project: Project, table: str):
    import polars as pl

    return pl.read_parquet(project.current / f"{table}.parquet")


def _cli(project: Project, *args: str):
    import subprocess
    import sys

    from analysis.paths import REPO_DIR

    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        env=dict(os.environ, FLIGHTS_ROOT=str(project.root)),
        timeout=120,
    )


def test_validate_shows_content_errors_of_a_changed_file_and_accept_refuses_it(
    fresh_project: Project, tally
) -> None:
    path = fresh_project.raw / "claims.csv"
    line = set_cell(0, "kind", "rumour")(path)
    side = _sidecar(fresh_project, "claims")
    before = side.read_bytes()
    done = _cli(fresh_project, "validate")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "data/raw/claims.csv: CHANGED" in done.stderr, done.stderr
    assert f"data/raw/claims.csv, line {line}, field 'kind': expected one of" in done.stderr, done.stderr
    done = _cli(fresh_project, "accept-raw")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "accept-raw recorded nothing" in done.stderr and "field 'kind'" in done.stderr, done.stderr
    assert side.read_bytes() == before, "accept-raw recorded a file that does not validate"
    tally(True)


def _generic_track(project: Project) -> Path:
    tracks = project.raw / "tracks"
    tracks.mkdir(exist_ok=True)
    path = tracks / "export.csv"
    path.write_text(GENERIC_CSV, encoding="utf-8")
    (tracks / f"export.csv{provenance.SUFFIX}").write_text(
        json.dumps(
            {
                "what": "test track",
                "origin": "generated",
                "licence": "CC0",
                "format": "generic_csv",
                "options": GENERIC,
            }
        ),
        encoding="utf-8",
    )
    provenance.accept(project.raw)
    return path


def test_track_sidecar_format_and_options_are_covered_by_the_checksum(fresh_project: Project, tally) -> None:
    """Swapping two mapped columns in a track's options is a change: CHANGED, and a new fingerprint."""
    from analysis.build import fingerprint

    _generic_track(fresh_project)
    sums = provenance.verify(fresh_project.raw)
    side = fresh_project.raw / "tracks" / f"export.csv{provenance.SUFFIX}"
    record = json.loads(side.read_text())
    record["options"]["mapping"]["lat"], record["options"]["mapping"]["lon"] = "lon", "lat"
    side.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ProvenanceError, match=r"data/raw/tracks/export\.csv: CHANGED"):
        provenance.verify(fresh_project.raw)
    provenance.accept(fresh_project.raw)
    assert fingerprint(fresh_project, provenance.verify(fresh_project.raw)) != fingerprint(
        fresh_project, sums
    )
    record["format"] = "opensky"
    side.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ProvenanceError, match=r"data/raw/tracks/export\.csv: CHANGED"):
        provenance.verify(fresh_project.raw)
    tally(True)


def test_track_file_swapped_and_restored_during_the_build_is_refused(
    fresh_project: Project, monkeypatch, tally
) -> None:
    """A track file edited after its checksum was taken and restored once the positions were read: the bytes
    parsed are hashed and compared with the reviewed checksum, so the edit is refused, named, and nothing is
    published (checking the file again after the build cannot see a swap that was undone)."""
    from analysis import build as build_mod

    path = _generic_track(fresh_project)
    reviewed = path.read_bytes()
    real_snapshot, real_derive = provenance.snapshot, build_mod.derive

    def snapshot_then_tamper(raw, *, tables=True):
        snap = real_snapshot(raw, tables=tables)
        if tables:  # the build's own snapshot: the edit lands between the checksum and the parse
            path.write_bytes(reviewed.replace(b"10.05", b"11.55"))
        return snap

    def derive_then_restore(*args, **kwargs):
        try:
            return real_derive(*args, **kwargs)
        finally:
            path.write_bytes(reviewed)

    monkeypatch.setattr(provenance, "snapshot", snapshot_then_tamper)
    monkeypatch.setattr(build_mod, "derive", derive_then_restore)
    with pytest.raises(ValueError, match=r"tracks/export\.csv: file: changed during the build"):
        build(fresh_project, quiet=True)
    monkeypatch.undo()
    _assert_nothing_written(fresh_project)
    assert path.read_bytes() == reviewed
    assert build(fresh_project, quiet=True)["status"] == "built"  # the restored, reviewed file builds
    tally(True)


def test_track_file_edited_after_it_was_parsed_publishes_the_reviewed_bytes(
    fresh_project: Project, monkeypatch, tally
) -> None:
    """An edit after the positions were read changes nothing that is published (the manifest names the checksum
    of what was parsed); the next build reports the file as CHANGED."""
    import polars as pl

    from analysis import build as build_mod

    path = _generic_track(fresh_project)
    reviewed = provenance.verify(fresh_project.raw)["data/raw/tracks/export.csv"]
    real = build_mod.derive

    def derive_then_tamper(*args, **kwargs):
        out = real(*args, **kwargs)
        path.write_text(path.read_text().replace("10.05", "11.55"), encoding="utf-8")
        return out

    monkeypatch.setattr(build_mod, "derive", derive_then_tamper)
    assert build(fresh_project, quiet=True)["status"] == "built"
    monkeypatch.undo()
    manifest = json.loads((fresh_project.current / "manifest.json").read_text())
    assert manifest["raw_sha256"]["data/raw/tracks/export.csv"] == reviewed
    pos = pl.read_parquet(fresh_project.positions_cache / "positions" / "part-*" / "*.parquet")
    assert 10.05 in pos["lat"].to_list() and 11.55 not in pos["lat"].to_list()
    with pytest.raises(ProvenanceError, match=r"data/raw/tracks/export\.csv: CHANGED"):
        build(fresh_project, quiet=True)
    tally(True)


def _fail_with(err: int):
    def fail(*args, **kwargs):
        raise OSError(err, os.strerror(err), "data/derived/builds/x.partial/core_legs.parquet")

    return fail


@pytest.mark.parametrize(
    "err,needle",
    [(28, "the disk is full"), (30, "read-only"), (13, "permission denied")],
    ids=["enospc", "erofs", "eacces"],
)
def test_unwritable_outputs_give_a_clear_error_and_keep_the_previous_build(
    err, needle, fresh_project: Project, monkeypatch, tally
) -> None:
    import polars as pl

    from analysis.build import BuildError

    build(fresh_project, quiet=True)
    target = os.readlink(fresh_project.current)
    before = _snapshot(fresh_project.current.resolve())
    monkeypatch.setattr(pl.DataFrame, "write_parquet", _fail_with(err))
    with pytest.raises(BuildError) as info:
        build(fresh_project, force=True, quiet=True)
    message = str(info.value)
    assert needle in message and "expected" in message and "previous data/derived is intact" in message, (
        message
    )
    assert (
        os.readlink(fresh_project.current) == target and _snapshot(fresh_project.current.resolve()) == before
    )
    assert not list((fresh_project.derived / "builds").glob("*.partial*"))
    tally(True)


def test_unwritable_lock_folder_gives_a_clear_error(fresh_project: Project, monkeypatch, tally) -> None:
    from analysis import atomic
    from analysis.build import BuildError

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system", str(fresh_project.build))

    monkeypatch.setattr(atomic.Path, "mkdir", read_only)
    with pytest.raises(BuildError, match="read-only.*expected a writable folder"):
        build(fresh_project, quiet=True)
    tally(True)


def test_real_folder_where_current_should_be_a_link(fresh_project: Project, tally) -> None:
    (fresh_project.current).mkdir(parents=True)
    (fresh_project.current / "mine.txt").write_text("a curator's file", encoding="utf-8")
    done = _cli(fresh_project, "build")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "data/derived/current: expected the symlink the build manages, got a real folder" in done.stderr
    assert (fresh_project.current / "mine.txt").read_text(encoding="utf-8") == "a curator's file"
    assert not any((fresh_project.derived / "builds").iterdir())
    tally(True)


def test_zero_length_leg_with_a_distance_claim_builds(fresh_project: Project, tally) -> None:
    """Two consecutive stops at one place (a reported go-around) and a distance claim on that leg: no crash."""
    raw = fresh_project.raw
    stops = read_rows(raw / "stops.csv")
    h = stops[0]
    first = next(
        r
        for r in stops[1:]
        if r[h.index("seq")] == "1"
        and r[h.index("variant")] == "main"
        and re.fullmatch(r"[A-Z]{4}", r[h.index("place_id")])
    )  # an airport: the leg has a length
    second = next(
        r
        for r in stops[1:]
        if r[h.index("seq")] == "2"
        and r[h.index("variant")] == "main"
        and r[h.index("episode_id")] == first[h.index("episode_id")]
        and r[h.index("aircraft_id")] == first[h.index("aircraft_id")]
    )
    second[h.index("place_id")] = first[h.index("place_id")]
    write_rows(raw / "stops.csv", stops)
    claims = read_rows(raw / "claims.csv")
    c = claims[0]
    row = next(r for r in claims[1:] if r[c.index("kind")] == "flight_distance")
    row[c.index("stop_id")] = second[h.index("stop_id")]
    row[c.index("episode_id")] = second[h.index("episode_id")]
    write_rows(raw / "claims.csv", claims)
    provenance.accept(raw)
    result = build(fresh_project, quiet=True)
    legs = pl_read(fresh_project, "core_legs")
    zero = legs.filter(legs["to_stop_id"] == second[h.index("stop_id")])
    assert zero.height == 1 and zero["distance_km"][0] == 0.0, zero
    assert result["status"] == "built"
    tally(True)


def _dup_key_sidecar(project: Project) -> None:
    side = _sidecar(project, "claims")
    record = json.loads(side.read_text())
    text = json.dumps(record)
    side.write_text(text[:-1] + ', "sha256": "' + "0" * 64 + '"}', encoding="utf-8")


def _nan_sidecar(project: Project) -> None:
    side = _sidecar(project, "claims")
    side.write_text(side.read_text().rstrip().rstrip("}") + ', "bytes_x": NaN}', encoding="utf-8")


@pytest.mark.parametrize(
    "name,edit,needle",
    [("sidecar-duplicate-key", _dup_key_sidecar, "'sha256' twice"), ("sidecar-nan", _nan_sidecar, "NaN")],
    ids=["sidecar-duplicate-key", "sidecar-nan"],
)
def test_ambiguous_sidecar_json_is_refused(name, edit, needle, fresh_project: Project, tally) -> None:
    edit(fresh_project)
    with pytest.raises(ProvenanceError) as info:
        build(fresh_project, quiet=True)
    assert "claims.csv.provenance.json" in str(info.value) and needle in str(info.value), str(info.value)
    _assert_nothing_written(fresh_project)
    tally(True)


def test_track_entry_name_with_bidi_control_is_refused(fresh_project: Project, tally) -> None:
    tracks = fresh_project.raw / "tracks"
    tracks.mkdir()
    name = "export\u202ecsv.exe"
    (tracks / name).write_text(GENERIC_CSV, encoding="utf-8")
    (tracks / f"{name}{provenance.SUFFIX}").write_text(
        json.dumps(
            {
                "what": "t",
                "origin": "g",
                "licence": "CC0",
                "format": "generic_csv",
                "options": GENERIC,
                "sha256": "0" * 64,
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(ProvenanceError, match="file name: expected .*U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        build(fresh_project, quiet=True)
    _assert_nothing_written(fresh_project)
    tally(True)


def test_positions_cache_that_does_not_match_its_checksums_is_ingested_again(
    fresh_project: Project, tally, caplog
) -> None:
    """A corrupt, tampered or unreadable part of the positions cache is never used and never breaks the build:
    it is discarded, named, and its input ingested again (``--force`` or not)."""
    import polars as pl
    import pyarrow.parquet as pq

    _generic_track(fresh_project)
    build(fresh_project, quiet=True)
    cache = fresh_project.positions_cache / "positions"
    want = pl.read_parquet(cache / "part-*" / "*.parquet").sort("time_utc")
    (part_file,) = sorted(cache.glob("part-*/*.parquet"))
    (manifest,) = sorted(cache.glob("part-*.json"))

    def tamper(path: Path) -> None:  # a valid parquet file with other positions
        t = pq.read_table(path)
        pq.write_table(
            t.set_column(
                t.schema.get_field_index("lat"), "lat", pa_array([v + 1 for v in t.column("lat").to_pylist()])
            ),
            path,
        )

    for damage in (
        lambda: part_file.write_bytes(b"PAR1 not parquet"),
        lambda: tamper(part_file),
        lambda: manifest.write_text("{", encoding="utf-8"),
        lambda: (cache / f"{manifest.stem}.coverage.parquet").unlink(),
        lambda: manifest.write_text(manifest.read_text().replace('"options": {', '"options": {"x": 1, ', 1)),
    ):
        caplog.clear()
        damage()
        result = build(fresh_project, force=True, quiet=True)
        assert result["status"] == "built"
        assert "positions cache part-" in caplog.text and "its input is ingested again" in caplog.text, (
            caplog.text
        )
        got = pl.read_parquet(cache / "part-*" / "*.parquet").sort("time_utc")
        assert got.equals(want)
    caplog.clear()
    build(fresh_project, force=True, quiet=True)  # an intact cache is reused silently
    assert "positions cache" not in caplog.text
    tally(True)


def pa_array(values):
    import pyarrow as pa

    return pa.array(values, pa.float64())


# --- round three: the derived database and queries.sql() are data, never code --------------------------------

_UNSAFE_SQL = [
    ("copy-to-file", "COPY (SELECT 1) TO 'core_stops.parquet'", "COPY"),
    ("copy-outside", "COPY (SELECT 1) TO '/tmp/flights-leak.csv'", "COPY"),
    ("export-database", "EXPORT DATABASE 'exported'", "EXPORT"),
    ("install", "INSTALL httpfs", "LOAD"),
    ("load", "LOAD json", "LOAD"),
    ("attach", "ATTACH 'other.duckdb'", "ATTACH"),
    ("detach", "DETACH flights", "DETACH"),
    ("set-search-path", "SET file_search_path = '/etc'", "SET"),
    ("set-global", "SET GLOBAL TimeZone = 'Europe/Moscow'", "SET"),
    ("reset", "RESET file_search_path", "SET"),
    ("pragma", "PRAGMA enable_profiling", "PRAGMA"),
    ("use", "USE memory", "SET"),
    ("call", "CALL pragma_version()", "CALL"),
    ("create", "CREATE TABLE x AS SELECT 1", "CREATE"),
    ("two-statements", "SELECT 1; SET file_search_path = '/etc'", "exactly one SQL statement"),
    ("read-text-etc", "SELECT * FROM read_text('/etc/hostname')", "outside the study"),
    ("read-csv-raw", "SELECT * FROM read_csv('../../raw/claims.csv')", "outside the study"),
    ("glob-root", "SELECT * FROM glob('/*')", "outside the study"),
    ("parquet-outside", "SELECT * FROM read_parquet('/tmp/*.parquet')", "outside the study"),
]


@pytest.mark.parametrize("name,query,needle", _UNSAFE_SQL, ids=[c[0] for c in _UNSAFE_SQL])
def test_queries_sql_cannot_write_read_outside_or_change_settings(
    name, query, needle, built_project: Project, tally
) -> None:
    from analysis import queries

    folder = built_project.current.resolve()
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises((queries.UnsafeQueryError, queries.QueryArgumentError), match=needle):
        queries.sql(query, project=built_project)
    settings = queries.sql(
        "SELECT current_setting('file_search_path') AS p, current_setting('TimeZone') AS tz",
        project=built_project,
    ).row(0, named=True)
    assert settings["p"] == folder.as_posix() and settings["tz"] in ("UTC", "Etc/UTC"), settings
    assert sorted(p.name for p in folder.iterdir()) == before
    assert not Path("/tmp/flights-leak.csv").exists()
    assert queries.episode_ids(built_project)  # the shared connection still answers
    tally(True)


def test_locked_down_queries_do_not_depend_on_the_working_directory(
    built_project: Project, tmp_path: Path, monkeypatch
) -> None:
    """papermill runs notebooks with their folder as the working directory: the derived tables still answer."""
    from analysis import queries

    want = queries.episode_ids(built_project)
    for folder in (tmp_path, Path("/"), built_project.current.resolve()):
        monkeypatch.chdir(folder)
        assert queries.episode_ids(built_project) == want


_BAD_ARGUMENTS = [
    ("stops-ids-number", lambda q, p: q.stops(5, project=p), "episode_ids"),
    ("stops-ids-list-of-numbers", lambda q, p: q.stops([1, 2], project=p), "episode_ids"),
    ("legs-main-only-text", lambda q, p: q.legs(main_only="yes", project=p), "main_only"),
    ("stops-evidence-number", lambda q, p: q.stops(evidence=3, project=p), "evidence"),
    ("timeline-days-text", lambda q, p: q.timeline(around_days="7", project=p), "around_days"),
    ("timeline-days-nan", lambda q, p: q.timeline(around_days=float("nan"), project=p), "around_days"),
    ("timeline-context-none", lambda q, p: q.timeline(context=None, project=p), "context"),
    ("findings-category-list", lambda q, p: q.findings(category=["x"], project=p), "category"),
    ("episode-id-none", lambda q, p: q.episode(None, project=p), "episode_id"),
    ("sources-for-number", lambda q, p: q.sources_for(7, project=p), "source_ids"),
    ("sql-not-text", lambda q, p: q.sql(42, project=p), "query"),
    ("sql-params-text", lambda q, p: q.sql("SELECT ?", "abc", project=p), "params"),
    ("sql-unparsable", lambda q, p: q.sql("SELEC 1", project=p), "cannot parse"),
    ("table-name-number", lambda q, p: q.table(3, project=p), "name"),
]


@pytest.mark.parametrize("name,call,needle", _BAD_ARGUMENTS, ids=[c[0] for c in _BAD_ARGUMENTS])
def test_queries_with_wrong_argument_types_give_a_named_error(
    name, call, needle, built_project: Project, tally
) -> None:
    from analysis import queries

    with pytest.raises(queries.QueryArgumentError, match=f"argument '{needle}'|{needle}") as info:
        call(queries, built_project)
    assert "expected" in str(info.value)
    tally(True)


def _tamper_database(project: Project, statements: list[str]) -> None:
    import subprocess
    import sys

    db = project.database.resolve()
    script = (
        'import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\ncon.execute("SET file_search_path = ?", '
        "[sys.argv[2]])\nfor s in sys.argv[3:]:\n    con.execute(s)\ncon.close()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(db), str(db.parent), *statements], check=True, timeout=60
    )


_TAMPERED = [
    (
        "view-reads-etc-hostname",
        [
            "CREATE OR REPLACE VIEW out_episode_summary AS SELECT content AS episode_id, "
            "'x' AS title, NULL AS first_time_utc FROM read_text('/etc/hostname')"
        ],
        "view 'out_episode_summary' is not the build's view",
    ),
    ("extra-view", ["CREATE VIEW leak AS SELECT 1 AS a"], "view 'leak' is not one of the build's tables"),
    ("macro", ["CREATE MACRO list_has(a, b) AS true"], "list_has is not something the build writes"),
    ("table", ["CREATE TABLE planted AS SELECT 1 AS a"], "table planted is not something the build writes"),
]


def _copy_of_build(built_project: Project, dest: Path) -> Project:
    """A private copy of the session's built study (its data/derived included), for a test that damages it."""
    import shutil

    shutil.copytree(
        built_project.root, dest, symlinks=True, ignore=shutil.ignore_patterns("reports", ".build")
    )
    return Project(dest)


@pytest.mark.parametrize("name,statements,needle", _TAMPERED, ids=[c[0] for c in _TAMPERED])
def test_a_derived_database_whose_views_are_not_the_builds_is_refused(
    name, statements, needle, built_project: Project, tmp_path: Path, tally
) -> None:
    from analysis import queries

    project = _copy_of_build(built_project, tmp_path / "study")
    _tamper_database(project, statements)
    with pytest.raises(queries.UntrustedDatabaseError, match=needle):
        queries.episodes(project)
    if name == "view-reads-etc-hostname":  # the command line the red team used: one line, nothing leaked
        done = _cli(project, "episodes")
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and needle in done.stderr, done.stderr
        assert done.stdout == "", done.stdout
    tally(True)


def test_database_held_open_read_write_gives_one_line_saying_what_to_do(
    built_project: Project, tmp_path: Path, tally
) -> None:
    """The DuckDB command line opens a database read-write unless told -readonly: `analysis episodes` and
    `analysis report` then say so in one line (exit 2), never a traceback."""
    import subprocess
    import sys

    from analysis import queries

    fresh_project = _copy_of_build(built_project, tmp_path / "study")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\ncon = duckdb.connect(sys.argv[1])\n"
            "print('ready', flush=True)\ntime.sleep(120)\n",
            str(fresh_project.database.resolve()),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        for args in (["episodes"], ["report", "--no-pdf"]):
            done = _cli(fresh_project, *args)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr, done.stderr
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.startswith("error:")]
            assert len(lines) == 1 and "held open for writing by process" in lines[0], done.stderr
            assert "duckdb -readonly" in lines[0], done.stderr
    finally:
        holder.kill()
        holder.wait()
    assert queries.episode_ids(fresh_project)  # released: it opens again
    tally(True)


# --- round three: make variables are data: one argument each, never shell or make code ------------------------

_STUB = """import json, os, sys
with open(os.environ["STUB_LOG"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit(int(os.environ.get("STUB_RC", "0")))
"""
_HOSTILE_VALUES = [
    ("double-quote-semicolon", 'x"; touch {marker}; echo "'),
    ("single-quote", "x'; touch {marker}; echo '"),
    ("command-substitution", "$(touch {marker})"),
    ("backticks", "`touch {marker}`"),
    ("make-shell-function", "$(shell touch {marker})"),
    ("dollar-dollar", "$$(touch {marker})"),
    ("spaces-and-newline", "a b\nc; touch {marker}"),
    ("pipe-and-ampersand", "a | touch {marker} & b"),
]


def _make(tmp_path: Path, target: str, rc: int = 0, **variables: str):
    import subprocess
    import sys

    from analysis.paths import REPO_DIR

    stub = tmp_path / "stub.py"
    stub.write_text(_STUB, encoding="utf-8")
    log = tmp_path / "argv.jsonl"
    log.unlink(missing_ok=True)
    cmd = [
        "make",
        "--no-print-directory",
        "-o",
        ".venv/.synced-stamp",
        "-o",
        ".build/discover/demo-day.tar",
        target,
        f"PY={sys.executable} {stub}",
    ] + [f"{k}={v}" for k, v in variables.items()]
    done = subprocess.run(
        cmd,
        cwd=REPO_DIR,
        env=dict(os.environ, STUB_LOG=str(log), STUB_RC=str(rc)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = (
        [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    )
    return done, calls


@pytest.mark.parametrize("name,template", _HOSTILE_VALUES, ids=[c[0] for c in _HOSTILE_VALUES])
def test_make_variables_reach_the_program_as_one_argument(name, template, tmp_path: Path, tally) -> None:
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    marker = tmp_path / "pwned"
    value = template.format(marker=marker)
    done, calls = _make(tmp_path, "report", COMPARE=value)
    assert done.returncode == 0, done.stderr
    assert calls == [["-m", "analysis", "report", "--compare", value]], calls
    done, calls = _make(tmp_path, "discover", ENGINE="spark", MASTER=value, ARCHIVE=f"day.tar {value}")
    assert done.returncode == 0, done.stderr
    discover = calls[-1]
    assert discover[discover.index("--master") + 1] == value, discover
    assert discover[discover.index("--engine") + 1] == "spark"
    assert discover[:3] == ["-m", "analysis", "discover"], discover  # the one entry point
    archives = discover[3 : discover.index("--engine")]
    assert archives == ["day.tar", *value.split()], archives  # split on spaces, nothing else
    done, calls = _make(tmp_path, "discover", ENGINE=value)
    assert calls[-1][calls[-1].index("--engine") + 1] == value and "--master" not in calls[-1], calls
    assert not marker.exists(), f"{name}: a command in a make variable ran"
    tally(True)


def test_make_fails_when_the_job_fails(tmp_path: Path, tally) -> None:
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for target, variables in (
        ("report", {"COMPARE": 'x"; echo "'}),
        ("discover", {"ARCHIVE": "a.tar"}),
        ("validate", {}),
    ):
        done, calls = _make(tmp_path, target, rc=2, **variables)
        assert done.returncode != 0, (target, done.stdout, done.stderr)
        assert calls, target
    tally(True)


# --- round three: a study folder is data: its notebooks never run unless named as code -------------------------


def test_a_study_folders_notebooks_are_not_run_unless_named_as_code(
    fresh_project: Project, tmp_path: Path, monkeypatch, caplog, tally
) -> None:
    import nbformat

    from analysis import report as report_mod
    from analysis.paths import REPO_DIR, default_project

    marker = tmp_path / "ran"
    folder = fresh_project.root / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('x')")])
    for name in ("episode.ipynb", "compare.ipynb", "patterns.ipynb", "observed.ipynb", "start-here.ipynb"):
        nbformat.write(nb, folder / name)
    assert fresh_project.notebooks == REPO_DIR / "notebooks"
    monkeypatch.setenv("FLIGHTS_ROOT", str(fresh_project.root))
    assert default_project().notebooks == REPO_DIR / "notebooks"

    class Stop(Exception):
        pass

    seen = []

    def stop(project, *args, **kwargs):
        seen.append(project)
        raise Stop

    monkeypatch.setattr(report_mod, "build", stop)
    caplog.set_level("WARNING", logger="analysis.report")
    with pytest.raises(Stop):
        report_mod.report(fresh_project)
    assert f"{folder} is not run: a study folder is data" in caplog.text, caplog.text
    assert seen[-1].notebooks == REPO_DIR / "notebooks"
    caplog.clear()
    with pytest.raises(Stop):
        report_mod.report(fresh_project, notebooks=folder)
    assert f"running the notebooks in {folder.resolve()} as code" in caplog.text, caplog.text
    assert all(r.levelname == "WARNING" for r in caplog.records), caplog.records
    assert seen[-1].notebooks == folder.resolve()
    with pytest.raises(FileNotFoundError, match="expected a folder of the report's notebooks"):
        report_mod.report(fresh_project, notebooks=tmp_path / "nowhere")
    assert not marker.exists()
    tally(True)


# --- round three: discovery as safe as the build ----------------------------------------------------------------


def _disc_trace(
    hex_: str, n: int = 40, *, offset: float = 30.0, alt=30000, ts: float = 1761436800.0
) -> bytes:
    obj = {
        "icao": hex_,
        "r": "RA-78765",
        "t": "IL76",
        "timestamp": ts,
        "trace": [[i * offset, 10.0 + i * 0.05, -66.0 + i * 0.05, alt, 450.0, 90.0, 0, 0] for i in range(n)],
    }
    return gzip.compress(json.dumps(obj).encode())


def _member(hex_: str) -> str:
    return f"traces/{hex_[-2:]}/trace_full_{hex_}.json"


def _tar(path: Path, members: list, fmt=None) -> Path:
    """A tar of (name, bytes) members, or (name, TarInfo-editing function) for links, devices and FIFOs."""
    import tarfile

    with tarfile.open(path, "w", format=fmt or tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            if callable(data):
                data(ti)
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return path


_GOOD = ["1522a4", "1522b5", "3c0001"]


def _good_members() -> list:
    return [(_member(h), _disc_trace(h)) for h in _GOOD]


def _discover_cli(project: Project, monkeypatch, capsys, *args: str, timeout: float = 60):
    """Run the discovery command line in this process (FLIGHTS_ROOT at ``project``): (exit status, stderr)."""
    from test_fuzz import _time_limit

    from analysis.discover.__main__ import main

    monkeypatch.setenv("FLIGHTS_ROOT", str(project.root))
    capsys.readouterr()
    try:
        with _time_limit(timeout):  # a hang fails here
            rc = main(["--no-reported", "--processes", "1", *args])
    except SystemExit as exc:
        rc = exc.code
    captured = capsys.readouterr()
    return rc, captured.err, captured.out


def _cut_member_data(tmp: Path) -> Path:
    data = _tar(tmp / "whole.tar", _good_members()).read_bytes()
    (tmp / "cut.tar").write_bytes(data[:700])
    return tmp / "cut.tar"


def _cut_header(tmp: Path) -> Path:
    members = _good_members()
    data = _tar(tmp / "whole.tar", members).read_bytes()
    end_of_first = 512 + -(-len(members[0][1]) // 512) * 512
    (tmp / "cuthdr.tar").write_bytes(data[: end_of_first + 300])
    return tmp / "cuthdr.tar"


def _size_past_end(tmp: Path) -> Path:
    """A header that claims more data than the file holds, with members after it (they were silently dropped)."""
    members = _good_members()
    data = bytearray(_tar(tmp / "whole.tar", members).read_bytes())
    header = bytearray(data[:512])
    header[124:136] = b"%011o\0" % (len(data) * 4)
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % (sum(header[:148]) + 256 + sum(header[156:]))
    data[:512] = header
    (tmp / "past.tar").write_bytes(bytes(data))
    return tmp / "past.tar"


def _in(tmp: Path, make) -> str:
    return str(make(tmp))


_DISCOVERY_CLI_CASES = [
    ("missing-archive", lambda t: [str(t / "nowhere.tar")], "got nothing there"),
    ("directory-without-traces", lambda t: [str((t / "empty").mkdir() or t / "empty")], "got none"),
    (
        "not-a-tar",
        lambda t: [str((t / "x.tar").write_bytes(b"hello " * 200) and t / "x.tar")],
        "expected a tar archive",
    ),
    ("empty-file", lambda t: [str((t / "e.tar").write_bytes(b"") or t / "e.tar")], "expected a tar archive"),
    ("cut-member-data", lambda t: [_in(t, _cut_member_data)], "trace_full_1522a4.json: member: expected"),
    ("cut-header", lambda t: [_in(t, _cut_header)], "complete 512-byte tar header after member"),
    ("size-past-the-end", lambda t: [_in(t, _size_past_end)], "a truncated archive"),
    ("fifo-as-archive", lambda t: [str(os.mkfifo(t / "f.tar") or t / "f.tar")], "FIFO"),
    ("dev-zero-as-archive", lambda t: ["/dev/zero"], "character device"),
    (
        "symlink-as-archive",
        lambda t: [
            str(
                _tar(t / "real.tar", _good_members())
                and ((t / "l.tar").symlink_to(t / "real.tar") or t / "l.tar")
            )
        ],
        "symbolic link",
    ),
    ("buckets-zero", lambda t: [str(_tar(t / "d.tar", _good_members())), "--buckets", "0"], "buckets"),
    ("buckets-negative", lambda t: [str(_tar(t / "d.tar", _good_members())), "--buckets", "-4"], "buckets"),
    ("buckets-word", lambda t: [str(_tar(t / "d.tar", _good_members())), "--buckets", "many"], "--buckets"),
    (
        "buckets-huge",
        lambda t: [str(_tar(t / "d.tar", _good_members())), "--buckets", "10000000"],
        "1 to 4096",
    ),
    ("processes-zero", lambda t: [str(_tar(t / "d.tar", _good_members())), "--processes", "0"], "processes"),
    (
        "spark-master-nonsense",
        lambda t: [str(_tar(t / "d.tar", _good_members())), "--engine", "spark", "--master", "nonsense"],
        "expected a Spark master URL",
    ),
    (
        "spark-master-injection",
        lambda t: [
            str(_tar(t / "d.tar", _good_members())),
            "--engine",
            "spark",
            "--master",
            "local[2]; touch x",
        ],
        "expected a Spark master URL",
    ),
    (
        "spark-master-unreachable",
        lambda t: [
            str(_tar(t / "d.tar", _good_members())),
            "--engine",
            "spark",
            "--master",
            "spark://127.0.0.1:9",
        ],
        "expected a running Spark master",
    ),
    (
        "master-without-spark",
        lambda t: [str(_tar(t / "d.tar", _good_members())), "--master", "local[2]"],
        "--master is for --engine spark",
    ),
    ("store-missing", lambda t: ["--store", str(t / "no-store")], "got nothing there"),
    (
        "store-not-a-store",
        lambda t: ["--store", str((t / "plain").mkdir() or t / "plain")],
        "got a folder without",
    ),
    ("store-and-archive", lambda t: [str(_tar(t / "d.tar", _good_members())), "--store", str(t)], "not both"),
    ("nothing-given", lambda t: [], "give one or more archives"),
]


@pytest.mark.parametrize("name,make,needle", _DISCOVERY_CLI_CASES, ids=[c[0] for c in _DISCOVERY_CLI_CASES])
def test_discovery_command_line_turns_every_named_error_into_one_line(
    name, make, needle, fresh_project: Project, tmp_path: Path, monkeypatch, capsys, tally
) -> None:
    out = fresh_project.derived / "discover"
    args = make(tmp_path)
    rc, err, _out = _discover_cli(fresh_project, monkeypatch, capsys, *args, "--out", str(out))
    assert rc == 2, (rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err
    assert not out.exists() and not out.is_symlink(), "a failed discovery published something"
    assert not (tmp_path / "x").exists()
    tally(True)


def test_a_bad_store_never_replaces_the_last_discovery(
    fresh_project: Project, tmp_path: Path, monkeypatch, capsys, tally
) -> None:
    out = fresh_project.derived / "discover"
    archive = _tar(tmp_path / "d.tar", _good_members())
    rc, err, _ = _discover_cli(fresh_project, monkeypatch, capsys, str(archive), "--out", str(out))
    assert rc == 0, err
    before = _snapshot(out.resolve())
    target = os.readlink(out)
    for store in (tmp_path / "missing-store", tmp_path):
        rc, err, _ = _discover_cli(
            fresh_project, monkeypatch, capsys, "--store", str(store), "--out", str(out)
        )
        assert rc == 2 and "previous discovery output is intact" in err, err
        assert os.readlink(out) == target and _snapshot(out.resolve()) == before
    tally(True)


def _read(tmp: Path, name: str) -> Path:
    return tmp / name


def _tree_with(tmp: Path, extra) -> Path:
    root = tmp / "day"
    for h in _GOOD:
        p = root / _member(h)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_disc_trace(h))
    extra(root)
    return root


def _bomb_member() -> bytes:
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zero = bytes(1 << 20)
    return b"".join([c.compress(zero) for _ in range(80)] + [c.flush()])  # ~80 kB -> 80 MB (cap 64 MB)


def _link(target: str):
    def edit(ti):
        import tarfile

        ti.type, ti.linkname = tarfile.SYMTYPE, target

    return edit


def _kind(kind):
    def edit(ti):
        ti.type = kind

    return edit


# (id, make the archive in tmp -> path, members expected skipped, text of the reason, positions kept from _GOOD)
_SKIPPED_MEMBER_CASES = [
    (
        "tree-symlink-outside",
        lambda t: _tree_with(
            t,
            lambda r: (
                (r / _member("abc123")).parent.mkdir(parents=True)
                or (r / _member("abc123")).symlink_to("/etc/passwd")
            ),
        ),
        _member("abc123"),
        "symbolic link",
    ),
    (
        "tree-symlink-inside",
        lambda t: _tree_with(
            t,
            lambda r: (
                (r / _member("abc124")).parent.mkdir(parents=True)
                or (r / _member("abc124")).symlink_to(r / _member("1522a4"))
            ),
        ),
        _member("abc124"),
        "symbolic link",
    ),
    (
        "tree-symlinked-folder",
        lambda t: _tree_with(t, lambda r: (r / "traces" / "zz").symlink_to(r / "traces" / "a4")),
        "traces/zz",
        "symbolic link",
    ),
    (
        "tree-fifo",
        lambda t: _tree_with(
            t,
            lambda r: (r / _member("abc125")).parent.mkdir(parents=True) or os.mkfifo(r / _member("abc125")),
        ),
        _member("abc125"),
        "FIFO",
    ),
    (
        "tar-symlink-member",
        lambda t: _tar(t / "d.tar", _good_members() + [(_member("abc126"), _link("/etc/shadow"))]),
        _member("abc126"),
        "symbolic link",
    ),
    (
        "tar-hardlink-member",
        lambda t: _tar(t / "d.tar", _good_members() + [(_member("abc127"), _kind(b"1"))]),
        _member("abc127"),
        "hard link",
    ),
    (
        "tar-fifo-member",
        lambda t: _tar(t / "d.tar", _good_members() + [(_member("abc128"), _kind(b"6"))]),
        _member("abc128"),
        "FIFO",
    ),
    (
        "tar-device-member",
        lambda t: _tar(t / "d.tar", _good_members() + [(_member("abc129"), _kind(b"3"))]),
        _member("abc129"),
        "character device",
    ),
    (
        "tar-gzip-bomb-member",
        lambda t: _tar(t / "d.tar", _good_members() + [(_member("abc12a"), _bomb_member())]),
        _member("abc12a"),
        "decompression bomb",
    ),
    (
        "tar-dated-5194",
        lambda t: _tar(
            t / "d.tar", _good_members() + [(_member("abc12b"), _disc_trace("abc12b", offset=3e9))]
        ),
        _member("abc12b"),
        "expected",
    ),
    (
        "tar-altitude-9e9",
        lambda t: _tar(t / "d.tar", _good_members() + [(_member("abc12c"), _disc_trace("abc12c", alt=9e9))]),
        _member("abc12c"),
        "field 'alt'",
    ),
    (
        "tar-not-a-trace",
        lambda t: _tar(t / "d.tar", _good_members() + [("traces/readme.txt", b"hello")]),
        "traces/readme.txt",
        "not a trace",
    ),
    (
        "pax-tar-symlink-member",
        lambda t: _tar(
            t / "d.tar",
            _good_members() + [(_member("abc12d"), _link("/etc/x"))],
            fmt=__import__("tarfile").PAX_FORMAT,
        ),
        _member("abc12d"),
        "symbolic link",
    ),
]


@pytest.mark.parametrize(
    "name,make,member,needle", _SKIPPED_MEMBER_CASES, ids=[c[0] for c in _SKIPPED_MEMBER_CASES]
)
def test_archive_members_that_are_not_read_are_listed_with_the_reason(
    name, make, member, needle, tmp_path: Path, tally
) -> None:
    """Links are never followed, FIFOs and devices never opened, bombs stopped at the exact reader's cap, values
    outside its ranges refused: each such member is skipped and listed with why; the other members are used."""
    from test_fuzz import _time_limit

    from analysis.tracks.archive import ingest_archive

    archive = make(tmp_path)
    with _time_limit(60):
        res = ingest_archive(archive, tmp_path / "store", n_buckets=2, processes=1, progress=False)
    skipped = {m: why for m, why in res.skipped}
    assert member in skipped and needle in skipped[member], res.skipped
    assert res.rows == 40 * len(_GOOD), res.rows  # every good member, and nothing of the bad one
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text(encoding="utf-8"))
    assert [member, skipped[member]] in manifest["skipped"]
    tally(True)


def test_a_compressed_tar_that_inflates_past_the_cap_is_refused(tmp_path: Path, monkeypatch, tally) -> None:
    """The compressed-tar path reads one stream: it stops at the exact reader's ratio (100x the archive, at least
    the floor) instead of inflating without bound."""
    import tarfile

    from analysis import safeio
    from analysis.tracks.archive import ingest_archive
    from analysis.tracks.readers import TrackInputError

    monkeypatch.setattr(safeio, "DECOMPRESS_FLOOR", 1 << 20)  # a small floor keeps the test small and fast
    big = tmp_path / "bomb.tar.gz"
    with tarfile.open(big, "w:gz") as tf:
        for h in _GOOD:
            data = _disc_trace(h)
            ti = tarfile.TarInfo(_member(h))
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo(_member("abc12e"))
        ti.size = 8 << 20  # zeros compress about 1000:1
        tf.addfile(ti, io.BytesIO(bytes(ti.size)))
    assert big.stat().st_size * safeio.DECOMPRESS_RATIO < 8 << 20
    with pytest.raises(TrackInputError, match="decompression bomb"):
        ingest_archive(big, tmp_path / "store", n_buckets=2, processes=1, progress=False)
    assert not (tmp_path / "store").exists()
    tally(True)


def test_bad_interest_rules_stop_discovery_in_one_line(
    fresh_project: Project, tmp_path: Path, monkeypatch, capsys, tally
) -> None:
    set_cell(
        lambda r: r["pattern_id"] == "crossed_atlantic",
        "parameters",
        "meridian_lon=-30;lat_min=70;lat_max=-60",
    )(fresh_project.raw / "interest_patterns.csv")
    archive = _tar(tmp_path / "d.tar", _good_members())
    # the rules are read as a build reads data/raw: a table changed since its review is refused, named
    rc, err, _ = _discover_cli(
        fresh_project, monkeypatch, capsys, str(archive), "--out", str(tmp_path / "out")
    )
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "data/raw/interest_patterns.csv: CHANGED since its provenance was recorded" in err, err
    provenance.accept(fresh_project.raw, check=False)  # reviewed, but invalid: validation names it
    rc, err, _ = _discover_cli(
        fresh_project, monkeypatch, capsys, str(archive), "--out", str(tmp_path / "out")
    )
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "lat_min below lat_max" in err, err
    assert not (tmp_path / "out").exists()
    tally(True)


def test_two_discoveries_into_one_output_folder_give_one_whole_result(
    fresh_project: Project, tmp_path: Path, tally
) -> None:
    """Two discoveries at once into the same folder: one waits for the other (a lock per output folder), each
    writes its own scratch, and the published result is one run, whole: every aircraft of its archive."""
    import subprocess
    import sys

    from analysis.paths import REPO_DIR

    a = _tar(tmp_path / "a.tar", _good_members())
    more = [f"15{i:04x}" for i in range(12)]
    b = _tar(tmp_path / "b.tar", [(_member(h), _disc_trace(h)) for h in more])
    out = tmp_path / "out"
    env = dict(os.environ, FLIGHTS_ROOT=str(fresh_project.root))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "analysis.discover",
                str(x),
                "--out",
                str(out),
                "--no-reported",
                "--processes",
                "1",
            ],
            cwd=REPO_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for x in (a, b)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    import polars as pl

    aircraft = sorted(set(pl.read_parquet(out / "disc_aircraft.parquet")["icao24"]))
    want = sorted(_GOOD) if manifest["inputs"] == [str(a)] else sorted(more)
    assert aircraft == want and manifest["aircraft"] == len(want), (manifest, aircraft)
    assert pl.read_parquet(out / "disc_legs.parquet")["icao24"].n_unique() == len(want)
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]
    assert not [p for p in (tmp_path / "out.runs").iterdir() if ".partial" in p.name]
    tally(True)


def test_a_reader_of_a_discovery_being_published_sees_the_old_run_or_the_new(
    fresh_project: Project, tmp_path: Path, tally
) -> None:
    from analysis import site
    from analysis.discover import _publish

    out = fresh_project.derived / "discover"

    def run(n: int):
        def write(folder: Path) -> None:
            for f in site.DISCOVER_FILES:
                (folder / f).write_text(f"run {n}", encoding="utf-8")

        return write

    # an output of older code (a real folder) becomes a kept run, and the link replaces it
    out.mkdir(parents=True)
    for f in site.DISCOVER_FILES:
        (out / f).write_text("legacy", encoding="utf-8")
    _publish(out, run(1))
    assert out.is_symlink() and (out / "manifest.json").read_text() == "run 1"
    with site.pinned_discovery(fresh_project) as pinned:
        _publish(out, run(2))  # published while a report reads
        assert site.discover_dir(fresh_project) == pinned
        assert {(pinned / f).read_text() for f in site.DISCOVER_FILES} == {"run 1"}  # whole, not a mix
    assert {(site.discover_dir(fresh_project) / f).read_text() for f in site.DISCOVER_FILES} == {"run 2"}
    (tmp_path / "other").mkdir()
    (fresh_project.derived / "discover.runs" / "unrelated").mkdir()
    assert out.is_symlink()
    tally(True)


def _disc_output(project: Project, built_project: Project) -> Path:
    """A study folder whose discovery output is a hand-made copy of a small real one (shared by the cases below)."""
    project.derived.mkdir(parents=True, exist_ok=True)
    project.raw.parent.mkdir(parents=True, exist_ok=True)
    if not project.raw.exists():
        project.raw.symlink_to(built_project.raw)
    (project.derived / "current").symlink_to(built_project.current.resolve())
    folder = project.derived / "discover"
    folder.mkdir()
    import polars as pl

    from analysis.discover.rules import CANDIDATE_COLUMNS

    row = {c: None for c in CANDIDATE_COLUMNS} | {
        "candidate_id": "1522a4-20251026T0030",
        "icao24": "1522a4",
        "status": "new",
        "n_legs": 1,
        "route": "UUEE > SVMI",
    }
    pl.DataFrame([row]).write_parquet(folder / "out_candidates.parquet")
    pl.DataFrame(
        {
            "candidate_id": ["1522a4-20251026T0030"],
            "leg_no": [1],
            "dep_icao": ["UUEE"],
            "arr_icao": ["SVMI"],
            "dep_lat": [55.97],
            "dep_lon": [37.41],
            "arr_lat": [10.60],
            "arr_lon": [-66.99],
        }
    ).write_parquet(folder / "out_candidate_legs.parquet")
    (folder / "manifest.json").write_text(json.dumps({"inputs": ["day.tar"], "aircraft": 1, "legs": 1}))
    return folder


_BROKEN_DISCOVERY = [
    ("manifest-not-json", lambda f: (f / "manifest.json").write_text("{", encoding="utf-8"), "JSON"),
    (
        "manifest-a-list",
        lambda f: (f / "manifest.json").write_text("[1, 2]", encoding="utf-8"),
        "JSON object",
    ),
    (
        "candidates-not-parquet",
        lambda f: (f / "out_candidates.parquet").write_bytes(b"PAR1 garbage PAR1"),
        "Error",
    ),
    (
        "candidates-truncated",
        lambda f: (f / "out_candidates.parquet").write_bytes(
            (f / "out_candidates.parquet").read_bytes()[:-40]
        ),
        "Error",
    ),
    (
        "candidates-missing-columns",
        lambda f: __import__("polars").DataFrame({"x": [1]}).write_parquet(f / "out_candidates.parquet"),
        "missing candidate_id",
    ),
    ("legs-not-parquet", lambda f: (f / "out_candidate_legs.parquet").write_bytes(b"not parquet"), "Error"),
]


@pytest.mark.parametrize("name,damage,needle", _BROKEN_DISCOVERY, ids=[c[0] for c in _BROKEN_DISCOVERY])
def test_a_broken_discovery_output_fails_only_the_candidates_page(
    name, damage, needle, built_project: Project, tmp_path: Path, tally
) -> None:
    from analysis import site

    project = Project(tmp_path / "study")
    folder = _disc_output(project, built_project)
    assert "<table" in site.candidates_body(project)  # the hand-made output is shown when intact
    damage(folder)
    page = site.candidates_body(project)
    assert "The discovery output could not be read" in page and needle in page, page
    assert "make discover" in page
    site.dictionary_body(project)  # the other pages that read the output still build
    entries = site.search_index(project, [])
    assert [e for e in entries if e["kind"] == "episode" or e["kind"] == "source"]
    tally(True)
