"""Read and check the raw evidence base against :mod:`analysis.schema`.

Every problem is reported with the file, the line, the field, what was expected and what was found, e.g.::

    data/raw/stops.csv, line 7, field 'arr_time': expected a time as reported ..., got '2019-03-23T15:12'

All problems in all files are collected and raised together as :class:`RawValidationError`, so one run shows
a curator everything to fix. Nothing is written anywhere.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from . import geo, safeio
from .schema import HEX_PATTERN, ID_PATTERN, SAFE_ID_PATTERN, TABLES, Column, Table
from .timespec import TimeSpecError, parse

__all__ = [
    "RawDataError",
    "RawValidationError",
    "Raw",
    "load_raw",
    "MAX_CELL_CHARS",
    "text_problem",
    "describe_char",
    "RESERVED_EPISODE_PREFIX",
    "REGISTRATION_PATTERN",
    "ASCII_KINDS",
    "PATTERN_PARAMETERS",
    "parse_parameters",
    "TYPE_DESIGNATOR_PATTERN",
    "REGISTRATION_PREFIX_PATTERN",
]

MAX_CELL_CHARS = 4000
_ID = re.compile(ID_PATTERN)
_SAFE_ID = re.compile(SAFE_ID_PATTERN)
_HEX = re.compile(HEX_PATTERN)
#: aircraft registrations as painted: a nationality prefix, an optional dash, the mark (RA-78765, N123AB)
REGISTRATION_PATTERN = r"^[A-Z0-9]{1,3}-?[A-Z0-9]{1,6}$"
_REGISTRATION = re.compile(REGISTRATION_PATTERN)
#: numbers in ASCII digits only (Python's int()/float() also take fullwidth and Arabic-Indic digits and 1_000)
_INT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
#: episode ids that the build generates for observed trips (analysis.observed); curated data may not use them
RESERVED_EPISODE_PREFIX = "obs-"
#: kinds whose values are codes, ids, numbers or addresses: printable ASCII only
ASCII_KINDS = frozenset(
    {
        "id",
        "safe_id",
        "ids",
        "hex",
        "enum",
        "bool",
        "int",
        "float",
        "country",
        "icao",
        "tz",
        "timespec",
        "url",
        "date",
        "registration",
    }
)
#: free-text kinds, where a line break inside a quoted cell is allowed
_MULTILINE_KINDS = frozenset({"str"})
_ASCII_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
#: the parameters each discovery trip pattern takes (interest_patterns.csv), each with its closed range; every
#: pattern needs a row, and a parameter missing, unknown, repeated, out of range or not a finite number is refused
PATTERN_PARAMETERS: dict[str, dict[str, tuple[float, float]]] = {
    "landed_in_region": {},
    "departed_region": {},
    "crossed_atlantic": {"meridian_lon": (-180.0, 180.0), "lat_min": (-90.0, 90.0), "lat_max": (-90.0, 90.0)},
    "dark_over_ocean": {"min_gap_min": (1.0, 1440.0)},
    "trip": {"max_stop_h": (0.1, 720.0)},
}
#: parameters that are the two ends of one range: the first must be below the second
PATTERN_BOUNDS = (("crossed_atlantic", "lat_min", "lat_max"),)
#: ICAO type designators (Doc 8643): 2-4 capital letters and digits, starting with a letter (IL76, A124, T160)
TYPE_DESIGNATOR_PATTERN = r"^[A-Z][A-Z0-9]{1,3}$"
#: registration prefixes (nationality marks) as painted: 1-3 capital letters or digits, optionally the dash (RA-)
REGISTRATION_PREFIX_PATTERN = r"^[A-Z0-9]{1,3}-?$"
_ASCII_TEXT = re.compile(r"^[\x20-\x7e\n]*$")


def describe_char(ch: str) -> str:
    """``U+0410 CYRILLIC CAPITAL LETTER A``: a character named so that a curator can find it."""
    name = unicodedata.name(ch, None)
    if name is None:
        cat = unicodedata.category(ch)
        name = {
            "Cc": "a control character",
            "Cn": "an unassigned code point or non-character",
            "Cs": "a surrogate",
            "Co": "a private-use character",
        }.get(cat, f"category {cat}")
    return f"U+{ord(ch):04X} {name}"


def _is_noncharacter(o: int) -> bool:
    return 0xFDD0 <= o <= 0xFDEF or (o & 0xFFFE) == 0xFFFE


def _bad_char(value: str, allow_newline: bool) -> tuple[int, str, str] | None:
    """The first character not allowed in any text field: (1-based position, char, why)."""
    for i, ch in enumerate(value, 1):
        if ch == "\n" and allow_newline:
            continue
        if ch == "\r" and allow_newline and value[i : i + 1] == "\n":
            continue
        o = ord(ch)
        if o < 0x80:
            if o < 0x20 or o == 0x7F:
                return i, ch, "a control character"
            continue
        cat = unicodedata.category(ch)
        if _is_noncharacter(o):
            return i, ch, "a non-character"
        if ch in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
            return i, ch, "a bidirectional control (it reorders how text is displayed)"
        if cat == "Cf":
            return i, ch, "an invisible format character (zero-width or similar)"
        if cat in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
            return (
                i,
                ch,
                {
                    "Cc": "a control character",
                    "Cs": "a surrogate",
                    "Co": "a private-use character",
                    "Cn": "an unassigned code point",
                    "Zl": "a line separator",
                    "Zp": "a paragraph separator",
                }[cat],
            )
    return None


def text_problem(
    value: str, *, ascii_only: bool = False, allow_newline: bool = False
) -> tuple[str, str] | None:
    """Text hygiene for any text field: ``(expected, found)`` when ``value`` is not acceptable, else None.

    Refused everywhere: control characters (a line break only inside free text), bidirectional controls,
    zero-width and other invisible format characters, non-characters (U+FFFE ...), unassigned code points,
    and text not in Unicode NFC form. With ``ascii_only`` (ids, codes, numbers, addresses) every character
    must be printable ASCII; the first other one is named, e.g. ``U+0410 CYRILLIC CAPITAL LETTER A at
    position 2``.
    """
    if (_ASCII_TEXT if allow_newline else _ASCII_PRINTABLE).match(value):
        return None
    if ascii_only:
        for i, ch in enumerate(value, 1):
            if not (" " <= ch <= "~"):
                return (
                    "printable ASCII only (letters A-Z, digits 0-9 and the punctuation the field allows)",
                    f"{describe_char(ch)} at position {i}",
                )
    if value.isprintable() and unicodedata.is_normalized("NFC", value):
        return None  # the common case, at C speed: every character _bad_char refuses is one isprintable() refuses
    bad = _bad_char(value, allow_newline)
    if bad is not None:
        i, ch, why = bad
        return (
            "text without control characters, bidirectional controls, invisible (zero-width) characters "
            "or non-characters",
            f"{describe_char(ch)} ({why}) at position {i}",
        )
    if not unicodedata.is_normalized("NFC", value):
        return (
            "text in Unicode NFC form (composed characters, e.g. 'é' as one character, not 'e' plus a "
            "combining accent)",
            "decomposed text",
        )
    return None


def parse_parameters(text: str | None, pattern: str) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """``name=number;name=number`` of a trip pattern -> ({name: value}, [(expected, got)] problems).

    Each name must be one the pattern takes (:data:`PATTERN_PARAMETERS`), given once, with a finite number in
    ASCII digits inside its range; every parameter of the pattern must be given; ranges are in order.
    """
    spec = PATTERN_PARAMETERS.get(pattern)
    values: dict[str, float] = {}
    problems: list[tuple[str, str]] = []
    if spec is None:
        return values, problems  # an unknown pattern id is reported by its enum column
    names = ", ".join(spec) or "no parameters"
    for item in (text or "").split(";"):
        if not item.strip():
            continue
        name, eq, raw = (part.strip() for part in item.partition("="))
        if not eq or not name:
            problems.append(("name=number items separated by ';'", item.strip()))
            continue
        if name not in spec:
            problems.append((f"a parameter of pattern {pattern} ({names})", f"unknown parameter {name!r}"))
            continue
        if name in values:
            problems.append(("each parameter once (rule: no repeated keys)", f"{name!r} given twice"))
            continue
        if not _FLOAT.match(raw):
            problems.append((f"{name}=<a finite number in ASCII digits>", item.strip()))
            continue
        value = float(raw)
        lo, hi = spec[name]
        if not math.isfinite(value) or not lo <= value <= hi:
            problems.append((f"{name} between {lo:g} and {hi:g}", item.strip()))
            continue
        values[name] = value
    for name in spec:
        if name not in values and not any(name in got for _, got in problems):
            problems.append((f"parameter {name} (pattern {pattern} takes {names})", "no such parameter"))
    for pat, low, high in PATTERN_BOUNDS:
        if pat == pattern and low in values and high in values and not values[low] < values[high]:
            problems.append(
                (
                    f"{low} below {high} (the two ends of one range, in order)",
                    f"{low}={values[low]:g}, {high}={values[high]:g}",
                )
            )
    return values, problems


@dataclass(frozen=True)
class RawDataError:
    """One problem in one cell (or row, or file) of a raw file."""

    file: str
    line: int | None
    field: str | None
    expected: str
    got: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        got = "" if self.got is None else f", got {self.got[:120]!r}"
        return f"{', '.join(where)}: expected {self.expected}{got}"


class RawValidationError(ValueError):
    """The raw data has problems; ``errors`` lists each one."""

    def __init__(self, errors: list[RawDataError]):
        self.errors = errors
        shown = "\n".join(f"  - {e}" for e in errors[:60])
        more = f"\n  ... and {len(errors) - 60} more" if len(errors) > 60 else ""
        super().__init__(
            f"{len(errors)} problem(s) in data/raw:\n{shown}{more}\n"
            "Every raw table's columns, allowed values, id rules and examples: docs/evidence.md"
        )


@dataclass
class Raw:
    """The validated raw tables as typed polars DataFrames, plus the line number of each row."""

    tables: dict[str, pl.DataFrame]

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


def _read_text(path: Path, rel: str, errors: list[RawDataError], data: bytes | None = None) -> str | None:
    if data is None:
        try:
            data = safeio.read_bytes(path, rel, max_bytes=safeio.MAX_TABLE_BYTES, root=path.parent)
        except FileNotFoundError:
            errors.append(
                RawDataError(
                    rel, None, None, "this file to exist (every table in analysis/schema.py is required)"
                )
            )
            return None
        except safeio.UnsafeInputError as exc:
            errors.append(
                RawDataError(
                    rel,
                    None,
                    None,
                    str(exc).split("expected ", 1)[-1].split(", got ")[0],
                    str(exc).split(", got ", 1)[-1],
                )
            )
            return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        errors.append(
            RawDataError(rel, line, None, "UTF-8 text", f"byte 0x{data[exc.start]:02x} at offset {exc.start}")
        )
        return None


def _convert(col: Column, raw: str, rel: str, line: int, errors: list[RawDataError]) -> Any:
    """Check and convert one cell. Returns the typed value or None (and records an error if bad)."""
    value = raw.strip()
    if len(value) > MAX_CELL_CHARS:
        errors.append(
            RawDataError(
                rel, line, col.name, f"at most {MAX_CELL_CHARS} characters", f"{len(value)} characters"
            )
        )
        return None
    kind = col.kind
    if (
        kind == "str" and col.name == "registration"
    ):  # registrations are codes, whatever the schema calls them
        kind = "registration"
    problem = text_problem(value, ascii_only=kind in ASCII_KINDS, allow_newline=kind in _MULTILINE_KINDS)
    if problem is not None:
        errors.append(RawDataError(rel, line, col.name, problem[0], f"{problem[1]} in {value[:60]!r}"))
        return None
    if value == "":
        if col.required:
            errors.append(RawDataError(rel, line, col.name, "a value (this column is required)", ""))
        return None

    def bad(expected: str) -> None:
        errors.append(RawDataError(rel, line, col.name, expected, value))

    if kind in ("str", "url", "tz", "timespec"):
        if kind == "url" and not re.match(r"^https?://[^\s<>\"']+$", value):
            bad("an http:// or https:// address without spaces or quotes")
            return None
        if kind == "tz":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                bad("an IANA time zone such as America/Caracas")
                return None
        return value
    if kind == "registration":
        if not _REGISTRATION.match(value):
            bad(
                f"a registration as painted, in capital ASCII letters and digits ({REGISTRATION_PATTERN}), "
                "e.g. RA-78765"
            )
            return None
        return value
    if kind == "id":
        if not _ID.match(value):
            bad(f"an id matching {ID_PATTERN}")
            return None
        return value
    if kind == "safe_id":
        if not _SAFE_ID.match(value):
            bad(
                f"an id of lowercase letters, digits and dashes ({SAFE_ID_PATTERN}); it is used in file names"
            )
            return None
        return value
    if kind == "ids":
        parts = [p.strip() for p in value.split(";")]
        if any(not _ID.match(p) for p in parts):
            bad(f"one or more ids separated by ';', each matching {ID_PATTERN}")
            return None
        if len(set(parts)) != len(parts):
            bad("ids without repeats")
            return None
        return ";".join(parts)
    if kind == "hex":
        if not _HEX.match(value):
            bad("6 lowercase hexadecimal digits, e.g. 1522a4")
            return None
        return value
    if kind == "enum":
        if value not in col.enum:
            bad(f"one of {', '.join(col.enum)}")
            return None
        return value
    if kind == "bool":
        if value.lower() not in ("true", "false"):
            bad("true or false")
            return None
        return value.lower() == "true"
    if kind in ("int", "float"):
        if not (_INT if kind == "int" else _FLOAT).match(value):
            if kind == "float" and value.lower().lstrip("+-") in ("nan", "inf", "infinity"):
                bad("a finite number")
            else:
                bad(
                    "a whole number in ASCII digits"
                    if kind == "int"
                    else "a number in ASCII digits (e.g. 12.5), without separators"
                )
            return None
        number: float | int = int(value) if kind == "int" else float(value)
        if kind == "float" and not math.isfinite(number):  # NaN, inf: float() accepts them, no fact is one
            bad("a finite number")
            return None
        if (col.min is not None and number < col.min) or (col.max is not None and number > col.max):
            bad(f"a number between {col.min} and {col.max}")
            return None
        return number
    if kind == "country":
        if geo.country(value) is None:
            bad("an ISO 3166-1 alpha-2 country code such as VE")
            return None
        return value
    if kind == "icao":
        # a code airportsdata lacks is allowed only with a sourced location (checked per place in load_raw)
        if geo.airport(value) is None and not re.match(r"^[A-Z][A-Z0-9]{3}$", value):
            bad("an ICAO airport code known to airportsdata, e.g. SVMI")
            return None
        return value
    raise AssertionError(f"unknown column kind {kind}")


_UNSEEN = object()


def _read_table(
    root: Path, table: Table, errors: list[RawDataError], data: bytes | None = None
) -> tuple[list[dict], list[int]]:
    rel = f"data/raw/{table.name}.csv"
    text = _read_text(root / f"{table.name}.csv", rel, errors, data)
    if text is None:
        return [], []
    if not text.strip():
        errors.append(
            RawDataError(rel, 1, None, "a header row: " + ",".join(table.column_names), "an empty file")
        )
        return [], []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        errors.append(RawDataError(rel, 1, None, "a CSV header row", str(exc)))
        return [], []
    missing = [c for c in table.column_names if c not in header]
    extra = [h for h in header if h not in table.column_names]
    dupes = sorted({h for h in header if header.count(h) > 1})
    for name in missing:
        errors.append(
            RawDataError(
                rel,
                1,
                name,
                f"column '{name}' in the header ({table.columns and table.column(name).description})",
                "no such column",
            )
        )
    for name in extra:
        errors.append(
            RawDataError(
                rel,
                1,
                name,
                "only the columns " + ", ".join(table.column_names),
                f"unexpected column {name!r}",
            )
        )
    for name in dupes:
        errors.append(RawDataError(rel, 1, name, "each column once", "a repeated column"))
    if missing or extra or dupes:
        return [], []
    rows: list[dict] = []
    lines: list[int] = []
    known: dict[tuple[str, str], Any] = {}  # (column, cell) -> converted value, for cells that repeat
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(
                RawDataError(rel, reader.line_num, None, "well-formed CSV (balanced quotes)", str(exc))
            )
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            errors.append(
                RawDataError(
                    rel, line, None, f"{len(header)} fields as in the header", f"{len(values)} fields"
                )
            )
            continue
        cells = dict(zip(header, values, strict=True))
        row = {}
        for c in table.columns:
            raw = cells[c.name]
            value = known.get((c.name, raw), _UNSEEN)
            if value is _UNSEEN:
                before = len(errors)
                value = _convert(c, raw, rel, line, errors)
                if len(errors) == before:  # a cell that converts cleanly converts the same on every line
                    known[(c.name, raw)] = value
            row[c.name] = value
        rows.append(row)
        lines.append(line)
    return rows, lines


_POLARS = {
    "int": pl.Int64,
    "float": pl.Float64,
    "bool": pl.Boolean,
}


def _frame(table: Table, rows: list[dict], lines: list[int]) -> pl.DataFrame:
    schema = {c.name: _POLARS.get(c.kind, pl.String) for c in table.columns}
    df = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return df.with_columns(pl.Series("_line", lines, dtype=pl.Int64))


def _place_tz(place: dict) -> str | None:
    if place.get("tz"):
        return place["tz"]
    for code in (place.get("icao"), place.get("inferred_icao")):
        if code and (a := geo.airport(code)):
            return a["tz"]
    return None


def load_raw(raw_dir: Path, data: dict[str, bytes | None] | None = None) -> Raw:
    """Read and check every raw table; raise :class:`RawValidationError` listing all problems.

    ``data`` maps table names to the bytes of their CSV files, already read (and checksummed) by
    :func:`analysis.provenance.snapshot`: the tables are then parsed from exactly those bytes and the files are
    not opened again (``None`` for a table: its file is missing). Without ``data`` each file is read here.
    """
    errors: list[RawDataError] = []
    rows: dict[str, list[dict]] = {}
    lines: dict[str, list[int]] = {}
    for t in TABLES:
        if data is not None and t.name in data and data[t.name] is None:
            errors.append(
                RawDataError(
                    f"data/raw/{t.name}.csv",
                    None,
                    None,
                    "this file to exist (every table in analysis/schema.py is required)",
                )
            )
            rows[t.name], lines[t.name] = [], []
            continue
        rows[t.name], lines[t.name] = _read_table(raw_dir, t, errors, (data or {}).get(t.name))

    def rel(name: str) -> str:
        return f"data/raw/{name}.csv"

    # keys and uniqueness
    keys: dict[str, set] = {}
    for t in TABLES:
        seen: dict[tuple, int] = {}
        for row, line in zip(rows[t.name], lines[t.name], strict=True):
            k = tuple(row[c] for c in t.key)
            if any(v is None for v in k):
                continue
            if k in seen:
                errors.append(
                    RawDataError(
                        rel(t.name),
                        line,
                        ",".join(t.key),
                        f"a unique key (already used on line {seen[k]})",
                        ",".join(map(str, k)),
                    )
                )
            else:
                seen[k] = line
        keys[t.name] = set(seen)
        for cols in t.unique:
            useen: dict[tuple, int] = {}
            for row, line in zip(rows[t.name], lines[t.name], strict=True):
                k = tuple(row[c] for c in cols)
                if any(v is None for v in k):
                    continue
                if k in useen:
                    errors.append(
                        RawDataError(
                            rel(t.name),
                            line,
                            ",".join(cols),
                            f"a unique combination (already used on line {useen[k]})",
                            ",".join(map(str, k)),
                        )
                    )
                useen.setdefault(k, line)

    # generated episode ids (observed trips) live in a namespace curated data cannot use
    for row, line in zip(rows["episodes"], lines["episodes"], strict=True):
        if (row.get("episode_id") or "").startswith(RESERVED_EPISODE_PREFIX):
            errors.append(
                RawDataError(
                    rel("episodes"),
                    line,
                    "episode_id",
                    f"an id not starting with "
                    f"'{RESERVED_EPISODE_PREFIX}' (reserved for episodes the build generates "
                    "from observed flight records)",
                    row["episode_id"],
                )
            )

    # references
    for t in TABLES:
        for c in t.columns:
            if not c.ref:
                continue
            ref_table, ref_col = c.ref.split(".")
            valid = {k[0] for k in keys.get(ref_table, set())}
            for row, line in zip(rows[t.name], lines[t.name], strict=True):
                v = row[c.name]
                if v is None:
                    continue
                for part in v.split(";") if c.kind == "ids" else [v]:
                    if part not in valid:
                        errors.append(
                            RawDataError(
                                rel(t.name),
                                line,
                                c.name,
                                f"an id that exists in {ref_table}.csv ({ref_col})",
                                part,
                            )
                        )

    places = {r["place_id"]: r for r in rows["places"] if r["place_id"]}
    located = {
        r["icao"] for r in rows["places"] if r["icao"] and r["lat"] is not None and r["lon"] is not None
    }
    # places: precision rules
    for row, line in zip(rows["places"], lines["places"], strict=True):
        for col in ("icao", "inferred_icao"):
            if row[col] and geo.airport(row[col]) is None and row[col] not in located:
                errors.append(
                    RawDataError(
                        rel("places"),
                        line,
                        col,
                        "an ICAO airport code known to airportsdata, e.g. "
                        "SVMI, or an airport row with that icao and a sourced lat and lon "
                        "(see docs/evidence.md)",
                        row[col],
                    )
                )
        if (row["lat"] is None) != (row["lon"] is None):
            errors.append(
                RawDataError(
                    rel("places"),
                    line,
                    "lon" if row["lon"] is None else "lat",
                    "lat and lon together (a sourced location needs both)",
                    "",
                )
            )
        if row["lat"] is not None and (row["precision"] != "airport" or not row["source_ids"]):
            errors.append(
                RawDataError(
                    rel("places"),
                    line,
                    "lat",
                    "a sourced location only on an airport row that cites its source in source_ids",
                    str(row["lat"]),
                )
            )
        check_closed = row["closed"]
        if check_closed:
            try:
                parse(check_closed, None)
            except TimeSpecError as exc:
                errors.append(RawDataError(rel("places"), line, "closed", str(exc), check_closed))
        if row["precision"] != "region" and not row["country"]:
            errors.append(
                RawDataError(
                    rel("places"),
                    line,
                    "country",
                    "an ISO 3166-1 alpha-2 country (required unless precision is 'region')",
                    "",
                )
            )
        if row["precision"] == "airport" and not row["icao"]:
            errors.append(
                RawDataError(
                    rel("places"), line, "icao", "an ICAO code for a place of precision 'airport'", ""
                )
            )
        if row["precision"] != "airport" and row["icao"]:
            errors.append(
                RawDataError(
                    rel("places"),
                    line,
                    "icao",
                    "no ICAO code unless precision is 'airport' (use inferred_icao for a guess)",
                    row["icao"],
                )
            )
        if row["inferred_icao"] and not row["inference_basis"]:
            errors.append(
                RawDataError(
                    rel("places"), line, "inference_basis", "the reason for the inferred airport", ""
                )
            )
        if row["precision"] != "airport" and not _place_tz(row):
            errors.append(
                RawDataError(
                    rel("places"),
                    line,
                    "tz",
                    "an IANA zone for a city or country place without an inferred airport",
                    "",
                )
            )
        if row["lat"] is not None and not _place_tz(row):
            errors.append(
                RawDataError(rel("places"), line, "tz", "an IANA zone for an airport located by lat/lon", "")
            )
        code = row["icao"] or row["inferred_icao"]
        if code and row["country"] and (a := geo.airport(code)) and a["country"] != row["country"]:
            errors.append(
                RawDataError(
                    rel("places"),
                    line,
                    "country",
                    f"the country of airport {code} ({a['country']})",
                    row["country"],
                )
            )

    # times
    def check_time(table: str, row: dict, line: int, col: str, tz: str | None) -> None:
        try:
            parse(row[col], tz)
        except TimeSpecError as exc:
            errors.append(
                RawDataError(
                    rel(table),
                    line,
                    col,
                    str(exc).split("; expected ", 1)[-1] if "; expected " in str(exc) else str(exc),
                    row[col],
                )
            )

    for row, line in zip(rows["stops"], lines["stops"], strict=True):
        tz = _place_tz(places[row["place_id"]]) if row["place_id"] in places else None
        for col in ("arr_time", "dep_time", "reported_on"):
            check_time("stops", row, line, col, tz)
        if row["order_basis"] == "inferred" and not row["order_inference"]:
            errors.append(
                RawDataError(
                    rel("stops"),
                    line,
                    "order_inference",
                    "how the order was inferred (required when order_basis is inferred)",
                    "",
                )
            )
        try:
            arr, dep = parse(row["arr_time"], tz), parse(row["dep_time"], tz)
            if arr.earliest is not None and dep.latest is not None and dep.latest <= arr.earliest:
                errors.append(
                    RawDataError(
                        rel("stops"),
                        line,
                        "dep_time",
                        f"a departure after the arrival {row['arr_time']}",
                        row["dep_time"],
                    )
                )
        except TimeSpecError:
            pass
    for row, line in zip(rows["events"], lines["events"], strict=True):
        for col in ("start", "end", "reported_on"):
            check_time("events", row, line, col, row["tz"])
        try:
            start, end = parse(row["start"], row["tz"]), parse(row["end"], row["tz"])
            if start.earliest is not None and end.latest is not None and end.latest <= start.earliest:
                errors.append(
                    RawDataError(
                        rel("events"), line, "end", f"an end after the start {row['start']}", row["end"]
                    )
                )
        except TimeSpecError:
            pass
    for row, line in zip(rows["sources"], lines["sources"], strict=True):
        check_time("sources", row, line, "published", None)
    for name, col in (
        ("host_statements", "made_on"),
        ("census_excluded", "when"),
        ("census_log", "searched_on"),
    ):
        for row, line in zip(rows[name], lines[name], strict=True):
            check_time(name, row, line, col, None)
    # a study with no flight yet: the first rows to write
    if not rows["episodes"] and not any(e.file == rel("episodes") for e in errors):
        errors.append(
            RawDataError(
                rel("episodes"),
                2,
                "episode_id",
                "at least one episode: write the first flight "
                "as a row of episodes.csv and its route in stops.csv (see docs/evidence.md)",
                "no rows",
            )
        )
    # the study: one row; its home countries are countries
    if len(rows["study"]) != 1 and not any(e.file == rel("study") and e.line == 1 for e in errors):
        errors.append(
            RawDataError(
                rel("study"), None, None, "exactly one row describing the study", f"{len(rows['study'])} rows"
            )
        )
    for row, line in zip(rows["study"], lines["study"], strict=True):
        for col in ("period_start", "period_end"):
            check_time("study", row, line, col, None)
        for code in (row["home_countries"] or "").split(";"):
            if code and geo.country(code.strip()) is None:
                errors.append(
                    RawDataError(
                        rel("study"),
                        line,
                        "home_countries",
                        "';'-separated ISO 3166-1 alpha-2 codes such as RU",
                        code,
                    )
                )
    for row, line in zip(rows["corridors"], lines["corridors"], strict=True):
        if row["role"] == "destination" and row["jump_off"]:
            errors.append(
                RawDataError(
                    rel("corridors"),
                    line,
                    "jump_off",
                    "no jump-off kind for a destination area (a crossing starts on the other side)",
                    row["jump_off"],
                )
            )
    # every stop's area (its country, or a region place) is classified in corridors.csv: findings read its role
    areas = {r["area"] for r in rows["corridors"] if r["area"]}
    for row, line in zip(rows["stops"], lines["stops"], strict=True):
        place = places.get(row["place_id"] or "")
        if not place:
            continue
        area = place["place_id"] if place["precision"] == "region" else place["country"]
        if area and area not in areas:
            errors.append(
                RawDataError(
                    rel("stops"),
                    line,
                    "place_id",
                    f"a place whose area ({area}) has a row in "
                    "corridors.csv (home, staging or destination), so that findings can place "
                    "the stop",
                    row["place_id"],
                )
            )
    # relay chains: a page relays another page, never itself, and no chain comes back to where it started
    relays = {r["source_id"]: r["relays_source_id"] for r in rows["sources"] if r["source_id"]}
    for row, line in zip(rows["sources"], lines["sources"], strict=True):
        sid, target = row["source_id"], row["relays_source_id"]
        if not sid or not target:
            continue
        if target == sid:
            errors.append(
                RawDataError(
                    rel("sources"),
                    line,
                    "relays_source_id",
                    "another source's id (a page cannot relay itself)",
                    target,
                )
            )
            continue
        chain, cur = [sid], target
        while cur and cur not in chain:
            chain.append(cur)
            cur = relays.get(cur)
        if cur == sid:
            errors.append(
                RawDataError(
                    rel("sources"),
                    line,
                    "relays_source_id",
                    "a relay chain that ends at an original report (no cycle)",
                    " -> ".join(chain + [sid]),
                )
            )
    for row, line in zip(rows["sanctions"], lines["sanctions"], strict=True):
        check_time("sanctions", row, line, "effective", None)
        target = row["target_table"]
        if target and row["target_id"] and (row["target_id"],) not in keys.get(target, set()):
            errors.append(
                RawDataError(
                    rel("sanctions"),
                    line,
                    "target_id",
                    f"an id that exists in {target}.csv",
                    row["target_id"],
                )
            )

    # routes: seq 1..n per (episode, aircraft, variant); a main variant for every route; times in order
    routes: dict[tuple, list[tuple[int, int, dict]]] = {}
    for row, line in zip(rows["stops"], lines["stops"], strict=True):
        if row["seq"] is None or not row["episode_id"] or not row["aircraft_id"] or not row["variant"]:
            continue
        routes.setdefault((row["episode_id"], row["aircraft_id"], row["variant"]), []).append(
            (row["seq"], line, row)
        )
    mains = {(e, a) for (e, a, v) in routes if v == "main"}
    for (e, a, v), items in sorted(routes.items()):
        items.sort(key=lambda x: x[0])
        seqs = [s for s, _, _ in items]
        if seqs != list(range(1, len(seqs) + 1)):
            errors.append(
                RawDataError(
                    rel("stops"),
                    items[0][1],
                    "seq",
                    f"seq 1..{len(seqs)} without gaps for episode {e}, aircraft {a}, variant {v}",
                    ",".join(map(str, seqs)),
                )
            )
        if len(items) < 2:
            errors.append(
                RawDataError(
                    rel("stops"),
                    items[0][1],
                    "seq",
                    f"at least two stops for episode {e}, aircraft {a}, variant {v} (a route needs two ends)",
                    "1 stop",
                )
            )
        if (e, a) not in mains:
            errors.append(
                RawDataError(
                    rel("stops"),
                    items[0][1],
                    "variant",
                    f"a 'main' variant for episode {e}, aircraft {a} (other variants are alternatives to it)",
                    v,
                )
            )
        last = None
        for _, line, row in items:
            place = places.get(row["place_id"])
            tz = _place_tz(place) if place else None
            try:
                for col in ("arr_time", "dep_time"):
                    when = parse(row[col], tz)
                    if when.earliest is not None and when.latest is not None:
                        if last is not None and when.latest <= last[0]:
                            errors.append(
                                RawDataError(
                                    rel("stops"),
                                    line,
                                    col,
                                    f"a time not before the previous stop's time ({last[1]}) in reported order",
                                    row[col],
                                )
                            )
                        last = (when.earliest, row[col])
            except TimeSpecError:
                pass
    eps_with_stops = {e for (e, _, _) in routes}
    for row, line in zip(rows["episodes"], lines["episodes"], strict=True):
        if row["episode_id"] and row["episode_id"] not in eps_with_stops:
            errors.append(
                RawDataError(
                    rel("episodes"),
                    line,
                    "episode_id",
                    "at least one route (stops.csv rows) for this episode",
                    row["episode_id"],
                )
            )

    # conflicts
    positions = {(r["conflict_id"], r["position_id"]) for r in rows["conflict_positions"]}
    counts: dict[str, int] = {}
    for r in rows["conflict_positions"]:
        counts[r["conflict_id"]] = counts.get(r["conflict_id"], 0) + 1
    variants = {v for (_, _, v) in routes}
    record_ids = {r["stop_id"] for r in rows["stops"]} | {r["claim_id"] for r in rows["claims"]}
    for row, line in zip(rows["conflicts"], lines["conflicts"], strict=True):
        cid = row["conflict_id"]
        if cid and counts.get(cid, 0) < 2:
            errors.append(
                RawDataError(
                    rel("conflicts"),
                    line,
                    "conflict_id",
                    "at least two positions in conflict_positions.csv",
                    f"{counts.get(cid, 0)}",
                )
            )
        if row["working_position"] and (cid, row["working_position"]) not in positions:
            errors.append(
                RawDataError(
                    rel("conflicts"),
                    line,
                    "working_position",
                    "a position_id of this conflict in conflict_positions.csv",
                    row["working_position"],
                )
            )
        if row["working_position"] and not row["working_reason"]:
            errors.append(
                RawDataError(
                    rel("conflicts"), line, "working_reason", "the reason the working position is used", ""
                )
            )
    for row, line in zip(rows["conflict_positions"], lines["conflict_positions"], strict=True):
        if row["variant"] and row["variant"] not in variants:
            errors.append(
                RawDataError(
                    rel("conflict_positions"),
                    line,
                    "variant",
                    "a variant that exists in stops.csv",
                    row["variant"],
                )
            )
        for rid in (row["record_ids"] or "").split(";") if row["record_ids"] else []:
            if rid not in record_ids:
                errors.append(
                    RawDataError(
                        rel("conflict_positions"),
                        line,
                        "record_ids",
                        "stop_id or claim_id values that exist",
                        rid,
                    )
                )
    for row, line in zip(rows["watchlist"], lines["watchlist"], strict=True):
        if not row["icao_hex"] and not row["registration"]:
            errors.append(
                RawDataError(
                    rel("watchlist"), line, "icao_hex", "an ICAO hex or a registration (at least one)", ""
                )
            )

    errors += _interest_rule_errors(rows, lines)

    if errors:
        raise RawValidationError(errors)
    return Raw({t.name: _frame(t, rows[t.name], lines[t.name]) for t in TABLES})


def _interest_rule_errors(rows: dict[str, list[dict]], lines: dict[str, list[int]]) -> list[RawDataError]:
    """Discovery rules (data/raw/interest_*.csv): pattern parameters (types, ranges, order of bounds, repeated
    keys), a row for every pattern, address blocks in order, designators and prefixes in their form, and no rule
    that another row silently overrides (the same type, prefix or country twice)."""
    errors: list[RawDataError] = []

    def rel(name: str) -> str:
        return f"data/raw/{name}.csv"

    if "interest_patterns" not in rows:
        return errors
    seen_patterns = set()
    for row, line in zip(rows["interest_patterns"], lines["interest_patterns"], strict=True):
        pattern = row.get("pattern_id")
        if not pattern:
            continue
        seen_patterns.add(pattern)
        _values, problems = parse_parameters(row.get("parameters"), pattern)
        for expected, got in problems:
            errors.append(
                RawDataError(
                    rel("interest_patterns"),
                    line,
                    "parameters",
                    f"{expected} (rule: parameters of pattern {pattern})",
                    got,
                )
            )
    if rows["interest_patterns"] or lines["interest_patterns"]:
        for pattern in PATTERN_PARAMETERS:
            if pattern not in seen_patterns:
                errors.append(
                    RawDataError(
                        rel("interest_patterns"),
                        None,
                        "pattern_id",
                        f"a row for every pattern discovery applies ({', '.join(PATTERN_PARAMETERS)})",
                        f"no row for {pattern}",
                    )
                )
    for row, line in zip(
        rows.get("interest_hex_blocks", []), lines.get("interest_hex_blocks", []), strict=True
    ):
        a, b = row.get("start_hex"), row.get("end_hex")
        if a and b and int(a, 16) > int(b, 16):
            errors.append(
                RawDataError(
                    rel("interest_hex_blocks"),
                    line,
                    "end_hex",
                    f"an address not below start_hex {a} (a block is an inclusive range, in order)",
                    b,
                )
            )
    for table, col, pattern, what in (
        (
            "interest_types",
            "type_code",
            TYPE_DESIGNATOR_PATTERN,
            "an ICAO type designator, 2-4 capital letters and digits starting with a letter, e.g. IL76",
        ),
        (
            "interest_registrations",
            "prefix",
            REGISTRATION_PREFIX_PATTERN,
            "a registration prefix as painted, 1-3 capital letters or digits and an optional dash, e.g. RA-",
        ),
    ):
        seen: dict[str, int] = {}
        for row, line in zip(rows.get(table, []), lines.get(table, []), strict=True):
            value = row.get(col)
            if not value:
                continue
            if pattern and not re.match(pattern, value):
                errors.append(RawDataError(rel(table), line, col, what, value))
                continue
            if value in seen:
                errors.append(
                    RawDataError(
                        rel(table),
                        line,
                        col,
                        f"each {col} once (already the rule on line "
                        f"{seen[value]}: a second row would silently replace it)",
                        value,
                    )
                )
            seen.setdefault(value, line)
    return errors
