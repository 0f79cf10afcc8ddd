"""Command line: ``python -m analysis.discover ARCHIVE... [--out DIR] [--engine local|spark] [--master URL]``.

Reads day archives (tar of readsb traces, an extracted ``traces/`` tree, or OpenSky hourly files) or an
existing positions store (``--store``), segments every aircraft, applies the interest rules in
data/raw/interest_*.csv and writes out_candidates (see :mod:`analysis.discover`).

Every problem with the input (a missing, cut or hostile archive, a bad rule, a missing store, a bad bucket count or
Spark master, a locked or unwritable output) ends in one line ``error: ...`` and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print the usage block too)
        print(f"error: {message} (python -m analysis.discover --help lists the options)", file=sys.stderr)
        raise SystemExit(2)


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        what = exc.strerror or str(exc)
        return f"{exc.filename}: {what}; nothing was published, the previous discovery output is intact"
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " / ".join(lines) if lines else type(exc).__name__


def main(argv=None) -> int:
    ap = _Parser(prog="python -m analysis.discover", description="Find candidate flights in a day archive")
    ap.add_argument("inputs", nargs="*", help="day archives: .tar (gzip members), traces/ tree, or OpenSky files")
    ap.add_argument("--store", help="read an existing positions store instead of archives")
    ap.add_argument("--out", default="data/derived/discover", help="output directory (default %(default)s)")
    ap.add_argument("--engine", choices=("local", "spark"), default="local")
    ap.add_argument("--master", default=None, help="Spark master URL, e.g. local[2] or spark://127.0.0.1:7077")
    ap.add_argument("--buckets", type=_count, default=None,
                    help="aircraft hash buckets, 1 to 4096 (default: one per 64 MB of archive)")
    ap.add_argument("--processes", type=_count, default=2, help="local engine worker processes (1 to 256)")
    ap.add_argument("--no-reported", action="store_true", help="do not read reported episodes (all candidates new)")
    a = ap.parse_args(argv)
    if not a.inputs and not a.store:
        ap.error("give one or more archives, or --store")
    if a.inputs and a.store:
        ap.error("give archives or --store, not both")
    if a.master is not None and a.engine != "spark":
        ap.error("--master is for --engine spark")

    from ..atomic import BuildLockedError, NotALinkError
    from ..queries import DatabaseLockedError, UntrustedDatabaseError
    from ..safeio import UnsafeInputError
    from ..tracks.readers import TrackInputError
    from ..validate import RawValidationError
    from . import DiscoveryError, discover

    try:
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
    except (DiscoveryError, TrackInputError, UnsafeInputError, RawValidationError, BuildLockedError, NotALinkError,
            DatabaseLockedError, UntrustedDatabaseError, OSError) as exc:  # named problems: one line, exit 2
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
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
