"""Command line: ``python -m analysis <command>`` (the Makefile calls these).

Commands: ``validate`` (check data/raw, write nothing), ``build`` (data/derived), ``report`` (data + notebooks
+ site), ``accept-raw`` (record raw checksums after a reviewed change), ``episodes`` (list episode ids),
``evidence-doc`` (write docs/evidence.md from the schema).
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
    sub.add_parser("accept-raw", help="record the checksums of reviewed raw files in their provenance records")
    sub.add_parser("episodes", help="list episode ids")
    sub.add_parser("evidence-doc", help="write docs/evidence.md (the raw tables' columns and rules) from the schema")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    project = default_project()

    from .provenance import ProvenanceError
    from .tracks.readers import TrackInputError
    from .queries import UnknownEpisodeError
    from .validate import RawValidationError

    try:
        if args.command == "validate":
            from . import provenance, validate
            provenance.verify(project.raw)
            raw = validate.load_raw(project.raw)
            print("data/raw is valid: " + ", ".join(f"{k} {v.height}" for k, v in raw.tables.items()))
        elif args.command == "build":
            from .build import build
            build(project, force=args.force)
        elif args.command == "report":
            from .report import print_bench, report
            compare = [c.strip() for c in args.compare.split(",") if c.strip()] or None
            result = report(project, force=args.force, compare=compare, pdf=not args.no_pdf)
            if args.bench:
                print_bench(result)
        elif args.command == "accept-raw":
            from .provenance import accept
            changed = accept(project.raw)
            print("\n".join(changed) if changed else "all provenance records already match data/raw")
        elif args.command == "evidence-doc":
            from .dictionary import evidence_markdown
            from .paths import REPO_DIR
            (REPO_DIR / "docs" / "evidence.md").write_text(evidence_markdown(), encoding="utf-8")
            print("wrote docs/evidence.md")
        elif args.command == "episodes":
            from . import queries
            for row in queries.episodes().select("episode_id", "title").iter_rows():
                print("\t".join(row))
    except (RawValidationError, ProvenanceError, TrackInputError, UnknownEpisodeError) as exc:  # named input problems: no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
