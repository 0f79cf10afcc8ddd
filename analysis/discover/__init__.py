"""Discovery: find the flights nobody has reported yet, in a whole day (or month) of global ADS-B.

Pipeline (one kernel, two engines)::

    day archive(s)  --analysis.tracks.archive-->  positions store (bucketed by aircraft)
                    --segment_batch per bucket (local threads, or one Spark task per bucket)-->  legs, gaps
                    --analysis.discover.rules (interest rules, data/raw/interest_*.csv, read and checked
                      as a build reads data/raw; trips and region of analysis.trips)-->  candidates

Python API::

    from analysis.discover import discover
    res = discover(["day.tar"])                     # local engine, into the study's data/derived/discover
    res = discover(["day.tar"], out="...", engine="spark", master="local[2]")
    res.candidates          # out_candidates: one row per candidate trip
    res.candidate_legs      # its legs (out_candidate_legs)

Command line: ``python -m analysis discover ARCHIVE... [--engine spark --master URL]`` (``make discover``;
``python -m analysis.discover`` is an alias).

Written to ``out`` (default: the study's discovery folder, :attr:`analysis.paths.Project.discover`, i.e.
``data/derived/discover``), published atomically: ``out`` is a symlink to a complete
run folder under ``<out>.runs/``, swapped in one ``os.replace`` when the run is done (readers that resolve it once see
the old run or the new one, never a mix). One run per output folder at a time (a lock beside it); each run writes its
own scratch folder; the last two runs are kept. Files of a run:

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

import contextlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import EllipsisType
from typing import cast

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomic
from ..paths import Project, as_project
from ..tracks.archive import AIRCRAFT_SCHEMA, ingest_archive
from ..tracks.segment import SegmentParams
from .rules import CANDIDATE_COLUMNS, DiscoveryError, Rules, candidates, load_rules, match_aircraft

__all__ = [
    "discover",
    "DiscoveryError",
    "output_folder",
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
            pl.min_horizontal(pl.col("arr_earliest_utc").min(), pl.col("dep_earliest_utc").min()).alias(
                "start_utc"
            ),
            pl.max_horizontal(pl.col("arr_latest_utc").max(), pl.col("dep_latest_utc").max()).alias(
                "end_utc"
            ),
        )
        .drop_nulls(["start_utc", "end_utc"])
        .join(
            ac.select("aircraft_id", "registration", "icao_hex", pl.col("icao_type").alias("type_code")),
            on="aircraft_id",
            how="left",
        )
        .join(
            ep.select("episode_id", pl.col("destination_country").alias("destination")),
            on="episode_id",
            how="left",
        )
        .with_columns(pl.col("start_utc") - REPORTED_MARGIN, pl.col("end_utc") + REPORTED_MARGIN)
        .sort("episode_id", "aircraft_id")
    )
    return w


def read_aircraft(store) -> pl.DataFrame:
    """Aircraft seen in a positions store (one row per aircraft and trace member)."""
    files = sorted((Path(store) / "aircraft").glob("*.parquet"))
    if not files:
        return cast(pl.DataFrame, pl.from_arrow(AIRCRAFT_SCHEMA.empty_table()))
    return pl.concat(
        [cast(pl.DataFrame, pl.from_arrow(pq.read_table(f, schema=AIRCRAFT_SCHEMA))) for f in files]
    ).sort("icao24", "first_utc", "source_member")


#: the largest bucket count and worker count accepted (a typo such as --buckets 1000000 would make a million files)
MAX_BUCKETS = 4096
MAX_PROCESSES = 256


def _check_count(name: str, value, top: int, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise DiscoveryError(f"{name}: expected a whole number from 1 to {top}, got {value!r}")


def _check_store(store) -> Path:
    """An existing positions store (never an empty result that would replace the last one)."""
    store = Path(store)
    if not store.is_dir():
        raise DiscoveryError(
            f"--store {store}: expected a positions store (a folder with manifest.json and positions/, "
            "written by discovery or python -m analysis.tracks.archive), got "
            + ("a file" if store.exists() else "nothing there")
            + "; nothing was written, the previous discovery output is intact"
        )
    if (
        not (store / "manifest.json").is_file()
        or not (store / "positions").is_dir()
        and not _empty_store(store)
    ):
        raise DiscoveryError(
            f"--store {store}: expected a positions store (manifest.json and positions/), got a "
            "folder without them; nothing was written, the previous discovery output is intact"
        )
    return store


def _empty_store(store: Path) -> bool:
    try:
        return json.loads((store / "manifest.json").read_text(encoding="utf-8")).get("positions") == 0
    except (OSError, ValueError, AttributeError):
        return False


def output_folder(out) -> Path:
    """The run folder ``out`` points at (resolved once: read every file of one run from it), or ``out`` itself when
    it is a plain folder (an output copied or written by older code)."""
    out = Path(out)
    return out.resolve() if out.is_symlink() else out


def _runs(out: Path) -> Path:
    return out.with_name(out.name + ".runs")


def _publish(out: Path, write) -> Path:
    """Write a run into a fresh scratch folder with ``write(folder)``, then point ``out`` at it atomically."""
    runs = _runs(out)
    runs.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_symlink():  # a real folder: the output of older code, or something else
        if out.is_dir() and (out / "manifest.json").is_file() and (out / "out_candidates.parquet").is_file():
            os.replace(out, runs / f"legacy-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}")
        else:
            raise atomic.NotALinkError(
                f"{out}: expected the discovery output link (or nothing), got a real "
                f"{'folder' if out.is_dir() else 'file'} that is not a discovery output; "
                "nothing was published. Move it away, then run discovery again"
            )
    partial = atomic.new_build_dir(runs, "run-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime()))
    try:
        write(partial)
        final = atomic.publish(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    atomic.prune(runs, out, keep=2)
    return final


def discover(
    inputs=None,
    out: str | os.PathLike | None | EllipsisType = ...,
    *,
    project: Project | str | os.PathLike | None = None,
    store=None,
    engine: str = "local",
    master: str | None = None,
    spark=None,
    n_buckets: int | None = None,
    processes: int = 2,
    params: SegmentParams | None = None,
    raw=None,
    reported: pl.DataFrame | str | None = "derived",
    progress: bool | None = None,
) -> DiscoveryResult:
    """Run discovery. Give ``inputs`` (archives: tar, tree, OpenSky files) or an existing ``store``.

    ``project``: the study (a :class:`analysis.paths.Project` or its folder; default :func:`default_project`): its
    rules (data/raw, read as a build reads it), its reported episodes and its discovery folder
    (:attr:`Project.discover`, the default ``out``). ``engine``: ``"local"`` or ``"spark"`` (``master`` URL, e.g. ``local[2]`` or ``spark://host:7077``, or a
    ready ``spark`` session). ``reported``: ``"derived"`` reads reported episodes from the study's
    derived data (run ``make data`` first), a DataFrame like :func:`reported_windows`, or None (all new).
    ``n_buckets``: aircraft hash buckets of the positions store (default one per 64 MB of archive: memory is
    bounded by one bucket per worker). ``out=None`` writes nothing. ``raw``: another data/raw folder for the rules.
    ``progress``: the ingest's bar on stderr (True: always, None: on a terminal, False: never) and the summary
    lines, logged at INFO (at DEBUG with False; the command line shows INFO, :mod:`analysis.console`).
    The store (when built from ``inputs``) goes
    to ``<out>.store`` beside ``out``.

    Every argument is checked before anything is read or written (:class:`DiscoveryError`, or
    :class:`analysis.tracks.readers.TrackInputError` for an archive that is missing, a link, a FIFO or a device).
    One discovery at a time writes to ``out`` (a lock beside it: a second one waits); the output is published
    atomically (see the module docstring).
    """
    project = as_project(project)
    if out is ...:
        out = project.discover
    if engine not in ("local", "spark"):
        raise DiscoveryError(f"engine: expected 'local' or 'spark', got {engine!r}")
    if inputs is None and store is None:
        raise DiscoveryError("discover: give archive inputs or a positions store")
    if inputs is not None and store is not None:
        raise DiscoveryError("discover: give archive inputs or a positions store, not both")
    _check_count("buckets", n_buckets, MAX_BUCKETS, optional=True)
    _check_count("processes", processes, MAX_PROCESSES, optional=False)
    if engine == "spark" and spark is None:
        from .engine import check_master

        check_master(master or "local[2]")
    if inputs is not None:
        from ..tracks.archive import _input_stat

        inputs = [inputs] if isinstance(inputs, str | Path) else list(inputs)
        if not inputs:
            raise DiscoveryError("discover: expected one or more archives, got an empty list")
        for p in inputs:
            _input_stat(Path(p))  # missing, a link, a FIFO or a device: named before anything runs
    else:
        store = _check_store(store)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
    # one discovery per output folder at a time (a run that writes nothing needs no lock)
    lock = (
        contextlib.nullcontext()
        if out is None
        else atomic.exclusive(out.with_name(f".{out.name}.lock"), what="discovery into this folder")
    )
    with lock:
        return _discover(
            project,
            inputs,
            out,
            store,
            engine,
            master,
            spark,
            n_buckets,
            processes,
            params,
            raw,
            reported,
            progress,
        )


def _shown(path: Path, project: Project) -> str:
    """A path as the manifest and messages give it: relative to the study folder when inside it."""
    try:
        return Path(path).relative_to(project.root).as_posix() if Path(path).is_absolute() else str(path)
    except ValueError:
        return str(path)


def _discover(
    project, inputs, out, store, engine, master, spark, n_buckets, processes, params, raw, reported, progress
) -> DiscoveryResult:
    t0 = time.perf_counter()
    rules = load_rules(raw if raw is not None else project)
    if isinstance(reported, str):
        if reported != "derived":
            raise DiscoveryError(f"reported: expected 'derived', a DataFrame or None, got {reported!r}")
        reported = reported_windows(project)
    scratch = None
    own_spark = False
    if engine == "spark" and spark is None:
        from .engine import spark_session

        spark = spark_session(master or "local[2]")
        own_spark = True
    timings = {}
    stack = contextlib.ExitStack()
    try:
        if inputs is not None:
            if out is not None:
                store = out.with_name(out.name + ".store")
            else:
                import tempfile

                scratch = Path(tempfile.mkdtemp(prefix="discover-"))
                store = scratch / "store"
        # the store is read under its own lock, the one its ingest holds: never a mix of two ingests' buckets
        try:
            stack.enter_context(
                atomic.exclusive(store.with_name(f".{store.name}.lock"), what="ingest into this store")
            )
        except OSError:  # a store in a read-only folder: no ingest can write it either
            if inputs is not None:
                raise
        if inputs is not None:
            t = time.perf_counter()
            if engine == "spark":
                from ..tracks.archive import auto_buckets
                from .engine import ingest_spark

                ingest_spark(inputs, store, spark, n_buckets or auto_buckets(inputs))
            else:
                ingest_archive(inputs, store, n_buckets=n_buckets, processes=processes, progress=progress)
            timings["ingest_s"] = time.perf_counter() - t
        t = time.perf_counter()
        try:
            if engine == "spark":
                from .engine import segment_store_spark

                legs, gaps = segment_store_spark(store, spark, params)
            else:
                from .engine import segment_store_local

                legs, gaps = segment_store_local(store, params, processes)
            aircraft = read_aircraft(store)
        except (pa.ArrowException, OSError) as e:
            raise DiscoveryError(
                f"{store}: positions store: expected parquet files written by discovery, got an "
                f"unreadable one ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); "
                "run discovery on the archives again"
            ) from None
        timings["segment_s"] = time.perf_counter() - t
        t = time.perf_counter()
        cand, cand_legs = candidates(legs, gaps, aircraft, rules, reported)
        timings["rules_s"] = time.perf_counter() - t
        # a generated demo day (synth.globalday) marks itself: so does every candidate found in it, and
        # so does the positions store ingested from it (a later run on the store alone knows it too)
        from .synthetic import SYNTHETIC_MEMBER, synthetic_inputs

        marker = Path(store) / SYNTHETIC_MEMBER
        if inputs is not None:
            synthetic = sorted(synthetic_inputs(inputs))
            if synthetic:
                marker.write_text(json.dumps({"synthetic_inputs": synthetic}), encoding="utf-8")
        else:
            synthetic = (
                json.loads(marker.read_text(encoding="utf-8"))["synthetic_inputs"] if marker.is_file() else []
            )
        cand = cand.with_columns(
            (
                pl.col("source_inputs")
                .fill_null("")
                .str.split(";")
                .list.eval(pl.element().is_in(synthetic))
                .list.any()
                if synthetic and "source_inputs" in cand.columns
                else pl.lit(bool(synthetic))
            ).alias("synthetic")
        )
    finally:
        stack.close()
        if own_spark:
            spark.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    skipped: list = []
    try:
        skipped = json.loads((Path(store) / "manifest.json").read_text(encoding="utf-8")).get("skipped") or []
    except (OSError, ValueError, AttributeError):
        pass
    man = {
        "inputs": [str(p) for p in inputs] if inputs else [],
        "store": _shown(store, project),
        "engine": engine,
        "master": master if engine == "spark" else None,
        "aircraft": aircraft["icao24"].n_unique(),
        "legs": legs.height,
        "gaps": gaps.height,
        "candidates": cand.height,
        "new": int((cand["status"] == "new").sum()),
        "known": int((cand["status"] == "known").sum()),
        "skipped_members": len(skipped),
        "synthetic_inputs": synthetic,
        "synthetic": int(cand["synthetic"].sum()) if cand.height else 0,
        "seconds": round(time.perf_counter() - t0, 3),
        **{k: round(v, 3) for k, v in timings.items()},
    }
    if out is not None:

        def write(folder: Path) -> None:
            cand.write_parquet(folder / "out_candidates.parquet")
            cand_legs.write_parquet(folder / "out_candidate_legs.parquet")
            legs.write_parquet(folder / "disc_legs.parquet")
            gaps.write_parquet(folder / "disc_gaps.parquet")
            aircraft.write_parquet(folder / "disc_aircraft.parquet")
            (folder / "manifest.json").write_text(json.dumps(man, indent=1))  # written last

        _publish(out, write)
    say = log.info if progress is not False else log.debug  # progress=False: quiet
    if synthetic:
        from .synthetic import SYNTHETIC_NOTE

        say(f"[discover] {SYNTHETIC_NOTE} (input: {', '.join(synthetic)})")
    say(
        f"[discover] {engine}: {man['aircraft']:,} aircraft, {legs.height:,} legs, {gaps.height:,} gaps -> "
        f"{cand.height} candidates ({man['new']} new, {man['known']} known) in {man['seconds']:.1f} s"
        + (f"; wrote {_shown(out, project)}" if out is not None else "")
    )
    if skipped:
        say(
            f"[discover] {len(skipped)} archive member(s) skipped, each with the reason, in {_shown(store, project)}/manifest.json; "
            f"first: {skipped[0][1] if isinstance(skipped[0], list | tuple) else skipped[0]}"
        )
    return DiscoveryResult(cand, cand_legs, legs, gaps, aircraft, out, man)
