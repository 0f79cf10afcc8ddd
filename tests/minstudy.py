"""A second, small study made from hand-written rows (not from the Russian study's data).

Home is Iran, the destination region is Venezuela and Cuba; staging corridors are "Maghreb" (Algeria, Morocco) and
"Sahel coast" (Senegal, Mauritania). Each test builds the rows it needs with :func:`study` and derives the tables
in memory (:func:`derive`), so a finding can be checked on a few rows in about a second.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.paths import Project

SOURCES = [
    {
        "source_id": "A1",
        "outlet": "Alpha Wire",
        "title": "Cargo jet lands in Caracas",
        "published": "2021-03-02",
        "url": "https://example.org/a1",
        "kind": "wire",
        "language": "en",
        "is_secondary": "false",
        "read_status": "read",
    },
    {
        "source_id": "B1",
        "outlet": "Beta Daily",
        "title": "Freighter seen at Maiquetia",
        "published": "2021-03-03",
        "url": "https://example.org/b1",
        "kind": "news",
        "language": "es",
        "is_secondary": "false",
        "read_status": "read",
    },
]
STUDY = {
    "study_id": "ir-cargo-ve",
    "title": "State cargo flights from Iran to Venezuela (a test study)",
    "subtitle": "Hand-written rows for the tests",
    "period_start": "2019-01",
    "period_end": "2023-12",
    "home_countries": "IR",
    "destination_region": "Venezuela and Cuba",
    "languages": "en;es",
    "period_event_ids": "",
    "escalation_event_kinds": "sanction",
}
CORRIDORS = [
    ("IR", "Iran", "home", ""),
    ("VE", "Venezuela and Cuba", "destination", ""),
    ("CU", "Venezuela and Cuba", "destination", ""),
    ("DZ", "Maghreb", "staging", "atlantic_north_africa_iberia"),
    ("MA", "Maghreb", "staging", "atlantic_north_africa_iberia"),
    ("SN", "Sahel coast", "staging", "atlantic_west_africa"),
    ("MR", "Sahel coast", "staging", "atlantic_west_africa"),
    ("SY", "Levant", "staging", "longhaul_mediterranean_middle_east"),
]
PLACES = {  # ICAO airports known to airportsdata
    "OIIE": ("Tehran Imam Khomeini", "IR"),
    "DAAG": ("Algiers", "DZ"),
    "GOBD": ("Dakar Blaise Diagne", "SN"),
    "SVMI": ("Caracas Maiquetia", "VE"),
    "MUHA": ("Havana", "CU"),
    "OSLK": ("Latakia", "SY"),
    "GMMN": ("Casablanca", "MA"),
}


def stops(
    episode: str, aircraft: str, route: list[tuple], variant: str = "main", sources: str = "A1;B1"
) -> list[dict]:
    """Stop rows for one route: (place_id, role, arr_time, dep_time) per stop, in order."""
    rows = []
    for i, (place, role, arr, dep) in enumerate(route, 1):
        rows.append(
            {
                "stop_id": f"{episode}.{aircraft}.{variant}.{i:02d}",
                "episode_id": episode,
                "aircraft_id": aircraft,
                "variant": variant,
                "seq": str(i),
                "place_id": place,
                "role": role,
                "arr_time": arr or "",
                "dep_time": dep or "",
                "is_inferred": "false",
                "source_ids": sources,
            }
        )
    return rows


def episode(eid: str, dest: str = "VE", kind: str = "state_cargo", sources: str = "A1;B1") -> dict:
    return {
        "episode_id": eid,
        "title": f"Test flight {eid}",
        "destination_country": dest,
        "summary": "A test flight written by hand.",
        "source_ids": sources,
        "kind": kind,
    }


def study(root: Path, **tables: list[dict]) -> Project:
    """Write a study under ``root``: the base rows above plus ``tables`` (table name -> extra rows)."""
    base: dict[str, list[dict]] = {
        "study": [STUDY],
        "sources": SOURCES,
        "operators": [
            {
                "operator_id": "op1",
                "name": "Test Cargo Airline",
                "country": "IR",
                "kind": "airline",
                "source_ids": "A1",
            }
        ],
        "aircraft_types": [
            {"type_id": "T1", "name": "Test freighter", "role": "transport", "source_ids": "A1"}
        ],
        "aircraft": [
            {
                "aircraft_id": "EP-AAA",
                "registration": "EP-AAA",
                "type_id": "T1",
                "operator_id": "op1",
                "source_ids": "A1",
            },
            {
                "aircraft_id": "EP-BBB",
                "registration": "EP-BBB",
                "type_id": "T1",
                "operator_id": "op1",
                "source_ids": "A1",
            },
        ],
        "places": [
            {"place_id": k, "name": n, "precision": "airport", "icao": k, "country": c, "source_ids": "A1"}
            for k, (n, c) in PLACES.items()
        ],
        "corridors": [
            {"area": a, "corridor": n, "role": r, "jump_off": j, "basis": "our_definition"}
            for a, n, r, j in CORRIDORS
        ],
    }
    for name, rows in tables.items():
        base[name] = base.get(name, []) + rows
    raw = root / "data" / "raw"
    (raw / "basemap").mkdir(parents=True, exist_ok=True)
    import shutil

    from analysis.paths import PACKAGE_DIR

    for name in ("countries-110m.json", "countries-110m.json.provenance.json"):
        shutil.copyfile(PACKAGE_DIR / "assets" / "basemap" / name, raw / "basemap" / name)
    (root / "data" / "derived").mkdir(parents=True, exist_ok=True)
    for t in schema.TABLES:
        with open(raw / f"{t.name}.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=t.column_names, lineterminator="\n")
            w.writeheader()
            for r in base.get(t.name, []):
                w.writerow({k: r.get(k, "") for k in t.column_names})
    return Project(root)


def derive(project: Project) -> dict[str, pl.DataFrame]:
    """Every derived table of the study, in memory (no files written, no provenance needed)."""
    from analysis.build import derive as _derive
    from analysis.observed import ObservedEvidence
    from analysis.validate import load_raw

    return _derive(load_raw(project.raw), project, observed=ObservedEvidence())


def findings(project: Project) -> pl.DataFrame:
    return derive(project)["out_findings"]


def one(f: pl.DataFrame, finding_id: str) -> dict:
    g = f.filter(pl.col("finding_id") == finding_id)
    assert g.height == 1, (finding_id, f["finding_id"].to_list())
    return g.row(0, named=True)
