"""Command line: ``python -m analysis <command>`` (the Makefile calls these).

Commands: ``validate`` (check data/raw, write nothing), ``build`` (data/derived), ``report`` (data + notebooks
+ site), ``accept-raw`` (record raw checksums after a reviewed change), ``episodes`` (list episode ids),
``evidence-doc`` (write docs/evidence.md from the schema), ``new-study PATH`` (an empty study folder).
"""

from __future__ import annotations

import argparse
import logging
import sys

from .paths import default_project

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help="check data/raw against the schema and provenance; write nothing")
    b = sub.add_parser("build", help="build data/derived from data/raw")
    b.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    r = sub.add_parser("report", help="build data, run every notebook, write reports/")
    r.add_argument("--force", action="store_true", help="re-run every notebook even if nothing changed")
    r.add_argument("--compare", default="", help="episode ids of the comparison page, comma-separated (default: all)")
    r.add_argument("--no-pdf", action="store_true", help="skip the print edition reports/study.pdf")
    r.add_argument("--bench", action="store_true", help="print per-page times and the slowest cells")
    r.add_argument("--notebooks", metavar="DIR", default=None,
                   help="run the notebooks in DIR as code (with your permissions; a warning says so) instead of the "
                        "package's own; a study folder's notebooks/ is never run unless named here")
    sub.add_parser("accept-raw", help="record the checksums of reviewed raw files in their provenance records")
    sub.add_parser("episodes", help="list episode ids")
    sub.add_parser("evidence-doc", help="write docs/evidence.md (the raw tables' columns and rules) from the schema")
    ns = sub.add_parser("new-study", help="create an empty study folder (every table's header, a study table to edit)")
    ns.add_argument("path", help="the new study folder")
    t = sub.add_parser("stops-template", help="print stops.csv rows for aircraft that flew the same stops (typed once)")
    t.add_argument("episode_id")
    t.add_argument("aircraft_ids", nargs="+", help="every aircraft that flew the shared route")
    t.add_argument("--stops", nargs="+", required=True, metavar="PLACE:ROLE[:ARR[:DEP]]",
                   help="the shared stops in order, e.g. UUEE:origin::2026-11-03 GOBD:staging MNMG:destination:2026-11-05")
    t.add_argument("--sources", default="", help="source ids for every row, e.g. S900;S901")
    t.add_argument("--no-header", action="store_true", help="rows only, to append to data/raw/stops.csv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
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

    try:
        if args.command == "validate":
            return _validate(project)
        elif args.command == "build":
            from .build import build
            build(project, force=args.force)
        elif args.command == "report":
            from .report import print_bench, report
            compare = [c.strip() for c in args.compare.split(",") if c.strip()] or None
            result = report(project, force=args.force, compare=compare, pdf=not args.no_pdf,
                            notebooks=args.notebooks)
            if args.bench:
                print_bench(result)
        elif args.command == "accept-raw":
            from .provenance import accept
            try:
                changed = accept(project.raw)
            except RawValidationError as exc:
                print(f"error: accept-raw recorded nothing: data/raw does not validate.\n{exc}", file=sys.stderr)
                return 2
            print("\n".join(changed) if changed else "all provenance records already match data/raw")
        elif args.command == "evidence-doc":
            from .dictionary import evidence_markdown
            from .paths import REPO_DIR
            (REPO_DIR / "docs" / "evidence.md").write_text(evidence_markdown(), encoding="utf-8")
            print("wrote docs/evidence.md")
        elif args.command == "new-study":
            from pathlib import Path

            from .newstudy import new_study
            new_study(Path(args.path))
            print(f"wrote a new study in {args.path}: read {args.path}/README.md, then "
                  f"FLIGHTS_ROOT={args.path} python -m analysis validate names the first rows to write")
        elif args.command == "stops-template":
            from .entry import shared_stops, stops_csv
            print(stops_csv(shared_stops(args.episode_id, args.aircraft_ids, args.stops, args.sources),
                            header=not args.no_header), end="")
            return 0
        elif args.command == "episodes":
            from . import queries
            for row in queries.episodes().select("episode_id", "title").iter_rows():
                print("\t".join(row))
    except (RawValidationError, ProvenanceError, TrackInputError, UnsafeInputError, BuildError, NotALinkError,
            BuildLockedError, UnknownEpisodeError, DatabaseLockedError, UntrustedDatabaseError, QueryArgumentError,
            UnsafeQueryError, StudyNotFoundError) as exc:  # named input and output problems: no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder we cannot write or read: named, no traceback
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}; expected a readable and writable project "
              "folder (nothing was published; the previous outputs are intact)", file=sys.stderr)
        return 2
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
        print(f"error: {len(snap.problems)} provenance problem(s) in data/raw:\n"
              + "\n".join(f"  - {p}" for p in snap.problems), file=sys.stderr)
    if snap.changed and content is None:
        print("the content of the changed file(s) is valid: review the change, then `make accept-raw`",
              file=sys.stderr)
    return 2
