"""Discovery benchmark: archive ingest rate, discovery throughput and peak memory (local engine), and
Spark local[1] against local[2] on the same positions store.

    python -m bench.discover [--aircraft 4000] [--repeat 3] [--no-spark]

The generated day is cached in bench/out/ under a key of the generator's source and its parameters (reused while
neither changed). Each ingest and local-engine run is a fresh interpreter whose whole process tree's RSS is sampled
(peak memory); each figure is the best and the median of ``--repeat`` runs, each with the 1-minute load average at
its start, and per CPU-second (this process and its workers). A Spark master runs in one session: the session
start and a cold first run (the JVM's warm-up), then ``--repeat`` warm runs (the rate; a long job pays the warm-up
once). Results: bench/out/discover.json, with the commit measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from bench.tracks import commit, fmt_rate, measure_in_subprocess, source_key, stats

OUT = Path(__file__).resolve().parent / "out"  # bench/out, wherever the command runs from


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _measure(kind: str, path: str, store: str, master: str | None, repeat: int = 1) -> dict:
    la, t0, c0 = os.getloadavg()[0], time.perf_counter(), _cpu()
    if kind == "ingest":
        from analysis.tracks.archive import ingest_archive

        r = ingest_archive(path, store, n_buckets=16, processes=2, progress=False)
        rows = r.rows
    elif kind == "local":
        from analysis.discover import discover

        discover(store=store, out=None, reported=None, progress=False)
        rows = json.loads((Path(store) / "manifest.json").read_text())["positions"]
    else:
        from analysis.discover import discover
        from analysis.discover.engine import spark_session

        assert master is not None, "a Spark measurement names its master"
        t_s = time.perf_counter()
        s = spark_session(master, shuffle_partitions=4)
        s.sparkContext.setLogLevel("ERROR")
        session_s = time.perf_counter() - t_s
        # the first job of a session pays the JVM's warm-up (class loading, JIT) and the Python workers' start;
        # a long job (a month on a cluster) pays it once, so the rate is of the warm runs after it
        t_c = time.perf_counter()
        discover(store=store, out=None, engine="spark", spark=s, reported=None, progress=False)
        cold_s = time.perf_counter() - t_c
        runs = []
        for _ in range(repeat):
            la, t0 = os.getloadavg()[0], time.perf_counter()
            discover(store=store, out=None, engine="spark", spark=s, reported=None, progress=False)
            runs.append({"seconds": time.perf_counter() - t0, "loadavg_1m": la})
        s.stop()
        rows = json.loads((Path(store) / "manifest.json").read_text())["positions"]
        return {
            "rows": rows,
            "engine": "spark",
            "session_seconds": session_s,
            "cold_seconds": cold_s,
            "runs": runs,
        }
    wall = time.perf_counter() - t0
    return {"rows": rows, "seconds": wall, "cpu_seconds": _cpu() - c0, "loadavg_1m": la, "engine": "local"}


def _sub(*args: str) -> dict:
    return measure_in_subprocess("bench.discover", *args)


def _summary(runs: list[dict]) -> dict:
    """Best and median of fresh-interpreter runs (:func:`bench.tracks.stats`), peak RSS of them all."""
    b = stats(runs[0]["rows"], [(r["seconds"], r["cpu_seconds"], r["loadavg_1m"]) for r in runs])
    return b | {"engine": "local", "peak_tree_rss_mb": max(r["peak_tree_rss_mb"] for r in runs)}


def _spark_summary(r: dict) -> dict:
    """Best and median of the warm runs of one Spark session. The JVM is not a reaped child of the measuring
    process: its CPU is not counted, so no rate per CPU-second."""
    import statistics

    runs = sorted(r["runs"], key=lambda x: x["seconds"])
    med = statistics.median(x["seconds"] for x in runs)
    return r | {
        "seconds": runs[0]["seconds"],
        "rows_per_s": r["rows"] / runs[0]["seconds"],
        "loadavg_1m": runs[0]["loadavg_1m"],
        "median_seconds": med,
        "median_rows_per_s": r["rows"] / med,
        "median_loadavg_1m": runs[(len(runs) - 1) // 2]["loadavg_1m"],
        "rows_per_cpu_s": None,
    }


def _day(aircraft: int, seed: int = 1) -> tuple[Path, dict]:
    """The generated day archive, reused while the generator's source and the parameters are the same."""
    from synth import globalday

    key = source_key(globalday, {"aircraft": aircraft, "seed": seed})
    day = OUT / f"day-{aircraft}.tar"
    truth = OUT / f"day-{aircraft}.json"
    if day.exists() and truth.exists():
        info = json.loads(truth.read_text())
        if info.get("key") == key:
            return day, info | {"reused": True}
    t = time.perf_counter()
    g = globalday.generate_day(day, aircraft, seed=seed)
    info = {
        "positions": g.n_positions,
        "aircraft": g.aircraft.height,
        "key": key,
        "seconds": time.perf_counter() - t,
    }
    truth.write_text(json.dumps(info))
    return day, info | {"reused": False}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.discover", description=__doc__.splitlines()[0])
    ap.add_argument("--aircraft", type=int, default=4000, help="ordinary aircraft in the generated day")
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("DISCOVER_BENCH_REPEAT", "3")))
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--out", default=str(OUT / "discover.json"))
    ap.add_argument("--_measure", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._measure:
        kind, path, store, master = a._measure
        print(json.dumps(_measure(kind, path, store, None if master == "-" else master, a.repeat)))
        return {}
    OUT.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    day, info = _day(a.aircraft)
    store = OUT / f"day-{a.aircraft}.store"
    how = "cached" if info["reused"] else f"generated in {info['seconds']:.0f} s"
    print(f"[bench] day {day} ({how}, load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    size_mb = day.stat().st_size / 2**20
    res = {
        "archive": str(day),
        "archive_mb": size_mb,
        **info,
        "cpus": os.cpu_count(),
        **commit(),
        "repeat": a.repeat,
        "loadavg_start": os.getloadavg(),
    }
    res["ingest"] = _summary([_sub("ingest", str(day), str(store), "-") for _ in range(a.repeat)])
    res["discover_local"] = _summary([_sub("local", str(day), str(store), "-") for _ in range(a.repeat)])
    if not a.no_spark:
        for m in ("local[1]", "local[2]"):
            res[f"spark_{m}"] = _spark_summary(
                _sub("spark", str(day), str(store), m, "--repeat", str(a.repeat))
            )
    res["loadavg_end"] = os.getloadavg()
    res["total_seconds"] = time.perf_counter() - t_all
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(
        f"discovery bench, commit {(res['commit'] or '?')[:12]}{' (dirty)' if res['dirty'] else ''}: "
        f"{info['aircraft']:,} aircraft, {info['positions']:,} positions, archive {size_mb:,.0f} MB, "
        f"{os.cpu_count()} CPUs; {a.repeat} runs each, best and median, each with the 1-min load average at its start"
    )
    for k in [k for k in res if isinstance(res[k], dict) and "rows_per_s" in res[k]]:
        r = res[k]
        per_cpu = (
            fmt_rate(r, "cpu") if r["rows_per_cpu_s"] else "per CPU-s n/a (the JVM's CPU is not counted)"
        )
        extra = (
            (
                f"; warm runs, after a session start of {r['session_seconds']:.1f} s and a cold first run of "
                f"{r['cold_seconds']:.1f} s"
            )
            if "cold_seconds" in r
            else f"; peak RSS {r['peak_tree_rss_mb']:,.0f} MB"
        )
        print(f"  {k:16} {fmt_rate(r)}; {per_cpu}{extra}")
    if "spark_local[1]" in res and "spark_local[2]" in res:
        print(
            f"  Spark local[2] / local[1] (warm, best): "
            f"{res['spark_local[2]']['rows_per_s'] / res['spark_local[1]']['rows_per_s']:.2f}x"
        )
    la0, la1 = res["loadavg_start"], res["loadavg_end"]
    print(
        f"  total {res['total_seconds']:.0f} s; load average {la0[0]:.1f} {la0[1]:.1f} {la0[2]:.1f} at the start, "
        f"{la1[0]:.1f} {la1[1]:.1f} {la1[2]:.1f} at the end; wrote {a.out}"
    )
    return res


if __name__ == "__main__":
    main()
