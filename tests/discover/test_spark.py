"""The Spark engine gives exactly the local engine's legs, gaps and candidates (one kernel, two engines).

One Spark session for the module (local[2], 2 shuffle partitions, UI off, bound to 127.0.0.1); then a
standalone master and worker started on loopback by the test itself, and stopped by it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pyspark = pytest.importorskip("pyspark")

from analysis.discover import discover  # noqa: E402
from analysis.discover.engine import spark_session  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    s = spark_session("local[2]", shuffle_partitions=2)
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def local(day, reported, tmp_path_factory):
    return discover([day.path], tmp_path_factory.mktemp("loc") / "d", n_buckets=4, reported=reported, progress=False)


def _same(a, b):
    assert a.legs.equals(b.legs)
    assert a.gaps.equals(b.gaps)
    assert a.candidates.equals(b.candidates)
    assert a.candidate_legs.equals(b.candidate_legs)


def test_spark_local_mode_matches_local_engine(spark, local, day, reported, tmp_path):
    # Spark ingests the archive itself (tasks read members by offset) and segments per bucket
    res = discover([day.path], tmp_path / "d", engine="spark", spark=spark, n_buckets=4, reported=reported,
                   progress=False)
    assert local.legs.height > 200 and local.gaps.height > 0 and local.candidates.height == day.truth.height
    _same(res, local)
    # and from the local engine's positions store
    res2 = discover(store=local.manifest["store"], out=None, engine="spark", spark=spark, reported=reported,
                    progress=False)
    _same(res2, local)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.5)
    return False


def test_spark_standalone_cluster_matches_local_engine(spark, local, reported, tmp_path):
    spark.stop()  # one SparkContext per process: the module session gives way to the cluster's
    home = Path(pyspark.__file__).parent
    cls = str(home / "bin" / "spark-class")
    env = dict(os.environ, SPARK_HOME=str(home), SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               SPARK_LOG_DIR=str(tmp_path), SPARK_WORKER_DIR=str(tmp_path / "work"))
    mport, mui, wui = _free_port(), _free_port(), _free_port()
    url = f"spark://127.0.0.1:{mport}"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(mport),
             "--webui-port", str(mui)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert _wait_port(mport, 60), "standalone master did not start within 60 s"
        procs.append(subprocess.Popen(
            [cls, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "2",
             "--memory", "1g", "--webui-port", str(wui)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        s = spark_session(url, shuffle_partitions=2, **{"spark.executor.memory": "768m", "spark.cores.max": "2"})
        try:
            res = discover(store=local.manifest["store"], out=None, engine="spark", spark=s, reported=reported,
                           progress=False)
        finally:
            s.stop()
        _same(res, local)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
