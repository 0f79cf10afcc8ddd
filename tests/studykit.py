"""Helpers shared by the tests: private copies of the study and the data a test adds to one.

Imported by name (``from studykit import copy_study``): test folders each have a ``conftest.py``, so a test that
imported ``conftest`` would get whichever one pytest loaded last.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from analysis.paths import REPO_DIR, Project

#: the episodes a report test builds pages for: one of each kind the pages treat differently (a bomber
#: deployment, the 2019 and 2025 Caracas flights of RA-78765 with their conflicts and cargo, an undated sighting, a
#: disaster-aid flight, a ministerial trip to Havana, the 2026 San Antonio flight). A full report of every episode
#: takes minutes; findings tests build the whole record, which takes a second.
REPORT_EPISODES = frozenset(
    {
        "2018-12-tu160-venezuela",
        "2019-03-caracas",
        "2025-10-caracas",
        "2026-02-san-antonio",
        "undated-ra78765-maiquetia",
        "2010-01-il76-haiti-earthquake",
        "2023-04-il96-lavrov-brasilia-havana",
    }
)


def copy_study(dest: Path, full: bool = False) -> Project:
    """A new project at ``dest`` holding a copy of this repository's data/raw: the whole record with ``full``,
    else only the rows of :data:`REPORT_EPISODES` (checksums recorded again, so it builds as it is)."""
    shutil.copytree(REPO_DIR / "data" / "raw", dest / "data" / "raw")
    (dest / "data" / "derived").mkdir(parents=True, exist_ok=True)
    if not full:
        keep_episodes(dest / "data" / "raw", REPORT_EPISODES)
    return Project(dest)


def report_study(dest: Path) -> Project:
    """The study of the report tests: :func:`copy_study` of :data:`REPORT_EPISODES`, plus a new episode added by
    data alone (:func:`add_new_episode`) and observed trace trees (:func:`add_observed_tracks`). The added files'
    checksums are not recorded yet (``provenance.accept`` does that, as `make accept-raw` would)."""
    project = copy_study(dest)
    add_new_episode(project.raw)
    add_observed_tracks(project.raw)
    return project


def keep_episodes(raw: Path, keep: frozenset[str]) -> None:
    """Drop every row of data/raw that belongs to an episode not in ``keep`` (and rows that hang on them)."""
    import csv
    import io

    from analysis import provenance

    def rewrite(name: str, predicate) -> set[str]:
        path = raw / f"{name}.csv"
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
            header = list(rows[0]) if rows else next(csv.reader(open(path, encoding="utf-8")))
        kept = [r for r in rows if predicate(r)]
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(kept)
        path.write_text(out.getvalue(), encoding="utf-8")
        return {r[header[0]] for r in kept}

    rewrite("episodes", lambda r: r["episode_id"] in keep)
    for name in ("stops", "host_statements"):
        rewrite(name, lambda r: r["episode_id"] in keep)
    claims = rewrite("claims", lambda r: r["episode_id"] in keep)
    conflicts = rewrite("conflicts", lambda r: not r["episode_id"] or r["episode_id"] in keep)
    rewrite("conflict_positions", lambda r: r["conflict_id"] in conflicts)
    rewrite("cargo_items", lambda r: r["claim_id"] in claims)
    rewrite("census_excluded", lambda r: not r["related_episode_id"] or r["related_episode_id"] in keep)
    import json

    stamp = max(
        json.loads(f.read_text(encoding="utf-8")).get("recorded_utc") or ""
        for f in raw.glob("*.provenance.json")
    )
    provenance.accept(raw)
    # the records keep the repository's newest stamp, so two copies made seconds apart build the same bytes
    for f in raw.glob("*.provenance.json"):
        record = json.loads(f.read_text(encoding="utf-8"))
        if record.get("recorded_utc", "") > stamp:
            record["recorded_utc"] = stamp
            f.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


#: what each fixture's report() returned (timings, peak memory), by project root
REPORT_RESULTS: dict[Path, dict] = {}


HEX = "15abcd"  # a test hex: no source gives RA-78765's ICAO address, so the test watchlist supplies one


def _append(path: Path, rows: list[dict]) -> None:
    """Append rows to a raw CSV file; a row whose key (first column) the file already has is left out (the
    study may have gained that place since the test was written)."""
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        have = {r[0] for r in reader if r}
    with open(path, "a", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        for row in rows:
            if row.get(header[0]) not in have:
                w.writerow({k: row.get(k, "") for k in header})


def add_new_episode(raw: Path) -> None:
    """A new episode added by data alone, as the README describes (rows in sources, episodes, stops)."""
    _append(
        raw / "sources.csv",
        [
            {
                "source_id": "T-1",
                "outlet": "Example Wire",
                "title": "Il-76 seen at Managua",
                "published": "2026-11-20",
                "url": "https://example.org/il76-managua",
                "kind": "news",
                "language": "en",
                "is_secondary": "false",
                "read_status": "read",
            }
        ],
    )
    have = {line.split(",", 1)[0] for line in (raw / "places.csv").read_text(encoding="utf-8").splitlines()}
    _append(
        raw / "places.csv",
        [
            p
            for p in (
                {
                    "place_id": "URSS",
                    "name": "Sochi International",
                    "precision": "airport",
                    "icao": "URSS",
                    "country": "RU",
                    "source_ids": "T-1",
                },
                {
                    "place_id": "MNMG",
                    "name": "Managua Augusto C. Sandino International",
                    "precision": "airport",
                    "icao": "MNMG",
                    "country": "NI",
                    "source_ids": "T-1",
                },
            )
            if p["place_id"] not in have
        ],
    )
    _append(
        raw / "episodes.csv",
        [
            {
                "episode_id": "2026-11-managua",
                "title": "RA-78765 to Managua, Nov 2026",
                "destination_country": "NI",
                "summary": "Test episode added by data alone.",
                "kind": "state_cargo",
                "source_ids": "T-1",
            }
        ],
    )
    _append(
        raw / "stops.csv",
        [
            {
                "stop_id": "t.1",
                "episode_id": "2026-11-managua",
                "aircraft_id": "RA-78765",
                "variant": "main",
                "seq": "1",
                "place_id": "URSS",
                "role": "origin",
                "dep_time": "2026-11-17",
                "is_inferred": "false",
                "source_ids": "T-1",
            },
            {
                "stop_id": "t.2",
                "episode_id": "2026-11-managua",
                "aircraft_id": "RA-78765",
                "variant": "main",
                "seq": "2",
                "place_id": "MNMG",
                "role": "destination",
                "arr_time": "2026-11-19T14:05-06:00",
                "dep_time": "2026-11-20T09:00-06:00",
                "is_inferred": "false",
                "source_ids": "T-1",
            },
        ],
    )


def add_observed_tracks(raw: Path) -> None:
    """Two readsb trace trees of RA-78765 (watched by a test hex): Oct 2025 (a reported episode) and Jun 2026."""
    import csv
    import json

    from trip import at, trip_positions

    from synth.tracks import write_readsb_tree

    rows = list(csv.DictReader(open(raw / "watchlist.csv", encoding="utf-8")))
    for r in rows:
        if r["registration"] == "RA-78765":
            r["icao_hex"] = HEX
    with open(raw / "watchlist.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    october = trip_positions(
        HEX,
        "RA-78765",
        [
            ("URSS", None, at("2025-10-24T06:00Z")),
            ("GQNN", at("2025-10-24T13:10Z"), at("2025-10-25T22:30Z")),
            ("SVMI", at("2025-10-26T05:10Z"), at("2025-10-29T03:00Z")),
            ("MUHA", at("2025-10-29T05:45Z"), None),
        ],
        dark_legs=frozenset({1}),
    )
    later = trip_positions(
        HEX,
        "RA-78765",
        [
            ("URSS", None, at("2026-06-02T05:00Z")),
            ("DAAG", at("2026-06-02T10:00Z"), at("2026-06-03T01:00Z")),
            ("GQNN", at("2026-06-03T05:00Z"), at("2026-06-03T09:00Z")),
            ("MNMG", at("2026-06-03T19:00Z"), None),
        ],
    )
    tracks = raw / "tracks"
    tracks.mkdir(exist_ok=True)
    for name, positions in (
        ("ra78765-2025-10", october),
        ("ra78765-2026-06", later),
    ):  # one tree per download
        write_readsb_tree(positions, tracks / name, gz=True)
        (tracks / f"{name}.provenance.json").write_text(
            json.dumps(
                {
                    "what": "readsb trace tree of RA-78765 (synthetic, generated by the test)",
                    "origin": "tests/trip.py",
                    "licence": "CC0",
                    "format": "readsb",
                    "sha256": "",
                }
            ),
            encoding="utf-8",
        )
