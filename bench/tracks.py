"""Benchmark of the observed path: ``python -m bench.tracks`` (``make bench``).

Generates clean positions in the store layout (10 M and 100 M by default) and, each in its own
subprocess so that peak RSS (ru_maxrss) belongs to that measurement alone:

* ``scan``     DuckDB (threads=2, memory_limit) sums/counts over exactly the columns segmentation reads
* ``segment``  :func:`analysis.tracks.segment.segment_parquet` (2 threads), rows/s and peak RSS
* ``ingest``   readsb trace-tree ingest (gzip JSON, 2 worker processes) on a generated tree of a few
  million positions (writing 100 M positions as JSON would take too long; the output says so)
* ``accuracy`` generated traffic with every failure class planted at realistic rates
  (:data:`synth.tracks.FAILURE_RATES`), noise filter + kernel, scored by :func:`synth.score.accuracy`:
  legs found, phantom legs, boundaries within 2 min, airports right / wrong / missed

Generated inputs are cached under a key of the generator's source and parameters. Every figure: best and
median of 3 runs, each with its load average, per second and per CPU-second. Prints them and writes
``bench/out/bench.json`` (with the commit). Timings are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from synth.score import observed_path_accuracy

__all__ = ["main", "stats", "fmt_rate", "source_key", "commit", "measure_in_subprocess"]

OUT = Path(__file__).resolve().parent / "out"  # bench/out, wherever the command runs from
REPEAT = int(os.environ.get("TRACKS_BENCH_REPEAT", "3"))


def stats(rows: int, runs: list[tuple[float, float, float]]) -> dict:
    """Best and median of the repeated runs (wall seconds, CPU seconds of all threads, 1-min load average at
    the start of the run). The machine is shared: the fastest run is the least disturbed one, the median
    says how typical it was; per CPU-second, which load hardly changes, is the rate to compare. Each
    run's load is kept beside it."""
    import statistics

    by_wall = sorted(runs)
    wall, cpu, la = by_wall[0]
    med = by_wall[len(by_wall) // 2] if len(by_wall) % 2 else by_wall[len(by_wall) // 2 - 1]
    per_cpu = sorted((rows / max(c, 1e-9), la_) for _, c, la_ in runs)
    return {
        "rows": rows,
        "seconds": wall,
        "rows_per_s": rows / wall,
        "cpu_seconds": cpu,
        "loadavg_1m": la,
        "median_seconds": statistics.median(r[0] for r in runs),
        "median_rows_per_s": rows / statistics.median(r[0] for r in runs),
        "median_loadavg_1m": med[2],
        "rows_per_cpu_s": per_cpu[-1][0],
        "rows_per_cpu_s_loadavg_1m": per_cpu[-1][1],
        "median_rows_per_cpu_s": statistics.median(v for v, _ in per_cpu),
        "runs": [{"seconds": w, "cpu_seconds": c, "loadavg_1m": la_} for w, c, la_ in runs],
    }


def fmt_rate(r: dict, key: str = "rows_per_s") -> str:
    """'best X M/s (load L), median Y M/s (load M)' of a :func:`stats` result."""
    if key == "rows_per_s":
        return (
            f"best {r['rows_per_s'] / 1e6:,.2f} M/s (load {r['loadavg_1m']:.1f}), median "
            f"{r['median_rows_per_s'] / 1e6:,.2f} M/s (load {r['median_loadavg_1m']:.1f})"
        )
    return (
        f"best {r['rows_per_cpu_s'] / 1e6:,.2f} M/CPU-s (load {r['rows_per_cpu_s_loadavg_1m']:.1f}), median "
        f"{r['median_rows_per_cpu_s'] / 1e6:,.2f} M/CPU-s"
    )


def source_key(*parts) -> str:
    """A key of generated inputs: the sha256 of the generator modules' source and of the parameters, so a
    cached input is reused exactly while neither changed."""
    import hashlib
    import inspect

    h = hashlib.sha256()
    for x in parts:
        if inspect.ismodule(x):
            h.update(Path(inspect.getfile(x)).read_bytes())
        else:
            h.update(json.dumps(x, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def commit() -> dict:
    """The git commit measured (and whether the work tree had changes), for comparing JSON between commits."""

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def _rss_mb(who=resource.RUSAGE_SELF) -> float:
    """Peak RSS in MB. For this process VmHWM (reset at exec, unlike ru_maxrss, which a child
    process inherits from the parent that forked it)."""
    if who == resource.RUSAGE_SELF:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def _cpu(children: bool = False) -> float:
    """CPU seconds (user + system) of this process, all threads; plus reaped children if asked."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    v = r.ru_utime + r.ru_stime
    if children:
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        v += c.ru_utime + c.ru_stime
    return v


def _measure_scan(path: str, mem: str) -> dict:
    import duckdb

    tmp = Path(path).parent / "duckdb_tmp"
    con = duckdb.connect()
    con.execute("SET threads=2")
    con.execute(f"SET memory_limit='{mem}'")
    con.execute(f"SET temp_directory='{tmp}'")
    q = f"""SELECT count(*), sum(icao_int), sum(epoch_us(time_utc)), sum(lat), sum(lon), sum(alt_ft),
                   count_if(on_ground), sum(readsb_flags), count(callsign), count(registration)
            FROM read_parquet('{path}')"""
    con.sql(q).fetchall()  # warm the page cache like the segment run sees it
    runs = []
    for _ in range(REPEAT):
        c, t, la = _cpu(), time.perf_counter(), os.getloadavg()[0]
        n = con.sql(q).fetchall()[0][0]
        runs.append((time.perf_counter() - t, _cpu() - c, la))
    return stats(n, runs) | {"peak_rss_mb": _rss_mb()}


def _measure_segment(path: str) -> dict:
    import pyarrow.parquet as pq

    from analysis.tracks.segment import SEGMENT_COLUMNS, segment_batch, segment_parquet, work_units

    # warm-up on the first work unit: the compiled kernels loaded, the airports read (the page cache was
    # warmed by the scan of the same file just before)
    pf = pq.ParquetFile(path, read_dictionary=["callsign", "registration"])
    segment_batch(pf.read_row_groups(work_units(path)[0], columns=SEGMENT_COLUMNS))
    runs = []
    for _ in range(REPEAT):
        c, t, la = _cpu(), time.perf_counter(), os.getloadavg()[0]
        s = segment_parquet(path, threads=2)
        runs.append((time.perf_counter() - t, _cpu() - c, la))
    return stats(s.n_positions, runs) | {
        "legs": s.legs.height,
        "gaps": s.gaps.height,
        "stops": s.stops.height,
        "peak_rss_mb": _rss_mb(),
    }


def _measure_ingest(tree: str, cache: str) -> dict:
    from analysis.tracks.store import Store

    runs = []
    for _ in range(REPEAT):
        shutil.rmtree(cache, ignore_errors=True)
        c, t, la = _cpu(children=True), time.perf_counter(), os.getloadavg()[0]
        part = Store(cache).ingest(tree, "readsb", processes=2, progress=False)
        runs.append((time.perf_counter() - t, _cpu(children=True) - c, la))
    return stats(part.n_rows, runs) | {
        "peak_rss_mb": _rss_mb(),
        "peak_rss_workers_mb": _rss_mb(resource.RUSAGE_CHILDREN),
    }


def _gen_parquet(path: Path, n: int, seed: int) -> dict:
    """Clean store-layout positions, reused while the generator's code, the store layout and the parameters
    are the same (the key in the ``.meta.json`` beside the file)."""
    from analysis.tracks.store import LAYOUT_VERSION
    from synth import tracks as generate

    key = source_key(generate, {"n": n, "seed": seed, "layout": LAYOUT_VERSION})
    meta = path.with_suffix(".meta.json")
    if path.exists() and meta.exists():
        m = json.loads(meta.read_text())
        if m.get("key") == key:
            return m | {"reused": True}
    m = generate.generate_positions_parquet(path, n, seed=seed)
    m.update(target=n, seed=seed, bytes=path.stat().st_size, layout=LAYOUT_VERSION, key=key)
    meta.write_text(json.dumps(m))
    return m | {"reused": False}


def _gen_tree(root: Path, n_pos: int, seed: int) -> dict:
    """A readsb trace tree of about ``n_pos`` positions, reused while the generator's code and the parameters
    are the same."""
    from synth import tracks as generate

    key = source_key(generate, {"n": n_pos, "seed": seed})
    meta = root / "meta.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        if m.get("key") == key:
            return m | {"reused": True}
    shutil.rmtree(root, ignore_errors=True)
    t = time.perf_counter()
    per_ac = 4 * 1500  # about 1,500 positions per leg, 4 legs
    g = generate.generate(max(n_pos // per_ac, 1), 4, seed=seed, noise_rate=0.001)
    files = generate.write_readsb_tree(g.positions, root)
    m = {
        "target": n_pos,
        "seed": seed,
        "key": key,
        "positions_in_files": g.positions.num_rows,
        "files": len(files),
        "seconds": time.perf_counter() - t,
    }
    meta.write_text(json.dumps(m))
    return m | {"reused": False}


def measure_in_subprocess(module: str, kind: str, *args: str) -> dict:
    """Run ``python -m module --_measure kind args`` in a fresh interpreter, sampling the RSS of its whole
    process tree; return the JSON of its last stdout line with ``peak_tree_rss_mb`` added."""
    import psutil

    cmd = [sys.executable, "-m", module, "--_measure", kind, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [ps, *ps.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{err[-3000:]}")
    sys.stderr.write(err)
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_tree_rss_mb"] = peak / 2**20
    return res


def _sub(kind: str, *args: str) -> dict:
    return measure_in_subprocess("bench.tracks", kind, *args)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.tracks", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000000,100000000", help="positions for scan/segment runs")
    ap.add_argument("--ingest-positions", type=int, default=3_000_000, help="positions in the readsb tree")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--accuracy-aircraft", type=int, default=300, help="aircraft in the accuracy run (4 legs each)"
    )
    ap.add_argument("--mem", default="3GB", help="DuckDB memory_limit for the scan")
    ap.add_argument("--out", default=str(OUT / "bench.json"))
    ap.add_argument("--_measure", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._measure:
        res = {
            "scan": lambda: _measure_scan(a.path, a.mem),
            "segment": lambda: _measure_segment(a.path),
            "ingest": lambda: _measure_ingest(a.path, a.cache),
            "gen_parquet": lambda: _gen_parquet(Path(a.path), a.n, a.seed),
            "gen_tree": lambda: _gen_tree(Path(a.path), a.n, a.seed),
            "accuracy": lambda: observed_path_accuracy(a.n, a.seed),
        }[a._measure]()
        print(json.dumps(res))
        return res
    work = Path(a.out).parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **commit(),
        "loadavg_start": os.getloadavg(),
        "repeat": REPEAT,
        "runs": [],
    }

    def say(msg: str) -> None:
        print(f"[bench] {msg} (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)

    for n in [int(x) for x in a.sizes.split(",") if x]:
        path = work / f"positions_{n}.parquet"
        say(f"{n:,} positions -> {path} (generated unless cached)")
        gen = _sub("gen_parquet", "--path", str(path), "--n", str(n), "--seed", str(a.seed))
        say(f"{'reused' if gen['reused'] else 'generated'} {gen['rows']:,} positions; scan, then segment")
        scan = _sub("scan", "--path", str(path), "--mem", a.mem)
        seg = _sub("segment", "--path", str(path))
        run = {
            "positions": gen["rows"],
            "generate": gen,
            "scan": scan,
            "segment": seg,
            # per CPU-second (all threads), both measured in this run: the ratio load hardly changes
            "segment_vs_scan": seg["rows_per_cpu_s"] / scan["rows_per_cpu_s"],
            "segment_vs_scan_median": seg["median_rows_per_cpu_s"] / scan["median_rows_per_cpu_s"],
        }
        report["runs"].append(run)
        say(f"{n:,}: segment / scan per CPU-second {run['segment_vs_scan']:.2f}x")
    tree = work / f"readsb_{a.ingest_positions}"
    say(f"readsb trace tree of ~{a.ingest_positions:,} positions (generated unless cached)")
    tmeta = _sub("gen_tree", "--path", str(tree), "--n", str(a.ingest_positions), "--seed", str(a.seed))
    ing = _sub("ingest", "--path", str(tree / "traces"), "--cache", str(work / "ingest_cache"))
    ing["tree"] = tmeta
    ing["note"] = (
        f"measured on a generated readsb tree of {tmeta['positions_in_files']:,} positions in "
        f"{tmeta['files']:,} gzip files, not on 100 M (writing 100 M positions as JSON is too slow)"
    )
    report["ingest"] = ing
    say(f"accuracy: {a.accuracy_aircraft} aircraft with every failure class planted")
    acc = _sub("accuracy", "--n", str(a.accuracy_aircraft), "--seed", str(a.seed))
    report["accuracy"] = acc
    report["loadavg_end"] = os.getloadavg()
    report["total_seconds"] = time.perf_counter() - t_all
    tgt = {}
    big = max(report["runs"], key=lambda r: r["positions"]) if report["runs"] else None
    if big:
        tgt["segment >= 0.5x scan per CPU-second"] = all(r["segment_vs_scan"] >= 0.5 for r in report["runs"])
        tgt[f"{big['positions'] / 1e6:.0f} M segmented within 4 GiB"] = (
            big["segment"]["peak_tree_rss_mb"] <= 4096
        )
    tgt["readsb ingest >= 1 M/s"] = ing["rows_per_s"] >= 1e6
    tgt[">= 99% of legs found"] = acc["legs_found_pct"] >= 99.0
    tgt["0 phantom legs"] = acc["phantom_legs"] == 0
    tgt["0 wrong airports"] = acc["airports_wrong"] == 0
    tgt["shuffled input = file order"] = acc["shuffled_equals_file_order"]
    report["targets"] = tgt
    lines = [
        "",
        f"analysis.tracks benchmark, commit {(report['commit'] or '?')[:12]}{' (dirty)' if report['dirty'] else ''}: "
        f"2 threads / 2 worker processes, {REPEAT} runs each, best and median, each with the 1-min load average at "
        "the start of its run (the cores are shared with other work: compare per CPU-second)",
    ]
    for r in report["runs"]:
        sc, sg = r["scan"], r["segment"]
        gen = r["generate"]
        how = "cached input" if gen["reused"] else f"generated in {gen['seconds']:.0f} s"
        lines += [
            "",
            f"{r['positions']:,} positions ({how}):",
            f"  scan (DuckDB)  {fmt_rate(sc)}; {fmt_rate(sc, 'cpu')}",
            f"  segment        {fmt_rate(sg)}; {fmt_rate(sg, 'cpu')}",
            f"  segment / scan per CPU-second: best {r['segment_vs_scan']:.2f}x, median "
            f"{r['segment_vs_scan_median']:.2f}x",
            f"  segment: {sg['legs']:,} legs, {sg['gaps']:,} gaps; peak RSS {sg['peak_tree_rss_mb']:,.0f} MB "
            f"(scan {sc['peak_tree_rss_mb']:,.0f} MB)",
        ]
    lines += [
        "",
        f"readsb ingest: {ing['rows']:,} positions: {fmt_rate(ing)}; {fmt_rate(ing, 'cpu')}; "
        f"peak RSS main + workers {ing['peak_tree_rss_mb']:,.0f} MB",
        f"  {ing['note']}",
        "",
        f"accuracy against the generator's truth ({acc['truth_legs']:,} legs, {acc['positions']:,} positions in file "
        f"order; cleaned + segmented in {acc['seconds']:.1f} s, load {acc['loadavg_1m']:.1f}):",
        f"  legs found {acc['legs_found']:,} of {acc['truth_legs']:,} ({acc['legs_found_pct']:.2f}%), phantom legs "
        f"{acc['phantom_legs']}, boundaries within 2 min {acc['boundaries_within_2min']:,} "
        f"({acc['boundaries_pct']:.2f}% of found)",
        f"  airports (dep + arr of found legs): right {acc['airports_right']:,}, wrong {acc['airports_wrong']}, "
        f"unknown where truth knows {acc['airports_missed']}",
        f"  callsigns right {acc['callsigns_right']:,}; callsign changes found {acc['callsign_changes_found']} of "
        f"{acc['callsign_changes_planted']}; implausible gaps flagged {acc['implausible_gaps']}",
        f"  planted: {', '.join(f'{k} {v}' for k, v in acc['planted'].items())}",
        f"  dropped as noise: {', '.join(f'{k} {v}' for k, v in sorted(acc['noise_dropped'].items()))}; "
        f"candidate legs refused: {', '.join(f'{k} {v}' for k, v in sorted(acc['rejected'].items())) or 'none'}",
        "",
        "targets:",
    ]
    lines += [f"  [{'met' if v else 'NOT met'}] {k}" for k, v in tgt.items()]
    la0, la1 = report["loadavg_start"], report["loadavg_end"]
    lines.append(
        f"\ntotal bench time {report['total_seconds']:.0f} s; load average {la0[0]:.1f} {la0[1]:.1f} {la0[2]:.1f} at "
        f"the start, {la1[0]:.1f} {la1[1]:.1f} {la1[2]:.1f} at the end; JSON: {a.out}"
    )
    print("\n".join(lines))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
