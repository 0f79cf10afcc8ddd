"""Readers for observed flight records into ONE positions table (pyarrow, ``POSITIONS_SCHEMA``).

Formats (columns, units and options in docs/observed.md):

* ``readsb``  readsb / ADS-B Exchange / adsb.lol trace JSON, a single file (gzip sniffed from magic
  bytes, whatever the name) or a ``traces/`` tree (``traces/<xx>/trace_full_<hex>.json``).
* ``opensky`` OpenSky state vectors (``state_vectors_data4`` / pyopensky), CSV or parquet; metres
  and m/s converted to ft, kt and fpm. Rows with ``time - lastcontact > 15`` are stale (noise).
* ``fr24_csv`` / ``fr24_kml`` / ``fr24_json`` Flightradar24 exports (CSV and KML carry no aircraft
  address: pass ``options={"icao24": "..."}``).
* ``generic_csv`` any CSV with a user column mapping (see :func:`read_generic_csv`).

Every reader returns a :class:`ReadResult` (table in file order, reader-level noise counts).
Bad input raises :class:`TrackInputError` naming file, record, field and what was expected.
"""

from __future__ import annotations

import fnmatch
import io
import json
import logging
import math
import re
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import safeio
from . import arrays

__all__ = [
    "POSITIONS_SCHEMA",
    "FORMATS",
    "TrackInputError",
    "ReadResult",
    "read_track",
    "read_readsb_file",
    "readsb_metadata",
    "readsb_tree_files",
    "read_opensky",
    "read_fr24_csv",
    "read_fr24_kml",
    "read_fr24_json",
    "read_generic_csv",
    "icao_to_int",
    "icao_int",
    "trace_hex",
    "readsb_meta",
    "READSB_LIMITS",
    "ReadsbUnusual",
    "ReadsbDoc",
    "ReadsbColumns",
    "split_readsb",
    "parse_readsb_rows",
]

log = logging.getLogger(__name__)

FT_PER_M = 3.280839895
KT_PER_MS = 1.943844492
FPM_PER_MS = 196.8503937
KT_PER_KMH = 1 / 1.852

POSITIONS_SCHEMA = pa.schema(
    [
        ("icao24", pa.string()),
        ("registration", pa.string()),
        ("callsign", pa.string()),
        ("time_utc", pa.timestamp("us", tz="UTC")),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("alt_ft", pa.float32()),
        ("on_ground", pa.bool_()),
        ("gs_kt", pa.float32()),
        ("track_deg", pa.float32()),
        ("vrate_fpm", pa.float32()),
        ("source_format", pa.string()),
        ("readsb_flags", pa.uint8()),
    ]
)

FORMATS = ("readsb", "opensky", "fr24_csv", "fr24_kml", "fr24_json", "generic_csv")

_HEX_RE = re.compile(r"^~?[0-9a-f]{6}$")
# plausibility bounds: values outside mean a broken file, not a noisy fix
_T_MIN, _T_MAX = 631152000.0, 4102444800.0  # 1990-01-01 .. 2100-01-01
_ALT_MIN, _ALT_MAX = -2000.0, 150000.0
CALLSIGN_HOLD_S = 600.0  # a readsb callsign is not carried over a ground gap longer than this


class TrackInputError(ValueError):
    """Bad track input: the message names the file, the record, the field and what was expected."""


@dataclass
class ReadResult:
    """A reader's output: positions in file order plus counts of rows the reader itself dropped."""

    table: pa.Table
    noise: Counter = field(default_factory=Counter)
    #: readsb: the document's top level without the trace (parsed once, with the positions)
    header: dict | None = None


# --------------------------------------------------------------------------------------- helpers
def _err(path, record, fieldname, expected, got) -> TrackInputError:
    rec = f"record {record}" if record is not None else "file"
    fld = f", field '{fieldname}'" if fieldname else ""
    return TrackInputError(f"{path}: {rec}{fld}: expected {expected}, got {got!r}")


#: what a reader accepts besides a path: bytes already read (and checksummed) by the caller
BYTES_TYPES = (bytes, bytearray, memoryview, io.BytesIO)


def _label(src, label: str | None) -> str:
    if label:
        return label
    return "<bytes>" if isinstance(src, BYTES_TYPES) else str(src)


def _read_bytes(src, label: str) -> bytes:
    """The (decompressed) bytes of a track input: ``src`` is a path, read here once through :mod:`safeio`
    (regular files only, no link, FIFO or device, bounded size), or bytes / a ``BytesIO`` that the caller
    already read (the positions store reads each file once, hashes those bytes and parses the same bytes).
    Either way the size limit applies, and gzip is decompressed as a stream with a size cap."""
    if isinstance(src, BYTES_TYPES):
        data = src.getvalue() if isinstance(src, io.BytesIO) else bytes(src)
        if len(data) > safeio.MAX_FILE_BYTES:
            raise TrackInputError(
                f"{label}: file: expected at most {safeio.MAX_FILE_BYTES:,} bytes, got {len(data):,}"
            )
    else:
        # regular files only (no link, FIFO or device), bounded size
        try:
            data = safeio.read_bytes(Path(src), label)
        except safeio.UnsafeInputError as e:
            raise TrackInputError(str(e)) from None
        except OSError as e:
            raise TrackInputError(f"{label}: file: cannot read ({e})") from e
    if not data:
        raise TrackInputError(f"{label}: file: expected data, got an empty file")
    if data[:2] == b"\x1f\x8b":
        try:
            out = safeio.gunzip(data, label)
        except safeio.UnsafeInputError as e:
            raise TrackInputError(str(e)) from None
        except zlib.error as e:
            raise TrackInputError(
                f"{label}: file: expected valid gzip data, got a corrupt stream ({e})"
            ) from e
        except EOFError:
            raise TrackInputError(
                f"{label}: file: expected a complete gzip stream, got a truncated one"
            ) from None
        data = out
        if not data:
            raise TrackInputError(f"{label}: file: expected data, got an empty gzip member")
    return data


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TrackInputError(
            f"{label}: line {line} (byte {e.start}): expected UTF-8 text, got byte {data[e.start]:#04x}"
        ) from e


def _first_bad(values, ok) -> tuple[int, object]:
    i = int(np.flatnonzero(~ok)[0])
    return i, values[i]


def _to_float(values, label, fieldname, *, lo=-math.inf, hi=math.inf, allow_null=True, rec_base=0):
    """Python list / arrow array -> float64 numpy (NaN for null), validated; raises TrackInputError."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 1:
        arr, raw = values, None  # already numbers (the readsb fast path): checked, not copied
    elif isinstance(values, (pa.Array, pa.ChunkedArray)):
        if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
            arr = arrays.to_numpy(values).astype(np.float64, copy=False)
            raw = None
        else:
            raw = values.to_pylist()
            arr = None
    else:
        raw = values
        arr = None
    if arr is None:
        try:  # fast path; numeric strings are accepted as numbers (lenient)
            arr = np.array(raw, dtype=np.float64)
            if arr.ndim != 1:
                raise TypeError
        except (TypeError, ValueError):
            for i, v in enumerate(raw):
                if v is None or v == "":
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    try:
                        float(v)
                        if isinstance(v, bool):
                            raise ValueError
                        continue
                    except (TypeError, ValueError):
                        raise _err(
                            label, i + rec_base, fieldname, f"a number in [{lo:g}, {hi:g}]", v
                        ) from None
            arr = np.array([None if v == "" else v for v in raw], dtype=np.float64)
    if not allow_null and np.isnan(arr).any():
        i = int(np.flatnonzero(np.isnan(arr))[0])
        raise _err(label, i + rec_base, fieldname, "a number", None)
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _err(label, i + rec_base, fieldname, f"a number in [{lo:g}, {hi:g}]", float(arr[i]))
    return arr


def _make_table(
    n,
    *,
    icao24,
    registration,
    callsign,
    t_us,
    lat,
    lon,
    alt_ft,
    on_ground,
    gs_kt,
    track_deg,
    vrate_fpm,
    source_format,
    readsb_flags=None,
) -> pa.Table:
    def col(v, typ):
        if v is None:
            return pa.nulls(n, typ)
        if isinstance(v, (pa.Array, pa.ChunkedArray)):
            return v.cast(typ)
        if isinstance(v, str):
            return pa.DictionaryArray.from_arrays(
                arrays.from_numpy(np.zeros(n, np.int32)), arrays.strings([v])
            ).cast(typ)
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return arrays.from_numpy(v, typ, mask=np.isnan(v))
        if isinstance(v, np.ndarray) and v.dtype.kind in "biu":
            return arrays.from_numpy(v, typ)
        return pa.array(v, typ)

    t = arrays.from_numpy(np.asarray(t_us, dtype=np.int64), pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    cols = [
        col(icao24, pa.string()),
        col(registration, pa.string()),
        col(callsign, pa.string()),
        t,
        col(np.asarray(lat, np.float64), pa.float64()),
        col(np.asarray(lon, np.float64), pa.float64()),
        col(np.asarray(alt_ft, np.float32) if alt_ft is not None else None, pa.float32()),
        col(np.asarray(on_ground, bool), pa.bool_()),
        col(np.asarray(gs_kt, np.float32) if gs_kt is not None else None, pa.float32()),
        col(np.asarray(track_deg, np.float32) if track_deg is not None else None, pa.float32()),
        col(np.asarray(vrate_fpm, np.float32) if vrate_fpm is not None else None, pa.float32()),
        col(source_format, pa.string()),
        col(readsb_flags, pa.uint8()),
    ]
    return pa.Table.from_arrays(cols, schema=POSITIONS_SCHEMA)


def _norm_hex(h, label, record, fieldname="icao24") -> str:
    if not isinstance(h, str) or not _HEX_RE.match(h.strip().lower()):
        raise _err(label, record, fieldname, "a 24-bit ICAO address as 6 hex digits", h)
    return h.strip().lower()


def _check_time(t_s: np.ndarray, label, fieldname, rec_base=0):
    bad = ~((t_s >= _T_MIN) & (t_s <= _T_MAX))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _err(label, i + rec_base, fieldname, "a unix time between 1990 and 2100", float(t_s[i]))


# --------------------------------------------------------------------------------------- readsb
# One parser for readsb traces, used by the readers (a file), the observed store (a trace tree) and the day-archive
# ingest (batches of members): a fast path (:func:`split_readsb` cuts a document into its header and its trace rows
# as CSV lines, :func:`parse_readsb_rows` parses many documents' rows with ONE Arrow CSV call) and one exact path
# (:func:`_parse_readsb_obj`, stdlib JSON, precise errors). Both end in :func:`_readsb_columns`: the same limits
# (:data:`READSB_LIMITS`) and range checks, the same callsign rule. The fast path gives up (:class:`ReadsbUnusual`)
# on anything unusual, and a document it gives up on is read by the exact path, which names the bad record.

#: the range of each readsb trace field (a value outside means a broken file, not a noisy fix)
READSB_LIMITS = {
    "offset": (-86400.0, 10 * 86400.0),
    "alt": (_ALT_MIN, _ALT_MAX),
    "alt_geom": (_ALT_MIN, _ALT_MAX),
    "gs": (0.0, 5000.0),
    "track": (-360.0, 360.0),
    "flags": (0.0, 255.0),
    "vrate": (-100000.0, 100000.0),
}


class ReadsbUnusual(Exception):
    """The fast path cannot read this readsb document: the exact path reads it (and names what is wrong)."""


def icao_int(h: str) -> int:
    """A lower-case hex address as an integer (bit 24 set for a non-ICAO ``~`` address): the store's ``icao_int``.

    >>> icao_int("1510c2"), icao_int("~0000ff")
    (1380546, 16777471)
    """
    return (int(h[1:], 16) | (1 << 24)) if h.startswith("~") else int(h, 16)


def icao_to_int(icao) -> np.ndarray:
    """Lower-case hex addresses -> uint32 (:func:`icao_int` of each)."""
    return np.fromiter((icao_int(s) for s in icao), dtype=np.uint32, count=len(icao))


def trace_hex(name: str) -> str | None:
    """The aircraft address in a trace file's name (``trace_full_<hex>.json[.gz]``), or None."""
    h = Path(name).name.split(".")[0].rsplit("_", 1)[-1].lower()
    return h if _HEX_RE.match(h) else None


def _readsb_header(obj, label: str, watch_hex=None):
    """Validate the top level; returns (hex, timestamp, registration) or None when not watched."""
    if not isinstance(obj, dict):
        raise _err(label, None, None, "a JSON object with 'icao', 'timestamp', 'trace'", type(obj).__name__)
    for k in ("icao", "timestamp", "trace"):
        if k not in obj:
            raise _err(label, None, k, f"top-level key '{k}'", "missing")
    hexa = _norm_hex(obj["icao"], label, None, "icao")
    if watch_hex is not None and hexa not in watch_hex:
        return None
    ts = obj["timestamp"]
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not (_T_MIN <= ts <= _T_MAX):
        raise _err(label, None, "timestamp", "a unix time between 1990 and 2100", ts)
    if not isinstance(obj["trace"], list):
        raise _err(label, None, "trace", "a list of trace entries", type(obj["trace"]).__name__)
    r = obj.get("r")
    reg = (r.strip() or None) if isinstance(r, str) else None
    return hexa, ts, reg


def readsb_meta(head: dict, label: str) -> dict:
    """The aircraft facts of a readsb trace's top level (``head``, parsed once with the trace): ``icao`` (lower-case
    hex), and when present ``r`` (registration), ``t`` (ICAO type code), ``desc``, ``ownOp``, ``year``, ``dbFlags``
    (bit 1 = military)."""
    if not isinstance(head, dict) or "icao" not in head:
        raise _err(label, None, "icao", "a readsb trace object with 'icao'", type(head).__name__)
    out: dict[str, str | int] = {"icao": _norm_hex(head["icao"], label, None, "icao")}
    for key in ("r", "t", "desc", "ownOp", "year", "dbFlags"):
        v = head.get(key)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and v != "":
            out[key] = v.strip() if isinstance(v, str) else v
    return out


@dataclass
class ReadsbColumns:
    """Positions of one or more readsb documents, checked (:data:`READSB_LIMITS`), in document and row order:
    ``counts`` rows per document, numpy columns (NaN for null), ``callsign`` a dictionary array."""

    counts: np.ndarray
    t_us: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    ground: np.ndarray
    gs: np.ndarray
    track: np.ndarray
    flags: np.ndarray
    vrate: np.ndarray
    callsign: pa.DictionaryArray


def _readsb_columns(
    label, counts, ts, off, lat, lon, ground, alt, geo, gs, trk, flags, vr, cs_rows, cs_codes, cs_values
) -> ReadsbColumns:
    """The one finishing step of both paths: values converted and range-checked field by field (a bad value raises
    :class:`TrackInputError` naming the record and the field), the geometric altitude filling a missing barometric
    one, the callsign rule, the times. ``counts``/``ts``: rows and base time of each document; ``cs_rows`` (rows
    with a callsign, ascending), ``cs_codes`` (their index into ``cs_values``)."""
    lim = READSB_LIMITS
    off = _to_float(off, label, "offset", lo=lim["offset"][0], hi=lim["offset"][1], allow_null=False)
    lat = _to_float(lat, label, "lat", allow_null=False)
    lon = _to_float(lon, label, "lon", allow_null=False)
    alt = _to_float(alt, label, "alt", lo=lim["alt"][0], hi=lim["alt"][1])
    if geo is not None:  # post-2022 files: geometric altitude in column 10 fills a missing baro altitude
        fill = np.isnan(alt) & ~ground
        if fill.any():
            g = _to_float(geo, label, "alt_geom", lo=lim["alt_geom"][0], hi=lim["alt_geom"][1])
            alt = np.where(fill, g, alt)
    gs = _to_float(gs, label, "gs", lo=lim["gs"][0], hi=lim["gs"][1])
    trk = _to_float(trk, label, "track", lo=lim["track"][0], hi=lim["track"][1])
    flags = _to_float(flags, label, "flags", lo=lim["flags"][0], hi=lim["flags"][1])
    vr = _to_float(vr, label, "vrate", lo=lim["vrate"][0], hi=lim["vrate"][1])
    n = len(off)
    counts = np.asarray(counts, np.int64)
    starts = np.cumsum(counts) - counts
    fl = np.nan_to_num(flags).astype(np.uint8)
    # a callsign holds until the next details object, but never across a new-leg flag (bit 2), a gap of more than
    # CALLSIGN_HOLD_S with the aircraft on the ground on either side, or into the next document: a new flight gets
    # its callsign from its own fixes (a transponder gap in the air keeps it)
    code = np.full(n, -1, np.int32)  # per row: the callsign it takes (-1: none)
    if len(cs_rows) and n:
        code[cs_rows] = cs_codes
        doc = np.repeat(np.arange(len(counts)), counts)
        later = np.diff(off) >= 0
        later[doc[1:] != doc[:-1]] = True  # document boundaries do not count
        order = np.arange(n) if later.all() else np.lexsort((off, doc))
        o_off, o_gnd, o_doc = off[order], ground[order], doc[order]
        brk = np.zeros(n, bool)
        brk[order[1:]] = (
            (np.diff(o_off) > CALLSIGN_HOLD_S) & (o_gnd[1:] | o_gnd[:-1]) & (o_doc[1:] == o_doc[:-1])
        )
        brk |= (fl & 2).astype(bool)
        brk[starts[counts > 0]] = True
        rows = np.arange(n)
        last_brk = np.maximum.accumulate(np.where(brk, rows, -1))
        det_row = np.maximum.accumulate(np.where(code >= 0, rows, -1))  # the last details row at or before
        code = np.where((det_row >= 0) & (det_row >= last_brk), code[np.maximum(det_row, 0)], -1)
    callsign = pa.DictionaryArray.from_arrays(
        arrays.from_numpy(np.maximum(code, 0), pa.int32(), mask=code < 0), arrays.strings(cs_values)
    )
    t_us = np.repeat(np.round(np.asarray(ts, np.float64) * 1e6), counts) + np.round(off * 1e6)
    _check_time(t_us / 1e6, label, "offset")
    return ReadsbColumns(
        counts, t_us.astype(np.int64), lat, lon, alt, np.asarray(ground, bool), gs, trk, fl, vr, callsign
    )


def _positions_table(hexa: str, reg, c: ReadsbColumns) -> pa.Table:
    """One aircraft's :class:`ReadsbColumns` as a positions table (:data:`POSITIONS_SCHEMA`)."""
    return _make_table(
        len(c.t_us),
        icao24=hexa,
        registration=reg,
        callsign=c.callsign.cast(pa.string()),
        t_us=c.t_us,
        lat=c.lat,
        lon=c.lon,
        alt_ft=c.alt,
        on_ground=c.ground,
        gs_kt=c.gs,
        track_deg=c.track,
        vrate_fpm=c.vrate,
        source_format="readsb",
        readsb_flags=c.flags,
    )


def _details_calls(dets, label, idx_of=None):
    idx, calls = [], []
    for k, d in enumerate(dets):
        i = idx_of[k] if idx_of is not None else k
        if d is None:
            continue
        if not isinstance(d, dict):
            raise _err(label, i, "details", "an object or null", d)
        f = d.get("flight")
        if isinstance(f, str) and f.strip():
            idx.append(i)
            calls.append(f.strip())
    return idx, calls


def _parse_readsb_obj(obj, label: str, watch_hex=None) -> ReadResult | None:
    """Exact (slow) path over a parsed JSON object: precise errors for every record and field."""
    head = _readsb_header(obj, label, watch_hex)
    if head is None:
        return None
    hexa, ts, reg = head
    header = {k: v for k, v in obj.items() if k != "trace"}
    trace = obj["trace"]
    n = len(trace)
    if n == 0:
        return ReadResult(
            _make_table(
                0,
                icao24=hexa,
                registration=reg,
                callsign=None,
                t_us=[],
                lat=[],
                lon=[],
                alt_ft=[],
                on_ground=[],
                gs_kt=[],
                track_deg=[],
                vrate_fpm=[],
                source_format="readsb",
                readsb_flags=[],
            ),
            header=header,
        )
    try:
        lens = list(map(len, trace))
        lmin, lmax = min(lens), max(lens)
    except TypeError:
        lmin, lmax = -1, 0
    if lmin < 8:
        for i, e in enumerate(trace):
            if not isinstance(e, list) or len(e) < 8:
                raise _err(
                    label,
                    i,
                    None,
                    "a list of at least 8 values [dt, lat, lon, alt, gs, track, flags, vrate]",
                    e if not isinstance(e, list) else f"{len(e)} values",
                )
    width = lmax
    if lmin != lmax:
        trace = [e + [None] * (width - len(e)) for e in trace]
    cols = list(zip(*trace, strict=True))
    altraw = np.array(cols[3], dtype=object)
    ground = altraw == "ground"
    if ground.any():
        altraw[ground] = None
    idx, calls = ([], [])
    if width > 8:
        nz = [i for i, d in enumerate(cols[8]) if d is not None]
        idx, calls = _details_calls([cols[8][i] for i in nz], label, nz)
    c = _readsb_columns(
        label,
        [n],
        [ts],
        cols[0],
        cols[1],
        cols[2],
        np.asarray(ground, bool),
        altraw.tolist(),
        cols[10] if width > 10 else None,
        cols[4],
        cols[5],
        cols[6],
        cols[7],
        np.array(idx, np.int64),
        np.arange(len(calls)),
        calls,
    )
    return ReadResult(_positions_table(hexa, reg, c), header=header)


_ROWS = bytes.maketrans(b"[", b"\n")
#: a callsign in the CSV lines is marked by this first character (any other text in the details column is unusual)
_CS_MARK = "\x01"


def _callsign_field(obj: bytes) -> bytes:
    """A readsb details object -> its callsign as a marked CSV field, or null."""
    try:
        d = json.loads(obj)
    except ValueError:
        raise ReadsbUnusual("details object is not JSON") from None
    f = d.get("flight") if isinstance(d, dict) else None
    if isinstance(f, str) and f.strip():
        f = f.strip()
        if '"' in f or "\n" in f or "\r" in f:
            raise ReadsbUnusual("callsign needs quoting")
        return b'"' + (_CS_MARK + f).encode() + b'"'
    return b"null"


def _details_to_callsigns(body: bytes) -> bytes:
    """Replace every details object ``{...}`` of a trace body by its callsign (found with ``find``, a memchr)."""
    out = []
    pos = 0
    while (a := body.find(b"{", pos)) >= 0:
        z = body.find(b"}", a)
        if z < 0 or body.find(b"{", a + 1, z) >= 0:
            raise ReadsbUnusual("unterminated or nested details object")
        out.append(body[pos:a])
        out.append(_callsign_field(body[a : z + 1]))
        pos = z + 1
    out.append(body[pos:])
    return b"".join(out)


@dataclass
class ReadsbDoc:
    """A readsb document cut by :func:`split_readsb`: its top level (``head``, without the trace), address, base
    time, registration, and its trace rows as CSV lines (``lines``: each row on a line after a ``\\n``, every row
    but the last ending in ``,``), ``rows`` of ``width`` fields."""

    label: str
    head: dict
    hexa: str
    ts: float
    reg: str | None
    lines: bytes
    rows: int
    width: int


def split_readsb(data: bytes, label: str, watch_hex=None) -> ReadsbDoc | None:
    """Fast path, first step: a decompressed readsb document -> :class:`ReadsbDoc`; None when its aircraft is not in
    ``watch_hex``. Raises :class:`ReadsbUnusual` (or :class:`TrackInputError` for a bad top level) when it cannot."""
    i = data.find(b'"trace"')
    j = data.find(b"[", i) if i >= 0 else -1
    # the trace array is the last key of a readsb trace: its end is searched from the end of the document (a forward
    # search stops at every row's ']'); a cut in the wrong place makes the header invalid JSON: the exact path reads it
    k = data.rfind(b"]]")
    if j < 0 or k < j:
        raise ReadsbUnusual("no trace array")
    try:
        head_obj = json.loads(data[:j] + b"[]" + data[k + 2 :])
    except (ValueError, RecursionError):
        raise ReadsbUnusual("top level is not JSON") from None
    head = _readsb_header(head_obj, label, watch_hex)
    if head is None:
        return None
    del head_obj["trace"]
    body = data[j + 1 : k + 1]
    if b"{" in body:
        body = _details_to_callsigns(body)
    # "[a,b],[c,d]" -> "\na,b,\nc,d": a row per line, each but the last ending in ','; documents are joined by ','
    # (parse_readsb_rows), so every row of a batch ends in ',' without a copy of a document to fix its ends
    lines = body.translate(_ROWS, b"]")
    if not lines.startswith(b"\n"):
        raise ReadsbUnusual("trace rows are not arrays")
    nl = lines.find(b"\n", 1)
    width = lines.count(b",", 1, nl) if nl > 0 else lines.count(b",") + 1
    if width < 8:
        raise ReadsbUnusual("short trace rows")
    return ReadsbDoc(label, head_obj, head[0], head[1], head[2], lines, lines.count(b"\n"), width)


def _csv_types(width: int) -> dict:
    text = pa.dictionary(pa.int32(), pa.string())
    return {f"f{c}": pa.float64() for c in (0, 1, 2, 4, 5, 6, 7, 10) if c < width} | {"f3": text, "f8": text}


def parse_readsb_rows(docs: list[ReadsbDoc]) -> ReadsbColumns:
    """Fast path, second step: the rows of documents of one width (:func:`split_readsb`), parsed by ONE Arrow CSV
    call (the altitude and the callsign read dictionary-encoded, each distinct value converted once), then checked
    and finished by the exact path's :func:`_readsb_columns`. Raises :class:`ReadsbUnusual` when any document is
    unusual or any value fails a check: the caller reads those documents one by one (the exact path names the bad
    record)."""
    import pyarrow.csv as pacsv

    width = docs[0].width
    if any(d.width != width for d in docs):
        raise ReadsbUnusual("documents of different widths")
    used = [c for c in (0, 1, 2, 3, 4, 5, 6, 7, 8, 10) if c < width]
    lines = b",".join(d.lines for d in docs) + b",\n"  # the leading empty line is skipped by the parser
    counts = np.array([d.rows for d in docs], np.int64)
    label = docs[0].label if len(docs) == 1 else f"{docs[0].label} (and {len(docs) - 1} more)"
    try:
        tbl = pacsv.read_csv(
            io.BytesIO(lines),
            read_options=pacsv.ReadOptions(
                autogenerate_column_names=True, use_threads=False, block_size=1 << 22
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=_csv_types(width),
                include_columns=[f"f{c}" for c in used],
                null_values=["null"],
                strings_can_be_null=True,
            ),
        )
        if tbl.num_rows != counts.sum():
            raise ReadsbUnusual("row count mismatch")
        a3 = tbl.column("f3").unify_dictionaries().combine_chunks()
        words = a3.dictionary
        is_ground = pc.equal(words, arrays.scalar("ground", pa.string()))
        feet = pc.cast(pc.if_else(is_ground, arrays.scalar(None, pa.string()), words), pa.float64())
        ground = arrays.to_numpy(pc.take(is_ground, a3.indices).fill_null(arrays.scalar(False, pa.bool_())))
        alt = arrays.to_numpy(pc.take(feet, a3.indices))
        cs_rows, cs_codes, cs_values = np.zeros(0, np.int64), np.zeros(0, np.int32), []
        if width > 8:
            a8 = tbl.column("f8").unify_dictionaries().combine_chunks()
            vals = a8.dictionary.to_pylist()
            if any(not v.startswith(_CS_MARK) for v in vals):
                raise ReadsbUnusual("details column holds something else than a details object or null")
            cs_values = [v[1:] for v in vals]
            valid = arrays.to_numpy(a8.is_valid())
            cs_rows = np.flatnonzero(valid)
            cs_codes = arrays.to_numpy(a8.indices.fill_null(arrays.scalar(0, a8.indices.type)))[cs_rows]
        col = lambda c: arrays.to_numpy(tbl.column(f"f{c}"))  # noqa: E731
        return _readsb_columns(
            label,
            counts,
            [d.ts for d in docs],
            col(0),
            col(1),
            col(2),
            ground,
            alt,
            col(10) if width > 10 else None,
            col(4),
            col(5),
            col(6),
            col(7),
            cs_rows,
            cs_codes,
            cs_values,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TrackInputError) as e:
        raise ReadsbUnusual(str(e)) from None


def _readsb_exact(data: bytes, label: str, watch_hex=None) -> ReadResult | None:
    text = _decode(data, label)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise TrackInputError(
            f"{label}: line {e.lineno} col {e.colno}: expected complete JSON, got invalid/truncated JSON ({e.msg})"
        ) from e
    except RecursionError:
        raise TrackInputError(
            f"{label}: file: expected JSON of ordinary depth, got nesting too deep to read"
        ) from None
    return _parse_readsb_obj(obj, label, watch_hex)


def read_readsb_file(path, watch_hex=None, label: str | None = None, fast: bool = True) -> ReadResult | None:
    """Read one readsb trace file (gzip or plain). None when its aircraft is not in ``watch_hex``.

    ``fast`` tries the fast path (:func:`split_readsb`, :func:`parse_readsb_rows`) first and reads the file by the
    exact path (which gives the precise error message) whenever the fast path meets anything unusual. The result's
    ``header`` is the top level of the document (the trace left out).
    """
    label = _label(path, label)
    data = _read_bytes(path, label)
    if fast:
        try:
            doc = split_readsb(data, label, watch_hex)
            if doc is None:
                return None
            c = parse_readsb_rows([doc])
            return ReadResult(_positions_table(doc.hexa, doc.reg, c), header=doc.head)
        except (ReadsbUnusual, TrackInputError):
            pass
    return _readsb_exact(data, label, watch_hex)


def readsb_metadata(path, label: str | None = None) -> dict:
    """The top level of a readsb trace file without its trace (:func:`readsb_meta`). A reader that parses the trace
    has it already: :attr:`ReadResult.header`."""
    label = _label(path, label)
    data = _read_bytes(path, label)
    i = data.find(b'"trace"')
    j = data.find(b"[", i) if i >= 0 else -1
    k = data.rfind(b"]]")  # the end of the trace array, searched from the end (see split_readsb)
    try:
        try:
            if j < 0 or k < j:
                raise ValueError("no trace array")
            obj = json.loads(data[:j] + b"[]" + data[k + 2 :])
        except ValueError:  # not the usual layout: the whole document
            obj = json.loads(_decode(data, label))
    except (ValueError, UnicodeDecodeError) as e:
        raise TrackInputError(f"{label}: file: expected readsb trace JSON, got unreadable JSON ({e})") from e
    except RecursionError:
        raise TrackInputError(
            f"{label}: file: expected JSON of ordinary depth, got nesting too deep to read"
        ) from None
    return readsb_meta(obj, label)


def readsb_tree_files(root, watch_hex=None, files: list[Path] | None = None) -> list[Path]:
    """Trace files under a ``traces/`` tree, sorted by (hex, path); filtered by ``watch_hex`` from names.

    ``files``: the tree's files as already listed (:func:`analysis.safeio.walk`, which refuses links, FIFOs and
    devices); without it the tree is listed here."""
    root = Path(root)
    if files is None:
        files = [p for p in root.rglob("trace_*.json*") if p.is_file()]
    else:
        files = [Path(p) for p in files if fnmatch.fnmatchcase(Path(p).name, "trace_*.json*")]
    keyed = []
    for p in files:
        h = trace_hex(p.name)
        if watch_hex is not None and h is not None and h not in watch_hex:
            continue
        keyed.append((h or "", str(p), p))
    keyed.sort()
    return [k[2] for k in keyed]


# --------------------------------------------------------------------------------------- text tables
def _no_repeated_columns(names: list[str], label: str) -> None:
    """A header names each column once (a reader and a person could each see a different one of two)."""
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise TrackInputError(
            f"{label}: header, field '{repeated[0]}': expected each column once, got it "
            f"{names.count(repeated[0])} times"
        )


def _read_csv_table(data: bytes, label: str, required: list[str], text_cols=()) -> pa.Table:
    """CSV -> Arrow table; ``text_cols`` are read as strings (hex addresses such as 424242 or callsigns
    must not become integers and lose leading zeros)."""
    import pyarrow.csv as pacsv

    _decode(data, label)
    try:
        tbl = pacsv.read_csv(
            io.BytesIO(data),
            convert_options=pacsv.ConvertOptions(
                strings_can_be_null=True, column_types={c: pa.string() for c in text_cols}
            ),
        )
    except pa.ArrowInvalid as e:
        m = re.search(r"[Rr]ow #?(\d+)", str(e))
        rec = int(m.group(1)) - 2 if m else None
        if rec is None:  # arrow quotes the offending row: find its line
            m = re.search(r"got \d+: (.*)$", str(e), re.S)
            if m:
                lines = data.decode("utf-8").splitlines()
                hits = [i for i, ln in enumerate(lines) if ln.strip() == m.group(1).strip()]
                rec = hits[0] - 1 if hits else None
        raise TrackInputError(
            f"{label}: record {rec}: expected a well-formed CSV row, got a parse error ({e})"
        ) from e
    _no_repeated_columns(tbl.column_names, label)
    missing = [c for c in required if c not in tbl.column_names]
    if missing:
        raise TrackInputError(
            f"{label}: header, field '{missing[0]}': expected columns {required}, got {tbl.column_names}"
        )
    if tbl.num_rows == 0:
        raise TrackInputError(f"{label}: file: expected at least one data row, got none")
    return tbl


def _str_col(tbl: pa.Table, name: str):
    c = tbl.column(name)
    if not pa.types.is_string(c.type) and not pa.types.is_large_string(c.type):
        c = c.cast(pa.string())
    return pc.utf8_trim_whitespace(c)


def _empty_as_null(c):
    """Empty strings as nulls."""
    return pc.if_else(pc.equal(c, arrays.scalar("", pa.string())), arrays.scalar(None, c.type), c)


def _bool_col(values, label, fieldname) -> np.ndarray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)) and pa.types.is_boolean(values.type):
        return arrays.to_numpy(values.fill_null(arrays.scalar(False, pa.bool_())))
    raw = values.to_pylist() if isinstance(values, (pa.Array, pa.ChunkedArray)) else list(values)
    out = np.zeros(len(raw), bool)
    for i, v in enumerate(raw):
        if v is None:
            continue
        if isinstance(v, bool):
            out[i] = v
        elif isinstance(v, (int, float)) and v in (0, 1):
            out[i] = bool(v)
        elif isinstance(v, str) and v.strip().lower() in ("true", "false", "t", "f", "1", "0"):
            out[i] = v.strip().lower() in ("true", "t", "1")
        else:
            raise _err(label, i, fieldname, "a boolean", v)
    return out


def _time_col_to_us(col, label, fieldname, tz=None, rec_base=0) -> np.ndarray:
    """Arrow column of unix seconds or timestamps -> int64 us UTC. Naive timestamps need ``tz``."""
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            if tz is None:
                raise _err(
                    label,
                    rec_base,
                    fieldname,
                    "a timezone-aware time (or a mapping/options that declares tz=...)",
                    f"naive timestamp {col[0].as_py().isoformat(sep=' ')}",
                )
            col = pc.assume_timezone(col, tz)
        us = arrays.to_numpy(col.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()))
        _check_time(us / 1e6, label, fieldname, rec_base)
        return us
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return _parse_iso_us(col.to_pylist(), label, fieldname, tz, None, rec_base)
    s = _to_float(col, label, fieldname, allow_null=False)
    _check_time(s, label, fieldname, rec_base)
    return np.round(s * 1e6).astype(np.int64)


_TZ_SUFFIX = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def _parse_iso_us(values, label, fieldname, tz=None, fmt=None, rec_base=0) -> np.ndarray:
    import polars as pl

    s = pl.Series(values, dtype=pl.String)
    if s.null_count():
        i = int(s.is_null().arg_true()[0])
        raise _err(label, i + rec_base, fieldname, "a time", None)
    s = s.str.strip_chars()
    has_tz = (
        s.str.contains(r"(Z|[+-]\d\d:?\d\d)$")
        if fmt is None
        else pl.Series([("%z" in fmt) or fmt.endswith("Z")] * len(s))
    )
    if fmt is None and has_tz.any() and not has_tz.all():
        i = int((~has_tz).arg_true()[0])
        raise _err(label, i + rec_base, fieldname, "all times with a timezone offset (mixed)", values[i])
    aware = bool(has_tz.all())
    if not aware and tz is None:
        raise _err(
            label,
            rec_base,
            fieldname,
            "a timezone-aware time such as 2024-01-02T07:22:55Z (or a mapping/options that declares tz=...)",
            values[0],
        )
    try:
        if aware:
            parsed = s.str.to_datetime(format=fmt, strict=False, time_unit="us", time_zone="UTC")
        else:
            parsed = s.str.to_datetime(format=fmt, strict=False, time_unit="us").dt.replace_time_zone(
                tz, ambiguous="earliest", non_existent="null"
            )
    except (pl.exceptions.PolarsError, TypeError, ValueError) as e:
        raise _err(
            label,
            rec_base,
            fieldname,
            f"times readable with format {fmt!r} and time zone {tz!r}"
            if fmt
            else f"times in time zone {tz!r}",
            f"{values[0]!r} ({type(e).__name__}: {str(e).splitlines()[0][:120]})",
        ) from None
    if parsed.null_count():
        i = int(parsed.is_null().arg_true()[0])
        raise _err(
            label,
            i + rec_base,
            fieldname,
            f"a time{' in format ' + fmt if fmt else ' (ISO 8601)'}",
            values[i],
        )
    us = parsed.dt.convert_time_zone("UTC").dt.epoch("us").to_numpy()
    _check_time(us / 1e6, label, fieldname, rec_base)
    return us


# --------------------------------------------------------------------------------------- OpenSky
OPENSKY_REQUIRED = [
    "time",
    "icao24",
    "lat",
    "lon",
    "velocity",
    "heading",
    "vertrate",
    "callsign",
    "onground",
    "baroaltitude",
]


def read_opensky(path, watch_hex=None, options=None, label=None) -> ReadResult:
    """OpenSky state vectors (CSV or parquet, as the historical database / pyopensky return them).

    Stale rows (``time - lastcontact > 15`` s, OpenSky keeps rows up to 300 s after coverage is lost)
    are dropped and counted as ``opensky_stale``. Options: ``stale_s`` (default 15), ``tz`` for naive
    timestamp columns.
    """
    import pyarrow.parquet as pq

    label = _label(path, label)
    options = check_options("opensky", options, label)
    data = _read_bytes(path, label)  # read once: the parquet or CSV is parsed from these bytes
    named_parquet = not isinstance(path, BYTES_TYPES) and Path(path).suffix == ".parquet"
    if data[:4] == b"PAR1" or named_parquet:
        try:
            _no_repeated_columns(pq.ParquetFile(pa.BufferReader(data)).schema_arrow.names, label)
            tbl = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowInvalid, OSError) as e:
            raise TrackInputError(
                f"{label}: file: expected a readable parquet file, got an error ({e})"
            ) from e
        _no_repeated_columns(tbl.column_names, label)
        missing = [c for c in OPENSKY_REQUIRED if c not in tbl.column_names]
        if missing:
            raise TrackInputError(
                f"{label}: header, field '{missing[0]}': expected columns {OPENSKY_REQUIRED}, got {tbl.column_names}"
            )
    else:
        tbl = _read_csv_table(data, label, OPENSKY_REQUIRED, ["icao24", "callsign", "squawk"])
    noise: Counter = Counter()
    hexcol = pc.utf8_lower(_str_col(tbl, "icao24"))
    hexes = hexcol.to_pylist()
    for i, h in enumerate(hexes):
        if h is None or not _HEX_RE.match(h):
            raise _err(label, i, "icao24", "a 24-bit ICAO address as 6 hex digits", h)
    if watch_hex is not None:
        keep = pc.is_in(hexcol, arrays.strings(sorted(watch_hex)))
        tbl = tbl.filter(keep)
        hexcol = hexcol.filter(keep)
    t_us = _time_col_to_us(tbl.column("time"), label, "time", options.get("tz"))
    if "lastcontact" in tbl.column_names:
        lc = tbl.column("lastcontact")
        if pa.types.is_timestamp(lc.type):
            lc_s = _time_col_to_us(lc, label, "lastcontact", options.get("tz")) / 1e6
        else:
            lc_s = _to_float(lc, label, "lastcontact")
        stale = (t_us / 1e6 - lc_s) > float(options.get("stale_s", 15))
        if stale.any():
            noise["opensky_stale"] += int(stale.sum())
            keep = arrays.from_numpy(~stale)
            tbl, hexcol, t_us = tbl.filter(keep), hexcol.filter(keep), t_us[~stale]
    n = tbl.num_rows
    lat = _to_float(tbl.column("lat"), label, "lat")
    lon = _to_float(tbl.column("lon"), label, "lon")
    alt_m = _to_float(
        tbl.column("baroaltitude"), label, "baroaltitude", lo=_ALT_MIN / FT_PER_M, hi=_ALT_MAX / FT_PER_M
    )
    if "geoaltitude" in tbl.column_names:
        geo = _to_float(
            tbl.column("geoaltitude"), label, "geoaltitude", lo=_ALT_MIN / FT_PER_M, hi=_ALT_MAX / FT_PER_M
        )
        alt_m = np.where(np.isnan(alt_m), geo, alt_m)
    vel = _to_float(tbl.column("velocity"), label, "velocity", lo=0, hi=2500)
    hdg = _to_float(tbl.column("heading"), label, "heading", lo=-360, hi=360)
    vr = _to_float(tbl.column("vertrate"), label, "vertrate", lo=-500, hi=500)
    ground = _bool_col(tbl.column("onground"), label, "onground")
    alt_ft = alt_m * FT_PER_M
    alt_ft[ground] = np.nan
    nopos = np.isnan(lat) | np.isnan(lon)
    if nopos.any():  # OpenSky rows without a position carry nothing we can use
        noise["no_position"] += int(nopos.sum())
    callsign = _empty_as_null(_str_col(tbl, "callsign"))
    reg = options.get("registration")
    out = _make_table(
        n,
        icao24=hexcol,
        registration=reg,
        callsign=callsign,
        t_us=t_us,
        lat=lat,
        lon=lon,
        alt_ft=alt_ft,
        on_ground=ground,
        gs_kt=vel * KT_PER_MS,
        track_deg=hdg,
        vrate_fpm=vr * FPM_PER_MS,
        source_format="opensky",
    )
    if nopos.any():
        out = out.filter(arrays.from_numpy(~nopos))
    return ReadResult(out, noise)


# --------------------------------------------------------------------------------------- FR24
FR24_CSV_COLUMNS = ["Timestamp", "UTC", "Callsign", "Position", "Altitude", "Speed", "Direction"]


def _need_icao(options, label, fmt):
    h = (options or {}).get("icao24")
    if h is None:
        raise TrackInputError(
            f"{label}: file, field 'icao24': expected options={{'icao24': '<hex>'}} "
            f"because {fmt} files carry no aircraft address, got none"
        )
    return _norm_hex(h, label, None, "options.icao24")


def read_fr24_csv(path, watch_hex=None, options=None, label=None) -> ReadResult:
    """Flightradar24 web CSV: ``Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction`` (ft, kt).

    Altitude 0 means on ground. Needs ``options={'icao24': hex}``; optional ``registration``.
    """
    label = _label(path, label)
    options = check_options("fr24_csv", options, label)
    hexa = _need_icao(options, label, "FR24 CSV")
    tbl = _read_csv_table(_read_bytes(path, label), label, FR24_CSV_COLUMNS, ["Callsign", "Position", "UTC"])
    n = tbl.num_rows
    t_s = _to_float(tbl.column("Timestamp"), label, "Timestamp", allow_null=False)
    _check_time(t_s, label, "Timestamp")
    posv = _str_col(tbl, "Position").to_pylist()
    lat = np.empty(n)
    lon = np.empty(n)
    for i, p in enumerate(posv):
        try:
            a, b = p.split(",")
            lat[i], lon[i] = float(a), float(b)
        except (AttributeError, ValueError):
            raise _err(label, i, "Position", 'a quoted "lat,lon" pair', p) from None
    alt = _to_float(tbl.column("Altitude"), label, "Altitude", lo=_ALT_MIN, hi=_ALT_MAX, allow_null=False)
    spd = _to_float(tbl.column("Speed"), label, "Speed", lo=0, hi=5000)
    dirn = _to_float(tbl.column("Direction"), label, "Direction", lo=-360, hi=360)
    ground = alt <= 0
    alt = np.where(ground, np.nan, alt)
    cs = _str_col(tbl, "Callsign")
    cs = _empty_as_null(cs)
    out = _make_table(
        n,
        icao24=hexa,
        registration=options.get("registration"),
        callsign=cs,
        t_us=np.round(t_s * 1e6).astype(np.int64),
        lat=lat,
        lon=lon,
        alt_ft=alt,
        on_ground=ground,
        gs_kt=spd,
        track_deg=dirn,
        vrate_fpm=None,
        source_format="fr24_csv",
    )
    if watch_hex is not None and hexa not in watch_hex:
        out = out.slice(0, 0)
    return ReadResult(out)


def read_fr24_kml(path, watch_hex=None, options=None, label=None) -> ReadResult:
    """Flightradar24 KML: one Placemark per fix (Point ``lon,lat,alt_m`` + TimeStamp ``when``).

    The LineString placemark (no times) is ignored. Optional ExtendedData ``speed`` (kt) and
    ``heading``. Needs ``options={'icao24': hex}``.
    """
    label = _label(path, label)
    options = check_options("fr24_kml", options, label)
    hexa = _need_icao(options, label, "FR24 KML")
    text = _decode(_read_bytes(path, label), label)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        line, col = e.position
        raise TrackInputError(
            f"{label}: line {line} col {col}: expected complete KML/XML, got a parse error ({e})"
        ) from e
    recs = []
    i = 0
    for pm in root.iter():
        if not pm.tag.endswith("Placemark"):
            continue
        when = coords = None
        ext = {}
        name = None
        for el in pm.iter():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "when":
                when = (el.text or "").strip()
            elif tag == "coordinates" and el is not None:
                coords = (el.text or "").strip()
            elif tag == "Data":
                v = [c for c in el if c.tag.rsplit("}", 1)[-1] == "value"]
                ext[el.get("name")] = v[0].text if v else None
            elif tag == "name" and name is None:
                name = (el.text or "").strip() or None
        if when is None:
            continue  # the LineString placemark carries no time
        parts = (coords or "").split(",")
        if len(parts) < 2:
            raise _err(label, i, "coordinates", "'lon,lat[,alt_m]'", coords)
        recs.append((when, parts, ext, name))
        i += 1
    if not recs:
        raise TrackInputError(f"{label}: file: expected Placemarks with Point and TimeStamp, got none")
    n = len(recs)
    t_us = _parse_iso_us([r[0] for r in recs], label, "when", options.get("tz"))
    lon = _to_float([r[1][0] for r in recs], label, "lon")
    lat = _to_float([r[1][1] for r in recs], label, "lat")
    alt_m = _to_float(
        [r[1][2] if len(r[1]) > 2 else None for r in recs],
        label,
        "alt_m",
        lo=_ALT_MIN / FT_PER_M,
        hi=_ALT_MAX / FT_PER_M,
    )
    spd = _to_float([r[2].get("speed") for r in recs], label, "speed", lo=0, hi=5000)
    hdg = _to_float([r[2].get("heading") for r in recs], label, "heading", lo=-360, hi=360)
    alt_ft = np.round(alt_m * FT_PER_M)
    ground = alt_ft <= 0
    alt_ft[ground] = np.nan
    cs = [r[3] for r in recs]
    out = _make_table(
        n,
        icao24=hexa,
        registration=options.get("registration"),
        callsign=arrays.strings(cs),  # str or None (the placemark's name)
        t_us=t_us,
        lat=lat,
        lon=lon,
        alt_ft=alt_ft,
        on_ground=ground,
        gs_kt=spd,
        track_deg=hdg,
        vrate_fpm=None,
        source_format="fr24_kml",
    )
    if watch_hex is not None and hexa not in watch_hex:
        out = out.slice(0, 0)
    return ReadResult(out)


def _dig(obj, keys, label, expected):
    cur = obj
    for j, k in enumerate(keys):
        if not isinstance(cur, dict) or k not in cur:
            raise _err(label, None, ".".join(keys[: j + 1]), expected, "missing")
        cur = cur[k]
    return cur


def read_fr24_json(path, watch_hex=None, options=None, label=None) -> ReadResult:
    """Flightradar24 site JSON: ``result.response.data.flight.track[]``.

    The aircraft address comes from ``flight.aircraft.identification.modes`` (or ``aircraft.hex``),
    else ``options['icao24']``; registration from ``aircraft.identification.registration``.
    """
    label = _label(path, label)
    options = check_options("fr24_json", options, label)
    text = _decode(_read_bytes(path, label), label)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise TrackInputError(
            f"{label}: line {e.lineno} col {e.colno}: expected complete JSON, got invalid/truncated JSON ({e.msg})"
        ) from e
    except RecursionError:
        raise TrackInputError(
            f"{label}: file: expected JSON of ordinary depth, got nesting too deep to read"
        ) from None
    flight = _dig(obj, ["result", "response", "data", "flight"], label, "an FR24 flight object")
    track = flight.get("track") if isinstance(flight, dict) else None
    if not isinstance(track, list):
        raise _err(label, None, "result.response.data.flight.track", "a list of track points", track)
    ac = flight.get("aircraft") or {}
    ident = ac.get("identification") or {}
    hexa = ident.get("modes") or ac.get("hex") or options.get("icao24")
    if hexa is None:
        raise TrackInputError(
            f"{label}: file, field 'aircraft.identification.modes': expected an aircraft address "
            f"(or options icao24), got none"
        )
    hexa = _norm_hex(hexa, label, None, "aircraft.identification.modes")
    reg = ident.get("registration") or options.get("registration")
    cs = ((flight.get("identification") or {}).get("callsign")) or None
    n = len(track)
    if n == 0:
        raise TrackInputError(f"{label}: file, field 'track': expected at least one track point, got []")
    for i, p in enumerate(track):
        if not isinstance(p, dict):
            raise _err(label, i, None, "a track point object", p)
        for k in ("latitude", "longitude", "timestamp", "altitude"):
            if k not in p:
                raise _err(label, i, k, f"key '{k}'", "missing")

    def sub(p, k, s):
        v = p.get(k)
        return v.get(s) if isinstance(v, dict) else v

    t_s = _to_float([p["timestamp"] for p in track], label, "timestamp", allow_null=False)
    _check_time(t_s, label, "timestamp")
    lat = _to_float([p["latitude"] for p in track], label, "latitude", allow_null=False)
    lon = _to_float([p["longitude"] for p in track], label, "longitude", allow_null=False)
    alt = _to_float(
        [sub(p, "altitude", "feet") for p in track], label, "altitude.feet", lo=_ALT_MIN, hi=_ALT_MAX
    )
    spd = _to_float([sub(p, "speed", "kts") for p in track], label, "speed.kts", lo=0, hi=5000)
    hdg = _to_float([p.get("heading") for p in track], label, "heading", lo=-360, hi=360)
    vs = _to_float(
        [sub(p, "verticalSpeed", "fpm") for p in track], label, "verticalSpeed.fpm", lo=-100000, hi=100000
    )
    ground = alt <= 0
    alt = np.where(ground, np.nan, alt)
    out = _make_table(
        n,
        icao24=hexa,
        registration=reg,
        callsign=cs,
        t_us=np.round(t_s * 1e6).astype(np.int64),
        lat=lat,
        lon=lon,
        alt_ft=alt,
        on_ground=ground,
        gs_kt=spd,
        track_deg=hdg,
        vrate_fpm=vs,
        source_format="fr24_json",
    )
    if watch_hex is not None and hexa not in watch_hex:
        out = out.slice(0, 0)
    return ReadResult(out)


# --------------------------------------------------------------------------------------- generic CSV
GENERIC_TARGETS = (
    "icao24",
    "time",
    "lat",
    "lon",
    "alt",
    "gs",
    "track",
    "vrate",
    "callsign",
    "registration",
    "on_ground",
)
_ALT_UNITS = {"ft": 1.0, "m": FT_PER_M}
_SPEED_UNITS = {"kt": 1.0, "m/s": KT_PER_MS, "km/h": KT_PER_KMH, "mph": 0.868976}
_VRATE_UNITS = {"fpm": 1.0, "ft/min": 1.0, "m/s": FPM_PER_MS}


def read_generic_csv(path, watch_hex=None, options=None, label=None) -> ReadResult:
    """CSV with a user mapping.

    ``options = {"mapping": {target: source_column}, "alt_unit": "ft"|"m", "speed_unit": "kt"|"m/s"|
    "km/h"|"mph", "vrate_unit": "fpm"|"m/s", "time_format": "unix"|"unix_ms"|"iso"|<strptime format>,
    "tz": IANA zone for times without offset, "icao24": constant address if no column}``.
    Targets: icao24, time, lat, lon (required); alt, gs, track, vrate, callsign, registration,
    on_ground (optional; without on_ground, ground = altitude <= 0). Times without a timezone are
    rejected unless ``tz`` is given.
    """
    label = _label(path, label)
    options = check_options("generic_csv", options, label)
    mapping = options.get("mapping")
    if not isinstance(mapping, dict):
        raise TrackInputError(
            f"{label}: file, field 'mapping': expected options['mapping'] = {{target: column}}, "
            f"got {mapping!r}"
        )
    unknown = [k for k in mapping if k not in GENERIC_TARGETS]
    if unknown:
        raise TrackInputError(
            f"{label}: file, field '{unknown[0]}': expected a mapping target in {GENERIC_TARGETS}"
        )
    need = ["time", "lat", "lon"] + ([] if "icao24" in options else ["icao24"])
    for k in need:
        if k not in mapping:
            raise TrackInputError(
                f"{label}: file, field '{k}': expected the mapping to name a column for '{k}'"
            )
    for key, table in (("alt_unit", _ALT_UNITS), ("speed_unit", _SPEED_UNITS), ("vrate_unit", _VRATE_UNITS)):
        if key in options and options[key] not in table:
            raise TrackInputError(
                f"{label}: file, field '{key}': expected one of {list(table)}, got {options[key]!r}"
            )
    text = [mapping[k] for k in ("icao24", "callsign", "registration") if k in mapping]
    if options.get("time_format", "iso") not in ("unix", "unix_ms"):
        text.append(mapping["time"])
    tbl = _read_csv_table(_read_bytes(path, label), label, list(mapping.values()), text)
    n = tbl.num_rows
    if "icao24" in mapping:
        hexcol = pc.utf8_lower(_str_col(tbl, mapping["icao24"]))
        for i, h in enumerate(hexcol.to_pylist()):
            if h is None or not _HEX_RE.match(h):
                raise _err(label, i, mapping["icao24"], "a 24-bit ICAO address as 6 hex digits", h)
    else:
        hexcol = _norm_hex(options["icao24"], label, None, "options.icao24")
    tf = options.get("time_format", "iso")
    tcol = tbl.column(mapping["time"])
    if tf in ("unix", "unix_ms"):
        s = _to_float(tcol, label, mapping["time"], allow_null=False) / (1000.0 if tf == "unix_ms" else 1.0)
        _check_time(s, label, mapping["time"])
        t_us = np.round(s * 1e6).astype(np.int64)
    elif pa.types.is_timestamp(tcol.type):
        t_us = _time_col_to_us(tcol, label, mapping["time"], options.get("tz"))
    else:
        t_us = _parse_iso_us(
            tcol.cast(pa.string()).to_pylist(),
            label,
            mapping["time"],
            options.get("tz"),
            None if tf == "iso" else tf,
        )
    lat = _to_float(tbl.column(mapping["lat"]), label, mapping["lat"], allow_null=False)
    lon = _to_float(tbl.column(mapping["lon"]), label, mapping["lon"], allow_null=False)

    def opt(target, lo, hi, unit_key, units, default):
        if target not in mapping:
            return None
        f = units[options.get(unit_key, default)] if unit_key else 1.0
        return _to_float(tbl.column(mapping[target]), label, mapping[target], lo=lo / f, hi=hi / f) * f

    alt = opt("alt", _ALT_MIN, _ALT_MAX, "alt_unit", _ALT_UNITS, "ft")
    gs = opt("gs", 0, 5000, "speed_unit", _SPEED_UNITS, "kt")
    trk = opt("track", -360, 360, None, None, None)
    vr = opt("vrate", -100000, 100000, "vrate_unit", _VRATE_UNITS, "fpm")
    if "on_ground" in mapping:
        ground = _bool_col(tbl.column(mapping["on_ground"]), label, mapping["on_ground"])
    elif alt is not None:
        ground = np.nan_to_num(alt, nan=1.0) <= 0
    else:
        ground = np.zeros(n, bool)
    if alt is not None:
        alt = np.where(ground, np.nan, alt)
    cs = _str_col(tbl, mapping["callsign"]) if "callsign" in mapping else None
    reg = _str_col(tbl, mapping["registration"]) if "registration" in mapping else options.get("registration")
    out = _make_table(
        n,
        icao24=hexcol,
        registration=reg,
        callsign=cs,
        t_us=t_us,
        lat=lat,
        lon=lon,
        alt_ft=alt,
        on_ground=ground,
        gs_kt=gs,
        track_deg=trk,
        vrate_fpm=vr,
        source_format="generic_csv",
    )
    if watch_hex is not None:
        out = out.filter(pc.is_in(out.column("icao24"), arrays.strings(sorted(watch_hex))))
    return ReadResult(out)


# --------------------------------------------------------------------------------------- options
#: option keys each format accepts (anything else is a named error, so a typo never passes silently)
OPTION_KEYS = {
    "readsb": (),
    "opensky": ("tz", "stale_s", "registration"),
    "fr24_csv": ("icao24", "registration"),
    "fr24_kml": ("icao24", "registration", "tz"),
    "fr24_json": ("icao24", "registration"),
    "generic_csv": (
        "mapping",
        "alt_unit",
        "speed_unit",
        "vrate_unit",
        "time_format",
        "tz",
        "icao24",
        "registration",
    ),
}


def check_options(fmt: str, options, label: str) -> dict:
    """Validate a format's options (keys, types, time zone); returns them as a dict or raises
    :class:`TrackInputError` naming the file and the option."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TrackInputError(
            f"{label}: file, field 'options': expected an object of options, got {type(options).__name__}"
        )
    allowed = OPTION_KEYS.get(fmt, ())
    for k, v in options.items():
        if k not in allowed:
            raise TrackInputError(
                f"{label}: file, field 'options.{k}': expected one of {list(allowed)} for format {fmt!r}, "
                f"got an unknown option"
            )
        if k in ("tz", "time_format", "icao24", "registration", "alt_unit", "speed_unit", "vrate_unit"):
            if not isinstance(v, str) or not v.strip():
                raise TrackInputError(f"{label}: file, field 'options.{k}': expected a text value, got {v!r}")
        if k == "stale_s" and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0):
            raise TrackInputError(f"{label}: file, field 'options.stale_s': expected seconds >= 0, got {v!r}")
        if k == "mapping":
            if not isinstance(v, dict) or not all(isinstance(c, str) and c for c in v.values()):
                raise TrackInputError(
                    f"{label}: file, field 'options.mapping': expected {{target: column name}}, got {v!r}"
                )
    tz = options.get("tz")
    if tz is not None:
        _check_tz(tz, label)
    return dict(options)


def _check_tz(tz: str, label: str) -> None:
    import polars as pl

    try:
        pl.Series([0], dtype=pl.Datetime("us")).dt.replace_time_zone(tz)
    except (pl.exceptions.PolarsError, ValueError, TypeError):
        raise TrackInputError(
            f"{label}: file, field 'options.tz': expected an IANA time zone such as 'America/Caracas' or "
            f"'UTC', got {tz!r}"
        ) from None


# --------------------------------------------------------------------------------------- dispatch
def read_track(path, fmt: str, options=None, watch_hex=None, label: str | None = None) -> ReadResult:
    """Read one file of format ``fmt`` (a readsb *directory* is handled by the store's tree ingest).

    ``path`` is a path, or the file's bytes (or a ``BytesIO``) already read by the caller, with ``label`` naming
    the file in errors: the positions store parses exactly the bytes it hashed.
    """
    label = _label(path, label)
    if fmt in OPTION_KEYS:
        options = check_options(fmt, options, label)
    if fmt == "readsb":
        r = read_readsb_file(path, watch_hex, label=label)
        if r is None:
            return ReadResult(POSITIONS_SCHEMA.empty_table())
        return r
    fn = {
        "opensky": read_opensky,
        "fr24_csv": read_fr24_csv,
        "fr24_kml": read_fr24_kml,
        "fr24_json": read_fr24_json,
        "generic_csv": read_generic_csv,
    }.get(fmt)
    if fn is None:
        raise TrackInputError(f"{label}: file: expected a format in {FORMATS}, got {fmt!r}")
    return fn(path, watch_hex=watch_hex, options=options, label=label)
