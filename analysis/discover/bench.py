"""Discovery benchmark: archive ingest rate, discovery throughput and peak memory (local engine), and
Spark local[1] against local[2] on the same positions store.

    python -m analysis.discover.bench [--aircraft 4000] [--repeat 3] [--no-spark]

Each measurement runs in a fresh interpreter whose whole process tree's RSS is sampled (peak memory). A Spark
measurement runs discovery twice in one session and reports the second (warm) run, with the session start and the
cold first run beside it.
Rates are best of ``--repeat`` runs (the machine is shared; the fastest run is the least disturbed),
with CPU seconds and the 1-minute load average printed beside them. Results: bench/out/discover.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from ..tracks.bench import measure_in_subprocess

OUT = Path("bench/out")


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _measure(kind: str, path: str, store: str, master: str | None) -> dict:
    t0, c0 = time.perf_counter(), _cpu()
    if kind == "ingest":
        from ..tracks.archive import ingest_archive

        r = ingest_archive(path, store, n_buckets=16, processes=2, progress=False)
        rows = r.rows
    elif kind == "local":
        from . import discover

        discover(store=store, out=None, reported=None, progress=False)
        rows = json.loads((Path(store) / "manifest.json").read_text())["positions"]
    else:
        from . import discover
        from .engine import spark_session

        t_s = time.perf_counter()
        s = spark_session(master, shuffle_partitions=4)
        s.sparkContext.setLogLevel("ERROR")
        session_s = time.perf_counter() - t_s
        # the first job of a session pays the JVM's warm-up (class loading, JIT) and the Python workers' start;
        # a long job (a month on a cluster) pays it once, so the rate is the second, warm run; both are printed
        t_c = time.perf_counter()
        discover(store=store, out=None, engine="spark", spark=s, reported=None, progress=False)
        cold_s = time.perf_counter() - t_c
        t0, c0 = time.perf_counter(), _cpu()
        discover(store=store, out=None, engine="spark", spark=s, reported=None, progress=False)
        wall = time.perf_counter() - t0
        s.stop()
        rows = json.loads((Path(store) / "manifest.json").read_text())["positions"]
        return {"rows": rows, "seconds": wall, "cpu_seconds": _cpu() - c0, "loadavg_1m": os.getloadavg()[0],
                "engine": "spark", "session_seconds": session_s, "cold_seconds": cold_s}
    wall = time.perf_counter() - t0
    return {"rows": rows, "seconds": wall, "cpu_seconds": _cpu() - c0, "loadavg_1m": os.getloadavg()[0],
            "engine": "local"}


def _sub(*args: str) -> dict:
    return measure_in_subprocess("analysis.discover.bench", *args)


def _best(runs: list[dict]) -> dict:
    b = dict(min(runs, key=lambda r: r["seconds"]))
    b["rows_per_s"] = b["rows"] / b["seconds"]
    # Spark's JVM is not a reaped child of the measuring process: its CPU is not counted, so no per-CPU rate
    b["rows_per_cpu_s"] = None if b.get("engine") == "spark" else b["rows"] / max(b["cpu_seconds"], 1e-9)
    b["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    b["peak_tree_rss_mb"] = max(r["peak_tree_rss_mb"] for r in runs)
    return b


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m analysis.discover.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--aircraft", type=int, default=4000, help="ordinary aircraft in the generated day")
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("DISCOVER_BENCH_REPEAT", "3")))
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--out", default=str(OUT / "discover.json"))
    ap.add_argument("--_measure", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._measure:
        kind, path, store, master = a._measure
        print(json.dumps(_measure(kind, path, store, None if master == "-" else master)))
        return {}
    from .globalday import generate_day

    OUT.mkdir(parents=True, exist_ok=True)
    day = OUT / f"day-{a.aircraft}.tar"
    store = OUT / f"day-{a.aircraft}.store"
    truth = OUT / f"day-{a.aircraft}.json"
    if not (day.exists() and truth.exists()):
        t = time.perf_counter()
        g = generate_day(day, a.aircraft, seed=1)
        truth.write_text(json.dumps({"positions": g.n_positions, "aircraft": g.aircraft.height}))
        print(f"generated {day}: {g.aircraft.height:,} aircraft, {g.n_positions:,} positions in "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
    info = json.loads(truth.read_text())
    size_mb = day.stat().st_size / 2**20
    res = {"archive": str(day), "archive_mb": size_mb, **info, "cpus": os.cpu_count()}
    res["ingest"] = _best([_sub("ingest", str(day), str(store), "-") for _ in range(a.repeat)])
    res["discover_local"] = _best([_sub("local", str(day), str(store), "-") for _ in range(a.repeat)])
    if not a.no_spark:
        for m in ("local[1]", "local[2]"):
            res[f"spark_{m}"] = _best([_sub("spark", str(day), str(store), m) for _ in range(max(1, a.repeat - 1))])
    Path(a.out).write_text(json.dumps(res, indent=1))
    f = lambda x: f"{x / 1e6:,.2f} M/s"  # noqa: E731
    print(f"discovery bench: {info['aircraft']:,} aircraft, {info['positions']:,} positions, archive {size_mb:,.0f} MB, "
          f"{os.cpu_count()} CPUs")
    for k in [k for k in res if isinstance(res[k], dict)]:
        r = res[k]
        per_cpu = f(r["rows_per_cpu_s"]) if r["rows_per_cpu_s"] else "n/a (JVM CPU not counted)"
        cold = (f"; warm run, after a cold first run of {r['cold_seconds']:.1f} s and a session start of "
                f"{r['session_seconds']:.1f} s") if "cold_seconds" in r else ""
        print(f"  {k:18} {f(r['rows_per_s']):>10} positions/s  ({r['seconds']:.2f} s; {per_cpu} per CPU-s; "
              f"peak RSS {r['peak_tree_rss_mb']:,.0f} MB; load {r['loadavg_1m']:.1f}; runs {r['all_seconds']}{cold})")
    if "spark_local[1]" in res and "spark_local[2]" in res:
        print(f"  Spark local[2] / local[1] (warm): "
              f"{res['spark_local[2]']['rows_per_s'] / res['spark_local[1]']['rows_per_s']:.2f}x")
    print(f"  wrote {a.out}")
    return res


if __name__ == "__main__":
    main()
