"""The registry of derived-table steps (analysis/steps.py): order, code fingerprints, data checks, datapackage.

Logic tests on small hand-made tables, plus two tests that edit a private copy of the package's code and show the
build's fingerprint follows a step's code and the modules it imports.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from analysis import build, dictionary, schema, steps
from analysis.paths import PACKAGE_DIR


def _steps_by_table() -> dict[str, steps.Step]:
    return steps.by_table()


def test_order_runs_every_step_after_the_steps_of_its_inputs():
    ordered = steps.order()
    seen: set[str] = set()
    for s in ordered:
        assert all(i.startswith("raw.") or i in seen for i in s.inputs), s.table
        seen.add(s.table)
    assert len(ordered) == len(steps.STEPS)
    assert build.DERIVED_TABLES == steps.PUBLISHED
    # observed records are tables of their own, read (never changed) by the steps that union them
    assert {"obs_sources", "obs_aircraft", "obs_places", "obs_episodes", "obs_stops"} <= {
        s.table for s in ordered
    }
    assert "obs_places" in _steps_by_table()["core_places"].inputs


def test_order_names_an_unknown_input_and_a_cycle():
    a = steps.Step("t_a", ("t_b",), "prepare:study")
    b = steps.Step("t_b", ("t_a",), "prepare:study")
    with pytest.raises(ValueError, match="cycle: t_a, t_b"):
        steps.order((a, b))
    with pytest.raises(ValueError, match=r"'t_a' reads \['nowhere'\]"):
        steps.order((steps.Step("t_a", ("nowhere",), "prepare:study"),))
    with pytest.raises(ValueError, match="more than one step"):
        steps.order((a, a))


def test_every_published_step_declares_its_schema_and_every_column_is_described():
    for s in steps.STEPS:
        if s.publish:
            assert s.schema and s.description, s.table
        assert steps.doc_problems(s) == [], s.table
    # every common description is one some table uses
    used = {c for s in steps.STEPS for c in steps.schema_of(s)}
    assert set(steps.COMMON_DOCS) <= used, set(steps.COMMON_DOCS) - used


def test_a_column_without_a_description_or_a_description_without_its_column_is_named():
    s = steps.Step(
        "out_t",
        ("core_legs",),
        "sql:out_t",
        copies=("stops",),
        schema="leg_id:str seq:i64 n:i64 brand_new:str",
        docs={"n": "What n counts.", "gone": "A column the step no longer makes."},
    )
    assert steps.column_doc(s, "n") == "What n counts."  # its own docs
    assert steps.column_doc(s, "seq") == schema.table("stops").column("seq").description  # copied from raw
    assert steps.column_doc(s, "leg_id") == steps.COMMON_DOCS["leg_id"]  # the common vocabulary
    assert steps.doc_problems(s) == [
        "out_t.brand_new: declared without a description",
        "out_t.gone: described in docs but not declared in its schema",
    ]
    assert steps.doc_problems(steps.Step("out_u", (), "sql:u", copies=("stopz",))) == [
        "out_u: copies 'stopz', which is no raw table of analysis/schema.py"
    ]
    # the registry's descriptions are the dictionary's and the datapackage's
    assert dictionary.describe("core_gaps", "jump_km") == steps.by_table()["core_gaps"].docs["jump_km"]
    legs = next(r for r in steps.datapackage()["resources"] if r["name"] == "core_legs")
    seq = next(f for f in legs["schema"]["fields"] if f["name"] == "leg_seq")
    assert seq["description"] == steps.COMMON_DOCS["leg_seq"]


def test_code_files_of_a_step_hold_the_modules_its_function_imports():
    by = _steps_by_table()
    rel = {f.relative_to(PACKAGE_DIR).as_posix() for f in steps.code_files(by["out_findings"])}
    # prepare.findings imports analysis.findings lazily; findings imports stats and payload (which the hand-kept
    # list of data modules had missed)
    assert {"prepare.py", "findings.py", "stats.py", "payload.py", "similarity.py", "geo.py"} <= rel
    assert "charts.py" not in rel and "report.py" not in rel
    sql = [f.relative_to(PACKAGE_DIR).as_posix() for f in steps.code_files(by["core_legs"])]
    assert sql == ["sql/00_macros.sql", "sql/core_legs.sql"]
    assert "stats.py" in build.DATA_MODULES and "tracks/segment.py" in build.DATA_MODULES
    # the descriptions written into datapackage.json are data (declared in the registry, raw ones in the schema);
    # the dictionary page's renderer, discovery and the pages' queries are not
    assert {"steps.py", "schema.py"} <= set(build.DATA_MODULES) and "dictionary.py" not in build.DATA_MODULES
    assert not {
        m for m in build.DATA_MODULES if m.startswith("discover/") or m in ("queries.py", "charts.py")
    }


_PRINT = (
    "import json; from analysis import build, steps; "
    "print(json.dumps({'build': build.fingerprint(None, {}), "
    "**{s.table: steps.step_fingerprint(s) for s in steps.STEPS}}))"
)


def _fingerprints(root: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", _PRINT],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def code_copy(tmp_path_factory) -> Path:
    """A private copy of the analysis package (and uv.lock) whose files a test may edit."""
    root = tmp_path_factory.mktemp("code")
    shutil.copytree(PACKAGE_DIR, root / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
    lock = PACKAGE_DIR.parent / "uv.lock"
    if lock.exists():
        shutil.copy2(lock, root / "uv.lock")
    return root


def test_changing_one_steps_code_changes_its_fingerprint_and_the_builds(code_copy):
    before = _fingerprints(code_copy)
    sql = code_copy / "analysis" / "sql" / "core_legs.sql"
    sql.write_text(sql.read_text(encoding="utf-8") + "-- a comment is a change of code\n", encoding="utf-8")
    after = _fingerprints(code_copy)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"build", "core_legs"}


def test_a_module_imported_by_a_step_is_in_the_fingerprint(code_copy):
    before = _fingerprints(code_copy)
    stats = code_copy / "analysis" / "stats.py"
    stats.write_text(
        stats.read_text(encoding="utf-8") + "\n# an edit of a module findings imports\n", encoding="utf-8"
    )
    after = _fingerprints(code_copy)
    changed = {k for k in before if before[k] != after[k]}
    assert "build" in changed and "out_findings" in changed
    assert "core_legs" not in changed and "core_stops" not in changed  # SQL steps do not import stats.py
    # a module no step imports (the pages' charts) leaves the data's fingerprint alone
    charts = code_copy / "analysis" / "charts.py"
    charts.write_text(charts.read_text(encoding="utf-8") + "\n# a page-only edit\n", encoding="utf-8")
    assert _fingerprints(code_copy) == after


# --- data checks on hand-made tables ----------------------------------------------------------------------------


def _step(**kw) -> steps.Step:
    return steps.Step(kw.pop("table", "t_x"), (), "prepare:study", **kw)


def test_a_duplicate_or_null_key_is_named_by_row():
    df = pl.DataFrame({"id": ["a", "b", "b", None], "v": [1, 2, 3, 4]})
    with pytest.raises(steps.DataCheckError) as e:
        steps.check(_step(key=("id",)), df, {})
    msg = str(e.value)
    assert "key id is not unique: id='b'" in msg and "key id is null: id=None" in msg
    assert "id='a'" not in msg
    steps.check(_step(key=("id",)), df.filter(pl.col("id") == "a"), {})  # a good table passes


def test_values_out_of_range_and_reversed_intervals_are_named():
    t0, t1 = datetime(2019, 3, 23, tzinfo=UTC), datetime(2019, 3, 24, tzinfo=UTC)
    df = pl.DataFrame(
        {
            "id": ["p1", "p2", "p3"],
            "lat": [10.0, 95.0, -10.0],
            "lon": [0.0, 0.0, 200.0],
            "distance_km": [1.0, 2.0, -3.0],
            "arr_earliest_utc": [t0, t1, t0],
            "arr_latest_utc": [t1, t0, t1],
        }
    )
    with pytest.raises(steps.DataCheckError) as e:
        steps.check(_step(key=("id",)), df, {})
    msg = str(e.value)
    assert "lat = 95.0 outside [-90.0, 90.0]: id='p2'" in msg
    assert "lon = 200.0 outside [-180.0, 180.0]: id='p3'" in msg
    assert "distance_km = -3.0 outside [0.0, None]: id='p3'" in msg
    assert "arr_earliest_utc after arr_latest_utc: id='p2'" in msg
    assert "id='p1'" not in msg


def test_the_declared_schema_is_checked_column_by_column():
    s = _step(schema="id:str n:i64")
    steps.check(s, pl.DataFrame({"id": ["a"], "n": [1]}), {})
    with pytest.raises(steps.DataCheckError, match="column 'n': type Float64, declared Int64"):
        steps.check(s, pl.DataFrame({"id": ["a"], "n": [1.0]}), {})
    with pytest.raises(steps.DataCheckError, match=r"missing \['n'\], undeclared \['m'\]"):
        steps.check(s, pl.DataFrame({"id": ["a"], "m": [1]}), {})


def _stops(*rows) -> pl.DataFrame:
    return pl.DataFrame(
        [
            dict(zip(("stop_id", "episode_id", "aircraft_id", "variant", "evidence", "seq"), r, strict=True))
            for r in rows
        ]
    )


def _legs(*rows) -> pl.DataFrame:
    return pl.DataFrame(
        [
            dict(
                zip(
                    (
                        "leg_id",
                        "from_stop_id",
                        "to_stop_id",
                        "episode_id",
                        "aircraft_id",
                        "variant",
                        "evidence",
                        "leg_seq",
                    ),
                    r,
                    strict=True,
                )
            )
            for r in rows
        ]
    )


def test_legs_must_agree_with_stops():
    legs_step = _steps_by_table()["core_legs"]
    check = legs_step.checks[0]
    stops = _stops(
        ("s1", "e", "a", "main", "reported", 1),
        ("s2", "e", "a", "main", "reported", 2),
        ("s3", "e", "a", "main", "reported", 3),
    )
    good = _legs(
        ("l1", "s1", "s2", "e", "a", "main", "reported", 1),
        ("l2", "s2", "s3", "e", "a", "main", "reported", 2),
    )
    assert check(good, {"core_stops": stops}) == []
    # a leg whose end is another aircraft's stop, and a route left one leg short
    other = stops.vstack(_stops(("x1", "e", "b", "main", "reported", 1)))
    bad = _legs(
        ("l1", "s1", "s2", "e", "a", "main", "reported", 1),
        ("l2", "s2", "x1", "e", "a", "main", "reported", 2),
    )
    fails = check(bad, {"core_stops": other})
    assert any("leg_id='l2'" in f for f in fails)
    assert not any("leg_id='l1'" in f for f in fails)
    assert not any("route e/b" in f for f in fails)  # one stop and no leg: a route of its own, in order
    short = check(good.head(1), {"core_stops": stops})
    assert short == ["route e/a/main/reported: 3 stops but 1 legs (expected one fewer legs than stops)"]


@pytest.fixture
def small_project(tmp_path):
    """A private, unbuilt copy of the report episodes of the study."""
    from studykit import copy_study

    return copy_study(tmp_path / "study")


def test_a_failed_check_stops_the_build_before_it_publishes(small_project, monkeypatch):
    """A step whose output breaks its key: the build fails naming the table and the row; nothing is published."""
    from analysis import prepare

    real = prepare.watchlist

    def doubled(t):
        df = real(t)
        return pl.concat([df, df.head(1)])

    monkeypatch.setattr(prepare, "watchlist", doubled)
    with pytest.raises(
        build.BuildError, match=r"core_watchlist .*key watch_id is not unique: watch_id='[^']+'"
    ):
        build.build(small_project, quiet=True)
    assert not small_project.current.exists()


def test_two_builds_write_the_same_database_and_a_lost_identity_fails_loudly(
    small_project, tmp_path, monkeypatch
):
    """flights.duckdb is byte-identical from build to build; a DuckDB whose identifier the build cannot fix (an
    unknown layout), or that writes other bytes at random, stops the build instead of publishing silently."""
    first = build.build(small_project, quiet=True)
    db = (small_project.current / "flights.duckdb").read_bytes()
    second = build.build(small_project, force=True, quiet=True)
    assert second["fingerprint"] == first["fingerprint"]
    assert (small_project.current / "flights.duckdb").read_bytes() == db
    # an unknown header layout: nothing to fix
    monkeypatch.setattr(build, "_fix_database_identifier", lambda db, fp: False)
    with pytest.raises(build.BuildError, match=r"flights\.duckdb: DuckDB .* header this build does not know"):
        build.build(small_project, force=True, quiet=True)
    # the identifier left as DuckDB draws it: the two writes differ
    monkeypatch.setattr(build, "_fix_database_identifier", lambda db, fp: True)
    with pytest.raises(build.BuildError, match="wrote two different files for the same views"):
        build.build(small_project, force=True, quiet=True)
    monkeypatch.undo()
    assert (small_project.current / "flights.duckdb").read_bytes() == db  # the published build is untouched
    assert not list(small_project.current.glob(".flights.identity-check*"))


def test_datapackage_describes_every_published_table_with_fields_types_and_keys():
    pkg = steps.datapackage()
    assert [r["name"] for r in pkg["resources"]] == list(steps.PUBLISHED)
    legs = next(r for r in pkg["resources"] if r["name"] == "core_legs")
    assert legs["path"] == "core_legs.parquet" and legs["schema"]["primaryKey"] == ["leg_id"]
    fields = {f["name"]: f for f in legs["schema"]["fields"]}
    assert fields["distance_km"]["type"] == "number" and fields["leg_seq"]["type"] == "integer"
    assert fields["dep_earliest_utc"]["type"] == "datetime"
    assert fields["distance_km"]["description"].startswith("Great-circle")
    csv = steps.datapackage("csv")
    eps = next(r for r in csv["resources"] if r["name"] == "out_episode_summary")
    assert {f["name"]: f["type"] for f in eps["schema"]["fields"]}["aircraft_ids"] == "string"  # ';'-joined
    assert eps["path"] == "out_episode_summary.csv"
    assert pkg["licenses"] == csv["licenses"] == [schema.DATA_LICENCE]  # CC BY 4.0, as DATA-LICENSE.md says
