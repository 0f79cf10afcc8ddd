"""Small inputs are fast too (issue 21.6): the first observed() call on one readsb trace, in a fresh interpreter,
loads neither pandas nor numba (the loops run in the interpreter below kernels.COMPILE_MIN_ROWS rows). What it
loads is checked, not how long it takes (bench/ingest_first_call.py prints the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from synth.tracks import generate, write_readsb_tree

ROOT = Path(__file__).resolve().parents[2]

_CHILD = r"""
import json, sys
import analysis.tracks as tracks
r = tracks.observed([(sys.argv[1], "readsb", {})], cache_dir=sys.argv[2], progress=False, processes=1)
out = {"legs": r.legs.height, "n_positions": r.n_positions, "dep": r.legs["dep_icao"].to_list(),
       "loaded": sorted(m for m in ("pandas", "numba", "duckdb", "polars", "airportsdata") if m in sys.modules)}
if sys.argv[3] == "pandas":  # a caller who asks for pandas gets it
    out["pandas_rows"] = len(r.legs.to_pandas())
print(json.dumps(out))
"""


def _first_call(tmp_path, then=""):
    files = write_readsb_tree(generate(n_aircraft=1, seed=3).positions, tmp_path / "traces")
    assert len(files) == 1
    cache = tmp_path / f"cache{then}"
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(files[0]), str(cache), then or "-"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_first_call_on_one_trace_loads_no_pandas_no_numba(tmp_path):
    from analysis.tracks import kernels

    r = _first_call(tmp_path)
    assert r["n_positions"] < kernels.COMPILE_MIN_ROWS
    assert r["legs"] >= 1 and any(r["dep"])  # legs found, airports matched
    assert "pandas" not in r["loaded"] and "numba" not in r["loaded"]
    assert "duckdb" not in r["loaded"]  # one input: nothing to merge
    assert "polars" in r["loaded"] and "airportsdata" in r["loaded"]  # what the result needs


def test_pandas_when_the_caller_asks(tmp_path):
    r = _first_call(tmp_path, "pandas")
    assert r["pandas_rows"] == r["legs"] >= 1


def test_every_format_and_a_merge_load_no_pandas(tmp_path):
    """Each reader, and two inputs merged (DuckDB), in one fresh interpreter: no pandas."""
    import pyarrow.compute as pc

    import synth.tracks as G

    g = generate(n_aircraft=2, seed=3)
    hexa = g.positions.column("icao24")[0].as_py()
    one = g.positions.filter(pc.equal(g.positions.column("icao24"), hexa))
    trace = write_readsb_tree(one, tmp_path / "traces")[0]
    inputs = [
        (str(G.write_opensky(g.positions, tmp_path / "os.csv")), "opensky", {}),
        (str(G.write_fr24_csv(one, tmp_path / "a.csv")), "fr24_csv", {"icao24": hexa}),
        (str(G.write_fr24_kml(one, tmp_path / "a.kml")), "fr24_kml", {"icao24": hexa}),
        (str(G.write_fr24_json(one, tmp_path / "a.json")), "fr24_json", {"icao24": hexa}),
        (str(tmp_path / "g.csv"), "generic_csv", G.write_generic_csv(g.positions, tmp_path / "g.csv")),
    ]
    code = (
        "import json, sys, tempfile; import analysis.tracks as tracks; ins = json.loads(sys.argv[1]);"
        "legs = [tracks.observed([tuple(i)], cache_dir=tempfile.mkdtemp(), progress=False, processes=1).legs.height"
        " for i in ins];"
        f"m = tracks.observed([tuple(ins[0]), ({str(trace)!r}, 'readsb', {{}})], cache_dir=tempfile.mkdtemp(),"
        " progress=False, processes=1);"
        "print(json.dumps({'legs': legs, 'merged': m.legs.height, 'pandas': 'pandas' in sys.modules,"
        " 'duckdb': 'duckdb' in sys.modules}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(inputs)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    assert all(n >= 1 for n in r["legs"])
    # the trace repeats an aircraft the OpenSky file holds: merged, the repeats removed, the same legs
    assert r["merged"] == r["legs"][0]
    assert r["duckdb"] and not r["pandas"]
