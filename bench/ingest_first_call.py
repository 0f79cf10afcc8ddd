"""Small inputs are fast too (issue 21.6): the first call of the observed path on one readsb trace, in a fresh process.

    python -m bench.ingest_first_call [--repeat 3] [--aircraft 1]

Writes one generated trace (gzip JSON, ``synth.tracks``), then runs, each time in a new interpreter,
``import analysis.tracks`` and one ``analysis.tracks.observed([(trace, "readsb", {})])`` into an empty cache: the
wall and CPU seconds of the import and of the call, the modules the call loaded (polars, pandas, duckdb,
airportsdata), and the 1-minute load average beside them (the machine is shared: CPU seconds are the figure that
load hardly changes). Prints the best run; no figure is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, resource, sys, tempfile, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0, t0 = cpu(), time.perf_counter()
import analysis.tracks as tracks
c1, t1 = cpu(), time.perf_counter()
r = tracks.observed([(sys.argv[1], "readsb", {})], cache_dir=tempfile.mkdtemp(), progress=False, processes=1)
c2, t2 = cpu(), time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "import_cpu_s": c1 - c0, "call_s": t2 - t1, "call_cpu_s": c2 - c1,
                  "positions": r.n_positions, "legs": r.legs.height,
                  "loaded": [m for m in ("polars", "pandas", "numba", "duckdb", "airportsdata", "pycountry") if m in sys.modules]}))
"""


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(
        prog="python -m bench.ingest_first_call", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--aircraft", type=int, default=1, help="aircraft in the one trace file's tree (1: one trace)"
    )
    a = ap.parse_args(argv)
    from synth.tracks import generate, write_readsb_tree

    with tempfile.TemporaryDirectory() as tmp:
        files = write_readsb_tree(generate(n_aircraft=a.aircraft, seed=3).positions, Path(tmp) / "traces")
        runs = []
        for _ in range(a.repeat):
            la = os.getloadavg()[0]
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(files[0])],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]) | {"loadavg_1m": la})
    best = min(runs, key=lambda r: r["call_cpu_s"])
    print(
        f"observed path, first call on one trace ({best['positions']:,} positions, {best['legs']} legs), fresh "
        f"process, best of {a.repeat}:"
    )
    print(f"  import analysis.tracks  {best['import_s']:.3f} s  ({best['import_cpu_s']:.3f} CPU-s)")
    print(f"  first observed() call   {best['call_s']:.3f} s  ({best['call_cpu_s']:.3f} CPU-s)")
    print(
        f"  loaded by then: {', '.join(best['loaded'])}; load average {best['loadavg_1m']:.1f} "
        f"({os.cpu_count()} CPUs); calls {[round(r['call_s'], 2) for r in runs]} s"
    )
    return best


if __name__ == "__main__":
    main()
