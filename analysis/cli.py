"""Command line: ``python -m analysis <command>`` (the Makefile calls these).

Commands: ``validate`` (check data/raw, write nothing), ``build`` (data/derived), ``report`` (data + notebooks
+ site), ``accept-raw`` (record raw checksums after a reviewed change), ``episodes`` (list episode ids),
``evidence-doc`` (write docs/evidence.md and data/raw/datapackage.json from the schema), ``new-study PATH`` (an empty study folder),
``discover ARCHIVE...`` (find candidate flights in day archives of global ADS-B, :mod:`analysis.discover`).

A wrong argument to a command, like every named input or output problem, ends in one line ``error: ...`` and exit
status 2, never a traceback. A command's result is printed here; the package's progress and warnings come through
logging, shown while the command runs by :func:`analysis.console.install` (progress on stdout, warnings on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys

from . import console
from .paths import default_project

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """A command's parser: a wrong argument is one line and exit status 2 (argparse prints the usage block too)."""

    def error(self, message: str):
        print(f"error: {message} ({self.prog} --help lists the options)", file=sys.stderr)
        raise SystemExit(2)


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("validate", help="check data/raw against the schema and provenance; write nothing")
    b = sub.add_parser("build", help="build data/derived from data/raw")
    b.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    r = sub.add_parser("report", help="build data, run every notebook, write reports/")
    r.add_argument("--force", action="store_true", help="re-run every notebook even if nothing changed")
    r.add_argument(
        "--compare", default="", help="episode ids of the comparison page, comma-separated (default: all)"
    )
    r.add_argument("--no-pdf", action="store_true", help="skip the print edition reports/study.pdf")
    r.add_argument("--bench", action="store_true", help="print per-page times and the slowest cells")
    r.add_argument(
        "--notebooks",
        metavar="DIR",
        default=None,
        help="run the notebooks in DIR as code (with your permissions; a warning says so) instead of the "
        "package's own; a study folder's notebooks/ is never run unless named here",
    )
    sub.add_parser(
        "accept-raw", help="record the checksums of reviewed raw files in their provenance records"
    )
    sub.add_parser("episodes", help="list episode ids")
    sub.add_parser(
        "evidence-doc",
        help="write docs/evidence.md (the raw tables' columns and rules) and data/raw/datapackage.json "
        "(their Frictionless descriptor) from the schema",
    )
    ns = sub.add_parser(
        "new-study", help="create an empty study folder (every table's header, a study table to edit)"
    )
    ns.add_argument("path", help="the new study folder")
    t = sub.add_parser(
        "stops-template", help="print stops.csv rows for aircraft that flew the same stops (typed once)"
    )
    t.add_argument("episode_id")
    t.add_argument("aircraft_ids", nargs="+", help="every aircraft that flew the shared route")
    t.add_argument(
        "--stops",
        nargs="+",
        required=True,
        metavar="PLACE:ROLE[:ARR[:DEP]]",
        help="the shared stops in order, e.g. UUEE:origin::2026-11-03 GOBD:staging MNMG:destination:2026-11-05",
    )
    t.add_argument("--sources", default="", help="source ids for every row, e.g. S900;S901")
    t.add_argument("--no-header", action="store_true", help="rows only, to append to data/raw/stops.csv")
    d = sub.add_parser(
        "discover",
        help="find candidate flights in day archives of global ADS-B (make discover)",
        description="Find candidate flights in day archives: segment every aircraft, apply the "
        "interest rules of data/raw, write the study's data/derived/discover",
    )
    d.add_argument(
        "inputs", nargs="*", help="day archives: .tar (gzip members), traces/ tree, or OpenSky files"
    )
    d.add_argument("--store", help="read an existing positions store instead of archives")
    d.add_argument(
        "--out",
        default=None,
        help="output folder (default: the study's data/derived/discover, Project.discover)",
    )
    d.add_argument("--engine", choices=("local", "spark"), default="local")
    d.add_argument("--master", default=None, help="Spark master URL, e.g. local[2] or spark://127.0.0.1:7077")
    d.add_argument(
        "--buckets",
        type=_count,
        default=None,
        help="aircraft hash buckets, 1 to 4096 (default: one per 64 MB of archive)",
    )
    d.add_argument("--processes", type=_count, default=2, help="local engine worker threads (1 to 256)")
    d.add_argument(
        "--no-reported", action="store_true", help="do not read reported episodes (all candidates new)"
    )
    args = parser.parse_args(argv)
    if args.command == "discover":
        if not args.inputs and not args.store:
            d.error("give one or more archives, or --store")
        if args.inputs and args.store:
            d.error("give archives or --store, not both")
        if args.master is not None and args.engine != "spark":
            d.error("--master is for --engine spark")
    installed = console.install()  # the package's messages: progress on stdout, warnings on stderr
    try:
        return _command(args)
    finally:
        if installed:
            console.uninstall()


def _command(args: argparse.Namespace) -> int:
    project = default_project()

    from .atomic import BuildLockedError, NotALinkError
    from .build import BuildError
    from .paths import StudyNotFoundError
    from .provenance import ProvenanceError
    from .queries import (
        DatabaseLockedError,
        QueryArgumentError,
        UnknownEpisodeError,
        UnsafeQueryError,
        UntrustedDatabaseError,
    )
    from .safeio import UnsafeInputError
    from .tracks.readers import TrackInputError
    from .validate import RawValidationError

    if args.command == "discover":
        return _discover(args, project)
    try:
        if args.command == "validate":
            return _validate(project)
        elif args.command == "build":
            from .build import build

            build(project, force=args.force)
        elif args.command == "report":
            # this command's process reads and writes notebooks (nbformat validates them with jsonschema), and no
            # notebook has an IRI-format field: without this, importing jsonschema builds rfc3987_syntax's IRI
            # grammar, 1.8 s of a report's start (the report's kernels skip it the same way: kernels.WARM_CODE)
            sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
            from .report import report

            compare = [c.strip() for c in args.compare.split(",") if c.strip()] or None
            result = report(
                project, force=args.force, compare=compare, pdf=not args.no_pdf, notebooks=args.notebooks
            )
            if args.bench:
                _print_bench(result)
        elif args.command == "accept-raw":
            from .provenance import accept

            try:
                changed = accept(project.raw)
            except RawValidationError as exc:
                print(
                    f"error: accept-raw recorded nothing: data/raw does not validate.\n{exc}", file=sys.stderr
                )
                return 2
            print("\n".join(changed) if changed else "all provenance records already match data/raw")
        elif args.command == "evidence-doc":
            from .dictionary import evidence_markdown
            from .paths import REPO_DIR
            from .schema import datapackage_json

            (REPO_DIR / "docs" / "evidence.md").write_text(evidence_markdown(), encoding="utf-8")
            raw = REPO_DIR / "data" / "raw"
            (raw / "datapackage.json").write_text(datapackage_json(raw), encoding="utf-8")
            print("wrote docs/evidence.md and data/raw/datapackage.json")
        elif args.command == "new-study":
            from pathlib import Path

            from .newstudy import new_study

            new_study(Path(args.path))
            print(
                f"wrote a new study in {args.path}: read {args.path}/README.md, then "
                f"FLIGHTS_ROOT={args.path} python -m analysis validate names the first rows to write"
            )
        elif args.command == "stops-template":
            from .entry import shared_stops, stops_csv

            print(
                stops_csv(
                    shared_stops(args.episode_id, args.aircraft_ids, args.stops, args.sources),
                    header=not args.no_header,
                ),
                end="",
            )
            return 0
        elif args.command == "episodes":
            from . import queries

            for row in queries.episodes().select("episode_id", "title").iter_rows():
                print("\t".join(row))
    except (
        RawValidationError,
        ProvenanceError,
        TrackInputError,
        UnsafeInputError,
        BuildError,
        NotALinkError,
        BuildLockedError,
        UnknownEpisodeError,
        DatabaseLockedError,
        UntrustedDatabaseError,
        QueryArgumentError,
        UnsafeQueryError,
        StudyNotFoundError,
    ) as exc:  # named input and output problems: no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder we cannot write or read: named, no traceback
        print(
            f"error: {exc.filename or ''}: {exc.strerror or exc}; expected a readable and writable project "
            "folder (nothing was published; the previous outputs are intact)",
            file=sys.stderr,
        )
        return 2
    return 0


def _print_bench(result: dict, top: int = 12) -> None:
    """Per-page times and the slowest cells of a report run (``make bench-report``)."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nbench-report: full run {result['seconds']} s, {result.get('cpu_seconds', '?')} CPU-s (this process and "
        f"its children), {result.get('ran', 0)} notebook(s) run, peak memory {result.get('peak_mb', '?')} MB "
        f"(sampling it cost {result.get('memory_cpu_seconds', '?')} CPU-s), load average {load}, "
        f"{os.cpu_count()} CPUs"
    )
    timings = result.get("timings", {})
    if timings:
        print(
            f"pages: {sum(timings.values()):.1f} s in all, {sum(timings.values()) / len(timings):.2f} s a page"
        )
    for page, secs in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {secs:6.2f} s  {page}")
    print(f"slowest cells (of {len(result.get('cells', []))}):")
    for secs, page, src in result.get("cells", [])[:top]:
        print(f"  {secs:6.2f} s  {page}: {src}")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        what = exc.strerror or str(exc)
        return f"{exc.filename}: {what}; nothing was published, the previous discovery output is intact"
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " / ".join(lines) if lines else type(exc).__name__


def _discover(args: argparse.Namespace, project) -> int:
    """``discover``: run :func:`analysis.discover.discover` on the study; every named problem (a missing, cut or
    hostile archive, a bad or unreviewed rule, a missing store, a bad bucket count or Spark master, a locked or
    unwritable output) in one line."""
    from .atomic import BuildLockedError, NotALinkError
    from .discover import DiscoveryError, discover
    from .paths import StudyNotFoundError
    from .provenance import ProvenanceError
    from .queries import DatabaseLockedError, UntrustedDatabaseError
    from .safeio import UnsafeInputError
    from .tracks.readers import TrackInputError
    from .validate import RawValidationError

    try:
        res = discover(
            args.inputs or None,
            ... if args.out is None else args.out,
            project=project,
            store=args.store,
            engine=args.engine,
            master=args.master,
            n_buckets=args.buckets,
            processes=args.processes,
            reported=None if args.no_reported else "derived",
        )
    except (
        DiscoveryError,
        TrackInputError,
        UnsafeInputError,
        RawValidationError,
        ProvenanceError,
        BuildLockedError,
        NotALinkError,
        DatabaseLockedError,
        UntrustedDatabaseError,
        StudyNotFoundError,
        OSError,
    ) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    if res.manifest.get("synthetic_inputs"):
        from .discover.synthetic import SYNTHETIC_NOTE

        print(f"  *** {SYNTHETIC_NOTE} ***")
    for r in res.candidates.iter_rows(named=True):
        mark = "SYNTHETIC " if r.get("synthetic") else ""
        print(
            f"  {mark}{r['status']:5}  {r['candidate_id']}  {r['registration'] or '-':9} {r['type_code'] or '-':5} "
            f"{r['route']}  [{r['patterns']}]" + (f"  episode {r['episode_id']}" if r["episode_id"] else "")
        )
    return 0


def _validate(project) -> int:
    """Content errors and provenance problems together: a changed file's content is checked before review."""
    from . import provenance, validate

    snap = provenance.snapshot(project.raw)
    content: Exception | None = None
    try:
        raw = validate.load_raw(project.raw, data=snap.tables)
    except validate.RawValidationError as exc:
        content = exc
    tracks: list[str] = []
    if content is None:
        from .observed import check_tracks
        from .tracks.readers import TrackInputError

        try:
            tracks = check_tracks(project)  # track contents too, not only their provenance
        except TrackInputError as exc:
            content = exc
    for line in tracks:
        print(f"data/raw/tracks/{line}")
    if content is None and not snap.problems:
        print("data/raw is valid: " + ", ".join(f"{k} {v.height}" for k, v in raw.tables.items()))
        return 0
    if content is not None:
        print(f"error: {content}", file=sys.stderr)
    if snap.problems:
        print(
            f"error: {len(snap.problems)} provenance problem(s) in data/raw:\n"
            + "\n".join(f"  - {p}" for p in snap.problems),
            file=sys.stderr,
        )
    if snap.changed and content is None:
        print(
            "the content of the changed file(s) is valid: review the change, then `make accept-raw`",
            file=sys.stderr,
        )
    return 2
