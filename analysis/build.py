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
5. derive the tables (SQL in ``analysis/sql``, one file per table) and the findings; check that no track input
   changed meanwhile;
6. write parquet files (rows in a fixed order), ``flights.duckdb`` (views over them) and ``manifest.json`` into a
   new build folder, and swap ``data/derived/current`` to it atomically.

Reproducible to the byte: the manifest's ``build_id`` is derived from the fingerprint and ``built_utc`` from the
inputs (``SOURCE_DATE_EPOCH`` when set, else the newest ``recorded_utc`` of the provenance records), so two
clean builds of the same inputs and code, in any folders, write identical files. No SQL is assembled from
paths or values: they are bound as parameters or written as quoted literals and identifiers.
"""

from __future__ import annotations

import contextlib
import errno
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

from . import atomic, geo, provenance
from .paths import PACKAGE_DIR, REPO_DIR, Project, as_project, default_project, study_not_found
from .timespec import parse
from .validate import Raw, load_raw

__all__ = ["build", "BuildResult", "BuildError", "DERIVED_TABLES", "fingerprint", "derive", "current_manifest",
           "sql_literal", "sql_identifier"]

log = logging.getLogger(__name__)

SQL_DIR = PACKAGE_DIR / "sql"
#: derived tables, in build order; each ``out_``/``core_`` name with a SQL file is made by that file.
DERIVED_TABLES = (
    "core_study", "core_systems", "core_cargo_items",
    "core_sources", "core_operators", "core_aircraft_types", "core_aircraft", "core_sanctions", "core_places",
    "core_episodes", "core_events", "core_claims", "core_conflicts", "core_watchlist",
    "core_type_ranges", "core_corridors", "core_host_statements", "core_loads",
    "core_census_criteria", "core_census_excluded", "core_census_log",
    "core_stops", "core_legs", "core_leg_paths", "core_gaps", "core_observed_excluded",
    "out_route_summary", "out_episode_summary", "out_timeline", "out_route_similarity",
    "out_observed_vs_reported", "out_findings", "out_summary",
)
UTC_TS = pl.Datetime("us", "UTC")
#: the modules whose code shapes data/derived (charts and pages do not: the report fingerprints those itself)
DATA_MODULES = frozenset({
    "build.py", "validate.py", "schema.py", "timespec.py", "geo.py", "provenance.py", "observed.py",
    "findings.py", "similarity.py", "paths.py", "safeio.py", "trips.py",
})


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


def fingerprint(project: Project, raw_sums: dict[str, str]) -> str:
    """Hash of everything the derived data depends on: raw checksums, the data-shaping code, the lock file."""
    h = hashlib.sha256()
    for k in sorted(raw_sums):
        h.update(f"{k}={raw_sums[k]}\n".encode())
    for f in sorted(PACKAGE_DIR.rglob("*")):
        rel = f.relative_to(PACKAGE_DIR).as_posix()
        if f.suffix in (".py", ".sql") and "__pycache__" not in f.parts and (
                rel in DATA_MODULES or rel.startswith(("sql/", "tracks/"))):
            h.update(rel.encode() + hashlib.sha256(f.read_bytes()).digest())
    lock = REPO_DIR / "uv.lock"
    if lock.exists():
        h.update(hashlib.sha256(lock.read_bytes()).digest())
    return h.hexdigest()


# --- preparation: typed raw tables -> core tables that SQL builds on -------------------------------------------

def _intervals(df: pl.DataFrame, col: str, tzs: list[str | None], prefix: str) -> pl.DataFrame:
    specs = [parse(v, tz) for v, tz in zip(df[col].to_list(), tzs, strict=True)]
    return df.with_columns(
        pl.Series(f"{prefix}_earliest_utc", [s.earliest for s in specs], dtype=UTC_TS),
        pl.Series(f"{prefix}_latest_utc", [s.latest for s in specs], dtype=UTC_TS),
        pl.Series(f"{prefix}_precision", [s.precision for s in specs], dtype=pl.String),
        pl.Series(f"{prefix}_reported", [s.text or None for s in specs], dtype=pl.String),
    )


def _places(raw: Raw) -> pl.DataFrame:
    rows = []
    places = raw["places"].to_dicts()
    # airports airportsdata lacks, located by a cited source (places rows with icao, lat and lon)
    sourced = {p["icao"]: {"name": p["name"], "lat": p["lat"], "lon": p["lon"], "tz": p["tz"]}
               for p in places if p["icao"] and p["lat"] is not None}
    closed = {p["icao"]: parse(p["closed"], None) for p in places if p["icao"] and p["closed"]}
    for p in places:
        code = p["icao"] or p["inferred_icao"]
        a = sourced.get(code) or geo.airport(code)
        basis = None if a is None else ("airport" if p["icao"] else "inferred")
        shut = closed.get(code) if a else None
        rows.append({
            "place_id": p["place_id"], "name": p["name"], "precision": p["precision"], "icao": p["icao"],
            "country": p["country"], "country_name": geo.country_name(p["country"]),
            "country_numeric": geo.country_numeric(p["country"]),
            "tz": p["tz"] or (a["tz"] if a else None),
            "inferred_icao": p["inferred_icao"], "inference_basis": p["inference_basis"],
            "loc_icao": code if a else None, "airport_name": a["name"] if a else None,
            "lat": a["lat"] if a else None, "lon": a["lon"] if a else None, "location_basis": basis,
            "is_sourced_location": bool(a) and code in sourced,
            "loc_closed_reported": shut.text if shut else None, "loc_closed_utc": shut.earliest if shut else None,
            "source_ids": p["source_ids"], "notes": p["notes"],
        })
    schema = {"lat": pl.Float64, "lon": pl.Float64, "loc_closed_reported": pl.String, "loc_closed_utc": UTC_TS,
              "country": pl.String, "country_name": pl.String, "country_numeric": pl.String}
    return pl.DataFrame(rows, schema_overrides=schema, infer_schema_length=None)


def _origins(sources: pl.DataFrame) -> pl.DataFrame:
    """``origin_id``: the independent origin of each source (follow relays_source_id to its root, then take the
    root's ``origin`` or its own id). Pages with one origin_id count once in corroboration."""
    relays = dict(zip(sources["source_id"], sources["relays_source_id"], strict=True))
    origin = dict(zip(sources["source_id"], sources["origin"], strict=True))

    def root(sid: str) -> str:
        seen = {sid}
        while relays.get(sid) and relays[sid] not in seen:
            sid = relays[sid]
            seen.add(sid)
        return origin.get(sid) or sid

    return sources.with_columns(pl.Series("origin_id", [root(s) for s in sources["source_id"]], dtype=pl.String))


def _prepare(raw: Raw) -> dict[str, pl.DataFrame]:
    drop = pl.col("_line")
    t: dict[str, pl.DataFrame] = {}
    t["core_sources"] = _origins(
        _intervals(raw["sources"].drop(drop), "published", [None] * raw["sources"].height, "published"))
    t["core_operators"] = raw["operators"].drop(drop).with_columns(
        pl.col("country").map_elements(geo.country_name, return_dtype=pl.String).alias("country_name"))
    t["core_aircraft_types"] = raw["aircraft_types"].drop(drop)
    t["core_type_ranges"] = raw["type_ranges"].drop(drop).join(
        raw["aircraft_types"].select("type_id", pl.col("name").alias("type_name")), on="type_id", how="left")
    t["core_corridors"] = raw["corridors"].drop(drop)
    t["core_aircraft"] = (
        raw["aircraft"].drop(drop)
        .join(raw["aircraft_types"].select("type_id", pl.col("name").alias("type_name"), "icao_type", "role",
                                           "max_payload_t", "max_passengers", "range_km",
                                           pl.col("source_ids").alias("type_source_ids")), on="type_id", how="left")
        .join(raw["operators"].select("operator_id", pl.col("name").alias("operator_name")), on="operator_id", how="left")
        .with_columns(pl.coalesce("registration", "name", "aircraft_id").alias("label"))
    )
    labels = dict(zip(t["core_aircraft"]["aircraft_id"], t["core_aircraft"]["label"], strict=True))
    labels |= dict(zip(raw["operators"]["operator_id"], raw["operators"]["name"], strict=True))
    sanctions = raw["sanctions"].drop(drop).with_columns(
        pl.col("target_id").replace_strict(labels, default=pl.col("target_id")).alias("target_label"),
        pl.col("authority_country").map_elements(geo.country_name, return_dtype=pl.String).alias("authority_country_name"),
    )
    t["core_sanctions"] = _intervals(sanctions, "effective", [None] * sanctions.height, "effective")
    places = _places(raw)
    t["core_places"] = places
    t["core_episodes"] = raw["episodes"].drop(drop).with_columns(
        pl.col("destination_country").map_elements(geo.country_name, return_dtype=pl.String).alias("destination_country_name"))
    ev = raw["events"].drop(drop)
    tzs = ev["tz"].to_list()
    ev = _intervals(_intervals(_intervals(ev, "start", tzs, "start"), "end", tzs, "end"), "reported_on", tzs, "reported_on")
    t["core_events"] = ev.with_columns(
        pl.col("country").map_elements(geo.country_name, return_dtype=pl.String).alias("country_name"))
    t["core_claims"] = raw["claims"].drop(drop)
    t["core_conflicts"] = (
        raw["conflict_positions"].drop(drop)
        .join(raw["conflicts"].drop(drop).rename({"notes": "conflict_notes"}), on="conflict_id", how="left")
        .with_columns((pl.col("position_id") == pl.col("working_position")).fill_null(False).alias("is_working_position"))
        .select("conflict_id", "episode_id", "topic", "summary", "position_id", "claim", "value", "variant",
                "record_ids", "source_ids", "is_working_position", "working_position", "working_reason",
                "conflict_notes")
    )
    t["core_watchlist"] = raw["watchlist"].drop(drop)
    hs = raw["host_statements"].drop(drop)
    t["core_host_statements"] = _intervals(hs, "made_on", [None] * hs.height, "made_on").with_columns(
        pl.col("country").map_elements(geo.country_name, return_dtype=pl.String).alias("country_name"))
    # what each episode carried, who it carried and why, as claimed: one place for the payload analysis
    t["core_loads"] = (
        raw["claims"].drop(drop)
        .filter(pl.col("kind").is_in(["cargo", "personnel", "person_aboard", "equipment", "purpose"]))
        .select("claim_id", "episode_id", "aircraft_id", "aircraft_ids", pl.col("kind").alias("load_kind"),
                "subject", "quantity", "unit", "qualifier", "claimant", "verification", "source_ids")
    )
    t["core_study"] = raw["study"].drop(drop)
    t["core_systems"] = raw["systems"].drop(drop)
    t["core_cargo_items"] = raw["cargo_items"].drop(drop).join(
        raw["systems"].select("system_id", pl.col("name").alias("system_name"), "mass_t", "mass_qualifier",
                              "length_m", "width_m", "height_m", pl.col("source_ids").alias("system_source_ids")),
        on="system_id", how="left")
    t["core_census_criteria"] = raw["census_criteria"].drop(drop)
    ex = raw["census_excluded"].drop(drop)
    t["core_census_excluded"] = _intervals(ex, "when", [None] * ex.height, "when")
    t["core_census_log"] = raw["census_log"].drop(drop)
    stops = raw["stops"].drop(drop)
    tz_by_place = dict(zip(places["place_id"], places["tz"], strict=True))
    tzs = [tz_by_place.get(p) for p in stops["place_id"].to_list()]
    stops = _intervals(_intervals(_intervals(stops, "arr_time", tzs, "arr"), "dep_time", tzs, "dep"),
                       "reported_on", tzs, "reported_on").with_columns(pl.col("order_basis").fill_null("reported"))
    t["prep_stops"] = stops.with_columns(pl.lit("reported").alias("evidence"))
    return t


def _leg_paths(legs: pl.DataFrame, n: int = 48) -> pl.DataFrame:
    """Points along each located leg's great circle, for drawing arcs on maps."""
    rows = []
    for leg in legs.filter(pl.col("distance_km").is_not_null()).iter_rows(named=True):
        pts = geo.great_circle_points(leg["from_lat"], leg["from_lon"], leg["to_lat"], leg["to_lon"], n)
        for i, (lat, lon) in enumerate(pts):
            rows.append((leg["leg_id"], leg["episode_id"], leg["aircraft_id"], leg["variant"], leg["evidence"],
                         leg["leg_seq"], i, lat, lon, leg["distance_basis"]))
    return pl.DataFrame(rows, orient="row", schema={
        "leg_id": pl.String, "episode_id": pl.String, "aircraft_id": pl.String, "variant": pl.String,
        "evidence": pl.String, "leg_seq": pl.Int64, "point_seq": pl.Int64, "lat": pl.Float64, "lon": pl.Float64,
        "distance_basis": pl.String})


def _run_sql(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


def derive(raw: Raw, project: Project | None = None, observed=None,
           snapshot: provenance.Snapshot | None = None) -> dict[str, pl.DataFrame]:
    """All derived tables from validated raw tables (and observed flight records when given), in memory.

    ``snapshot``: the build's read of data/raw; the track records and reviewed checksums come from it."""
    from . import findings, similarity
    from . import observed as observed_mod

    tables = _prepare(raw)
    obs = (observed_mod.integrate(project or default_project(), raw, tables, snapshot=snapshot)
           if observed is None else observed)
    tables["prep_stops"] = pl.concat([tables["prep_stops"], obs.stops], how="diagonal_relaxed") if obs.stops.height else tables["prep_stops"]
    tables["core_gaps"] = obs.gaps
    tables["core_observed_excluded"] = obs.excluded
    # track inputs cited as sources are their own origins
    tables["core_sources"] = tables["core_sources"].with_columns(pl.coalesce("origin_id", "source_id").alias("origin_id"))
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        _run_sql(con, "00_macros")
        for name, df in tables.items():
            con.register(f"_{name}", df)
            con.execute(f"CREATE TABLE {sql_identifier(name)} AS SELECT * FROM {sql_identifier('_' + name)}")
            con.unregister(f"_{name}")
        for name in ("core_stops", "core_legs", "out_route_summary", "out_episode_summary", "out_timeline"):
            _run_sql(con, name)
        out = {name: con.sql(f"SELECT * FROM {sql_identifier(name)}").pl() for name in DERIVED_TABLES
               if name not in ("core_leg_paths", "out_route_similarity", "out_findings", "out_observed_vs_reported",
                             "out_summary")}
    finally:
        con.close()
    out["core_leg_paths"] = _leg_paths(out["core_legs"])
    out["out_route_similarity"] = similarity.route_similarity(out["core_stops"], out["core_corridors"])
    out["out_observed_vs_reported"] = observed_mod.compare(out["core_stops"], out["core_legs"])
    out["out_findings"] = findings.compute(out)
    out["out_summary"] = findings.summarize(out["out_findings"], out)
    return out


def _sortable(dtype: pl.DataType) -> bool:
    return not isinstance(dtype, pl.List | pl.Struct | pl.Array | pl.Object)


def _stable_order(df: pl.DataFrame) -> pl.DataFrame:
    """Rows in a fixed order: by every sortable column, left to right (nulls last). A table whose order is
    already a total order on its columns (e.g. leg paths by leg and point) keeps it."""
    cols = [c for c, t in df.schema.items() if _sortable(t)]
    if not cols or df.height < 2:
        return df
    return df.sort(cols, nulls_last=True, maintain_order=True)


def _write(tables: dict[str, pl.DataFrame], folder: Path, meta: dict) -> None:
    for name, df in tables.items():
        sql_identifier(name)
        df.write_parquet(folder / f"{name}.parquet", compression="zstd", statistics=True)
    db = folder / "flights.duckdb"
    con = duckdb.connect(str(db))
    try:
        # views name their parquet file relative to the database; readers set file_search_path (a bound
        # parameter) to the folder of the database they open
        con.execute("SET file_search_path = ?", [folder.as_posix()])
        for name in tables:
            con.execute(f"CREATE VIEW {sql_identifier(name)} AS SELECT * FROM read_parquet("
                        f"{sql_literal(name + '.parquet')})")
    finally:
        con.close()
    _fix_database_identifier(db, meta["fingerprint"])
    (folder / "manifest.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


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
            block = head[off:off + _DUCKDB_BLOCK]
            stored = int.from_bytes(block[:8], "little")
            if _duckdb_checksum(bytes(block[8:])) != stored:
                return False
            if bytes(block[_DUCKDB_ID]) == ident:
                block[_DUCKDB_ID] = new
                block[:8] = _duckdb_checksum(bytes(block[8:])).to_bytes(8, "little")
                head[off:off + _DUCKDB_BLOCK] = block
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
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied"}.get(exc.errno or 0, exc.strerror or str(exc))
    return BuildError(f"{exc.filename or where}: cannot write the build ({what}); expected a writable folder with "
                      f"free space under {where}. Nothing was published; the previous data/derived is intact")


def current_manifest(project: Project) -> dict | None:
    try:
        return json.loads((project.current / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def build(project: Project | None = None, force: bool = False, quiet: bool = False) -> BuildResult:
    """Build data/derived from data/raw (see module docstring). Raises on bad input, writing nothing."""
    project = as_project(project)
    if not project.raw.is_dir():
        raise study_not_found(project)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(atomic.exclusive(project.lock))
        except OSError as exc:
            raise _write_error(exc, project.build) from None
        return _build_locked(project, force, say, t0)


def _build_locked(project: Project, force: bool, say, t0: float) -> BuildResult:
    atomic.prune_scratch(project.derived / "builds", project.build)  # scratch of killed runs (never a live one's)
    atomic.prune_stale_links(project.derived, project.root)
    snap = provenance.snapshot(project.raw)
    sums = snap.check()
    raw = load_raw(project.raw, data=snap.tables)
    fp = fingerprint(project, sums)
    manifest = current_manifest(project)
    if not force and manifest and manifest.get("fingerprint") == fp:
        say(f"data/derived is up to date ({manifest['build_id']}); nothing to do")
        return BuildResult(status="up-to-date", path=str(project.current.resolve()), fingerprint=fp,
                           rows=manifest["rows"], seconds=round(time.monotonic() - t0, 2))
    say(f"building data/derived from {len(sums)} raw inputs ...")
    # track files are parsed from bytes that hash to the snapshot's checksums (refused otherwise)
    tables = {k: _stable_order(v) for k, v in derive(raw, project, snapshot=snap).items()}
    from .observed import summary as observed_summary

    for line in observed_summary(tables["core_observed_excluded"]):
        say(line)
    builds = project.derived / "builds"
    build_id = fp[:20]
    try:
        partial = atomic.new_build_dir(builds, build_id)
    except OSError as exc:
        raise _write_error(exc, builds) from None
    try:
        meta = {
            "fingerprint": fp,
            "build_id": build_id,
            "built_utc": _built_utc(snap),
            "raw_sha256": sums,
            "rows": {k: v.height for k, v in tables.items()},
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
    say(f"built {final.relative_to(project.root)} in {secs} s: "
        + ", ".join(f"{k} {v}" for k, v in meta["rows"].items() if k.startswith(("core_legs", "core_stops", "out_findings", "core_episodes"))))
    f = tables["out_findings"]
    if f.height:
        say("findings by category: " + ", ".join(
            f"{r['category']} {r['len']}" for r in f.group_by("category").len().sort("category").iter_rows(named=True)))
        say("confidence: " + ", ".join(f"{lvl} {f.filter(pl.col('confidence') == lvl).height}"
                                        for lvl in ("high", "moderate", "low"))
            + f"; key findings: {', '.join(f.filter(pl.col('is_key'))['finding_id'])}")
    return BuildResult(status="built", path=str(final), fingerprint=fp, rows=meta["rows"], seconds=secs)
