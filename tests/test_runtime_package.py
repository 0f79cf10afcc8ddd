"""The runtime package holds no generator or benchmark: synthetic data is ``synth/``, the benchmarks ``bench/``, both
beside ``analysis`` (issue 17.9). ``analysis`` never imports them, so importing it loads neither, and the reading side's
synthetic markers are ``analysis``'s own (the generator imports them from there)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from analysis.paths import PACKAGE_DIR, REPO_DIR

#: top-level packages of the repository that are not the runtime package
OUTSIDE = ("synth", "bench")


def _imported(path) -> set[str]:
    """Top-level names of every module an ``analysis`` file imports, at module level or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_generator_or_benchmark_module_in_the_package():
    stems = {p.relative_to(PACKAGE_DIR).as_posix() for p in PACKAGE_DIR.rglob("*.py")}
    for gone in ("tracks/generate.py", "tracks/bench.py", "discover/globalday.py", "discover/bench.py"):
        assert gone not in stems
    assert not [s for s in stems if "bench" in s.rsplit("/", 1)[-1] or "generat" in s.rsplit("/", 1)[-1]]
    for name in ("tracks.py", "globalday.py", "score.py"):
        assert (REPO_DIR / "synth" / name).is_file()
    for name in ("tracks.py", "discover.py", "discover_engine.py", "ingest_first_call.py"):
        assert (REPO_DIR / "bench" / name).is_file()


def test_no_package_module_imports_synth_or_bench():
    offenders = {
        p.relative_to(PACKAGE_DIR).as_posix(): sorted(_imported(p) & set(OUTSIDE))
        for p in sorted(PACKAGE_DIR.rglob("*.py"))
        if _imported(p) & set(OUTSIDE)
    }
    assert offenders == {}


def test_importing_the_package_loads_neither_synth_nor_bench():
    code = (
        "import json, sys\n"
        "import analysis, analysis.discover, analysis.tracks, analysis.tracks.explore, analysis.cli\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_DIR, capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    assert "analysis" in loaded and "polars" in loaded  # the imports ran (analysis.tracks reads with polars)
    assert not loaded & set(OUTSIDE), sorted(loaded & set(OUTSIDE))


def test_the_generator_marks_its_day_with_the_reading_sides_markers(tmp_path):
    """One marker, declared once: the generated day carries analysis.discover.synthetic's member and note, and the
    reading side recognises it."""
    import tarfile

    from analysis.discover import synthetic
    from synth import globalday

    assert globalday.SYNTHETIC_NOTE is synthetic.SYNTHETIC_NOTE
    day = globalday.generate_day(tmp_path / "day.tar", n_aircraft=2, seed=1)
    with tarfile.open(day.path) as tf:
        note = json.loads(tf.extractfile(synthetic.SYNTHETIC_MEMBER).read())  # type: ignore[union-attr]
    assert note["note"] == synthetic.SYNTHETIC_NOTE and note["generator"] == "synth.globalday"
    assert synthetic.synthetic_inputs([day.path, tmp_path / "missing.tar"]) == {"day.tar"}
