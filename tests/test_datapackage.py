"""data/raw/datapackage.json: the Frictionless descriptor of the raw tables, generated from analysis/schema.py.

It is committed beside the data (like docs/evidence.md, by ``python -m analysis evidence-doc``) and must equal
what the schema generates now, so it cannot drift; it is no raw input (no provenance record, no checksum), so it
never counts as an unreviewed raw file. Every descriptor the project writes passes the structural checks of
tests/packagecheck.py (the derived build's here; the exports' in tests/test_exports.py).
"""

from __future__ import annotations

import copy
import json

from packagecheck import problems, row_problems

from analysis import provenance, schema
from analysis.paths import REPO_DIR

RAW = REPO_DIR / "data" / "raw"


def _committed() -> dict:
    return json.loads((RAW / "datapackage.json").read_text(encoding="utf-8"))


def _resource(pkg: dict, name: str) -> dict:
    return next(r for r in pkg["resources"] if r["name"] == name)


def test_raw_datapackage_equals_what_the_schema_generates():
    text = (RAW / "datapackage.json").read_text(encoding="utf-8")
    assert text == schema.datapackage_json(RAW), "regenerate it: python -m analysis evidence-doc"


def test_raw_datapackage_is_a_valid_package_of_every_raw_table():
    pkg = _committed()
    assert problems(pkg, RAW) == []
    assert [r["name"] for r in pkg["resources"]] == [t.name for t in schema.TABLES]
    assert all(r["path"] == f"{r['name']}.csv" and r["encoding"] == "utf-8" for r in pkg["resources"])
    # the study's raw data, which `make validate` accepts, meets every type, constraint and key it states
    assert row_problems(pkg, RAW) == []


def test_raw_datapackage_states_the_rules_of_the_schema():
    pkg = _committed()
    stops = _resource(pkg, "stops")
    fields = {f["name"]: f for f in stops["schema"]["fields"]}
    assert stops["schema"]["primaryKey"] == ["stop_id"]
    assert fields["seq"]["type"] == "integer"
    assert fields["seq"]["constraints"] == {"required": True, "minimum": 1, "maximum": 999}
    assert fields["episode_id"]["constraints"]["pattern"] == "[a-z0-9][a-z0-9-]{0,79}"  # SAFE_ID_PATTERN
    assert fields["role"]["constraints"]["enum"] == list(schema.table("stops").column("role").enum)
    assert fields["arr_time"]["type"] == "string"  # a time as reported, not a datetime
    fks = {fk["fields"][0]: fk["reference"] for fk in stops["schema"]["foreignKeys"]}
    assert fks["place_id"] == {"resource": "places", "fields": ["place_id"]}
    assert "source_ids" not in fks  # a ';'-separated list of ids is no single-valued foreign key
    assert "';'-separated" in fields["source_ids"]["description"]
    sources = _resource(pkg, "sources")
    (relay,) = [fk for fk in sources["schema"]["foreignKeys"] if fk["fields"] == ["relays_source_id"]]
    assert relay["reference"] == {"resource": "", "fields": ["source_id"]}  # a reference within the table
    watch = {f["name"]: f for f in _resource(pkg, "watchlist")["schema"]["fields"]}
    assert watch["icao_hex"]["constraints"]["pattern"] == "[0-9a-f]{6}"
    assert {f["name"]: f for f in sources["schema"]["fields"]}["url"]["format"] == "uri"
    # type_ranges.csv orders source_class after notes: the fields follow the file, not the schema's order
    names = [f["name"] for f in _resource(pkg, "type_ranges")["schema"]["fields"]]
    assert names[-1] == "source_class" and schema.table("type_ranges").column_names[-1] == "notes"


def test_raw_datapackage_carries_the_licence_of_data_license_md():
    pkg = _committed()
    (lic,) = pkg["licenses"]
    terms = (REPO_DIR / "DATA-LICENSE.md").read_text(encoding="utf-8")
    assert lic["name"] == "CC-BY-4.0" and lic["path"] in terms and "CC BY 4.0" in terms
    assert any(s["path"] == "sources.csv" for s in pkg["sources"])


def test_the_raw_datapackage_is_no_raw_input(fresh_project):
    """Not checksummed, no provenance record: validation and the review gate pass with it there."""
    raw = fresh_project.raw
    assert (raw / "datapackage.json").is_file()
    assert raw / "datapackage.json" not in provenance.raw_inputs(raw)
    snap = provenance.snapshot(raw)
    assert not [p for p in [*snap.problems, *snap.changed] if "datapackage" in p]
    assert "data/raw/datapackage.json" not in provenance.verify(raw)


def test_the_checks_find_a_broken_descriptor(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    good = {
        "profile": "tabular-data-package",
        "name": "p",
        "resources": [
            {
                "name": "a",
                "path": "a.csv",
                "format": "csv",
                "schema": {"fields": [{"name": "x", "type": "integer"}, {"name": "y", "type": "string"}]},
            }
        ],
    }
    assert problems(good, tmp_path) == []
    bad = copy.deepcopy(good)
    sch = bad["resources"][0]["schema"]
    sch["fields"][1]["type"] = "text"
    sch["fields"][0]["constraints"] = {"pattern": "^[0-9]$", "enum": []}
    sch["primaryKey"] = ["z"]
    sch["foreignKeys"] = [{"fields": ["x"], "reference": {"resource": "b", "fields": ["id"]}}]
    bad["resources"].append({"name": "c", "path": "../c.csv", "format": "csv", "schema": {"fields": []}})
    found = "\n".join(problems(bad, tmp_path))
    for expected in (
        "type 'text' is not a Table Schema type",
        "constraint 'pattern' does not apply to type 'integer'",
        "is anchored",
        "enum must be a non-empty list",
        "primary key field 'z' is not a field",
        "references resource 'b', which is not in the package",
        "path '../c.csv' must be relative",
    ):
        assert expected in found
    bad = copy.deepcopy(good)
    bad["resources"][0]["schema"]["fields"].reverse()
    assert (
        "the file's columns ['x', 'y'] are not the declared fields ['y', 'x']" in problems(bad, tmp_path)[0]
    )
    bad["resources"][0]["path"] = "missing.csv"
    assert "does not exist" in problems(bad, tmp_path)[0]
    good["resources"][0]["schema"]["fields"][0]["constraints"] = {"maximum": 0}
    good["resources"][0]["schema"]["primaryKey"] = ["y"]
    (tmp_path / "a.csv").write_text("x,y\n1,2\n-1,2\nz,3\n", encoding="utf-8")
    assert row_problems(good, tmp_path) == [
        "a.csv:2 x='1': above the maximum 0",
        "a.csv:4 x='z': not of type integer",
        "a.csv: primary key ['y'] repeats ('2',)",
    ]


def test_the_derived_datapackage_is_valid(built_project):
    folder = built_project.current
    pkg = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert problems(pkg, folder) == []
    assert len(pkg["resources"]) >= 20
