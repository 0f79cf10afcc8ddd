"""raw -> derived: validate data/raw, resolve places, derive tables, publish them whole.

``python -m analysis build`` (``make data``) runs :func:`build`:

1. take the build lock (two builds in one checkout run one after the other) and clear the scratch folders
   of killed runs;
2. read every raw file once (:func:`analysis.provenance.snapshot`) and verify it against its provenance record
   (a changed file stops the build, named);
3. validate the raw tables parsed from those same bytes (:mod:`analysis.validate`; every problem named by file,
   line and field);
4. skip the rest when the fingerprint (raw checksums, track formats and options, code, lock file) matches the
   current build;
5. run the steps of :data:`analysis.steps.STEPS` in dependency order (SQL in ``analysis/sql``, one file per
   table, or a function); check that no track input changed meanwhile;
6. check every table as its step is run (:func:`analysis.steps.check`: declared columns and types, key unique and
   not null, values in range, the step's own checks; a failure names the rows and publishes nothing);
7. write parquet files (rows in a fixed order), ``flights.duckdb`` (views over them; written twice and compared,
   so a DuckDB whose files are no longer reproducible fails the build), ``datapackage.json`` (Frictionless: every
   table's fields, types, descriptions and key) and ``manifest.json`` into a new build folder, and swap
   ``data/derived/current`` to it atomically.

Reproducible to the byte: the manifest's ``build_id`` is derived from the fingerprint and ``built_utc`` from the
inputs (``SOURCE_DATE_EPOCH`` when set, else the newest ``recorded_utc`` of the provenance records), so two
clean builds of the same inputs and code, in any folders, write identical files. No SQL is assembled from
paths or values: they are bound as parameters or written as quoted literals and identifiers.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from . import atomic, provenance, steps
from .paths import PACKAGE_DIR, REPO_DIR, Project, as_project, default_project, study_not_found
from .validate import Raw, load_raw

__all__ = [
    "build",
    "BuildResult",
    "BuildError",
    "DERIVED_TABLES",
    "data_modules",
    "code_files",
    "fingerprint",
    "derive",
    "current_manifest",
    "sql_literal",
    "sql_identifier",
]

log = logging.getLogger(__name__)

#: the derived tables of data/derived, in build order (from the registry of steps, analysis/steps.py)
DERIVED_TABLES = steps.PUBLISHED


class BuildResult(dict):
    """What a build did: ``status`` (built | up-to-date), ``path``, ``fingerprint``, row counts, timings."""


class BuildError(RuntimeError):
    """The build could not write its outputs (read-only folder, full disk, a real folder where a link belongs).

    The previous outputs are intact; the message names the path and what to do.
    """


_NAME = re.compile(r"^_?[a-z][a-z0-9_]{0,62}$")


def sql_literal(text: str) -> str:
    """A SQL string literal for ``text`` (quotes doubled; NUL refused): for the few places DuckDB takes no
    parameter (a view's definition)."""
    if "\0" in text:
        raise ValueError("a NUL character cannot be part of a SQL literal")
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A quoted SQL identifier for a table name of ours (lowercase letters, digits, underscores)."""
    if not _NAME.match(name):
        raise ValueError(f"expected a table name of lowercase letters, digits and underscores, got {name!r}")
    return '"' + name + '"'


def code_files() -> list[Path]:
    """Every file whose bytes shape data/derived: the runner (this module and what it imports: validation, the
    raw snapshot, publication) and the code of every step (:func:`analysis.steps.code_files`), sorted."""
    files = set(steps.module_closure(Path(__file__)))
    for step in steps.STEPS:
        files.update(steps.code_files(step))
    return sorted(files)


@functools.cache
def data_modules() -> frozenset[str]:
    """The modules (paths relative to analysis/) whose code shapes data/derived (:func:`code_files`); the report
    leaves them out of its page hash, since they reach the pages through the data fingerprint. Also importable as
    ``DATA_MODULES`` (computed on first use: reading the imports of some 25 modules takes most of a second, which
    no importer of this module should pay for nothing)."""
    return frozenset(f.relative_to(PACKAGE_DIR).as_posix() for f in code_files() if f.suffix == ".py")


def __getattr__(name: str) -> frozenset[str]:
    if name == "DATA_MODULES":
        return data_modules()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fingerprint(project: Project, raw_sums: dict[str, str]) -> str:
    """Hash of everything the derived data depends on: raw checksums, the runner's code, each step's declaration
    and code (:func:`analysis.steps.step_fingerprint`), the lock file."""
    h = hashlib.sha256()
    for k in sorted(raw_sums):
        h.update(f"{k}={raw_sums[k]}\n".encode())
    for f in steps.module_closure(Path(__file__)):
        h.update(f.relative_to(PACKAGE_DIR).as_posix().encode() + hashlib.sha256(f.read_bytes()).digest())
    for step in steps.STEPS:
        h.update(f"step {step.table}={steps.step_fingerprint(step)}\n".encode())
    lock = REPO_DIR / "uv.lock"
    if lock.exists():
        h.update(hashlib.sha256(lock.read_bytes()).digest())
    return h.hexdigest()


# --- the steps: analysis/steps.py says what each table is made from and by which code ---------------------------


def _run_sql(step: steps.Step, inputs: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """A SQL step: its declared input tables (only those) in a fresh DuckDB, the macros, then its file."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(steps.MACROS.read_text(encoding="utf-8"))
        for name, df in inputs.items():
            con.register(f"_{name}", df)
            con.execute(f"CREATE TABLE {sql_identifier(name)} AS SELECT * FROM {sql_identifier('_' + name)}")
            con.unregister(f"_{name}")
        con.execute((steps.SQL_DIR / f"{step.code.removeprefix('sql:')}.sql").read_text(encoding="utf-8"))
        return con.sql(f"SELECT * FROM {sql_identifier(step.table)}").pl()
    finally:
        con.close()


class _Context(dict):
    """A step's inputs (a read-only view: only the tables it declares), with the build's project and snapshot."""

    def __init__(self, tables: dict[str, pl.DataFrame], project: Project | None, snapshot, observed):
        super().__init__(tables)
        self.project = project
        self.snapshot = snapshot
        self.observed = observed


def derive(
    raw: Raw,
    project: Project | None = None,
    observed=None,
    snapshot: provenance.Snapshot | None = None,
    check: bool = True,
) -> dict[str, pl.DataFrame]:
    """The published derived tables from validated raw tables, in memory: every step of
    :data:`analysis.steps.STEPS` in dependency order, each checked (:func:`analysis.steps.check`) before later
    steps read it.

    ``observed``: an :class:`analysis.observed.ObservedEvidence` to use instead of reading the track files;
    ``snapshot``: the build's read of data/raw (the track records and reviewed checksums come from it)."""
    tables: dict[str, pl.DataFrame] = {f"raw.{k}": v for k, v in raw.tables.items()}
    calls: dict[str, dict[str, pl.DataFrame]] = {}
    for step in steps.order():
        inputs = {i: tables[i] for i in step.inputs}
        if step.is_sql:
            df = _run_sql(step, inputs)
        else:
            ctx = _Context(inputs, project or default_project(), snapshot, observed)
            out = calls[step.code] if step.code in calls else steps.function_of(step)(ctx)
            if isinstance(out, dict):  # one function, several tables (the observed records)
                calls[step.code] = out
                df = out[step.table]
            else:
                df = out
        # a column with no value at all has no type of its own (polars: Null); it takes the declared one
        untyped = {
            c: t for c, t in steps.schema_of(step).items() if c in df.columns and df.schema[c] == pl.Null
        }
        if untyped:
            df = df.with_columns(pl.col(c).cast(t) for c, t in untyped.items())
        if check:
            try:
                steps.check(step, df, inputs)
            except steps.DataCheckError as exc:
                raise BuildError(str(exc)) from None
        tables[step.table] = df
    return {name: tables[name] for name in DERIVED_TABLES}


def _stable_order(df: pl.DataFrame, step: steps.Step) -> pl.DataFrame:
    """Rows in a fixed order: by the step's sort keys (:func:`analysis.steps.sort_keys`; nulls last). A table whose
    order is already a total order on its columns (e.g. leg paths by leg and point) keeps it."""
    cols = steps.sort_keys(step, df)
    if not cols or df.height < 2:
        return df
    return df.sort(cols, nulls_last=True, maintain_order=True)


def _write(tables: dict[str, pl.DataFrame], folder: Path, meta: dict) -> None:
    for name, df in tables.items():
        sql_identifier(name)
        df.write_parquet(folder / f"{name}.parquet", compression="zstd", statistics=True)
    db = folder / "flights.duckdb"
    _write_database(db, list(tables), meta["fingerprint"])
    # the same database once more, beside it: a DuckDB that writes anything but the patched identifier at random
    # (another file layout, a new random field) would publish files that differ from build to build, silently
    again = folder / ".flights.identity-check.duckdb"
    try:
        _write_database(again, list(tables), meta["fingerprint"])
        if again.read_bytes() != db.read_bytes():
            raise BuildError(
                f"{db}: DuckDB {duckdb.__version__} wrote two different files for the same views, so builds are no "
                "longer byte-identical; expected the file layout this build was written for (the duckdb version in "
                "uv.lock). Nothing was published; install the locked duckdb (`make env`) or update "
                "analysis/build.py:_fix_database_identifier for the new layout"
            )
    finally:
        again.unlink(missing_ok=True)
    (folder / "datapackage.json").write_text(
        json.dumps(steps.datapackage("parquet", tables=tuple(tables)), indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    (folder / "manifest.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _write_database(db: Path, names: list[str], fingerprint: str) -> None:
    """``flights.duckdb``: one view per table over its parquet file, with the identifier fixed (fails loudly when
    the file's layout is not the one :func:`_fix_database_identifier` knows)."""
    con = duckdb.connect(str(db))
    try:
        # views name their parquet file relative to the database; readers set file_search_path (a bound
        # parameter) to the folder of the database they open
        con.execute("SET file_search_path = ?", [db.parent.as_posix()])
        for name in names:
            con.execute(
                f"CREATE VIEW {sql_identifier(name)} AS SELECT * FROM read_parquet("
                f"{sql_literal(name + '.parquet')})"
            )
    finally:
        con.close()
    if not _fix_database_identifier(db, fingerprint):
        raise BuildError(
            f"{db}: DuckDB {duckdb.__version__} wrote a database header this build does not know (no verifiable "
            "identifier to fix), so the file would differ from build to build; expected the layout of the duckdb "
            "version in uv.lock. Nothing was published; install the locked duckdb (`make env`) or update "
            "analysis/build.py:_fix_database_identifier for the new layout"
        )


_DUCKDB_BLOCK = 4096
_DUCKDB_ID = slice(124, 140)  # the 16-byte random database identifier in DuckDB's main and database headers


def _duckdb_checksum(block: bytes) -> int:
    """DuckDB's header checksum (src/common/checksum.cpp): XOR of each 8-byte word times a constant, ^ 5381."""
    import numpy as np

    words = np.frombuffer(block[: len(block) // 8 * 8], dtype="<u8")
    with np.errstate(over="ignore"):
        mixed = words * np.uint64(0xBF58476D1CE4E5B9)
    return int(np.bitwise_xor.reduce(mixed) ^ np.uint64(5381))


def _fix_database_identifier(db: Path, fingerprint: str) -> bool:
    """Replace the random identifier DuckDB writes into a new database file by one derived from the build's
    fingerprint (and re-seal the header checksums), so that two builds of the same inputs write the same bytes.

    Touches only header blocks whose checksum verifies and whose identifier is the file's own; returns False
    (file unchanged) when the layout is not the one this was written for.
    """
    with open(db, "r+b") as fh:
        head = bytearray(fh.read(3 * _DUCKDB_BLOCK))
        if len(head) < 3 * _DUCKDB_BLOCK or head[8:12] != b"DUCK":
            return False
        ident = bytes(head[_DUCKDB_ID])
        if ident == bytes(16):
            return False
        new = hashlib.sha256(f"flights.duckdb\0{fingerprint}".encode()).digest()[:16]
        patched = False
        for off in range(0, 3 * _DUCKDB_BLOCK, _DUCKDB_BLOCK):
            block = head[off : off + _DUCKDB_BLOCK]
            stored = int.from_bytes(block[:8], "little")
            if _duckdb_checksum(bytes(block[8:])) != stored:
                return False
            if bytes(block[_DUCKDB_ID]) == ident:
                block[_DUCKDB_ID] = new
                block[:8] = _duckdb_checksum(bytes(block[8:])).to_bytes(8, "little")
                head[off : off + _DUCKDB_BLOCK] = block
                patched = True
        fh.seek(0)
        fh.write(head)
    return patched


def _built_utc(snap: provenance.Snapshot) -> str | None:
    """The build stamp, from the inputs: SOURCE_DATE_EPOCH if set, else the newest provenance recorded_utc."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isascii() and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamps = sorted(str(r.get("recorded_utc")) for r in snap.records.values() if r.get("recorded_utc"))
    return stamps[-1] if stamps else None


def _write_error(exc: OSError, where: Path) -> BuildError:
    what = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return BuildError(
        f"{exc.filename or where}: cannot write the build ({what}); expected a writable folder with "
        f"free space under {where}. Nothing was published; the previous data/derived is intact"
    )


def current_manifest(project: Project) -> dict | None:
    try:
        return json.loads((project.current / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def build(project: Project | None = None, force: bool = False, quiet: bool = False) -> BuildResult:
    """Build data/derived from data/raw (see module docstring). Raises on bad input, writing nothing.

    Progress is logged at INFO (the command line shows it, :mod:`analysis.console`); ``quiet`` logs it at DEBUG.
    """
    project = as_project(project)
    if not project.raw.is_dir():
        raise study_not_found(project)
    level = logging.DEBUG if quiet else logging.INFO

    def say(text: str) -> None:
        log.log(level, text)

    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(atomic.exclusive(project.lock))
        except OSError as exc:
            raise _write_error(exc, project.build) from None
        return _build_locked(project, force, say, t0)


def _build_locked(project: Project, force: bool, say, t0: float) -> BuildResult:
    atomic.prune_scratch(
        project.derived / "builds", project.build
    )  # scratch of killed runs (never a live one's)
    atomic.prune_stale_links(project.derived, project.root)
    snap = provenance.snapshot(project.raw)
    sums = snap.check()
    raw = load_raw(project.raw, data=snap.tables)
    fp = fingerprint(project, sums)
    manifest = current_manifest(project)
    if not force and manifest and manifest.get("fingerprint") == fp:
        say(f"data/derived is up to date ({manifest['build_id']}); nothing to do")
        return BuildResult(
            status="up-to-date",
            path=str(project.current.resolve()),
            fingerprint=fp,
            rows=manifest["rows"],
            seconds=round(time.monotonic() - t0, 2),
        )
    say(f"building data/derived from {len(sums)} raw inputs ...")
    # track files are parsed from bytes that hash to the snapshot's checksums (refused otherwise)
    registry = steps.by_table()
    tables = {k: _stable_order(v, registry[k]) for k, v in derive(raw, project, snapshot=snap).items()}
    from .observed import summary as observed_summary

    for line in observed_summary(tables["core_observed_excluded"]):
        say(line)
    builds = project.derived / "builds"
    build_id = fp[:20]
    try:
        partial = atomic.new_build_dir(builds, build_id)
    except OSError as exc:
        raise _write_error(exc, builds) from None
    rows = {k: v.height for k, v in tables.items()}
    try:
        meta = {
            "fingerprint": fp,
            "build_id": build_id,
            "built_utc": _built_utc(snap),
            "raw_sha256": sums,
            "rows": rows,
            "versions": {"duckdb": duckdb.__version__, "polars": pl.__version__},
        }
        _write(tables, partial, meta)
        final = atomic.publish(partial, project.current)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise _write_error(exc, builds) from None
    except atomic.NotALinkError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise BuildError(str(exc)) from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    atomic.prune(builds, project.current)
    secs = round(time.monotonic() - t0, 2)
    say(
        f"built {final.relative_to(project.root)} in {secs} s: "
        + ", ".join(
            f"{k} {v}"
            for k, v in rows.items()
            if k.startswith(("core_legs", "core_stops", "out_findings", "core_episodes"))
        )
    )
    f = tables["out_findings"]
    if f.height:
        say(
            "findings by category: "
            + ", ".join(
                f"{r['category']} {r['len']}"
                for r in f.group_by("category").len().sort("category").iter_rows(named=True)
            )
        )
        say(
            "confidence: "
            + ", ".join(
                f"{lvl} {f.filter(pl.col('confidence') == lvl).height}" for lvl in ("high", "moderate", "low")
            )
            + f"; key findings: {', '.join(f.filter(pl.col('is_key'))['finding_id'])}"
        )
    return BuildResult(status="built", path=str(final), fingerprint=fp, rows=meta["rows"], seconds=secs)
