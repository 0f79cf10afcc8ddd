"""Command line: ``python -m analysis.discover ARCHIVE... [--out DIR] [--engine local|spark] [--master URL]``.

Reads day archives (tar of readsb traces, an extracted ``traces/`` tree, or OpenSky hourly files) or an
existing positions store (``--store``), segments every aircraft, applies the interest rules in
data/raw/interest_*.csv and writes out_candidates (see :mod:`analysis.discover`).
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.discover", description="Find candidate flights in a day archive")
    ap.add_argument("inputs", nargs="*", help="day archives: .tar (gzip members), traces/ tree, or OpenSky files")
    ap.add_argument("--store", help="read an existing positions store instead of archives")
    ap.add_argument("--out", default="data/derived/discover", help="output directory (default %(default)s)")
    ap.add_argument("--engine", choices=("local", "spark"), default="local")
    ap.add_argument("--master", default=None, help="Spark master URL, e.g. local[2] or spark://127.0.0.1:7077")
    ap.add_argument("--buckets", type=int, default=None, help="aircraft hash buckets (default: one per 64 MB of archive)")
    ap.add_argument("--processes", type=int, default=2, help="local engine worker processes")
    ap.add_argument("--no-reported", action="store_true", help="do not read reported episodes (all candidates new)")
    a = ap.parse_args(argv)
    if not a.inputs and not a.store:
        ap.error("give one or more archives, or --store")
    from . import discover

    res = discover(
        a.inputs or None,
        a.out,
        store=a.store,
        engine=a.engine,
        master=a.master,
        n_buckets=a.buckets,
        processes=a.processes,
        reported=None if a.no_reported else "derived",
    )
    c = res.candidates
    if res.manifest.get("synthetic_inputs"):
        from .globalday import SYNTHETIC_NOTE

        print(f"  *** {SYNTHETIC_NOTE} ***")
    for r in c.iter_rows(named=True):
        mark = "SYNTHETIC " if r.get("synthetic") else ""
        print(f"  {mark}{r['status']:5}  {r['candidate_id']}  {r['registration'] or '-':9} {r['type_code'] or '-':5} "
              f"{r['route']}  [{r['patterns']}]" + (f"  episode {r['episode_id']}" if r["episode_id"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
