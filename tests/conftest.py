"""Shared fixtures: a private copy of the study (data/raw) built into a temporary folder.

Tests never touch the repository's data/derived or reports: each fixture copies data/raw into a temporary
project root and builds there (``Project(root)``; notebooks run with ``FLIGHTS_ROOT`` pointing at it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.paths import REPO_DIR, Project


def copy_study(dest: Path) -> Project:
    """A new project at ``dest`` holding a copy of this repository's data/raw."""
    shutil.copytree(REPO_DIR / "data" / "raw", dest / "data" / "raw")
    (dest / "data" / "derived").mkdir(parents=True, exist_ok=True)
    return Project(dest)


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Project:
    """The study's raw data, built to data/derived in a temporary project (once per test session)."""
    from analysis.build import build

    project = copy_study(tmp_path_factory.mktemp("study"))
    build(project, quiet=True)
    return project


@pytest.fixture(scope="session")
def built_report(built_project) -> Project:
    """The same temporary project with the full report built (every notebook run once per session)."""
    from analysis.report import report

    report(built_project)
    return built_project


@pytest.fixture
def fresh_project(tmp_path) -> Project:
    """A private, unbuilt copy of the study that a test may edit."""
    return copy_study(tmp_path / "study")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Robustness tallies (tests/test_bad_inputs.py, tests/test_atomic.py), shown in every `make test` run."""
    stats = getattr(config, "bad_input_stats", None)
    if stats:
        terminalreporter.write_line(f"bad-input catalogue: {stats['cases']} cases, {stats['clear']} clear errors")
        if stats["failed"]:
            terminalreporter.write_line("  cases without a clear error: " + ", ".join(stats["failed"]))
    kills = getattr(config, "kill_stats", None)
    if kills:
        terminalreporter.write_line(
            f"kill test: {kills['points']} kill points, {kills['corrupt']} corrupt outputs, "
            f"{kills.get('seconds', 0):.1f} s")
