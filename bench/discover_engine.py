"""Discovery's wall and CPU seconds on one engine and an existing positions store (``bench/out/day-4000.store`` after
``python -m bench.discover``), for comparing engines and masters by hand (``docs/scale.md``)::

    python -m bench.discover_engine STORE [--engine local | --master local[N] | --standalone CORES] [--runs 2]

Prints :func:`measure_discovery` as JSON (one line).
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis.discover.engine import spark_session, standalone_cluster

__all__ = ["measure_discovery", "process_tree_cpu_seconds", "main"]


def process_tree_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process and every process under it, live or reaped: the
    driver, Spark's JVM and its Python workers (and a standalone master, worker and executor started from here by
    :func:`analysis.discover.engine.standalone_cluster`). ``resource.getrusage`` misses the JVM, which is not reaped
    until the session ends."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:  # ended meanwhile: its time is in its parent's children_* once reaped
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def measure_discovery(
    store,
    engine: str = "spark",
    master: str | None = "local[2]",
    runs: int = 2,
    *,
    processes: int = 2,
    conf: dict[str, str] | None = None,
) -> dict:
    """Discovery on an existing positions store (no rules' reported episodes, nothing written), ``runs`` times in
    one session: wall seconds, CPU seconds of the whole process tree (:func:`process_tree_cpu_seconds`) and the
    1-minute load average of each run, the session start apart. For the discovery bench: the first Spark run of a
    session is the cold one (JVM warm-up, Python workers starting)."""
    import json
    import time

    from analysis.discover import discover

    positions = json.loads((Path(store) / "manifest.json").read_text(encoding="utf-8"))["positions"]
    out: dict = {
        "engine": engine,
        "master": master if engine == "spark" else None,
        "positions": positions,
        "cpus": os.cpu_count(),
        "runs": [],
    }
    t, c = time.perf_counter(), process_tree_cpu_seconds()
    spark = None
    if engine == "spark":
        spark = spark_session(master or "local[2]", "flights-discover", 4, **(conf or {}))
        spark.sparkContext.setLogLevel("ERROR")
    out["session_seconds"] = time.perf_counter() - t
    out["session_cpu_seconds"] = process_tree_cpu_seconds() - c
    try:
        for _ in range(runs):
            load0 = os.getloadavg()[0]
            t, c = time.perf_counter(), process_tree_cpu_seconds()
            discover(
                store=store,
                out=None,
                engine=engine,
                spark=spark,
                processes=processes,
                reported=None,
                progress=False,
            )
            wall, cpu = time.perf_counter() - t, process_tree_cpu_seconds() - c
            out["runs"].append(
                {
                    "seconds": wall,
                    "cpu_seconds": cpu,
                    "positions_per_s": positions / wall,
                    "positions_per_cpu_s": positions / cpu,
                    "loadavg_1m": [load0, os.getloadavg()[0]],
                }
            )
    finally:
        if spark is not None:
            spark.stop()
    return out


def main(argv=None) -> int:
    """``python -m bench.discover_engine STORE [--engine spark] [--master local[2] | --standalone CORES]``:
    print :func:`measure_discovery` as JSON (one line)."""
    import argparse
    import json

    ap = argparse.ArgumentParser(
        prog="python -m bench.discover_engine",
        description="print discovery's wall and CPU seconds on a store",
    )
    ap.add_argument("store", help="a positions store (e.g. bench/out/day-4000.store)")
    ap.add_argument("--engine", choices=("local", "spark"), default="spark")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument(
        "--standalone",
        type=int,
        metavar="CORES",
        default=None,
        help="start a standalone master and a worker of CORES cores here and run on it",
    )
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--processes", type=int, default=2, help="local engine threads")
    a = ap.parse_args(argv)
    if a.standalone:
        with standalone_cluster(a.standalone) as url:
            res = measure_discovery(
                a.store,
                "spark",
                url,
                a.runs,
                conf={"spark.cores.max": str(a.standalone), "spark.executor.memory": "1g"},
            )
        res["standalone_cores"] = a.standalone
    else:
        res = measure_discovery(a.store, a.engine, a.master, a.runs, processes=a.processes)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
