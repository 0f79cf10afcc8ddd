"""The Spark engine gives exactly the local engine's legs, gaps and candidates (one kernel, two engines).

One Spark session for the module (local[2], 2 shuffle partitions, UI off, bound to 127.0.0.1); then a
standalone master and worker started on loopback by the test itself (analysis.discover.engine.standalone_cluster),
and stopped by it.
"""

from __future__ import annotations

import io

import polars as pl
import pytest

pyspark = pytest.importorskip("pyspark")

from analysis.discover import discover  # noqa: E402
from analysis.discover.engine import spark_session, standalone_cluster  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    s = spark_session("local[2]", shuffle_partitions=2)
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def local(day, reported, tmp_path_factory):
    return discover(
        [day.path], tmp_path_factory.mktemp("loc") / "d", n_buckets=4, reported=reported, progress=False
    )


def _same(a, b):
    assert a.legs.equals(b.legs)
    assert a.gaps.equals(b.gaps)
    assert a.candidates.equals(b.candidates)
    assert a.candidate_legs.equals(b.candidate_legs)


def test_spark_local_mode_matches_local_engine(spark, local, day, reported, tmp_path):
    # Spark ingests the archive itself (tasks read members by offset) and segments per bucket
    res = discover(
        [day.path],
        tmp_path / "d",
        engine="spark",
        spark=spark,
        n_buckets=4,
        reported=reported,
        progress=False,
    )
    assert local.legs.height > 200 and local.gaps.height > 0 and local.candidates.height == day.truth.height
    _same(res, local)
    # and from the local engine's positions store
    res2 = discover(
        store=local.manifest["store"],
        out=None,
        engine="spark",
        spark=spark,
        reported=reported,
        progress=False,
    )
    _same(res2, local)


def test_spark_standalone_cluster_matches_local_engine(spark, local, reported, tmp_path):
    spark.stop()  # one SparkContext per process: the module session gives way to the cluster's
    with standalone_cluster(cores=2, memory="1g", log_dir=tmp_path) as url:
        s = spark_session(
            url, shuffle_partitions=2, **{"spark.executor.memory": "768m", "spark.cores.max": "2"}
        )
        try:
            res = discover(
                store=local.manifest["store"],
                out=None,
                engine="spark",
                spark=s,
                reported=reported,
                progress=False,
            )
        finally:
            s.stop()
    _same(res, local)


def test_spark_tasks_read_their_bucket_and_give_the_local_engines_result(local):
    """One Spark task is one bucket read from its own files: the same legs and gaps as the local engine's kernel."""
    from analysis.discover.engine import finish, segment_bucket, spark_bucket_task
    from analysis.tracks.archive import read_store_bucket, store_buckets

    buckets = store_buckets(local.manifest["store"])
    assert len(buckets) == 4
    parts = [spark_bucket_task(str(b)) for b in buckets]
    assert [p[0] for p in parts] == [str(b) for b in buckets]
    legs, gaps = finish(
        [pl.read_ipc(io.BytesIO(p[1])) for p in parts], [pl.read_ipc(io.BytesIO(p[2])) for p in parts]
    )
    assert legs.equals(local.legs) and gaps.equals(local.gaps)
    one = segment_bucket(read_store_bucket(buckets[0]))[0]
    assert pl.read_ipc(io.BytesIO(parts[0][1])).equals(one) and one.height < local.legs.height
