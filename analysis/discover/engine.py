"""One kernel, two engines: segment every aircraft of a positions store, locally or on Apache Spark.

The kernel is :func:`analysis.tracks.segment.segment_batch` (positions of whole aircraft -> legs, gaps).
Both engines call :func:`segment_bucket` on the positions of one bucket of the store (all fixes of the
aircraft with ``icao_int % n_buckets == b``, see :mod:`analysis.tracks.archive`):

* **local**: one process per bucket (``processes`` at a time), memory bounded by the bucket size;
* **spark**: ``spark.read.parquet(store/positions)`` gives the ``bucket`` partition column;
  ``groupBy("bucket").applyInArrow(...)`` hands each bucket to :func:`_spark_bucket`, which runs the
  same kernel and returns the legs and gaps serialised as Arrow IPC (one row per bucket and table), so
  the driver rebuilds exactly the frames the local engine makes.

Outputs are sorted (icao24, leg_no / start_utc), so the two engines give identical tables.
"""

from __future__ import annotations

import io
import logging
import os
import re
import socket
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..tracks.archive import ARCHIVE_SCHEMA, read_store_bucket, store_buckets
from ..tracks.segment import GAPS_SCHEMA, LEGS_SCHEMA, SegmentParams, segment_batch
from .rules import DiscoveryError

__all__ = ["segment_bucket", "segment_store_local", "segment_store_spark", "spark_session", "finish", "check_master"]

log = logging.getLogger(__name__)


def segment_bucket(positions: pa.Table, params: SegmentParams | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The per-bucket step both engines run: the segmentation kernel on whole aircraft."""
    return segment_batch(positions, params)


def finish(legs_parts: list[pl.DataFrame], gaps_parts: list[pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Concatenate per-bucket results in a canonical order."""
    legs = pl.concat(legs_parts, how="vertical") if legs_parts else pl.DataFrame(schema=LEGS_SCHEMA)
    gaps = pl.concat(gaps_parts, how="vertical") if gaps_parts else pl.DataFrame(schema=GAPS_SCHEMA)
    return legs.sort("icao24", "leg_no"), gaps.sort("icao24", "start_utc", "end_utc")


def _local_one(args):
    bucket_dir, params = args
    legs, gaps = segment_bucket(read_store_bucket(bucket_dir), params)
    return legs, gaps


def segment_store_local(store, params: SegmentParams | None = None, processes: int = 2):
    """Local engine: every bucket of ``store`` through the kernel (``processes`` threads); returns (legs, gaps)."""
    buckets = store_buckets(store)
    args = [(str(b), params) for b in buckets]
    if processes > 1 and len(args) > 1:
        # threads, not processes: the kernel's numpy, Arrow and polars work releases the GIL, polars must
        # not be forked, and spawned workers would re-run an unguarded calling script or notebook
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(processes) as ex:
            res = list(ex.map(_local_one, args))
    else:
        res = [_local_one(a) for a in args]
    return finish([r[0] for r in res], [r[1] for r in res])


# ----------------------------------------------------------------------------------------- Spark
_OUT_SCHEMA = "bucket int, kind string, data binary"


def _ipc(df: pl.DataFrame) -> bytes:
    sink = io.BytesIO()
    df.write_ipc(sink)
    return sink.getvalue()


def _spark_bucket(key, table: pa.Table, params_dict: dict | None = None) -> pa.Table:
    """Runs on a Spark executor: one bucket's positions -> legs and gaps as Arrow IPC blobs."""
    params = SegmentParams(**params_dict) if params_dict else None
    b = int(key[0].as_py()) if hasattr(key[0], "as_py") else int(key[0])
    cols = {}
    for f in ARCHIVE_SCHEMA:
        c = table.column(f.name)
        if pa.types.is_timestamp(f.type):
            c = pc.cast(c, pa.timestamp("us")).cast(pa.int64()).cast(f.type) if c.type.tz is None else c.cast(f.type)
        else:
            c = c.cast(f.type)
        cols[f.name] = c
    pos = pa.table(cols, schema=ARCHIVE_SCHEMA)
    legs, gaps = segment_bucket(pos, params)
    return pa.table(
        {
            "bucket": pa.array([b, b], pa.int32()),
            "kind": pa.array(["legs", "gaps"]),
            "data": pa.array([_ipc(legs), _ipc(gaps)], pa.binary()),
        }
    )


#: Spark master URLs discovery accepts: local[N], local[*], local[N,F], local-cluster[...], spark://host:port[,...],
#: yarn, k8s://https://..., mesos://...
_MASTER = re.compile(r"^(?:local(?:\[(?:\*|[1-9][0-9]{0,3})(?:,[0-9]{1,3})?\])?|local-cluster\[[0-9]{1,4},[0-9]{1,4},[0-9]{1,6}\]"
                     r"|spark://[A-Za-z0-9.-]+:[0-9]{1,5}(?:,[A-Za-z0-9.-]+:[0-9]{1,5})*|yarn"
                     r"|k8s://https?://[A-Za-z0-9.:/-]+|mesos://[A-Za-z0-9.:/@-]+)$")


def check_master(master: str, reach_timeout_s: float = 5.0) -> str:
    """The Spark master URL, checked before a JVM starts: a known form, and for ``spark://`` a master that answers
    on its port (an unreachable one would have the driver retry for minutes). Raises :class:`DiscoveryError`."""
    if not isinstance(master, str) or not _MASTER.match(master):
        raise DiscoveryError(f"--master: expected a Spark master URL such as local[2], local[*] or "
                             f"spark://host:7077, got {master!r}")
    if master.startswith("spark://"):
        errors = []
        for hostport in master[len("spark://"):].split(","):
            host, _, port = hostport.rpartition(":")
            if not 0 < int(port) < 65536:
                raise DiscoveryError(f"--master: expected a port between 1 and 65535, got {port} in {master!r}")
            try:
                socket.create_connection((host, int(port)), timeout=reach_timeout_s).close()
                return master
            except OSError as e:
                errors.append(f"{hostport}: {e.strerror or e}")
        raise DiscoveryError(f"--master {master}: expected a running Spark master, got no answer ({'; '.join(errors)})")
    return master


def spark_session(master: str = "local[2]", app: str = "flights-discover", shuffle_partitions: int = 4, **conf):
    """A SparkSession for discovery: UTC session time zone, Arrow on, UI off, driver bound to loopback
    for local masters. Executors run this interpreter (PYSPARK_PYTHON). The master URL is checked first
    (:func:`check_master`); a session that does not start is a :class:`DiscoveryError` naming the master."""
    import sys

    check_master(master)
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise DiscoveryError(f"--engine spark: expected pyspark to be installed, got {e}") from None

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    b = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", conf.pop("driver_memory", "1g"))
        .config("spark.executorEnv.PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
    )
    if master.startswith("local") or "127.0.0.1" in master or "localhost" in master:
        b = b.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    for k, v in conf.items():
        b = b.config(k, v)
    try:
        return b.getOrCreate()
    except Exception as e:  # noqa: BLE001 - py4j and JVM errors: named, one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DiscoveryError(f"--master {master}: expected Spark to start, got {type(e).__name__}: {first[:300]}") from None


def segment_store_spark(store, spark, params: SegmentParams | None = None):
    """Spark engine: the same kernel per bucket via ``groupBy("bucket").applyInArrow``."""
    from dataclasses import asdict

    pdict = asdict(params) if params else None

    def run(key, table):  # a closure: pickled by value, so the parameters travel to the executors
        return _spark_bucket(key, table, pdict)

    path = str(Path(store).resolve() / "positions")
    df = spark.read.parquet(path)
    n = len(store_buckets(store))
    out = (
        df.repartition(max(n, 1), "bucket")
        .groupBy("bucket")
        .applyInArrow(run, schema=_OUT_SCHEMA)
        .toArrow()
    )
    legs, gaps = [], []
    for _b, kind, data in zip(
        out.column("bucket").to_pylist(), out.column("kind").to_pylist(), out.column("data").to_pylist(),
        strict=True,
    ):
        d = pl.read_ipc(io.BytesIO(data))
        (legs if kind == "legs" else gaps).append(d)
    return finish(legs, gaps)


def ingest_spark(inputs, out, spark, n_buckets: int = 16, batch_bytes: int = 8 << 20):
    """Archive ingest on Spark: the batches of :mod:`analysis.tracks.archive` run as Spark tasks
    (executors read their members by offset from the archive path, which all of them must see)."""
    import json
    import shutil
    import time

    from ..tracks import archive as A

    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    out = Path(out)
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}")  # unique per run
    tmp.mkdir(parents=True)
    specs, no = [], 0
    skipped = []
    for src in inputs:
        kind, items, skipped_here = A.scan_input(src)
        skipped += skipped_here
        if kind == "stream":
            raise A.TrackInputError(
                f"{src}: file: the Spark engine reads an uncompressed tar, a tree or OpenSky files "
                "(a compressed tar has no random access); ingest it with the local engine first"
            )
        for b in A._batches(items, batch_bytes if kind != "opensky" else 1):
            specs.append((kind, str(Path(src).resolve()), b, str(tmp.resolve()), no, n_buckets))
            no += 1
    try:
        res = spark.sparkContext.parallelize(specs, max(len(specs), 1)).map(A._work).collect()
        rows = sum(r["rows"] for r in res)
        man = {
            "inputs": [str(p) for p in inputs],
            "n_buckets": n_buckets,
            "members": sum(r["members"] for r in res),
            "positions": rows,
            "engine": "spark",
            "skipped": sorted([tuple(s) for s in skipped] + [tuple(s) for r in res for s in r["skipped"]]),
        }
        (tmp / "manifest.json").write_text(json.dumps(man, indent=1))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    from .. import atomic

    atomic.replace_dir(tmp, out)
    return man
