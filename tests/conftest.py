"""Shared fixtures: a private copy of the study (data/raw) built into a temporary folder.

Tests never touch the repository's data/derived or reports: each fixture copies data/raw into a temporary
project root and builds there (``Project(root)``; notebooks run with ``FLIGHTS_ROOT`` pointing at it).
"""

from __future__ import annotations

import os
import resource
import time

import pytest
from studykit import REPORT_RESULTS, add_new_episode, add_observed_tracks, copy_study

from analysis.paths import Project

#: fixtures that make a test slow (a full report, a browser, a Spark cluster): such tests are marked ``slow``, so
#: `make test-quick` (``-m "not slow"``) leaves them out; `make test` runs everything
SLOW_FIXTURES = frozenset({"built_report", "extended_report", "second_study", "browser", "spark"})
#: tests that are slow by what they do (many builds killed, concurrent reports)
SLOW_TESTS = frozenset({"test_kill_at_random_points", "test_two_builds_and_two_reports_at_once"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if (
            SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
            or getattr(item, "originalname", item.name) in SLOW_TESTS
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Project:
    """The study's raw data, built to data/derived in a temporary project (once per test session)."""
    from analysis.build import build

    project = copy_study(tmp_path_factory.mktemp("study"), full=True)
    build(project, quiet=True)
    return project


@pytest.fixture(scope="session")
def built_report(tmp_path_factory) -> Project:
    """A temporary project holding the report episodes of the study (studykit.REPORT_EPISODES), built and with
    the full report (every notebook run once per session)."""
    from analysis.build import build
    from analysis.report import report

    project = copy_study(tmp_path_factory.mktemp("report"))
    build(project, quiet=True)
    REPORT_RESULTS[project.root] = report(project)
    return project


@pytest.fixture
def fresh_project(tmp_path) -> Project:
    """A private, unbuilt copy of the whole study that a test may edit."""
    return copy_study(tmp_path / "study", full=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Robustness tallies (tests/test_bad_inputs.py, tests/test_atomic.py), shown in every `make test` run."""
    stats = getattr(config, "bad_input_stats", None)
    if stats:
        terminalreporter.write_line(
            f"bad-input catalogue: {stats['cases']} cases, {stats['clear']} clear errors"
        )
        if stats["failed"]:
            terminalreporter.write_line("  cases without a clear error: " + ", ".join(stats["failed"]))
    kills = getattr(config, "kill_stats", None)
    if kills:
        terminalreporter.write_line(
            f"kill test: {kills['points']} kill points, {kills['corrupt']} corrupt outputs, "
            f"{kills.get('seconds', 0):.1f} s"
        )


@pytest.fixture(scope="session")
def extended_project(tmp_path_factory) -> Project:
    """The study plus a new episode added by data alone and observed trace trees; built, not reported."""
    from analysis import provenance
    from analysis.build import build

    project = copy_study(tmp_path_factory.mktemp("extended"))
    add_new_episode(project.raw)
    add_observed_tracks(project.raw)
    with pytest.raises(provenance.ProvenanceError, match="CHANGED"):
        build(project, quiet=True)  # edited raw files are reported until their change is recorded
    provenance.accept(project.raw)
    build(project, quiet=True)
    return project


@pytest.fixture(scope="session")
def extended_report(extended_project) -> Project:
    """The extended study with its full report built (one report run serves every test that needs it)."""
    from analysis.report import report

    report(extended_project)
    return extended_project


# --- where the suite's time goes: FLIGHTS_TEST_CPU=path.tsv writes each test's wall and CPU seconds ----------
# (CPU = this process and every child it reaped, e.g. notebook kernels: a figure that does not depend on how busy
# the machine is, unlike wall time). `make test-profile` sorts it.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    out = os.environ.get("FLIGHTS_TEST_CPU")
    if not out:
        yield
        return

    def cpu() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    c0, w0 = cpu(), time.monotonic()
    yield
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(f"{item.nodeid}\t{time.monotonic() - w0:.2f}\t{cpu() - c0:.2f}\n")
