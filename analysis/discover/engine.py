"""One kernel, two engines: segment every aircraft of a positions store, locally or on Apache Spark.

The kernel is :func:`analysis.tracks.segment.segment_batch` (positions of whole aircraft -> legs, gaps).
Both engines call :func:`segment_bucket` on the positions of one bucket of the store (all fixes of the
aircraft with ``icao_int % n_buckets == b``, see :mod:`analysis.tracks.archive`):

* **local**: one process per bucket (``processes`` at a time), memory bounded by the bucket size;
* **spark**: one task per bucket (``parallelize(bucket folders, one slice each)``): the task reads its bucket's
  parquet files itself (:func:`analysis.tracks.archive.read_store_bucket`, as the local engine does) and returns
  the legs and gaps serialised as Arrow IPC, so the driver rebuilds exactly the frames the local engine makes.
  Positions never pass through the JVM and are never shuffled (an earlier ``groupBy("bucket").applyInArrow``
  moved every position through a shuffle and Arrow batches, and did not scale from 1 to 2 cores).

Outputs are sorted (icao24, leg_no / start_utc), so the two engines give identical tables.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import socket
from pathlib import Path
from typing import Any, cast

import polars as pl
import pyarrow as pa

from ..tracks.archive import read_store_bucket, store_buckets
from ..tracks.segment import GAPS_SCHEMA, LEGS_SCHEMA, SegmentParams, segment_batch
from .rules import DiscoveryError

__all__ = [
    "TASK_DEFAULTS",
    "segment_bucket",
    "segment_store_local",
    "segment_store_spark",
    "spark_bucket_task",
    "spark_session",
    "finish",
    "check_master",
    "ingest_spark",
    "standalone_cluster",
]

log = logging.getLogger(__name__)


def segment_bucket(
    positions: pa.Table, params: SegmentParams | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The per-bucket step both engines run: the segmentation kernel on whole aircraft."""
    return segment_batch(positions, params)


def finish(
    legs_parts: list[pl.DataFrame], gaps_parts: list[pl.DataFrame]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Concatenate per-bucket results in a canonical order."""
    legs = (
        pl.concat(legs_parts, how="vertical") if legs_parts else pl.DataFrame(schema=cast(Any, LEGS_SCHEMA))
    )
    gaps = (
        pl.concat(gaps_parts, how="vertical") if gaps_parts else pl.DataFrame(schema=cast(Any, GAPS_SCHEMA))
    )
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
def _ipc(df: pl.DataFrame) -> bytes:
    sink = io.BytesIO()
    df.write_ipc(sink)
    return sink.getvalue()


def spark_bucket_task(bucket_dir: str, params_dict: dict | None = None) -> tuple[str, bytes, bytes]:
    """One Spark task: read one bucket of the store from its files and run the kernel on it, as the local engine
    does; returns (bucket folder, legs, gaps), the tables as Arrow IPC (a few hundred bytes per leg)."""
    params = SegmentParams(**params_dict) if params_dict else None
    legs, gaps = segment_bucket(read_store_bucket(bucket_dir), params)
    return bucket_dir, _ipc(legs), _ipc(gaps)


#: Spark master URLs discovery accepts: local[N], local[*], local[N,F], local-cluster[...], spark://host:port[,...],
#: yarn, k8s://https://..., mesos://...
_MASTER = re.compile(
    r"^(?:local(?:\[(?:\*|[1-9][0-9]{0,3})(?:,[0-9]{1,3})?\])?|local-cluster\[[0-9]{1,4},[0-9]{1,4},[0-9]{1,6}\]"
    r"|spark://[A-Za-z0-9.-]+:[0-9]{1,5}(?:,[A-Za-z0-9.-]+:[0-9]{1,5})*|yarn"
    r"|k8s://https?://[A-Za-z0-9.:/-]+|mesos://[A-Za-z0-9.:/@-]+)$"
)


def check_master(master: str, reach_timeout_s: float = 5.0) -> str:
    """The Spark master URL, checked before a JVM starts: a known form, and for ``spark://`` a master that answers
    on its port (an unreachable one would have the driver retry for minutes). Raises :class:`DiscoveryError`."""
    if not isinstance(master, str) or not _MASTER.match(master):
        raise DiscoveryError(
            f"--master: expected a Spark master URL such as local[2], local[*] or "
            f"spark://host:7077, got {master!r}"
        )
    if master.startswith("spark://"):
        errors = []
        for hostport in master[len("spark://") :].split(","):
            host, _, port = hostport.rpartition(":")
            if not 0 < int(port) < 65536:
                raise DiscoveryError(
                    f"--master: expected a port between 1 and 65535, got {port} in {master!r}"
                )
            try:
                socket.create_connection((host, int(port)), timeout=reach_timeout_s).close()
                return master
            except OSError as e:
                errors.append(f"{hostport}: {e.strerror or e}")
        raise DiscoveryError(
            f"--master {master}: expected a running Spark master, got no answer ({'; '.join(errors)})"
        )
    return master


#: settings of every discovery session (a ``conf`` given to :func:`spark_session` overrides them)
TASK_DEFAULTS = {
    "spark.executorEnv.POLARS_MAX_THREADS": "1",
    "spark.executorEnv.OMP_NUM_THREADS": "1",  # Arrow's CPU pool
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
    "spark.executor.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
}


def spark_session(
    master: str = "local[2]", app: str = "flights-discover", shuffle_partitions: int = 4, **conf
):
    """A SparkSession for discovery: UTC session time zone, Arrow on, UI off, driver bound to loopback
    for local masters, one thread per task (:data:`TASK_DEFAULTS`). Executors run this interpreter (PYSPARK_PYTHON). The master URL is checked first
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
    # one core per task: Spark runs one task per core, so the kernel's polars and Arrow pools get one thread each
    # (their default, one per core in every Python worker, oversubscribes the cores); and the JVMs only schedule
    # tasks and pass bucket names and results, so the serial collector and the quick compiler spend the least CPU
    # (measured: the JVM's CPU in a warm run from 3.1 to 0.6-0.9 s, docs/scale.md)
    for k, v in TASK_DEFAULTS.items():
        b = b.config(k, v)
    if master.startswith("local") or "127.0.0.1" in master or "localhost" in master:
        b = b.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    for k, v in conf.items():
        b = b.config(k, v)
    try:
        return b.getOrCreate()
    except Exception as e:  # noqa: BLE001 - py4j and JVM errors: named, one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DiscoveryError(
            f"--master {master}: expected Spark to start, got {type(e).__name__}: {first[:300]}"
        ) from None


def segment_store_spark(store, spark, params: SegmentParams | None = None):
    """Spark engine: one task per bucket of ``store`` (:func:`spark_bucket_task`), which reads the bucket's files
    itself: no position goes through the JVM or a shuffle, only legs and gaps come back to the driver. The store
    must be visible to every executor at the same path (a shared file system), like the archives of
    :func:`ingest_spark`."""
    from dataclasses import asdict
    from functools import partial

    buckets = [str(b.resolve()) for b in store_buckets(store)]
    if not buckets:
        return finish([], [])
    task = partial(spark_bucket_task, params_dict=asdict(params) if params else None)
    res = spark.sparkContext.parallelize(buckets, len(buckets)).map(task).collect()
    res.sort(key=lambda r: r[0])
    return finish([pl.read_ipc(io.BytesIO(r[1])) for r in res], [pl.read_ipc(io.BytesIO(r[2])) for r in res])


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
    tmp = out.with_name(
        f"{out.name}.partial-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    )  # unique per run
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


# ----------------------------------------------------------------------------------------- a local cluster
@contextlib.contextmanager
def standalone_cluster(cores: int = 2, memory: str = "1g", log_dir=None, start_timeout_s: float = 180.0):
    """A Spark standalone master and one worker of ``cores`` cores on 127.0.0.1 (free ports), started as child
    processes of this one and stopped on exit; yields the master URL (``spark://127.0.0.1:PORT``)."""
    import subprocess
    import sys
    import tempfile
    import time

    import pyspark

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def wait_port(port: int) -> bool:
        end = time.monotonic() + start_timeout_s
        while time.monotonic() < end:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return True
            time.sleep(0.3)
        return False

    def wait_worker(ui_port: int) -> bool:
        import json
        import urllib.request

        end = time.monotonic() + start_timeout_s
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=10) as r:
                    if json.loads(r.read()).get("aliveworkers", 0) >= 1:
                        return True
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        return False

    home = Path(pyspark.__file__).parent
    cls = str(home / "bin" / "spark-class")
    with contextlib.ExitStack() as stack:
        logs = (
            Path(log_dir)
            if log_dir
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spark-")))
        )
        env = dict(
            os.environ,
            SPARK_HOME=str(home),
            SPARK_LOCAL_IP="127.0.0.1",
            PYSPARK_PYTHON=sys.executable,
            SPARK_LOG_DIR=str(logs),
            SPARK_WORKER_DIR=str(logs / "work"),
        )
        mport, mui, wui = free_port(), free_port(), free_port()
        url = f"spark://127.0.0.1:{mport}"
        procs: list[subprocess.Popen] = []
        try:
            procs.append(
                subprocess.Popen(
                    [
                        cls,
                        "org.apache.spark.deploy.master.Master",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(mport),
                        "--webui-port",
                        str(mui),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            if not wait_port(mport):
                raise DiscoveryError(
                    f"standalone master: expected it to listen on 127.0.0.1:{mport} within "
                    f"{start_timeout_s:.0f} s, got no answer (logs in {logs})"
                )
            procs.append(
                subprocess.Popen(
                    [
                        cls,
                        "org.apache.spark.deploy.worker.Worker",
                        url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(cores),
                        "--memory",
                        memory,
                        "--webui-port",
                        str(wui),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            # ready when the master answers and has registered the worker (a master that only listens may not yet
            # answer a driver's registration, which gives up after 3 x 20 s on a crowded machine)
            if not wait_worker(mui):
                raise DiscoveryError(
                    f"standalone worker: expected the master on 127.0.0.1:{mport} to register it within "
                    f"{start_timeout_s:.0f} s, got none (logs in {logs})"
                )
            yield url
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
