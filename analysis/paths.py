"""Every path the project uses, in one place.

A :class:`Project` is rooted at the repository by default; tests and other analyses can point one at any
folder holding ``data/raw`` (``Project(root)``, a str or a path, or ``project=`` of any query) or set
``FLIGHTS_ROOT``. Installed outside the repository (site-packages) there is no default study: the first query or
build says so with :class:`StudyNotFoundError`, naming both ways to point at one.

A study folder is data, never code: its notebooks are the package's own (``notebooks/`` beside the package), whatever
the folder holds. Notebooks from elsewhere run only when named on purpose (``Project(root, code_notebooks=dir)``,
``python -m analysis report --notebooks DIR``), with a warning: they run with your permissions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Project",
    "default_project",
    "as_project",
    "StudyNotFoundError",
    "study_not_found",
    "PACKAGE_DIR",
    "REPO_DIR",
    "ROOT_ENV",
]

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
#: The environment variable naming the study's folder (the one holding data/raw)
ROOT_ENV = "FLIGHTS_ROOT"


class StudyNotFoundError(FileNotFoundError):
    """No study (data/raw) where the package looked, or a study not built yet; the message says what to do."""


@dataclass(frozen=True)
class Project:
    """The folders of one study: raw inputs, derived outputs, report and scratch space."""

    root: Path
    #: a folder of notebooks named as code on purpose (None: the package's own notebooks)
    code_notebooks: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.root, str | os.PathLike):
            raise TypeError(
                f"Project(root): a folder path (str or pathlib.Path), not {type(self.root).__name__}"
            )
        object.__setattr__(self, "root", Path(self.root).expanduser())

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
    def discover(self) -> Path:
        """Discovery's output (``python -m analysis discover``): a symlink to its latest complete run under
        ``discover.runs/``, the positions store it read beside it (``discover.store``); not part of a build."""
        return self.derived / "discover"

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
    env = os.environ.get(ROOT_ENV)
    return Project(Path(env).expanduser().resolve() if env else REPO_DIR)


def as_project(project: Project | str | os.PathLike | None = None) -> Project:
    """A :class:`Project` from a Project, a folder (str or path) or None (:func:`default_project`)."""
    if project is None:
        return default_project()
    return project if isinstance(project, Project) else Project(Path(project))


def study_not_found(project: Project, built: bool = False) -> StudyNotFoundError:
    """The error for a study that is missing (no data/raw) or, with ``built``, not built yet."""
    if os.environ.get(ROOT_ENV) and project == default_project():
        where = f"{ROOT_ENV}={os.environ[ROOT_ENV]}"
    elif project.root == REPO_DIR and not os.environ.get(ROOT_ENV):
        where = f"the folder the package is installed in, as {ROOT_ENV} is not set"
    else:
        where = "the project= given"
    if not project.raw.is_dir():
        return StudyNotFoundError(
            f"no study found: {project.raw} does not exist (looked there from {where}). Point the package at a "
            f"folder holding data/raw: set {ROOT_ENV}=/path/to/study in the environment, or pass "
            "project=Project('/path/to/study') (a str or a path) to the query, e.g. "
            "queries.episodes(project='/path/to/study'); then build it once with "
            f"`{ROOT_ENV}=/path/to/study python -m analysis build`."
        )
    return StudyNotFoundError(
        f"the study at {project.root} is not built yet ({project.database} does not exist): run "
        f"`{ROOT_ENV}={project.root} python -m analysis build` (in the repository: make data)."
    )
