"""Day-archive ingest: a whole day of global ADS-B into a positions store partitioned by aircraft.

Inputs (read in place, never extracted to disk):

* a **readsb day archive**: a tar (``.tar``, or a whole-compressed ``.tar.gz``/``.tar.bz2``/``.tar.xz`` read as one stream)
  of ``traces/<xx>/trace_full_<hex>.json`` members, each usually gzip-compressed whatever its name;
* the same **extracted as a tree** (a directory holding ``traces/``);
* **OpenSky** hourly state-vector files (``*.parquet``, ``*.csv``, ``*.csv.gz``), one file or a directory.

Output (``out`` directory, the "positions store" that both discovery engines read)::

    positions/bucket=NNN/part-BBBBB.parquet  positions of the aircraft with icao_int % n_buckets == NNN
                                              written by batch BBBBB, sorted by (icao_int, time_utc)
    aircraft/part-BBBBB.parquet               one row per (aircraft, trace member): hex, registration,
                                              type, dbFlags, description, owner/operator, first/last time,
                                              rows, the member it came from (the track input, cited as a source)
    manifest.json                             inputs, counts, noise, skipped members, seconds, rate

Partitioning by a hash of the aircraft address (``icao_int % n_buckets``) keeps every aircraft's fixes
in one bucket whatever the number of archives, so one bucket is one independent unit of work for the
segmentation (locally one process per bucket, on Spark one group per bucket), and memory is bounded by
the bucket size, not the archive size.

Speed (measured by ``make bench``, figures in docs/scale.md): each worker inflates a batch of members
(ISA-L, about twice the zlib module), turns every trace array into CSV lines (details objects replaced by
their callsign with ``bytes.find``, then one ``bytes.translate``), joins the batch and parses it with ONE Arrow
CSV call (C++), with the altitude and the callsign read dictionary-encoded ("ground" and each altitude decoded
once per distinct value); per-aircraft values (address, base timestamp, registration) are repeated by row
counts as dictionary indices. The noise filter does not sort what a trace already orders (one aircraft, times
increasing). The main process only reads the tar's 512-byte headers (workers read their members by offset) and
collects small results. A member the fast path cannot read is re-read alone by the exact reader of
:mod:`analysis.tracks.readers`; if that fails too it is skipped and listed (a broken member among tens of
thousands must not stop a day). In flight: at most ``2 * processes`` batches of at most ``batch_bytes``
compressed bytes, so memory is bounded whatever the archive size.

    python -m analysis.tracks.archive ARCHIVE OUT [--buckets 16] [--processes 2]
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import re
import shutil
import stat
import sys
import tarfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from isal import isal_zlib

from .. import atomic, console, safeio
from .noise import clean_positions
from .readers import (
    POSITIONS_SCHEMA,
    ReadsbDoc,
    ReadsbUnusual,
    TrackInputError,
    icao_int,
    icao_to_int,
    parse_readsb_rows,
    read_opensky,
    read_readsb_file,
    split_readsb,
)
from .workers import keep_freed_memory

__all__ = [
    "ARCHIVE_SCHEMA",
    "AIRCRAFT_SCHEMA",
    "IngestResult",
    "ingest_archive",
    "parse_readsb_members",
    "list_members",
    "input_stat",
    "auto_buckets",
    "read_store_bucket",
    "store_buckets",
]

log = logging.getLogger(__name__)

#: positions as stored by the archive ingest (the columns the segmentation kernel reads, plus speed)
ARCHIVE_SCHEMA = pa.schema(
    [pa.field("icao_int", pa.uint32())]
    + [
        POSITIONS_SCHEMA.field(n)
        for n in (
            "icao24",
            "registration",
            "callsign",
            "time_utc",
            "lat",
            "lon",
            "alt_ft",
            "on_ground",
            "gs_kt",
            "readsb_flags",
        )
    ]
)
#: the same while a worker holds it: text columns dictionary-encoded (a take or a parquet write then moves
#: indices, not strings); the files of the store hold plain strings (written without the Arrow schema)
_TEXT = pa.dictionary(pa.int32(), pa.string())
STAGE_SCHEMA = pa.schema(
    [
        pa.field(f.name, _TEXT) if f.name in ("icao24", "registration", "callsign") else f
        for f in ARCHIVE_SCHEMA
    ]
)
AIRCRAFT_SCHEMA = pa.schema(
    [
        ("icao_int", pa.uint32()),
        ("icao24", pa.string()),
        ("registration", pa.string()),
        ("type_code", pa.string()),
        ("db_flags", pa.int32()),
        ("description", pa.string()),
        ("owner_operator", pa.string()),
        ("first_utc", pa.timestamp("us", tz="UTC")),
        ("last_utc", pa.timestamp("us", tz="UTC")),
        ("n_positions", pa.int64()),
        ("source_input", pa.string()),
        ("source_member", pa.string()),
    ]
)

_TRACE_NAME = re.compile(r"trace_\w*?_?([0-9a-f~]{6,7})\.json(\.gz)?$", re.I)
_OPENSKY_EXT = (".parquet", ".csv", ".csv.gz")


# ----------------------------------------------------------------------------------- parsing
def _inflate_cap(n: int) -> int:
    """Decompressed bytes allowed for ``n`` compressed bytes: the exact reader's cap (:func:`safeio.gunzip`)."""
    return min(safeio.MAX_DECOMPRESSED_BYTES, max(safeio.DECOMPRESS_FLOOR, safeio.DECOMPRESS_RATIO * n))


def _gunzip(data: bytes, label: str = "member") -> bytes:
    """Inflate a gzip member with ISA-L (the zlib module's API, about twice as fast), stopping at the exact reader's
    size and ratio cap: a gzip bomb costs at most the cap, and is refused (:class:`safeio.UnsafeInputError`)."""
    if data[:2] == b"\x1f\x8b":
        cap = _inflate_cap(len(data))
        d = isal_zlib.decompressobj(wbits=47)
        out = d.decompress(data, cap + 1)
        if len(out) > cap or (d.unconsumed_tail and not d.eof):
            raise safeio.UnsafeInputError(
                f"{label}: file: expected gzip data that decompresses to at most {cap:,} "
                "bytes, got more (a decompression bomb?)"
            )
        out += d.flush()
        if len(out) > cap:
            raise safeio.UnsafeInputError(
                f"{label}: file: expected gzip data that decompresses to at most {cap:,} "
                "bytes, got more (a decompression bomb?)"
            )
        if not d.eof:
            raise ValueError("truncated gzip member")
        return out
    return data


def _exact(data_or_path, label: str, source_input: str, member: str):
    """Exact reader for one member (precise errors): returns (positions, aircraft row) or raises."""
    data = data_or_path if isinstance(data_or_path, bytes) else safeio.read_bytes(Path(data_or_path), label)
    r = read_readsb_file(data, label=label, fast=False)  # the readers take the bytes as they are
    if r is None or r.table.num_rows == 0:
        return None
    t = r.table
    n = t.num_rows
    hexa = t.column("icao24")[0].as_py()
    pos = pa.table(
        {
            "icao_int": pa.array(np.full(n, icao_int(hexa), np.uint32)),
            "icao24": t.column("icao24"),
            "registration": t.column("registration"),
            "callsign": t.column("callsign"),
            "time_utc": t.column("time_utc"),
            "lat": t.column("lat"),
            "lon": t.column("lon"),
            "alt_ft": t.column("alt_ft"),
            "on_ground": t.column("on_ground"),
            "gs_kt": t.column("gs_kt"),
            "readsb_flags": t.column("readsb_flags"),
        },
        schema=ARCHIVE_SCHEMA,
    ).cast(STAGE_SCHEMA)
    return pos, _aircraft_meta(r.header or {}, hexa, source_input, member)


def _aircraft_meta(head: dict, hexa: str, source_input: str, member: str) -> dict:
    def s(k):
        v = head.get(k)
        return v.strip() if isinstance(v, str) and v.strip() else None

    fl = head.get("dbFlags")
    return {
        "icao24": hexa,
        "registration": s("r"),
        "type_code": s("t"),
        "db_flags": int(fl) if isinstance(fl, int) and not isinstance(fl, bool) else None,
        "description": s("desc"),
        "owner_operator": s("ownOp"),
        "source_input": source_input,
        "source_member": member,
    }


def parse_readsb_members(members, source_input: str = "") -> tuple[pa.Table, list[dict], Counter, list]:
    """Parse readsb trace members ``[(member name, raw bytes)]`` -> (positions, aircraft rows, noise, skipped).

    Positions follow :data:`STAGE_SCHEMA` (:data:`ARCHIVE_SCHEMA` with dictionary-encoded text), cleaned by
    :func:`analysis.tracks.noise.clean_positions`
    and sorted by (icao_int, time_utc). ``skipped``: (member, reason) for members no reader could read.
    """
    noise: Counter = Counter()
    skipped: list = []
    metas: list[dict] = []
    exact_tables: list[pa.Table] = []
    groups: dict[int, list[tuple[dict, ReadsbDoc]]] = {}  # width -> [(aircraft row, document)]
    raw_of = dict(members)

    def exact(name: str, label: str) -> None:
        try:
            r = _exact(raw_of[name], label, source_input, name)
        except TrackInputError as e:
            skipped.append((name, str(e)))
            return
        except Exception as e:  # noqa: BLE001 - reported, not raised
            skipped.append((name, f"{label}: file: unexpected error {type(e).__name__}: {e}"))
            return
        if r is not None:
            exact_tables.append(r[0])
            metas.append(r[1])

    for name, raw in members:
        label = f"{source_input}:{name}" if source_input else name
        try:
            data = _gunzip(raw, label)
        except (
            safeio.UnsafeInputError
        ) as e:  # the exact reader has the same cap: skip, named, without a re-read
            skipped.append((name, str(e)))
            continue
        except Exception:  # noqa: BLE001 - a cut or corrupt gzip member: the exact reader names the problem
            exact(name, label)
            continue
        try:
            doc = split_readsb(data, label)
        except (
            ReadsbUnusual,
            TrackInputError,
        ):  # unusual member: the exact reader decides (and names the record)
            exact(name, label)
            continue
        if doc is not None:
            groups.setdefault(doc.width, []).append(
                (_aircraft_meta(doc.head, doc.hexa, source_input, name), doc)
            )
    tables: list[pa.Table] = []
    for items in groups.values():
        # parsed in address order: the rows of a batch then come out sorted by (aircraft, time) as the store wants
        # them, and neither the noise filter nor the writer sorts them again
        ordered = sorted(items, key=lambda it: icao_int(it[1].hexa))
        try:
            tables.append(_batch_table([d for _m, d in ordered]))
            metas.extend(m for m, _d in items)
        except ReadsbUnusual:  # one unusual member spoils the batch parse: parse members one by one
            for meta, doc in items:
                try:
                    tables.append(_batch_table([doc]))
                    metas.append(meta)
                except ReadsbUnusual:
                    exact(meta["source_member"], doc.label)
    tables = (
        exact_tables + tables
    )  # the members the exact reader read (first, then batches' fallbacks) and batches
    if not tables:
        return STAGE_SCHEMA.empty_table(), metas, noise, skipped
    tbl = pa.concat_tables(tables)
    tbl, counts = clean_positions(tbl, key=tbl.column("icao_int").to_numpy())
    noise.update(counts)
    return tbl, metas, noise, skipped


def _batch_table(docs: list[ReadsbDoc]) -> pa.Table:
    """Documents of one width -> positions (:data:`STAGE_SCHEMA`) through the readers' one readsb parser
    (:func:`analysis.tracks.readers.parse_readsb_rows`: the same limits and callsign rule as a single file); the
    per-aircraft values (address, registration) repeated by row counts as dictionary indices."""
    c = parse_readsb_rows(docs)
    counts = c.counts
    hexes = [d.hexa for d in docs]
    ints = np.array([icao_int(h) for h in hexes], np.uint32)
    code = np.repeat(np.arange(len(docs), dtype=np.int32), counts)
    icao24 = pa.DictionaryArray.from_arrays(pa.array(code), pa.array(hexes, pa.string()))
    reg_of = [d.reg for d in docs]
    has_reg = np.array([r is not None for r in reg_of], bool)
    # an unknown registration is a null index (parquet cannot write a null inside a dictionary)
    regs = pa.DictionaryArray.from_arrays(
        pa.array(code, mask=~has_reg[code]), pa.array([r or "" for r in reg_of], pa.string())
    )
    return pa.table(
        {
            "icao_int": pa.array(np.repeat(ints, counts)),
            "icao24": icao24,
            "registration": regs,
            "callsign": c.callsign,
            "time_utc": pa.array(c.t_us, pa.timestamp("us", tz="UTC")),
            "lat": pa.array(c.lat),
            "lon": pa.array(c.lon),
            "alt_ft": pa.array(c.alt.astype(np.float32), pa.float32(), mask=np.isnan(c.alt)),
            "on_ground": pa.array(c.ground),
            "gs_kt": pa.array(c.gs.astype(np.float32), pa.float32(), mask=np.isnan(c.gs)),
            "readsb_flags": pa.array(c.flags),
        },
        schema=STAGE_SCHEMA,
    )


# ----------------------------------------------------------------------------------- inputs
def _hex_of(name: str) -> str | None:
    m = _TRACE_NAME.search(name)
    return m.group(1).lower() if m else None


def _kind_of(mode: int) -> str:
    return safeio._kind(mode)


def _input_stat(path: Path) -> os.stat_result:
    """The archive named on the command line: a regular file or a folder, checked before anything opens it (a FIFO
    or a device such as /dev/zero would block or never end; a link is not followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise TrackInputError(
            f"{path}: file: expected an archive (tar or directory), got nothing there"
        ) from None
    except OSError as e:
        raise TrackInputError(f"{path}: file: expected a readable archive, got {e.strerror or e}") from None
    if stat.S_ISLNK(st.st_mode):
        raise TrackInputError(
            f"{path}: file: expected an archive file or folder, got a symbolic link (pointing to "
            f"{os.readlink(path)!r}); give the archive's real path (links are never followed)"
        )
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise TrackInputError(
            f"{path}: file: expected an archive file or folder, got {_kind_of(st.st_mode)} "
            "(never opened: it could block or never end)"
        )
    return st


input_stat = (
    _input_stat  # public name (discovery checks its --archive inputs with it before anything opens them)
)


def _open_input(path: Path, st: os.stat_result) -> int:
    """A file descriptor on the regular file that was checked (no link, FIFO or device swapped in meanwhile)."""
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise TrackInputError(
            f"{path}: file: expected a readable regular file, got {e.strerror or e}"
        ) from None
    fst = os.fstat(fd)
    if not stat.S_ISREG(fst.st_mode) or (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise TrackInputError(
            f"{path}: file: expected the regular file that was checked, got another file "
            "(it was replaced while being opened)"
        )
    return fd


def _walk_tree(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Regular files under ``root`` (never following a link), and every other entry skipped, with the reason."""
    files, skipped = [], []
    stack = [root]
    while stack:
        cur = stack.pop()
        try:
            entries = list(os.scandir(cur))
        except OSError as e:
            skipped.append(
                (Path(cur).relative_to(root).as_posix() or ".", f"{cur}: folder: cannot be listed ({e})")
            )
            continue
        for entry in entries:
            p = Path(entry.path)
            rel = p.relative_to(root).as_posix()
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                stack.append(p)
            elif stat.S_ISREG(mode):
                files.append(p)
            else:
                skipped.append(
                    (
                        rel,
                        f"{root}/{rel}: file: expected a regular file, got {_kind_of(mode)}"
                        + (" (never followed)" if stat.S_ISLNK(mode) else " (never opened)"),
                    )
                )
    return sorted(files), sorted(skipped)


def list_members(path) -> tuple[str, list]:
    """The readsb members of an archive: ("tar", [(name, offset, size)]) for an uncompressed tar,
    ("tree", [(relative name, file path, size)]) for a directory, ("stream", []) for a compressed tar
    (read sequentially), ("opensky", [(name, file path, size)]) for OpenSky files. See :func:`scan_input` for
    the members skipped."""
    kind, items, _skipped = scan_input(path)
    return kind, items


def scan_input(path) -> tuple[str, list, list[tuple[str, str]]]:
    """:func:`list_members` plus every member skipped, with the reason: links, FIFOs, devices (in a tar or a tree),
    members above the size limit, files that are not trace members.

    The input itself must be a regular file or a folder (a link, FIFO or device is refused before it is opened); a
    tar whose last header or member data is cut is an error naming the member, never a silent end of the archive.
    """
    path = Path(path)
    st = _input_stat(path)
    if stat.S_ISDIR(st.st_mode):
        files, tree_skipped = _walk_tree(path)
        trace = {p for p in files if p.name.startswith("trace_") and ".json" in p.name}
        if trace:
            items, other = [], []
            for p in files:
                rel = p.relative_to(path).as_posix()
                if (bad := _name_problem(path, rel)) is not None:
                    other.append(bad)
                elif p not in trace:
                    other.append((rel, f"{path}/{rel}: file: not a trace_*.json member (not read)"))
                elif (size := p.stat().st_size) > safeio.MAX_FILE_BYTES:
                    other.append(
                        (
                            rel,
                            f"{path}/{rel}: file: expected at most {safeio.MAX_FILE_BYTES:,} bytes, "
                            f"got {size:,}",
                        )
                    )
                else:
                    items.append((str(p.relative_to(path)), str(p), size))
            if items:
                return "tree", items, sorted(tree_skipped + other)
        osk = [p for p in files if p.name.endswith(_OPENSKY_EXT)]
        if osk:
            return (
                "opensky",
                [(str(p.relative_to(path)), str(p), p.stat().st_size) for p in osk],
                tree_skipped,
            )
        raise TrackInputError(
            f"{path}: file: expected traces/<xx>/trace_full_<hex>.json files or OpenSky parquet/CSV, got none"
            + (f" ({len(tree_skipped)} entries skipped, first: {tree_skipped[0][1]})" if tree_skipped else "")
        )
    if path.name.endswith(_OPENSKY_EXT) and not path.name.endswith(".tar.gz"):
        return "opensky", [(path.name, str(path), st.st_size)], []
    fd = _open_input(path, st)
    with os.fdopen(fd, "rb") as f:
        first = f.read(512)
        if first[:2] == b"\x1f\x8b" or first[:3] == b"BZh" or first[:6] == b"\xfd7zXZ\x00":
            return "stream", [], []
        if not _header_ok(first):
            raise TrackInputError(f"{path}: file: expected a tar archive of trace files, got something else")
        scanned = _scan_ustar(f, path)
        skipped: list[tuple[str, str]] = []
        if scanned is None:  # pax or GNU long-name headers, or a bad checksum: the standard library decides
            out = _scan_tarfile(f, path, skipped)
        else:
            out, skipped = scanned
    if not out:
        raise TrackInputError(
            f"{path}: file: expected trace_*.json members in the tar, got none"
            + (f" ({len(skipped)} members skipped, first: {skipped[0][1]})" if skipped else "")
        )
    return "tar", out, skipped


def _header_ok(h: bytes) -> bool:
    """A 512-byte block whose tar header checksum verifies (an old-style tar without the ustar magic)."""
    if len(h) < 512:
        return False
    try:
        chk = int(h[148:156].rstrip(b" \0") or b"0", 8)
    except ValueError:
        return False
    return chk == sum(h[:148]) + 256 + sum(h[156:512])


_TAR_TYPES = {
    b"1": "a hard link",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"6": "a FIFO (named pipe)",
}


def _name_problem(path, name: str) -> tuple[str, str] | None:
    """Member names end up in the outputs (source_members, the Candidates page): UTF-8 text without control,
    bidirectional or invisible characters."""
    from ..validate import text_problem

    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return (
            shown,
            f"{path}:{shown}: member: expected a name in UTF-8 text, got bytes that are not (not read)",
        )
    if (bad := text_problem(name)) is not None:
        return name, f"{path}:{name!r}: member: expected a name in {bad[0]}, got {bad[1]} (not read)"
    return None


def _member_skip(path, name: str, typ: bytes, size: int) -> tuple[str, str] | None:
    """Why a tar member is not read (None: it is a trace member to read; directories are not listed)."""
    if typ == b"5":
        return None
    if (bad := _name_problem(path, name)) is not None:
        return bad
    if typ in _TAR_TYPES:
        return (
            name,
            f"{path}:{name}: member: expected a regular file, got {_TAR_TYPES[typ]} (never followed or opened)",
        )
    if not _hex_of(name):
        return name, f"{path}:{name}: member: not a trace_*.json member (not read)"
    if size > safeio.MAX_FILE_BYTES:
        return name, f"{path}:{name}: member: expected at most {safeio.MAX_FILE_BYTES:,} bytes, got {size:,}"
    return None


def _scan_ustar(f, path=None) -> tuple[list, list] | None:
    """Trace members ``(name, data offset, size)`` of an uncompressed tar and the members skipped, read from its
    512-byte headers directly (``tarfile`` builds a Python object per member: seconds for a day's 50,000).
    None when the archive has a header this scanner leaves to ``tarfile`` (pax, GNU long names, base-256 sizes) or a
    header whose checksum does not match. A header cut short, or a member whose data runs past the end of the file,
    raises :class:`TrackInputError` naming it (a silent stop would drop every later member)."""
    if isinstance(f, str | Path):
        with open(f, "rb") as fh:
            return _scan_ustar(fh, f)
    out, skipped = [], []
    end = os.fstat(f.fileno()).st_size
    off = 0
    last = None
    while off < end:
        f.seek(off)
        h = f.read(512)
        if len(h) < 512:
            if h.strip(b"\0"):
                raise TrackInputError(
                    f"{path}: file: expected a complete 512-byte tar header after "
                    f"{'member ' + repr(last) if last else 'the start'}, got {len(h)} bytes "
                    "(a truncated archive)"
                )
            break
        if h.count(0) == 512:
            break  # end-of-archive blocks
        try:
            chk = int(h[148:156].rstrip(b" \0") or b"0", 8)
            size = int(h[124:136].rstrip(b" \0") or b"0", 8)
        except ValueError:
            return None
        if chk != sum(h[:148]) + 256 + sum(h[156:]):
            return None
        typ = h[156:157]
        regular = typ in (b"0", b"\0", b"7")
        if not regular and (typ not in (b"1", b"2", b"3", b"4", b"5", b"6") or size):
            return None  # pax (x, g), GNU long names (L, K), sparse files...
        name = h[:100].split(b"\0", 1)[0]
        if h[257:262] == b"ustar":
            prefix = h[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        name = name.decode("utf-8", "surrogateescape")
        if off + 512 + size > end:
            raise TrackInputError(
                f"{path}:{name}: member: expected {size:,} bytes of data, got "
                f"{max(0, end - off - 512):,} before the end of the file (a truncated archive)"
            )
        why = _member_skip(path, name, typ if not regular else b"0", size)
        if why is not None:
            skipped.append(why)
        elif regular and _hex_of(name):
            out.append((name, off + 512, size))
        last = name
        off += 512 + -(-size // 512) * 512
    return out, skipped


def _scan_tarfile(f, path, skipped: list) -> list:
    """Members through the standard library (pax and GNU headers), with the same checks as :func:`_scan_ustar`."""
    out = []
    end = os.fstat(f.fileno()).st_size
    f.seek(0)
    last = None
    try:
        with tarfile.open(fileobj=f, mode="r:") as tf:
            for m in tf:
                if m.offset_data + (m.size if m.isfile() else 0) > end:
                    raise TrackInputError(
                        f"{path}:{m.name}: member: expected {m.size:,} bytes of data, got "
                        f"{max(0, end - m.offset_data):,} before the end of the file (a truncated "
                        "archive)"
                    )
                typ = (
                    b"0" if m.isfile() else (m.type if isinstance(m.type, bytes) else bytes(m.type, "ascii"))
                )
                why = _member_skip(path, m.name, typ, m.size)
                if why is not None:
                    skipped.append(why)
                elif m.isfile() and _hex_of(m.name):
                    out.append((m.name, m.offset_data, m.size))
                last = m.name
    except (tarfile.TarError, EOFError) as e:
        raise TrackInputError(
            f"{path}: file: expected a complete tar archive, got a broken one after "
            f"{'member ' + repr(last) if last else 'the start'} ({e})"
        ) from None
    return out


def _batches(items, batch_bytes: int):
    cur, size = [], 0
    for it in items:
        cur.append(it)
        size += it[-1]
        if size >= batch_bytes:
            yield cur
            cur, size = [], 0
    if cur:
        yield cur


# ----------------------------------------------------------------------------------- workers
def _write_buckets(tbl: pa.Table, out: Path, batch_no: int, n_buckets: int) -> None:
    if tbl.num_rows == 0:
        return
    ic = tbl.column("icao_int").to_numpy()
    b = (ic % n_buckets).astype(np.int32)
    order = np.argsort(b, kind="stable")  # keeps (icao_int, time) order within a bucket
    tbl = tbl.take(pa.array(order))
    bs = b[order]
    edges = np.flatnonzero(np.r_[True, bs[1:] != bs[:-1], True])
    for a, z in zip(edges[:-1], edges[1:], strict=True):
        d = out / "positions" / f"bucket={int(bs[a]):03d}"
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            tbl.slice(a, z - a),
            d / f"part-{batch_no:05d}.parquet",
            compression="lz4",
            use_dictionary=["icao24", "registration", "callsign"],
            store_schema=False,  # text columns read back as plain strings, by any reader
            write_statistics=["icao_int", "time_utc"],
            row_group_size=1 << 20,
        )


def _aircraft_table(metas: list[dict], tbl: pa.Table) -> pa.Table:
    if not metas or tbl.num_rows == 0:
        return AIRCRAFT_SCHEMA.empty_table()
    ic = tbl.column("icao_int").to_numpy()
    t = tbl.column("time_utc").cast(pa.int64()).to_numpy()
    starts = np.flatnonzero(np.r_[True, ic[1:] != ic[:-1]])
    ends = np.r_[starts[1:], len(ic)]
    span = {int(ic[a]): (int(t[a]), int(t[z - 1]), int(z - a)) for a, z in zip(starts, ends, strict=True)}
    rows = []
    for m in metas:
        k = icao_int(m["icao24"])
        if k not in span:
            continue  # every fix was noise
        f, last, n = span[k]
        rows.append({**m, "icao_int": k, "first_utc": f, "last_utc": last, "n_positions": n})
    cols = {name: [r[name] for r in rows] for name in AIRCRAFT_SCHEMA.names}
    cols["first_utc"] = pa.array(cols["first_utc"], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    cols["last_utc"] = pa.array(cols["last_utc"], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return pa.table(cols, schema=AIRCRAFT_SCHEMA)


def _work(args) -> dict:
    kind, source, items, out, batch_no, n_buckets = args
    out = Path(out)
    t0 = time.perf_counter()
    noise: Counter
    if kind == "opensky":
        tables, metas, noise, skipped = [], [], Counter(), []
        for name, fpath, _size in items:
            try:
                r = read_opensky(fpath, label=name)
            except TrackInputError as e:
                skipped.append((name, str(e)))
                continue
            noise.update(r.noise)
            t, c = clean_positions(r.table)
            noise.update(c)
            if t.num_rows == 0:
                continue
            ints = icao_to_int(t.column("icao24").to_pylist())
            t = t.append_column("icao_int", pa.array(ints)).select(ARCHIVE_SCHEMA.names).cast(ARCHIVE_SCHEMA)
            tables.append(t)
            for h in sorted(set(t.column("icao24").to_pylist())):
                metas.append(
                    {
                        "icao24": h,
                        "registration": None,
                        "type_code": None,
                        "db_flags": None,
                        "description": None,
                        "owner_operator": None,
                        "source_input": source,
                        "source_member": name,
                    }
                )
        tbl = pa.concat_tables(tables) if tables else ARCHIVE_SCHEMA.empty_table()
        if tbl.num_rows:
            tbl = tbl.take(pc.sort_indices(tbl, [("icao_int", "ascending"), ("time_utc", "ascending")]))
        # several hourly files hold one aircraft: one aircraft row per (aircraft, file) keeps every input cited
    else:
        read_skipped: list = []
        if kind == "tar":
            members = []
            fd = _open_input(
                Path(source), _input_stat(Path(source))
            )  # the checked regular file, never a FIFO
            try:
                for name, off, size in items:
                    data = os.pread(fd, size, off)
                    if len(data) != size:
                        read_skipped.append(
                            (
                                name,
                                f"{source}:{name}: member: expected {size:,} bytes, got "
                                f"{len(data):,} (the archive was cut while being read)",
                            )
                        )
                        continue
                    members.append((name, data))
            finally:
                os.close(fd)
        elif kind == "tree":
            members = []
            for name, p, _s in items:
                try:  # regular files inside the tree only: no link on the way, no FIFO or device, bounded size
                    members.append((name, safeio.read_bytes(Path(p), f"{source}/{name}", root=Path(source))))
                except (safeio.UnsafeInputError, OSError) as e:
                    read_skipped.append(
                        (
                            name,
                            str(e)
                            if isinstance(e, safeio.UnsafeInputError)
                            else f"{source}/{name}: file: cannot be read ({e.strerror or e})",
                        )
                    )
        else:  # "bytes": already read by the main process
            members = [(name, data) for name, data, _s in items]
        tbl, metas, noise, skipped = parse_readsb_members(members, Path(source).name)
        skipped = read_skipped + skipped
        ic = tbl.column("icao_int").to_numpy()
        if len(ic) > 1 and (ic[1:] < ic[:-1]).any():  # clean_positions sorts by hex text: the same order
            tbl = tbl.take(pc.sort_indices(tbl, [("icao_int", "ascending"), ("time_utc", "ascending")]))
    _write_buckets(tbl, out, batch_no, n_buckets)
    ac = _aircraft_opensky(metas, tbl) if kind == "opensky" else _aircraft_table(metas, tbl)
    if ac.num_rows:
        (out / "aircraft").mkdir(parents=True, exist_ok=True)
        pq.write_table(ac, out / "aircraft" / f"part-{batch_no:05d}.parquet")
    return {
        "members": len(items),
        "rows": tbl.num_rows,
        "bytes": sum(it[-1] for it in items),
        "noise": noise,
        "skipped": skipped,
        "cpu_s": time.perf_counter() - t0,
    }


def _aircraft_opensky(metas, tbl):
    if tbl.num_rows == 0:
        return AIRCRAFT_SCHEMA.empty_table()
    return _aircraft_table(list({m["icao24"]: m for m in metas}.values()), tbl)


class _CappedReader:
    """A decompressed stream that refuses to give more than ``cap`` bytes (a tar.gz bomb stops at the cap)."""

    def __init__(self, raw, cap: int, label: str):
        self.raw, self.cap, self.label, self.total = raw, cap, label, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n is not None and n >= 0 else self.cap + 1 - self.total)
        self.total += len(data)
        if self.total > self.cap:
            raise safeio.UnsafeInputError(
                f"{self.label}: file: expected a compressed archive that decompresses to "
                f"at most {self.cap:,} bytes ({safeio.DECOMPRESS_RATIO} times its size), "
                "got more (a decompression bomb?)"
            )
        return data

    def close(self) -> None:
        self.raw.close()


def _stream_items(path: Path, batch_bytes: int, skipped: list | None = None):
    """Members of a compressed tar, read sequentially by this process (no random access). The decompressed stream
    is capped at the exact reader's ratio (:data:`safeio.DECOMPRESS_RATIO` times the archive's size, at least
    :data:`safeio.DECOMPRESS_FLOOR`), each member at :data:`safeio.MAX_FILE_BYTES`; links, devices and other
    members are listed in ``skipped``; a cut archive is an error naming the last member read."""
    import bz2
    import gzip
    import lzma
    import zlib

    skipped = [] if skipped is None else skipped
    st = _input_stat(path)
    raw = os.fdopen(_open_input(path, st), "rb")
    magic = raw.read(6)
    raw.seek(0)
    dec = (
        gzip.GzipFile(fileobj=raw)
        if magic[:2] == b"\x1f\x8b"
        else bz2.BZ2File(raw)
        if magic[:3] == b"BZh"
        else lzma.LZMAFile(raw)
    )
    stream = _CappedReader(dec, max(safeio.DECOMPRESS_FLOOR, safeio.DECOMPRESS_RATIO * st.st_size), str(path))
    last = None
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tf:  # type: ignore[call-overload]
            cur, size = [], 0
            for m in tf:
                if m.isdir():
                    continue
                typ = (
                    b"0" if m.isfile() else (m.type if isinstance(m.type, bytes) else bytes(m.type, "ascii"))
                )
                why = _member_skip(path, m.name, typ, m.size)
                if why is not None or not m.isfile():
                    skipped.append(why or (m.name, f"{path}:{m.name}: member: not a regular file (not read)"))
                    last = m.name
                    continue
                data = tf.extractfile(m).read()
                if len(data) != m.size:
                    raise TrackInputError(
                        f"{path}:{m.name}: member: expected {m.size:,} bytes of data, got "
                        f"{len(data):,} before the end of the archive (a truncated archive)"
                    )
                last = m.name
                cur.append((m.name, data, len(data)))
                size += len(data)
                if size >= batch_bytes:
                    yield cur
                    cur, size = [], 0
            if cur:
                yield cur
    except safeio.UnsafeInputError as e:
        raise TrackInputError(str(e)) from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as e:
        raise TrackInputError(
            f"{path}: file: expected a complete compressed tar archive, got a broken one after "
            f"{'member ' + repr(last) if last else 'the start'} ({e})"
        ) from None
    finally:
        raw.close()


# ----------------------------------------------------------------------------------- driver


@dataclass
class IngestResult:
    """What :func:`ingest_archive` did: counts, noise, skipped members and the measured rate."""

    out: Path
    members: int = 0
    rows: int = 0
    bytes_in: int = 0
    seconds: float = 0.0
    noise: Counter = field(default_factory=Counter)
    skipped: list = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


#: compressed archive bytes per aircraft bucket when the number of buckets is chosen automatically
#: (a readsb trace holds about 10-15 compressed bytes per position: ~5 M positions, ~0.5 GB in memory)
BUCKET_BYTES = 64 << 20


def auto_buckets(inputs) -> int:
    """Buckets for ``inputs``: one per :data:`BUCKET_BYTES` of input, at least 4."""
    total = 0
    for p in inputs:
        p = Path(p)
        st = os.lstat(p)
        total += sum(q.lstat().st_size for q in _walk_tree(p)[0]) if stat.S_ISDIR(st.st_mode) else st.st_size
    return max(4, -(-total // BUCKET_BYTES))


def ingest_archive(
    inputs,
    out,
    n_buckets: int | None = 16,
    processes: int = 2,
    batch_bytes: int = 8 << 20,
    progress: bool | None = None,
) -> IngestResult:
    """Ingest one or more archives (tar, tree, OpenSky files) into the positions store ``out``.

    ``n_buckets``: aircraft hash buckets (None: :func:`auto_buckets`, one per 64 MB of input).

    The store is written to ``out`` + ``.tmp`` and renamed when complete, so a failed ingest leaves an
    earlier store intact. Raises :class:`TrackInputError` when no member of any input could be read.

    ``progress``: a bar on stderr (True: always, None: on a terminal, False: never); the totals are logged at INFO
    (DEBUG with False).
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    for (
        src
    ) in inputs:  # every input checked before anything is read or written (missing, a link, FIFO, device)
        _input_stat(Path(src))
    if n_buckets is None:
        n_buckets = auto_buckets(inputs)
    out = Path(out)
    with atomic.exclusive(
        out.with_name(f".{out.name}.lock"), what="ingest into this store"
    ):  # one writer per store
        return _ingest_locked(inputs, out, n_buckets, processes, batch_bytes, progress)


def _prune_partials(out: Path) -> None:
    """Remove ``<out>.partial-<pid>-<n>`` scratch of killed ingests (held lock: only dead processes' scratch)."""
    for p in out.parent.glob(f"{out.name}.partial-*"):
        m = re.fullmatch(re.escape(out.name) + r"\.partial-(\d+)-\d+", p.name)
        if m and not atomic.pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)


def _ingest_locked(
    inputs, out: Path, n_buckets: int, processes: int, batch_bytes: int, progress: bool | None
) -> IngestResult:
    out.parent.mkdir(parents=True, exist_ok=True)
    _prune_partials(out)
    tmp = out.with_name(
        f"{out.name}.partial-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    )  # unique per run
    tmp.mkdir()
    res = IngestResult(out=out)
    t0 = time.perf_counter()
    # members are counted as they are read: the bar has no total
    bar = console.Progress(log, "[archive]", unit="members", show=progress)
    jobs = []
    batch_no = 0

    def gen():
        nonlocal batch_no
        for src in inputs:
            src = Path(src)
            kind, items, skipped = scan_input(src)
            res.skipped.extend(
                skipped
            )  # links, devices, oversized and other members: listed, with the reason
            if kind == "stream":
                for b in _stream_items(src, batch_bytes, res.skipped):
                    yield ("bytes", str(src), b, str(tmp), batch_no, n_buckets)
                    batch_no += 1
                continue
            # at least 4 batches per worker, so that small archives are parallel too
            total = sum(it[-1] for it in items)
            bb = max(1 << 16, min(batch_bytes, total // (4 * max(processes, 1)) + 1))
            for b in _batches(items, bb if kind != "opensky" else 1):
                yield (kind, str(src), b, str(tmp), batch_no, n_buckets)
                batch_no += 1

    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pool = ctx.Pool(processes, initializer=keep_freed_memory) if processes > 1 else None
    try:
        pending: list = []
        it = gen()
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * max(processes, 1):
                try:
                    a = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(pool.apply_async(_work, (a,)) if pool else _Done(_work(a)))
            if not pending:
                break
            r = pending.pop(0).get()
            jobs.append(r)
            res.members += r["members"]
            res.rows += r["rows"]
            res.bytes_in += r["bytes"]
            res.noise.update(r["noise"])
            res.skipped.extend(r["skipped"])
            bar.update(
                res.members, f"{res.rows:,} positions, {res.rows / max(bar.seconds, 1e-9):,.0f} positions/s"
            )
    except BaseException:
        if pool:
            pool.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if pool:
            pool.close()
            pool.join()
        bar.close()
    res.seconds = time.perf_counter() - t0
    if res.rows == 0 and res.skipped:
        shutil.rmtree(tmp, ignore_errors=True)
        raise TrackInputError(
            f"{inputs[0]}: file: expected at least one readable trace, all {len(res.skipped)} failed; "
            f"first error: {res.skipped[0][1]}"
        )
    res.skipped.sort()
    man = {
        "inputs": [str(p) for p in inputs],
        "n_buckets": n_buckets,
        "members": res.members,
        "positions": res.rows,
        "bytes_in": res.bytes_in,
        "noise": dict(sorted(res.noise.items())),
        "skipped": res.skipped,
    }
    (tmp / "manifest.json").write_text(json.dumps(man, indent=1))
    atomic.replace_dir(tmp, out)
    bar.close(
        f"[archive] done: {res.members:,} members, {res.rows:,} positions in {res.seconds:.1f} s "
        f"({res.rows_per_s:,.0f} positions/s), {len(res.skipped)} skipped"
    )
    return res


class _Done:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v


def store_buckets(store) -> list[Path]:
    """The bucket directories of a positions store, in order."""
    return sorted((Path(store) / "positions").glob("bucket=*"))


def read_store_bucket(bucket_dir) -> pa.Table:
    """All positions of one bucket, sorted by (icao_int, time_utc) (parts of several batches merged)."""
    files = sorted(Path(bucket_dir).glob("*.parquet"))
    tbl = pa.concat_tables([pq.read_table(f, schema=ARCHIVE_SCHEMA) for f in files])
    if len(files) > 1:
        tbl = tbl.take(pc.sort_indices(tbl, [("icao_int", "ascending"), ("time_utc", "ascending")]))
    return tbl


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m analysis.tracks.archive", description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+", help="day archives: tar, extracted tree, or OpenSky files")
    ap.add_argument("--out", required=True, help="positions store directory to write")
    ap.add_argument(
        "--buckets", type=int, default=None, help="aircraft buckets (default: one per 64 MB of input)"
    )
    ap.add_argument("--processes", type=int, default=2)
    a = ap.parse_args(argv)
    if a.buckets is not None and not 1 <= a.buckets <= 4096 or not 1 <= a.processes <= 256:
        print("error: --buckets: expected 1 to 4096, --processes: expected 1 to 256", file=sys.stderr)
        return 2
    installed = console.install()  # the totals on stdout, warnings on stderr, like ``python -m analysis``
    try:
        ingest_archive(a.inputs, a.out, a.buckets, a.processes)
    except (
        TrackInputError,
        safeio.UnsafeInputError,
        atomic.BuildLockedError,
    ) as e:  # named: one line, exit 2
        print("error: " + " / ".join(ln for ln in str(e).splitlines() if ln.strip()), file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
    finally:
        if installed:
            console.uninstall()
    return 0


if __name__ == "__main__":  # run as the package's module, so that its messages come from its logger
    from . import archive

    raise SystemExit(archive.main())
