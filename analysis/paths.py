"""Every path the project uses, in one place.

A :class:`Project` is rooted at the repository by default; tests and other analyses can point one at any
folder holding ``data/raw`` (``Project(root)``) or set ``FLIGHTS_ROOT``.

A study folder is data, never code: its notebooks are the package's own (``notebooks/`` beside the package), whatever
the folder holds. Notebooks from elsewhere run only when named on purpose (``Project(root, code_notebooks=dir)``,
``python -m analysis report --notebooks DIR``), with a warning: they run with your permissions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Project", "default_project", "PACKAGE_DIR", "REPO_DIR"]

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


@dataclass(frozen=True)
class Project:
    """The folders of one study: raw inputs, derived outputs, report and scratch space."""

    root: Path
    #: a folder of notebooks named as code on purpose (None: the package's own notebooks)
    code_notebooks: Path | None = None

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def tracks(self) -> Path:
        """Observed flight records (ADS-B, OpenSky, Flightradar24 exports), each with a provenance sidecar."""
        return self.raw / "tracks"

    @property
    def basemap(self) -> Path:
        return self.raw / "basemap" / "countries-110m.json"

    @property
    def derived(self) -> Path:
        return self.root / "data" / "derived"

    @property
    def current(self) -> Path:
        """The derived build in use: a symlink swapped atomically by each successful build."""
        return self.derived / "current"

    @property
    def database(self) -> Path:
        return self.current / "flights.duckdb"

    @property
    def positions_cache(self) -> Path:
        """Ingested positions, one parquet folder per input file content hash (re-ingest is a no-op)."""
        return self.derived / "positions"

    @property
    def notebooks(self) -> Path:
        """The notebooks the report runs: the package's own, never the study folder's (a study folder is data)."""
        return self.code_notebooks if self.code_notebooks is not None else REPO_DIR / "notebooks"

    @property
    def reports(self) -> Path:
        """The published report: a symlink to the latest complete build under .build/reports."""
        return self.root / "reports"

    @property
    def build(self) -> Path:
        return self.root / ".build"

    @property
    def lock(self) -> Path:
        return self.build / "lock"


def default_project() -> Project:
    """The project at $FLIGHTS_ROOT, or this repository."""
    env = os.environ.get("FLIGHTS_ROOT")
    return Project(Path(env).resolve() if env else REPO_DIR)
