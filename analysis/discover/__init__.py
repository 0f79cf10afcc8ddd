"""Discovery: find the flights nobody has reported yet, in a whole day (or month) of global ADS-B.

Pipeline (one kernel, two engines)::

    day archive(s)  --analysis.tracks.archive-->  positions store (bucketed by aircraft)
                    --segment_batch per bucket (local processes, or Spark applyInArrow)-->  legs, gaps
                    --analysis.discover.rules (interest rules, data/raw/interest_*.csv)-->  candidates

Python API::

    from analysis.discover import discover
    res = discover(["day.tar"], out="data/derived/discover")          # local engine
    res = discover(["day.tar"], out="...", engine="spark", master="local[2]")
    res.candidates          # out_candidates: one row per candidate trip
    res.candidate_legs      # its legs (out_candidate_legs)

Command line: ``python -m analysis.discover ARCHIVE... [--engine spark --master URL]`` (``make discover``).

Written to ``out`` (default ``data/derived/discover``), replaced atomically:

* ``out_candidates.parquet``  one row per candidate trip (columns :data:`rules.CANDIDATE_COLUMNS`)
* ``out_candidate_legs.parquet``  the legs of each candidate (``candidate_id`` + the legs schema)
* ``disc_legs.parquet``, ``disc_gaps.parquet``  legs and gaps of every aircraft in the archive
* ``disc_aircraft.parquet``  aircraft seen (hex, registration, type, the archive member they came from)
* ``manifest.json``  inputs, engine, counts, seconds

A candidate becomes an episode only by data: an analyst who has checked it adds rows to data/raw
(episodes.csv, stops.csv citing the archive as a source in sources.csv, kind ``flight_tracker``, and
the track file under data/raw/tracks for the observed legs); the next build then reports it, and the
next discovery run marks the trip ``known``. Nothing is promoted automatically.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from .. import atomic
from ..tracks.archive import AIRCRAFT_SCHEMA, ingest_archive
from ..tracks.segment import SegmentParams
from .rules import CANDIDATE_COLUMNS, Rules, candidates, load_rules, match_aircraft

__all__ = [
    "discover",
    "DiscoveryResult",
    "reported_windows",
    "load_rules",
    "match_aircraft",
    "candidates",
    "Rules",
    "CANDIDATE_COLUMNS",
    "read_aircraft",
]

log = logging.getLogger(__name__)

#: margin around a reported episode's stop times when testing overlap with a candidate trip
REPORTED_MARGIN = timedelta(days=2)


@dataclass
class DiscoveryResult:
    candidates: pl.DataFrame
    candidate_legs: pl.DataFrame
    legs: pl.DataFrame
    gaps: pl.DataFrame
    aircraft: pl.DataFrame
    out: Path | None
    manifest: dict


def reported_windows(project=None) -> pl.DataFrame:
    """Reported episodes as (episode_id, aircraft_id, registration, icao_hex, type_code, destination,
    start_utc, end_utc): each aircraft's stop times in the study's derived data, widened by
    :data:`REPORTED_MARGIN` (reported times are often only a day)."""
    from .. import queries

    st = queries.table("core_stops", project)
    ac = queries.table("core_aircraft", project)
    ep = queries.table("core_episodes", project)
    w = (
        st.group_by("episode_id", "aircraft_id")
        .agg(
            pl.min_horizontal(pl.col("arr_earliest_utc").min(), pl.col("dep_earliest_utc").min()).alias("start_utc"),
            pl.max_horizontal(pl.col("arr_latest_utc").max(), pl.col("dep_latest_utc").max()).alias("end_utc"),
        )
        .drop_nulls(["start_utc", "end_utc"])
        .join(ac.select("aircraft_id", "registration", "icao_hex", pl.col("icao_type").alias("type_code")),
              on="aircraft_id", how="left")
        .join(ep.select("episode_id", pl.col("destination_country").alias("destination")), on="episode_id", how="left")
        .with_columns(pl.col("start_utc") - REPORTED_MARGIN, pl.col("end_utc") + REPORTED_MARGIN)
        .sort("episode_id", "aircraft_id")
    )
    return w


def read_aircraft(store) -> pl.DataFrame:
    """Aircraft seen in a positions store (one row per aircraft and trace member)."""
    files = sorted((Path(store) / "aircraft").glob("*.parquet"))
    if not files:
        return pl.from_arrow(AIRCRAFT_SCHEMA.empty_table())
    return pl.concat([pl.from_arrow(pq.read_table(f, schema=AIRCRAFT_SCHEMA)) for f in files]).sort(
        "icao24", "first_utc", "source_member"
    )


def discover(
    inputs=None,
    out="data/derived/discover",
    *,
    store=None,
    engine: str = "local",
    master: str | None = None,
    spark=None,
    n_buckets: int | None = None,
    processes: int = 2,
    params: SegmentParams | None = None,
    raw=None,
    reported: pl.DataFrame | str | None = "derived",
    progress: bool = True,
) -> DiscoveryResult:
    """Run discovery. Give ``inputs`` (archives: tar, tree, OpenSky files) or an existing ``store``.

    ``engine``: ``"local"`` or ``"spark"`` (``master`` URL, e.g. ``local[2]`` or ``spark://host:7077``, or a
    ready ``spark`` session). ``reported``: ``"derived"`` reads reported episodes from the study's
    derived data (run ``make data`` first), a DataFrame like :func:`reported_windows`, or None (all new).
    ``n_buckets``: aircraft hash buckets of the positions store (default one per 64 MB of archive: memory is
    bounded by one bucket per worker). ``out=None`` writes nothing. The store (when built from ``inputs``) goes
    to ``<out>.store`` beside ``out``.
    """
    if engine not in ("local", "spark"):
        raise ValueError(f"engine: expected 'local' or 'spark', got {engine!r}")
    if inputs is None and store is None:
        raise ValueError("discover: give archive inputs or a positions store")
    t0 = time.perf_counter()
    rules = load_rules(raw)
    if isinstance(reported, str):
        if reported != "derived":
            raise ValueError(f"reported: expected 'derived', a DataFrame or None, got {reported!r}")
        reported = reported_windows()
    out = Path(out) if out is not None else None
    scratch = None
    own_spark = False
    if engine == "spark" and spark is None:
        from .engine import spark_session

        spark = spark_session(master or "local[2]")
        own_spark = True
    timings = {}
    try:
        if inputs is not None:
            if out is not None:
                store = out.with_name(out.name + ".store")
            else:
                import tempfile

                scratch = Path(tempfile.mkdtemp(prefix="discover-"))
                store = scratch / "store"
            t = time.perf_counter()
            if engine == "spark":
                from ..tracks.archive import auto_buckets
                from .engine import ingest_spark

                ingest_spark(inputs, store, spark, n_buckets or auto_buckets(inputs))
            else:
                ingest_archive(inputs, store, n_buckets=n_buckets, processes=processes, progress=progress)
            timings["ingest_s"] = time.perf_counter() - t
        t = time.perf_counter()
        if engine == "spark":
            from .engine import segment_store_spark

            legs, gaps = segment_store_spark(store, spark, params)
        else:
            from .engine import segment_store_local

            legs, gaps = segment_store_local(store, params, processes)
        timings["segment_s"] = time.perf_counter() - t
        aircraft = read_aircraft(store)
        t = time.perf_counter()
        cand, cand_legs = candidates(legs, gaps, aircraft, rules, reported)
        timings["rules_s"] = time.perf_counter() - t
        # a generated demo day (analysis.discover.globalday) marks itself: so does every candidate found in it, and
        # so does the positions store ingested from it (a later run on the store alone knows it too)
        from .globalday import SYNTHETIC_MEMBER, synthetic_inputs

        marker = Path(store) / SYNTHETIC_MEMBER
        if inputs is not None:
            synthetic = sorted(synthetic_inputs(inputs))
            if synthetic:
                marker.write_text(json.dumps({"synthetic_inputs": synthetic}), encoding="utf-8")
        else:
            synthetic = json.loads(marker.read_text(encoding="utf-8"))["synthetic_inputs"] if marker.is_file() else []
        cand = cand.with_columns(
            (pl.col("source_inputs").fill_null("").str.split(";").list.eval(pl.element().is_in(synthetic)).list.any()
             if synthetic and "source_inputs" in cand.columns else pl.lit(bool(synthetic))).alias("synthetic"))
    finally:
        if own_spark:
            spark.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    man = {
        "inputs": [str(p) for p in (inputs if isinstance(inputs, (list, tuple)) else [inputs])] if inputs else [],
        "store": str(store),
        "engine": engine,
        "master": master if engine == "spark" else None,
        "aircraft": aircraft["icao24"].n_unique(),
        "legs": legs.height,
        "gaps": gaps.height,
        "candidates": cand.height,
        "new": int((cand["status"] == "new").sum()),
        "known": int((cand["status"] == "known").sum()),
        "synthetic_inputs": synthetic,
        "synthetic": int(cand["synthetic"].sum()) if cand.height else 0,
        "seconds": round(time.perf_counter() - t0, 3),
        **{k: round(v, 3) for k, v in timings.items()},
    }
    if out is not None:
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        cand.write_parquet(tmp / "out_candidates.parquet")
        cand_legs.write_parquet(tmp / "out_candidate_legs.parquet")
        legs.write_parquet(tmp / "disc_legs.parquet")
        gaps.write_parquet(tmp / "disc_gaps.parquet")
        aircraft.write_parquet(tmp / "disc_aircraft.parquet")
        (tmp / "manifest.json").write_text(json.dumps(man, indent=1))
        atomic.replace_dir(tmp, out)
    if progress and synthetic:
        from .globalday import SYNTHETIC_NOTE

        print(f"[discover] {SYNTHETIC_NOTE} (input: {', '.join(synthetic)})", flush=True)
    if progress:
        print(
            f"[discover] {engine}: {man['aircraft']:,} aircraft, {legs.height:,} legs, {gaps.height:,} gaps -> "
            f"{cand.height} candidates ({man['new']} new, {man['known']} known) in {man['seconds']:.1f} s"
            + (f"; wrote {out}" if out is not None else ""),
            flush=True,
        )
    return DiscoveryResult(cand, cand_legs, legs, gaps, aircraft, out, man)
