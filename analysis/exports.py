"""Files for people who work outside Python: routes as GeoJSON and KML, every derived table as CSV, the database.

:func:`write_exports` writes, into a folder (the report puts it at ``reports/exports/``):

* ``routes.geojson``: a FeatureCollection, one LineString feature per located leg, along its great circle
  (``core_leg_paths``), coordinates ``[lon, lat]`` (WGS 84); properties describe the leg (below).
* ``routes.kml``: the same legs as KML Placemarks (Google Earth, QGIS), properties as ExtendedData.
* ``csv/<table>.csv``: every derived table; list columns are joined with ``;``; times are ISO 8601 UTC. These
  files are made for spreadsheets, so text cells that a spreadsheet would run as a formula (starting with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return: the OWASP "CSV injection" rule) are written with a single
  quote in front (``'=HYPERLINK(...)``); numbers and times are written as they are. The parquet files and the
  DuckDB database keep the exact text.
* ``csv/datapackage.json`` and ``database/datapackage.json``: Frictionless Data Package descriptors of the CSV
  and parquet files (every table's fields, types, descriptions and primary key, from :mod:`analysis.steps`).
* ``database/flights.duckdb`` with the parquet files beside it. The database holds views such as
  ``read_parquet('core_legs.parquet')`` with *relative* paths: open it and run
  ``SET file_search_path = '<folder holding the files>'`` (or start ``duckdb`` from inside that folder).

Leg properties: leg_id, episode_id, aircraft_id, aircraft (label), variant, is_main_variant, evidence, leg_seq,
from_name, to_name, from_icao/to_icao (airport used), from_precision, to_precision, dep_earliest_utc,
dep_latest_utc, dep_precision, arr_earliest_utc, arr_latest_utc, arr_precision, distance_km, distance_basis,
source_ids.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl

from . import queries, steps
from .paths import Project, as_project

__all__ = [
    "write_exports",
    "leg_features",
    "geojson",
    "kml",
    "LEG_PROPERTIES",
    "spreadsheet_safe",
    "FORMULA_TRIGGERS",
]

#: first characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str | None) -> str | None:
    """``text`` as a spreadsheet will show it, never run it: a leading formula character gets a ``'`` in front.

    >>> spreadsheet_safe("=1+1"), spreadsheet_safe("-5"), spreadsheet_safe("Caracas")
    ("'=1+1", "'-5", 'Caracas')
    """
    if text and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


LEG_PROPERTIES = [
    "leg_id",
    "episode_id",
    "aircraft_id",
    "aircraft",
    "variant",
    "is_main_variant",
    "evidence",
    "leg_seq",
    "from_name",
    "to_name",
    "from_icao",
    "to_icao",
    "from_precision",
    "to_precision",
    "dep_earliest_utc",
    "dep_latest_utc",
    "dep_precision",
    "arr_earliest_utc",
    "arr_latest_utc",
    "arr_precision",
    "distance_km",
    "distance_basis",
    "source_ids",
]


def _plain(v: object) -> object:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, float):
        return round(v, 1)
    return v


def leg_features(project: Project | None = None) -> list[dict]:
    """GeoJSON features, one per leg with a great-circle path, in episode/aircraft/variant/leg order."""
    project = as_project(project)
    legs = queries.sql(
        """
        SELECT l.*, a.label AS aircraft, fs.loc_icao AS from_icao, ts.loc_icao AS to_icao
        FROM core_legs l
        LEFT JOIN core_aircraft a USING (aircraft_id)
        LEFT JOIN core_stops fs ON fs.stop_id = l.from_stop_id
        LEFT JOIN core_stops ts ON ts.stop_id = l.to_stop_id
        ORDER BY l.episode_id, l.aircraft_id, l.variant, l.evidence, l.leg_seq
    """,
        project=project,
    )
    paths = queries.sql(
        "SELECT leg_id, lon, lat FROM core_leg_paths ORDER BY leg_id, point_seq", project=project
    )
    coords: dict[str, list[list[float]]] = {}
    for leg_id, lon, lat in paths.iter_rows():
        coords.setdefault(leg_id, []).append([round(lon, 5), round(lat, 5)])
    features = []
    for r in legs.iter_rows(named=True):
        line = coords.get(r["leg_id"])
        if not line or len(line) < 2:
            continue
        features.append(
            {
                "type": "Feature",
                "id": r["leg_id"],
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {k: _plain(r.get(k)) for k in LEG_PROPERTIES},
            }
        )
    return features


def geojson(features: list[dict], name: str = "flights-legs") -> str:
    return json.dumps(
        {"type": "FeatureCollection", "name": name, "features": features}, ensure_ascii=False, indent=1
    )


_KML_COLOURS = [
    "ffb27200",
    "ff009fe6",
    "ff739e00",
    "ff005ed5",
    "ffa779cc",
    "ffe9b456",
    "ff000000",
]  # aabbggrr


def kml(features: list[dict], title: str = "Flights") -> str:
    """KML 2.2: one Placemark per leg, a folder per episode, one line style per aircraft (Okabe-Ito colours)."""
    aircraft = sorted({f["properties"]["aircraft_id"] or "" for f in features})
    style = {a: f"ac{i}" for i, a in enumerate(aircraft)}
    styles = "".join(
        f'<Style id="{sid}"><LineStyle><color>{_KML_COLOURS[i % len(_KML_COLOURS)]}</color><width>3</width>'
        f"</LineStyle></Style>"
        for i, sid in enumerate(style.values())
    )
    folders: dict[str, list[str]] = {}
    for f in features:
        p = f["properties"]
        data = "".join(
            f'<Data name="{escape(k)}"><value>{escape("" if p[k] is None else str(p[k]))}</value></Data>'
            for k in LEG_PROPERTIES
        )
        coords = " ".join(f"{lon},{lat},0" for lon, lat in f["geometry"]["coordinates"])
        name = f"{p['aircraft_id']}: {p['from_name']} → {p['to_name']}"
        desc = (
            f"{p['episode_id']} · leg {p['leg_seq']} ({p['variant']}, {p['evidence']}) · "
            f"{p['distance_km']} km great circle ({p['distance_basis']}) · departure {p['dep_earliest_utc']} to "
            f"{p['dep_latest_utc']} UTC · sources {p['source_ids']}"
        )
        folders.setdefault(p["episode_id"] or "", []).append(
            f"<Placemark><name>{escape(name)}</name><description>{escape(desc)}</description>"
            f"<styleUrl>#{style[p['aircraft_id'] or '']}</styleUrl><ExtendedData>{data}</ExtendedData>"
            f"<LineString><tessellate>1</tessellate><coordinates>{coords}</coordinates></LineString></Placemark>"
        )
    body = "".join(
        f"<Folder><name>{escape(e)}</name>{''.join(marks)}</Folder>" for e, marks in folders.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<name>{escape(title)}: legs</name>"
        f"{styles}{body}</Document></kml>\n"
    )


def _csv(df: pl.DataFrame, path: Path) -> None:
    out = df.with_columns(
        [pl.col(c).list.join(";") for c, t in df.schema.items() if isinstance(t, pl.List)]
        + [
            pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            for c, t in df.schema.items()
            if isinstance(t, pl.Datetime)
        ]
    )
    text = [c for c, t in out.schema.items() if t == pl.String]  # text columns (lists joined above included)
    out = out.with_columns(
        pl.when(pl.col(c).str.contains(r"^[=+\-@\t\r]"))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(out.columns)
        w.writerows(out.iter_rows())


def write_exports(dest: Path, project: Project | None = None) -> list[Path]:
    """Write every export into ``dest`` (created); returns the files written."""
    project = as_project(project)
    dest.mkdir(parents=True, exist_ok=True)
    feats = leg_features(project)
    written = []
    from . import queries

    study = queries.study(project)
    (dest / "routes.geojson").write_text(
        geojson(feats, f"{study.get('study_id') or 'flights'}-legs"), encoding="utf-8"
    )
    (dest / "routes.kml").write_text(kml(feats, study["title"]), encoding="utf-8")
    written += [dest / "routes.geojson", dest / "routes.kml"]
    current = Path(project.current).resolve()
    (dest / "csv").mkdir(exist_ok=True)
    (dest / "database").mkdir(exist_ok=True)
    for f in sorted(current.glob("*.parquet")):
        out = dest / "csv" / f"{f.stem}.csv"
        _csv(pl.read_parquet(f), out)
        shutil.copy2(f, dest / "database" / f.name)
        written += [out, dest / "database" / f.name]
    for name in ("flights.duckdb", "manifest.json", "datapackage.json"):
        if (current / name).exists():
            shutil.copy2(current / name, dest / "database" / name)
            written.append(dest / "database" / name)
    # the CSV files' own Frictionless descriptor (lists are ';'-joined text there), for the tables of the registry
    csv_tables = tuple(t for t in steps.PUBLISHED if (dest / "csv" / f"{t}.csv") in written)
    (dest / "csv" / "datapackage.json").write_text(
        json.dumps(
            steps.datapackage("csv", "flights-derived-csv", tables=csv_tables), indent=1, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    written.append(dest / "csv" / "datapackage.json")
    # the candidates of discovery (make discover), when there are any; those found in a generated demo day carry
    # synthetic = true, and the file name says so too
    from .site import discover_dir

    # the run the pages show (pinned for the length of a report)
    found = discover_dir(project) / "out_candidates.parquet"
    if found.is_file():
        cands = pl.read_parquet(found)
        syn = "synthetic" in cands.columns and bool(
            cands["synthetic"].cast(pl.Boolean, strict=False).fill_null(False).any()
        )
        out = dest / "csv" / ("out_candidates.SYNTHETIC.csv" if syn else "out_candidates.csv")
        _csv(cands, out)
        written.append(out)
    (dest / "database" / "README.txt").write_text(
        "flights.duckdb holds views over the parquet files in this folder, with relative paths.\n"
        "Open it from this folder:   cd database && duckdb -readonly flights.duckdb\n"
        "or from anywhere:           duckdb -readonly database/flights.duckdb "
        "-cmd \"SET file_search_path='database'\"\n"
        "Python:  con = duckdb.connect('flights.duckdb', read_only=True); "
        "con.execute(\"SET file_search_path = '/path/to/database'\")\n",
        encoding="utf-8",
    )
    written.append(dest / "database" / "README.txt")
    return written
