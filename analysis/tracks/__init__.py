"""Observed flight records: readers, positions store, noise filter, segmentation into legs/stops/gaps.

Main entry point for the watchlist/episode code::

    from analysis.tracks import observed
    res = observed([("data/raw/tracks/traces", "readsb", {}),
                    ("data/raw/tracks/rff7075.csv", "fr24_csv", {"icao24": "1510c2"})],
                   watch_hex={"1510c2"}, cache_dir="data/derived/tracks_cache")
    res.legs, res.stops, res.gaps, res.noise, res.skipped

Modules: ``readers`` (formats -> one positions table, ``TrackInputError``), ``noise`` (drop and count
impossible fixes), ``store`` (parquet parts sorted by aircraft/time, content-hash dedup),
``segment`` (streaming numpy segmentation), ``airports`` (airportsdata + vectorised nearest). Synthetic traffic
with truth is outside the package (``synth.tracks``), and so are the benchmarks (``python -m bench.tracks``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .readers import FORMATS, POSITIONS_SCHEMA, TrackInputError

if TYPE_CHECKING:
    import polars as pl

    from .segment import SegmentParams
    from .store import Part

__all__ = [
    "observed",
    "ObservedResult",
    "TrackInputError",
    "SegmentParams",
    "segment_batch",
    "Store",
    "POSITIONS_SCHEMA",
    "FORMATS",
]

log = logging.getLogger(__name__)


def __getattr__(name: str):
    """The segmentation and the store load when first used (``import analysis.tracks`` for the readers' names or
    the error class costs neither polars nor the segmentation kernel)."""
    if name in ("SegmentParams", "segment_batch"):
        from . import segment

        return getattr(segment, name)
    if name in ("Store", "Part"):
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class ObservedResult:
    """Result of :func:`observed`.

    ``legs``/``stops``/``gaps`` polars DataFrames (schemas in :mod:`analysis.tracks.segment`; legs
    also carry ``source_format`` and ``source_files``), ``noise`` (columns reason, n),
    ``skipped`` list of (file, record or None, reason), ``n_positions`` positions segmented,
    ``positions_paths`` the parquet files segmented (sorted by icao_int, time_utc), ``rejected``
    candidate legs refused by the flight rules, by reason (``too_few_fixes``, ``too_short``, ``no_climb``).
    """

    legs: pl.DataFrame
    stops: pl.DataFrame
    gaps: pl.DataFrame
    noise: pl.DataFrame
    skipped: list = field(default_factory=list)
    n_positions: int = 0
    positions_paths: list = field(default_factory=list)
    rejected: dict = field(default_factory=dict)
    #: readsb trace metadata per aircraft (hex -> r, t, desc, ownOp, year, dbFlags, file), from the parsed bytes
    meta: dict = field(default_factory=dict)


def _merge_parts(parts: list[Part], cache_dir: Path, noise: Counter) -> Path:
    """Several parts -> one parquet sorted by (icao_int, time_utc), exact cross-source repeats removed."""
    import duckdb

    key = hashlib.sha256("|".join(sorted(p.key for p in parts)).encode()).hexdigest()[:24]
    out = cache_dir / "positions" / f"merged-{key}.parquet"
    meta = out.with_suffix(".dups")
    if out.exists() and meta.exists():
        # reused only when it still hashes to what was recorded when it was written (a corrupt or tampered
        # merge is made again, never used)
        from .. import safeio

        try:
            m = json.loads(meta.read_text())
            if (
                isinstance(m, dict)
                and isinstance(m.get("dups"), int)
                and m.get("sha256") == safeio.sha256_file(out)
            ):
                noise["duplicate_across_sources"] += m["dups"]
                return out
        except (OSError, ValueError):
            pass
        log.warning("positions cache %s does not match its recorded checksum: merged again", out.name)
        out.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
    tmp = out.with_name(f"{out.stem}.{os.getpid()}.tmp.parquet")  # the writer's id: a killed run's is pruned
    try:
        con = duckdb.connect()
        con.execute("SET threads=2")
        con.execute("SET memory_limit='3GB'")
        con.execute("SET preserve_insertion_order=false")
        con.execute(
            "SET temp_directory = ?", [str(cache_dir / "duckdb_tmp")]
        )  # paths as parameters, never pasted
        files = [str(f) for p in parts for f in p.files]
        con.execute(
            """COPY (SELECT * EXCLUDE (rn) FROM (
                    SELECT *, row_number() OVER (PARTITION BY icao_int, time_utc, lat, lon) AS rn
                    FROM read_parquet(?))
                  WHERE rn = 1 ORDER BY icao_int, time_utc)
                TO ? (FORMAT parquet, ROW_GROUP_SIZE 1000000, COMPRESSION lz4)""",
            [files, str(tmp)],
        )
        n_in = sum(p.n_rows for p in parts)
        n_out = con.execute("SELECT count(*) FROM read_parquet(?)", [str(tmp)]).fetchall()[0][0]
        con.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    from .. import safeio

    digest = safeio.sha256_file(tmp)
    tmp.replace(out)
    meta.write_text(json.dumps({"dups": int(n_in - n_out), "sha256": digest}))
    noise["duplicate_across_sources"] += n_in - n_out
    return out


def _attach_sources(legs: pl.DataFrame, parts: list[Part]) -> pl.DataFrame:
    import polars as pl

    cov = pl.concat(
        [
            pl.read_parquet(p.coverage_path).with_columns(pl.lit(Path(p.source).name).alias("source_input"))
            for p in parts
        ],
        how="vertical_relaxed",
    )
    if legs.is_empty() or cov.is_empty():
        return legs.with_columns(
            pl.lit(None, pl.String).alias("source_format"),
            pl.lit(None, pl.String).alias("source_files"),
            pl.lit(None, pl.String).alias("source_inputs"),
        )
    keyed = legs.select("icao24", "leg_no", "first_seen_utc", "last_seen_utc")
    j = (
        keyed.join(cov, on="icao24", how="inner")
        .filter((pl.col("t_min") <= pl.col("last_seen_utc")) & (pl.col("t_max") >= pl.col("first_seen_utc")))
        .group_by("icao24", "leg_no")
        .agg(
            pl.col("source_format").unique().sort().str.join(";").alias("source_format"),
            pl.col("source_file").unique().sort().str.join(";").alias("source_files"),
            pl.col("source_input").unique().sort().str.join(";").alias("source_inputs"),
            pl.col("registration").drop_nulls().first().alias("_reg"),
        )
    )
    return (
        legs.join(j, on=["icao24", "leg_no"], how="left")
        .with_columns(pl.coalesce("registration", "_reg").alias("registration"))
        .drop("_reg")
    )


def observed(
    tracks,
    watch_hex: set[str] | None = None,
    cache_dir="data/derived/tracks_cache",
    params: SegmentParams | None = None,
    processes: int = 2,
    progress: bool = True,
    expected_sha256: dict | None = None,
) -> ObservedResult:
    """Ingest track files (cached, deduplicated by content hash), filter noise, segment into legs.

    ``tracks``: list of ``(path, format, options)`` (options may be omitted or None); format one of
    ``FORMATS``; a readsb path may be a ``traces/`` directory. ``watch_hex``: keep only these
    aircraft (lower/upper case hex; filtered at read time, for trace trees from the file names).
    A bad file given explicitly raises :class:`TrackInputError`; a bad trace inside a directory is
    skipped and listed in ``skipped``. ``expected_sha256`` maps an input's path (as given) to its reviewed
    content checksum: what is parsed must hash to it (:class:`~analysis.tracks.store.TrackChangedError`).
    """
    import polars as pl

    from .segment import segment_parquet
    from .store import Store

    cache_dir = Path(cache_dir)
    store = Store(cache_dir)
    watch = {h.lower() for h in watch_hex} if watch_hex is not None else None
    parts: list[Part] = []
    seen: set[str] = set()
    for tr in tracks:
        path, fmt, *rest = tr
        opts = rest[0] if rest else None
        if fmt not in FORMATS:
            raise TrackInputError(f"{path}: file: expected a format in {FORMATS}, got {fmt!r}")
        part = store.ingest(
            path,
            fmt,
            opts,
            watch,
            processes=processes,
            progress=progress,
            expected_hash=(expected_sha256 or {}).get(str(path)),
        )
        if part.content_hash in seen:
            log.info("%s: same content as an earlier input, not counted twice", path)
            continue
        seen.add(part.content_hash)
        parts.append(part)
    noise: Counter = Counter()
    skipped = []
    meta: dict = {}
    for p in parts:
        noise.update(p.noise)
        skipped.extend(p.skipped)
        for h, m in sorted(p.meta.items()):
            meta.setdefault(h, m)
    nonempty = [p for p in parts if p.n_rows > 0]
    if len(nonempty) > 1:
        seg_paths = [_merge_parts(nonempty, cache_dir, noise)]
    else:
        seg_paths = [f for p in nonempty for f in p.files]
    seg = segment_parquet(seg_paths, params) if seg_paths else segment_parquet([], params)
    legs = _attach_sources(seg.legs, parts)
    noise_df = pl.DataFrame(
        {"reason": list(noise), "n": [int(v) for v in noise.values()]},
        schema={"reason": pl.String, "n": pl.Int64},
    ).sort("reason")
    return ObservedResult(
        legs=legs,
        stops=seg.stops,
        gaps=seg.gaps,
        noise=noise_df,
        skipped=skipped,
        n_positions=seg.n_positions,
        positions_paths=seg_paths,
        rejected=dict(seg.rejected),
        meta=meta,
    )
