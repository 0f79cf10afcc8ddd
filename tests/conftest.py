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


#: what each fixture's report() returned (timings, peak memory), by project root
REPORT_RESULTS: dict[Path, dict] = {}


@pytest.fixture(scope="session")
def built_report(built_project) -> Project:
    """The same temporary project with the full report built (every notebook run once per session)."""
    from analysis.report import report

    REPORT_RESULTS[built_project.root] = report(built_project)
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


HEX = "15abcd"  # a test hex: no source gives RA-78765's ICAO address, so the test watchlist supplies one


def _append(path: Path, rows: list[dict]) -> None:
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with open(path, "a", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        for row in rows:
            w.writerow({k: row.get(k, "") for k in header})


def add_new_episode(raw: Path) -> None:
    """A new episode added by data alone, as the README describes (rows in sources, episodes, stops)."""
    _append(raw / "sources.csv", [{"source_id": "T-1", "outlet": "Example Wire", "title": "Il-76 seen at Managua",
                                   "published": "2026-11-20", "url": "https://example.org/il76-managua", "kind": "news",
                                   "language": "en", "is_secondary": "false"}])
    _append(raw / "places.csv", [
        {"place_id": "URSS", "name": "Sochi International", "precision": "airport", "icao": "URSS", "country": "RU",
         "source_ids": "T-1"},
        {"place_id": "MNMG", "name": "Managua Augusto C. Sandino International", "precision": "airport",
         "icao": "MNMG", "country": "NI", "source_ids": "T-1"}])
    _append(raw / "episodes.csv", [{"episode_id": "2026-11-managua", "title": "RA-78765 to Managua, Nov 2026",
                                    "destination_country": "NI", "summary": "Test episode added by data alone.",
                                    "source_ids": "T-1"}])
    _append(raw / "stops.csv", [
        {"stop_id": "t.1", "episode_id": "2026-11-managua", "aircraft_id": "RA-78765", "variant": "main", "seq": "1",
         "place_id": "URSS", "role": "origin", "dep_time": "2026-11-17", "is_inferred": "false", "source_ids": "T-1"},
        {"stop_id": "t.2", "episode_id": "2026-11-managua", "aircraft_id": "RA-78765", "variant": "main", "seq": "2",
         "place_id": "MNMG", "role": "destination", "arr_time": "2026-11-19T14:05-06:00",
         "dep_time": "2026-11-20T09:00-06:00", "is_inferred": "false", "source_ids": "T-1"},
    ])


def add_observed_tracks(raw: Path) -> None:
    """Two readsb trace trees of RA-78765 (watched by a test hex): Oct 2025 (a reported episode) and Jun 2026."""
    import csv
    import json

    from trip import at, trip_positions

    from analysis.tracks.generate import write_readsb_tree

    rows = list(csv.DictReader(open(raw / "watchlist.csv", encoding="utf-8")))
    for r in rows:
        if r["registration"] == "RA-78765":
            r["icao_hex"] = HEX
    with open(raw / "watchlist.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    october = trip_positions(HEX, "RA-78765", [
        ("URSS", None, at("2025-10-24T06:00Z")),
        ("GQNN", at("2025-10-24T13:10Z"), at("2025-10-25T22:30Z")),
        ("SVMI", at("2025-10-26T05:10Z"), at("2025-10-29T03:00Z")),
        ("MUHA", at("2025-10-29T05:45Z"), None),
    ], dark_legs=frozenset({1}))
    later = trip_positions(HEX, "RA-78765", [
        ("URSS", None, at("2026-06-02T05:00Z")),
        ("DAAG", at("2026-06-02T10:00Z"), at("2026-06-03T01:00Z")),
        ("GQNN", at("2026-06-03T05:00Z"), at("2026-06-03T09:00Z")),
        ("MNMG", at("2026-06-03T19:00Z"), None),
    ])
    tracks = raw / "tracks"
    tracks.mkdir(exist_ok=True)
    for name, positions in (("ra78765-2025-10", october), ("ra78765-2026-06", later)):  # one tree per download
        write_readsb_tree(positions, tracks / name, gz=True)
        (tracks / f"{name}.provenance.json").write_text(json.dumps({
            "what": "readsb trace tree of RA-78765 (synthetic, generated by the test)", "origin": "tests/trip.py",
            "licence": "CC0", "format": "readsb", "sha256": ""}), encoding="utf-8")


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
