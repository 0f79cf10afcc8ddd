"""reports/exports: GeoJSON and KML routes, CSV of every derived table, the DuckDB database with its parquet."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import duckdb
import polars as pl
from packagecheck import problems

from analysis import queries, steps
from analysis.exports import LEG_PROPERTIES

KML = "{http://www.opengis.net/kml/2.2}"


def test_geojson_has_one_linestring_per_located_leg(built_report):
    data = json.loads((built_report.reports / "exports" / "routes.geojson").read_text(encoding="utf-8"))
    legs = queries.sql("SELECT DISTINCT leg_id FROM core_leg_paths", project=built_report)
    assert data["type"] == "FeatureCollection"
    assert sorted(f["id"] for f in data["features"]) == sorted(legs["leg_id"])
    for f in data["features"]:
        assert f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) >= 2
        assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in f["geometry"]["coordinates"])
        assert list(f["properties"]) == LEG_PROPERTIES
        assert f["properties"]["source_ids"]
    one = next(f for f in data["features"] if f["properties"]["arr_precision"] == "minute")
    assert one["properties"]["arr_earliest_utc"].endswith("Z")


def test_kml_parses_and_matches_the_geojson(built_report):
    root = ET.parse(built_report.reports / "exports" / "routes.kml").getroot()
    marks = root.findall(f".//{KML}Placemark")
    data = json.loads((built_report.reports / "exports" / "routes.geojson").read_text(encoding="utf-8"))
    assert len(marks) == len(data["features"])
    first = marks[0]
    names = {d.get("name") for d in first.findall(f".//{KML}Data")}
    assert set(LEG_PROPERTIES) <= names
    coords = first.find(f".//{KML}coordinates").text.split()
    assert len(coords) >= 2 and len(coords[0].split(",")) == 3


def test_every_derived_table_is_a_csv_with_all_rows(built_report):
    folder = built_report.reports / "exports" / "csv"
    for parquet in sorted(built_report.current.resolve().glob("*.parquet")):
        df = pl.read_parquet(parquet)
        with (folder / f"{parquet.stem}.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == df.columns, parquet.stem
        assert len(rows) - 1 == df.height, parquet.stem


def test_both_exported_datapackages_are_valid_and_describe_every_file(built_report):
    """Frictionless descriptors of the CSV and the parquet exports: valid Table Schema (tests/packagecheck.py),
    every file with its columns in order, and the same tables as the build's own descriptor."""
    exports = built_report.reports / "exports"
    derived = json.loads((built_report.current / "datapackage.json").read_text(encoding="utf-8"))
    for fmt, folder in (("csv", exports / "csv"), ("parquet", exports / "database")):
        pkg = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
        assert problems(pkg, folder) == [], fmt
        assert [r["name"] for r in pkg["resources"]] == [r["name"] for r in derived["resources"]], fmt
        assert {r["path"] for r in pkg["resources"]} <= {f.name for f in folder.iterdir()}, fmt
    assert derived == steps.datapackage("parquet", tables=tuple(r["name"] for r in derived["resources"]))


def test_database_copy_opens_with_file_search_path(built_report):
    folder = built_report.reports / "exports" / "database"
    con = duckdb.connect(str(folder / "flights.duckdb"), read_only=True)
    try:
        con.execute("SET file_search_path = ?", [str(folder)])
        n = con.sql("SELECT count(*) FROM core_legs").fetchall()[0][0]
    finally:
        con.close()
    assert n == queries.legs(main_only=False, project=built_report).height


def test_readme_exports_section_is_docs_exports_md():
    """The README section between the BEGIN/END markers is docs/exports.md (image paths relative to the root)."""
    from analysis.paths import REPO_DIR

    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    begin = "<!-- BEGIN using-the-exports (maintained in docs/exports.md) -->\n"
    section = readme[readme.index(begin) + len(begin) : readme.index("<!-- END using-the-exports -->")]
    doc = (REPO_DIR / "docs" / "exports.md").read_text(encoding="utf-8")
    assert section == doc.replace("](screenshot-report.png)", "](docs/screenshot-report.png)")


def test_csv_export_neutralises_formulas_and_keeps_numbers(tmp_path):
    """OWASP CSV injection: text cells starting =, +, -, @, tab or CR get a leading quote; numbers stay numbers."""
    from analysis.exports import _csv

    cells = [
        '=HYPERLINK("http://evil")',
        "=cmd|' /C calc'!A0",
        "+1",
        "-2+3",
        "@SUM(A1)",
        "\tx",
        "\r=1",
        "Caracas",
        "a=b",
        "",
        None,
    ]
    df = pl.DataFrame({"text": cells, "lon": [-66.99] * len(cells), "ids": [["=x", "y"]] * len(cells)})
    _csv(df, tmp_path / "t.csv")
    with (tmp_path / "t.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    got = [r[0] for r in rows]
    assert got[:7] == ["'" + c for c in cells[:7]]
    assert got[7:] == ["Caracas", "a=b", "", ""]
    assert {r[1] for r in rows} == {"-66.99"}
    assert {r[2] for r in rows} == {"'=x;y"}
