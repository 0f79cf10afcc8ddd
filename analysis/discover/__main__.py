"""``python -m analysis.discover ARGS``: an alias of ``python -m analysis discover ARGS``, the one entry point
(:mod:`analysis.cli`; ``make discover`` calls it). ``python -m analysis discover --help`` lists the options."""

from __future__ import annotations

import sys

from ..cli import main as _cli_main


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m analysis discover`` with ``argv`` (default: this process's arguments)."""
    return _cli_main(["discover", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
