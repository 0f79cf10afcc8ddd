"""Shared fixtures: a private copy of the study (data/raw) built into a temporary folder.

Tests never touch the repository's data/derived or reports: each fixture copies data/raw into a temporary
project root and builds there (``Project(root)``; notebooks run with ``FLIGHTS_ROOT`` pointing at it).
"""

from __future__ import annotations

import os
import resource
import time

import pytest
from studykit import REPORT_RESULTS, copy_study, report_study

from analysis.paths import Project

#: fixtures that make a test slow (a full report, a browser, a Spark cluster): such tests are marked ``slow``, so
#: `make test-quick` (``-m "not slow"``) leaves them out; `make test` runs everything
SLOW_FIXTURES = frozenset({"built_report", "extended_report", "second_study", "browser", "spark"})
#: tests that are slow by what they do (many builds killed, concurrent reports)
SLOW_TESTS = frozenset({"test_kill_at_random_points", "test_two_builds_and_two_reports_at_once"})


#: fixtures the report tests share, and the modules whose tests use them: under pytest-xdist (`make test` runs two
#: workers) these modules run on one worker, so the session builds the report once (a test module that starts using
#: one of these fixtures must be added here; collection stops and says so otherwise)
REPORT_FIXTURES = frozenset({"built_report", "extended_project", "extended_report", "visited"})
REPORT_MODULES = frozenset(
    {
        "tests/test_browser.py",
        "tests/test_exports.py",
        "tests/test_observed_episode.py",
        "tests/test_report.py",
        "tests/test_site.py",
    }
)
#: the longest units of work first (the scheduler hands the next unit to whichever worker is free), the rest after
#: them in collection order
LONGEST_FIRST = (
    "report",
    "tests/test_atomic.py",
    "tests/discover",
    "tests/test_bad_inputs.py",
    "tests/test_fuzz.py",
    "tests/test_hostile.py",
    "tests/tracks",
    "tests/test_concurrent.py",
)


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: the report modules together; a folder with session fixtures of its own
    (tests/discover, tests/tracks) together; else its module, whose module-scoped fixtures are then built once."""
    path = nodeid.split("::", 1)[0]
    if path in REPORT_MODULES:
        return "report"
    return path.rsplit("/", 1)[0] if path.count("/") > 1 else path


def pytest_collection_modifyitems(config, items):
    """Mark slow tests, check that every test using the shared report is in a report module, and put the longest
    units of work first."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if SLOW_FIXTURES & names or getattr(item, "originalname", item.name) in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if REPORT_FIXTURES & names and work_unit(item.nodeid) != "report":
            raise pytest.UsageError(
                f"{item.nodeid} uses {sorted(REPORT_FIXTURES & names)}: add its module to REPORT_MODULES in "
                "tests/conftest.py, so that the report is built once per test run"
            )
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under `--dist loadscope`: schedule by :func:`work_unit` (xdist's own grouping by mark, loadgroup, does not
    work with pytest 9's node ids)."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Project:
    """The study's raw data, built to data/derived in a temporary project (once per test session)."""
    from analysis.build import build

    project = copy_study(tmp_path_factory.mktemp("study"), full=True)
    build(project, quiet=True)
    return project


@pytest.fixture(scope="session")
def built_report(extended_project) -> Project:
    """The session's report: the report episodes of the study (studykit.REPORT_EPISODES) plus a new episode added
    by data alone and observed trace trees (:func:`extended_project`), with the full report built once (every
    notebook run once per session, the print edition too)."""
    from analysis.report import report

    REPORT_RESULTS[extended_project.root] = report(extended_project)
    return extended_project


@pytest.fixture(scope="session")
def _small_raw(tmp_path_factory):
    """data/raw cut to the report episodes (studykit.REPORT_EPISODES) once per session: the template of
    :func:`fresh_project` (cutting it takes longer than copying it)."""
    return copy_study(tmp_path_factory.mktemp("small-study")).raw


@pytest.fixture
def fresh_project(tmp_path, _small_raw) -> Project:
    """A private, unbuilt copy of the study that a test may edit: the rows of the report episodes
    (studykit.REPORT_EPISODES, one of each kind of episode), which build in about half the time of the whole
    record. A test that needs the whole record takes :func:`full_project`."""
    import shutil

    root = tmp_path / "study"
    shutil.copytree(_small_raw, root / "data" / "raw")
    (root / "data" / "derived").mkdir(parents=True)
    return Project(root)


@pytest.fixture
def full_project(tmp_path) -> Project:
    """A private, unbuilt copy of the whole study (every episode of data/raw) that a test may edit."""
    return copy_study(tmp_path / "study", full=True)


# --- the robustness tallies under pytest-xdist: each worker hands its counts to the controller, which adds them up


TALLIES = ("bad_input_stats", "kill_stats")


def pytest_sessionfinish(session):
    out = getattr(session.config, "workeroutput", None)  # set only in an xdist worker
    if out is not None:
        for name in TALLIES:
            if hasattr(session.config, name):
                out[name] = getattr(session.config, name)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    config, got = node.config, getattr(node, "workeroutput", {})
    if "bad_input_stats" in got:
        mine = getattr(config, "bad_input_stats", None) or {"cases": 0, "clear": 0, "failed": []}
        theirs = got["bad_input_stats"]
        config.bad_input_stats = {
            "cases": mine["cases"] + theirs["cases"],
            "clear": mine["clear"] + theirs["clear"],
            "failed": mine["failed"] + theirs["failed"],
        }
    if "kill_stats" in got:
        config.kill_stats = got["kill_stats"]


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
    """The report episodes of the study plus a new episode added by data alone and observed trace trees
    (studykit.report_study); built, not reported (:func:`built_report` reports it)."""
    from analysis import provenance
    from analysis.build import build

    project = report_study(tmp_path_factory.mktemp("report"))
    with pytest.raises(provenance.ProvenanceError, match="CHANGED"):
        build(project, quiet=True)  # edited raw files are reported until their change is recorded
    provenance.accept(project.raw)
    build(project, quiet=True)
    return project


@pytest.fixture(scope="session")
def extended_report(built_report) -> Project:
    """The extended study with its report: the session's report (one report run serves every test)."""
    return built_report


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
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        fh.write(f"{item.nodeid}\t{time.monotonic() - w0:.2f}\t{cpu() - c0:.2f}\t{worker}\n")
