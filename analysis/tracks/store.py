"""Positions store: cleaned positions as parquet sorted by (icao24, time), one part per ingested input.

Layout under ``cache_dir/positions/``::

    part-<key>/NNNNN.parquet     positions (POSITIONS_SCHEMA + icao_int uint32), each file sorted by
                                 icao_int, time_utc, files in ascending non-overlapping aircraft
                                 ranges (a trace tree is written by parallel workers, one file per
                                 batch of traces); row groups hold whole aircraft (~1 M rows), so a
                                 reader can filter by aircraft from row-group statistics and process
                                 row groups independently
    part-<key>.coverage.parquet  per (aircraft, source file): first/last time, rows, registration
    part-<key>.json              manifest: content hash, format, options, noise counts, skipped files

``key`` = hash of (content hash of the input file or of every file in a trace tree, format, options,
watch list, and the code that made the part: :data:`CODE_HASH` of readers.py, noise.py and store.py, so
that a change to parsing or noise filtering re-ingests). Ingesting the same content again finds the manifest and reuses the part: no duplicate
rows, no re-parse. Parts are written to a temporary name and renamed, manifest last.

Read once: each file's bytes are read once, hashed, and the same bytes are parsed (the readers take bytes), so a
part can only hold what its content hash names. When the caller knows the reviewed checksum (the build passes the
one of the provenance record), the hash of the parsed bytes must equal it: a file changed after it was reviewed
(or swapped and restored during the build) raises :class:`TrackChangedError` naming it, and no part is stored.
A trace tree's hash is :func:`analysis.safeio.tree_digest` of its files' hashes, each taken from the bytes that
were parsed (the provenance records use the same digest).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import re
import shutil
import stat
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import atomic, console, safeio
from . import arrays
from .noise import clean_positions
from .readers import (
    OPTION_KEYS,
    POSITIONS_SCHEMA,
    TrackInputError,
    check_options,
    icao_to_int,
    read_readsb_file,
    read_track,
    readsb_meta,
    readsb_tree_files,
)
from .workers import keep_freed_memory

__all__ = [
    "STORE_SCHEMA",
    "Part",
    "Store",
    "TrackChangedError",
    "content_hash",
    "prune_scratch",
    "write_positions",
]

log = logging.getLogger(__name__)

STORE_SCHEMA = POSITIONS_SCHEMA.append(pa.field("icao_int", pa.uint32()))
ROW_GROUP_ROWS = 1_000_000
LAYOUT_VERSION = 2  # bump when the parquet layout (encodings, row groups) changes
COMPRESSION = "lz4"


def _code_hash() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(str(LAYOUT_VERSION).encode())
    for name in ("readers.py", "noise.py", "store.py"):
        h.update(name.encode() + hashlib.sha256((here / name).read_bytes()).digest())
    return h.hexdigest()[:16]


#: hash of the code that reads, cleans and stores positions (part of every part's cache key)
CODE_HASH = _code_hash()


class TrackChangedError(TrackInputError):
    """The bytes read for parsing are not the reviewed ones: the file changed during the build."""


def _changed(label: str, expected: str, got: str) -> TrackChangedError:
    return TrackChangedError(
        f"{label}: file: changed during the build: expected the reviewed content (sha256 {expected[:12]}...), "
        f"read content with sha256 {got[:12]}...; nothing was published. Review the change (make validate) and "
        "build again"
    )


def _file_bytes(path: Path, label: str) -> bytes:
    """One read of a track file (regular file only, bounded size: :mod:`analysis.safeio`)."""
    try:
        return safeio.read_bytes(path, label)
    except safeio.UnsafeInputError as e:
        raise TrackInputError(str(e)) from None
    except OSError as e:
        raise TrackInputError(f"{label}: file: cannot read ({e})") from e


def _tree_digests(root: Path, files: list[Path]) -> dict[Path, str]:
    return {
        f: safeio.sha256_file(f) for f in files
    }  # refuses a link, FIFO or device instead of blocking on it


def content_hash(path: Path) -> str:
    """sha256 of a file's bytes, or :func:`analysis.safeio.tree_digest` of every file under a directory (the
    checksum a provenance record holds for the content)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        return safeio.tree_digest(path, _tree_digests(path, safeio.walk(path)))  # links never followed
    return safeio.sha256_file(path)


def _with_icao_int(tbl: pa.Table) -> pa.Table:
    enc = pc.dictionary_encode(tbl.column("icao24")).combine_chunks()
    ints = icao_to_int(np.array(enc.dictionary.to_pylist(), dtype=object))
    col = ints[arrays.to_numpy(enc.indices)] if len(ints) else np.empty(0, np.uint32)
    return tbl.append_column("icao_int", arrays.from_numpy(col, pa.uint32()))


class _PartWriter:
    """Streams tables (already sorted, whole aircraft, ascending icao) into aligned row groups."""

    def __init__(self, path: Path, rg_rows: int = ROW_GROUP_ROWS, compression: str = COMPRESSION):
        self.path = path
        self.rg_rows = rg_rows
        self.buf: list[pa.Table] = []
        self.nbuf = 0
        self.rows = 0
        # dictionaries only for strings (trying them on floats costs CPU for nothing); statistics on the
        # columns readers filter by (aircraft, time)
        self.writer = pq.ParquetWriter(
            path,
            STORE_SCHEMA,
            compression=compression,
            use_dictionary=["icao24", "registration", "callsign", "source_format"],
            write_statistics=["icao24", "icao_int", "time_utc"],
        )

    def add(self, tbl: pa.Table):
        """Append rows (whole aircraft); big tables are cut at aircraft starts into ~rg_rows groups."""
        if tbl.num_rows == 0:
            return
        if self.nbuf + tbl.num_rows > 2 * self.rg_rows and "icao_int" in tbl.column_names:
            ic = arrays.to_numpy(tbl.column("icao_int"))
            starts = np.flatnonzero(np.r_[True, ic[1:] != ic[:-1]])
            a = 0
            while a < len(ic):
                want = a + max(self.rg_rows - self.nbuf, 1)
                j = np.searchsorted(starts, want)
                b = int(starts[j]) if j < len(starts) else len(ic)
                self.buf.append(tbl.slice(a, b - a))
                self.nbuf += b - a
                if self.nbuf >= self.rg_rows:
                    self._flush()
                a = b
            return
        self.buf.append(tbl)
        self.nbuf += tbl.num_rows
        if self.nbuf >= self.rg_rows:
            self._flush()

    def _flush(self):
        if self.buf:
            t = pa.concat_tables(self.buf).cast(STORE_SCHEMA)
            self.writer.write_table(t, row_group_size=max(t.num_rows, 1))
            self.rows += t.num_rows
        self.buf, self.nbuf = [], 0

    def close(self):
        self._flush()
        self.writer.close()


def write_positions(tbl: pa.Table, path: Path, rg_rows: int = ROW_GROUP_ROWS) -> int:
    """Write a positions table (sorted by icao24, time) with row groups aligned to aircraft."""
    if "icao_int" not in tbl.column_names:
        tbl = _with_icao_int(tbl)
    tbl = tbl.select(STORE_SCHEMA.names)
    w = _PartWriter(Path(path), rg_rows)
    ic = arrays.to_numpy(tbl.column("icao_int"))
    starts = np.flatnonzero(np.r_[True, ic[1:] != ic[:-1]]) if len(ic) else np.array([], int)
    # cut at the first aircraft start past each rg_rows boundary
    cuts = [0]
    for b in range(rg_rows, len(ic), rg_rows):
        j = np.searchsorted(starts, b)
        if j < len(starts) and starts[j] > cuts[-1]:
            cuts.append(int(starts[j]))
    cuts = sorted(set(cuts)) + [len(ic)]
    for a, b in zip(cuts[:-1], cuts[1:], strict=False):
        w.add(tbl.slice(a, b - a))
        w._flush()
    w.close()
    return w.rows


def _coverage(tbl: pa.Table, source_file: str) -> pa.Table:
    import polars as pl

    if tbl.num_rows == 0:
        df = pl.DataFrame(
            schema={
                "icao24": pl.String,
                "source_file": pl.String,
                "source_format": pl.String,
                "t_min": pl.Datetime("us", "UTC"),
                "t_max": pl.Datetime("us", "UTC"),
                "n": pl.Int64,
                "registration": pl.String,
            }
        )
        return df.to_arrow()
    df = pl.DataFrame(pl.from_arrow(tbl.select(["icao24", "time_utc", "registration", "source_format"])))
    return (
        df.group_by("icao24")
        .agg(
            pl.col("source_format").first(),
            pl.col("time_utc").min().alias("t_min"),
            pl.col("time_utc").max().alias("t_max"),
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("registration").drop_nulls().first(),
        )
        .with_columns(pl.lit(source_file).alias("source_file"))
        .select("icao24", "source_file", "source_format", "t_min", "t_max", "n", "registration")
        .to_arrow()
    )


@dataclass
class Part:
    """One ingested input: a directory of parquet files (each sorted by icao_int, time_utc; ascending,
    non-overlapping aircraft ranges across files), its coverage sidecar and manifest facts."""

    key: str
    content_hash: str
    path: Path
    coverage_path: Path
    source: str
    fmt: str
    n_rows: int
    noise: Counter = field(default_factory=Counter)
    skipped: list = field(default_factory=list)
    reused: bool = False
    #: readsb trace metadata per aircraft (hex -> r, t, desc, ownOp, year, dbFlags, file), from the parsed bytes
    meta: dict = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        return sorted(self.path.glob("*.parquet"))


def _cov_rows(tbl: pa.Table, name: str) -> list[tuple]:
    """Coverage rows (one aircraft per table) without polars: for worker processes."""
    if tbl.num_rows == 0:
        return []
    t = arrays.to_numpy(tbl.column("time_utc").cast(pa.int64()))
    reg = pc.drop_null(tbl.column("registration"))
    return [
        (
            tbl.column("icao24")[0].as_py(),
            name,
            tbl.column("source_format")[0].as_py(),
            int(t.min()),
            int(t.max()),
            tbl.num_rows,
            reg[0].as_py() if len(reg) else None,
        )
    ]


def _cov_table(rows: list[tuple]) -> pa.Table:
    cols: list = list(zip(*rows, strict=True)) if rows else [[]] * 7
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "icao24": arrays.strings(cols[0]),
            "source_file": arrays.strings(cols[1]),
            "source_format": arrays.strings(cols[2]),
            "t_min": arrays.from_numpy(np.array(cols[3], np.int64)).cast(ts),
            "t_max": arrays.from_numpy(np.array(cols[4], np.int64)).cast(ts),
            "n": arrays.from_numpy(np.array(cols[5], np.int64)),
            "registration": arrays.strings(cols[6]),
        }
    )


def _add_meta(meta: dict, header: dict | None, label: str, name: str) -> None:
    """readsb top-level metadata (r, t, desc, ownOp, year, dbFlags) of one trace, from the top level the reader
    parsed with its positions (:attr:`analysis.tracks.readers.ReadResult.header`)."""
    try:
        m = readsb_meta(header or {}, label)
    except TrackInputError:
        return
    if m["icao"] not in meta:
        meta[m["icao"]] = m | {"file": name}


def _tree_batch(args):
    """Worker: read + clean a batch of trace files (hex order) and write one sorted parquet file."""
    files, root_parent, watch, out_path = args
    noise: Counter = Counter()
    skipped, cov = [], []
    ok = 0
    groups: list[list[tuple[str, pa.Table]]] = []
    digests: dict[str, str] = {}
    meta: dict[str, dict] = {}
    for path in files:
        label = str(Path(path).relative_to(root_parent))
        try:
            data = _file_bytes(Path(path), label)  # one read: these bytes are hashed and parsed
            digests[path] = hashlib.sha256(data).hexdigest()
            r = read_readsb_file(data, watch, label=label)  # positions and top level, parsed once
            if r is None:
                ok += 1
                continue
            _add_meta(meta, r.header, label, Path(path).name)
            tbl, counts = clean_positions(r.table)
            noise.update(counts)
            ok += 1
        except TrackInputError as e:
            m = re.search(r"record (\d+)", str(e))
            skipped.append((label, int(m.group(1)) if m else None, str(e)))
            continue
        except Exception as e:  # a broken file among thousands must not stop the ingest
            skipped.append((label, None, f"{label}: file: unexpected error {type(e).__name__}: {e}"))
            continue
        if tbl.num_rows == 0:
            continue
        cov.extend(_cov_rows(tbl, Path(path).name))
        h = tbl.column("icao24")[0].as_py()
        if groups and groups[-1][0][0] == h:
            groups[-1].append((h, tbl))
        else:
            groups.append([(h, tbl)])
    tables = []
    for g in groups:
        if len(g) == 1:
            tables.append(g[0][1])
        else:  # several files for one aircraft (e.g. several days): merge and re-clean
            tbl, counts = clean_positions(pa.concat_tables([x[1] for x in g]))
            noise.update(counts)
            tables.append(tbl)
    n = 0
    if tables:
        tbl = _with_icao_int(pa.concat_tables(tables))
        ic = arrays.to_numpy(tbl.column("icao_int"))
        if len(ic) > 1 and (np.diff(ic.astype(np.int64)) < 0).any():  # names out of icao order
            tbl = tbl.take(pc.sort_indices(tbl, [("icao_int", "ascending"), ("time_utc", "ascending")]))
        n = write_positions(tbl, Path(out_path))
    return {
        "files": len(files),
        "ok": ok,
        "rows": n,
        "noise": noise,
        "skipped": skipped,
        "cov": cov,
        "digests": digests,
        "meta": meta,
    }


#: scratch in positions/: a part being written (``.tmp-<key>-<pid>``), a merge being written
#: (``merged-<key>.<pid>.tmp.parquet``; ``merged-<key>.tmp.parquet`` from code that did not name its writer)
_SCRATCH = re.compile(
    r"^(?:\.tmp-[0-9a-f]+-(?P<pid>\d+)(?:\.json)?|merged-[0-9a-f]+(?:\.(?P<mpid>\d+))?\.tmp\.parquet)$"
)
#: a scratch file that names no writer is left alone while it may still be written (younger than this)
UNNAMED_SCRATCH_AGE_S = 3600


def prune_scratch(positions_dir: Path) -> list[Path]:
    """Remove what killed ingests and merges left in ``positions_dir``: scratch whose writer process is gone (its
    id is in the name), and unnamed merge scratch of older code once it is an hour old. A live writer's scratch,
    this process's included, is kept. Returns what was removed."""
    removed: list[Path] = []
    if not positions_dir.is_dir():
        return removed
    now = time.time()
    for p in sorted(positions_dir.iterdir()):
        m = _SCRATCH.match(p.name)
        if not m:
            continue
        pid = m.group("pid") or m.group("mpid")
        try:
            if pid is not None and atomic.pid_alive(int(pid)):
                continue
            if pid is None and now - p.lstat().st_mtime < UNNAMED_SCRATCH_AGE_S:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        except FileNotFoundError:
            continue
        removed.append(p)
    if removed:
        log.info("removed %d scratch entries of killed runs from %s", len(removed), positions_dir)
    return removed


class Store:
    """Parquet positions store in ``cache_dir`` (see module docstring). Opening it removes the scratch of killed
    runs (:func:`prune_scratch`)."""

    def __init__(self, cache_dir):
        self.root = Path(cache_dir)
        self.dir = self.root / "positions"
        self.dir.mkdir(parents=True, exist_ok=True)
        prune_scratch(self.dir)

    def _key(self, chash, fmt, options, watch) -> str:
        spec = json.dumps(
            {
                "h": chash,
                "f": fmt,
                "o": options or {},
                "w": sorted(watch) if watch is not None else None,
                "code": CODE_HASH,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(spec.encode()).hexdigest()[:24]

    def _files_sha256(self, folder: Path, coverage: Path) -> dict[str, str]:
        """sha256 of every file of a part (its parquet files and its coverage), by name: what the manifest records."""
        out = {f"{f.name}": safeio.sha256_file(f) for f in safeio.walk(folder)}
        out["coverage"] = safeio.sha256_file(coverage)
        return out

    def _discard(self, key: str, why: str) -> None:
        log.warning("positions cache part-%s %s: removed, its input is ingested again", key, why)
        for p in (self.dir / f"part-{key}.json", self.dir / f"part-{key}.coverage.parquet"):
            p.unlink(missing_ok=True)
        folder = self.dir / f"part-{key}"
        if folder.is_symlink() or folder.is_file():
            folder.unlink(missing_ok=True)
        elif folder.exists():
            shutil.rmtree(folder, ignore_errors=True)

    def _load(self, key) -> Part | None:
        """The stored part under ``key``, verified: its manifest must name the key it is stored under (content hash,
        format, options, watch list, code) and every file must hash to what the manifest recorded when the part was
        written. A corrupt, tampered or half-removed part is discarded (and re-ingested by the caller), never used."""
        man = self.dir / f"part-{key}.json"
        if not (man.exists() or man.is_symlink()):
            return None
        try:
            m = safeio.load_json(
                safeio.read_bytes(man, str(man), max_bytes=safeio.MAX_SIDECAR_BYTES * 64), str(man)
            )
            if not isinstance(m, dict):
                raise ValueError("not a JSON object")
            watch = m["watch"]
            if (
                self._key(
                    m["content_hash"], m["format"], m["options"], set(watch) if watch is not None else None
                )
                != key
            ):
                self._discard(key, "has a manifest for another input")
                return None
            files = m.get("files_sha256")
            if not isinstance(files, dict):
                self._discard(key, "has no file checksums (written by older code)")
                return None
            now = self._files_sha256(self.dir / f"part-{key}", self.dir / f"part-{key}.coverage.parquet")
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
        ) as exc:  # unreadable manifest, missing file, link...
            self._discard(key, f"cannot be verified ({type(exc).__name__}: {str(exc)[:120]})")
            return None
        if now != files:
            bad = sorted(set(now) ^ set(files) | {k for k in now if k in files and now[k] != files[k]})
            self._discard(key, f"does not match the checksums it was written with ({', '.join(bad[:3])})")
            return None
        return Part(
            key=key,
            content_hash=m["content_hash"],
            path=self.dir / f"part-{key}",
            coverage_path=self.dir / f"part-{key}.coverage.parquet",
            source=m["source"],
            fmt=m["format"],
            n_rows=m["n_rows"],
            noise=Counter(m["noise"]),
            skipped=[tuple(s) for s in m["skipped"]],
            reused=True,
            meta=m.get("meta") or {},
        )

    def ingest(
        self,
        path,
        fmt: str,
        options=None,
        watch_hex=None,
        processes: int = 2,
        progress: bool | None = None,
        expected_hash: str | None = None,
    ) -> Part:
        """Read, clean and store one input (file or readsb trace tree). Reuses an identical earlier ingest.

        ``expected_hash``: the reviewed content checksum (:func:`content_hash` form, as the provenance record
        has it). The part is looked up under it, and a new part is only stored when the bytes parsed hash to it;
        otherwise :class:`TrackChangedError`. Without it, the hash of the bytes read here is the key.

        ``progress``: a trace tree's bar on stderr (True: always, None: on a terminal, False: never); its totals
        are logged at INFO (DEBUG with False).
        """
        path = Path(path)
        label = str(path)
        try:
            is_tree = stat.S_ISDIR(os.lstat(path).st_mode)
        except FileNotFoundError:
            raise TrackInputError(
                f"{path}: file: expected an existing file or directory, got nothing there"
            ) from None
        options = check_options(fmt, options, label) if fmt in OPTION_KEYS else options
        watch = {h.lower() for h in watch_hex} if watch_hex is not None else None
        if is_tree and fmt != "readsb":
            raise TrackInputError(f"{path}: file: expected a file for format {fmt!r}, got a directory")
        data = None
        tree_files = tree_digests = None
        if expected_hash is not None:
            chash = expected_hash  # a part stored under it was parsed from bytes with this hash
        elif is_tree:
            tree_files = safeio.walk(path)  # links, FIFOs and devices refused, never followed
            tree_digests = _tree_digests(path, tree_files)
            chash = safeio.tree_digest(path, tree_digests)
        else:
            data = _file_bytes(path, label)
            chash = hashlib.sha256(data).hexdigest()
        key = self._key(chash, fmt, options, watch)
        part = self._load(key)
        if part is not None:
            log.info("reusing ingested %s (%s)", path, key)
            return part
        tmp = self.dir / f".tmp-{key}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        noise: Counter = Counter()
        skipped: list = []
        meta: dict = {}
        try:
            if is_tree:
                n_rows, cov, parsed = self._ingest_tree(
                    path, watch, tmp, noise, skipped, processes, progress, meta, tree_files, tree_digests
                )
                got = safeio.tree_digest(path, parsed)
                moved = sorted(
                    f.relative_to(path).as_posix()
                    for f in (tree_digests or {})
                    if parsed.get(f) != (tree_digests or {})[f]
                )
                if moved:  # the hash before the parse names the file(s) whose parsed bytes differ
                    label = f"{path} ({', '.join(moved[:5])}{' ...' if len(moved) > 5 else ''})"
            else:
                if data is None:
                    data = _file_bytes(path, label)
                got = hashlib.sha256(data).hexdigest()
                if got == chash:  # parse exactly the bytes that were hashed
                    r = read_track(data, fmt, options, watch, label=label)
                    if fmt == "readsb" and r.table.num_rows:
                        _add_meta(meta, r.header, label, path.name)
                    del data
                    tbl, counts = clean_positions(r.table)
                    noise.update(r.noise)
                    noise.update(counts)
                    n_rows = write_positions(tbl, tmp / "00000.parquet") if tbl.num_rows else 0
                    cov = _coverage(tbl, path.name)
            if got != chash:
                raise _changed(label, chash, got)
            pq.write_table(cov, tmp / "coverage.parquet.sidecar")
            files_sha256 = {
                f.name: safeio.sha256_file(f)
                for f in safeio.walk(tmp)
                if f.name != "coverage.parquet.sidecar"
            }
            files_sha256["coverage"] = safeio.sha256_file(tmp / "coverage.parquet.sidecar")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        final = self.dir / f"part-{key}"
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp / "coverage.parquet.sidecar", self.dir / f"part-{key}.coverage.parquet")
        os.replace(tmp, final)
        man = {
            "content_hash": chash,
            "source": str(path),
            "format": fmt,
            "options": options or {},
            "watch": sorted(watch) if watch is not None else None,
            "n_rows": n_rows,
            "noise": dict(noise),
            "skipped": skipped,
            "meta": meta,
            "files_sha256": files_sha256,
        }
        tmp_man = self.dir / f".tmp-{key}-{os.getpid()}.json"  # scratch name (pruned if killed), then renamed
        tmp_man.write_text(json.dumps(man, indent=1, default=str))
        os.replace(tmp_man, self.dir / f"part-{key}.json")
        return Part(
            key=key,
            content_hash=chash,
            path=final,
            coverage_path=self.dir / f"part-{key}.coverage.parquet",
            source=str(path),
            fmt=fmt,
            n_rows=n_rows,
            noise=noise,
            skipped=skipped,
            meta=meta,
        )

    def _ingest_tree(
        self,
        root: Path,
        watch,
        tmp: Path,
        noise: Counter,
        skipped: list,
        processes: int,
        progress: bool | None,
        meta: dict,
        all_files: list[Path] | None = None,
        digests: dict[Path, str] | None = None,
        batch_files: int = 64,
    ):
        """Parse the watched traces of a tree in worker processes; returns (rows, coverage, {file: sha256}). Each
        file is read once: the workers hash the bytes they parse, the other files are hashed here (or were, by
        the caller: ``digests``); the tree hash is made from those."""
        if all_files is None:
            all_files = safeio.walk(root)  # links, FIFOs and devices refused, never followed
        digests = dict(digests or {})
        files = readsb_tree_files(root, watch, files=all_files)
        parsed = set(files)

        def all_digests() -> dict[Path, str]:
            rest = [f for f in all_files if f not in parsed and f not in digests]
            digests.update(_tree_digests(root, rest))
            return digests

        if not files:
            if not readsb_tree_files(root, files=all_files):
                raise TrackInputError(
                    f"{root}: file: expected trace_*.json files in a traces/ tree, got none"
                )
            return 0, _cov_table([]), all_digests()  # no watched aircraft in this tree
        for f in parsed:
            digests.pop(f, None)  # the hash of a parsed file is the hash of the bytes its worker parsed
        batch_files = max(1, min(batch_files, len(files) // (4 * max(processes, 1))))
        # batches of consecutive files in hex order; a hex never straddles two batches
        hexes = [p.name.split(".")[0].rsplit("_", 1)[-1].lower() for p in files]
        batches: list[list[str]] = []
        cur: list[str] = []
        for i, p in enumerate(files):
            if len(cur) >= batch_files and hexes[i] != hexes[i - 1]:
                batches.append(cur)
                cur = []
            cur.append(str(p))
        if cur:
            batches.append(cur)
        args = [(b, str(root.parent), watch, str(tmp / f"{i:05d}.parquet")) for i, b in enumerate(batches)]
        what = f"[tracks] readsb {root.name}"
        prog = console.Progress(log, what, total=len(files), unit="files", show=progress)
        # fork: works from notebooks and unguarded scripts; workers use numpy/pyarrow only (no polars)
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        pool = (
            ctx.Pool(processes, initializer=keep_freed_memory) if processes > 1 and len(batches) > 1 else None
        )
        it = pool.imap_unordered(_tree_batch, args) if pool else map(_tree_batch, args)
        ok = rows = done = 0
        cov: list[tuple] = []
        try:
            for res in it:
                ok += res["ok"]
                rows += res["rows"]
                done += res["files"]
                noise.update(res["noise"])
                skipped.extend(res["skipped"])
                cov.extend(res["cov"])
                digests.update({Path(k): v for k, v in res["digests"].items()})
                for h, m in res["meta"].items():
                    meta.setdefault(h, m)
                prog.update(done, f"{rows:,} rows, {rows / max(prog.seconds, 1e-9):,.0f} rows/s")
        finally:
            if pool:
                pool.close()
                pool.join()
            prog.close()
        el = max(prog.seconds, 1e-9)
        prog.close(
            f"{what}: {len(files)}/{len(files)} files, {rows:,} rows, {rows / el:,.0f} rows/s, {el:.1f} s"
        )
        if ok == 0:
            raise TrackInputError(
                f"{root}: file: expected at least one readable trace, all {len(files)} failed; "
                f"first error: {skipped[0][2]}"
            )
        if skipped:
            log.warning("%s: skipped %d of %d trace files", root, len(skipped), len(files))
        skipped.sort()
        return rows, _cov_table(cov), all_digests()
