"""notebooks/observed.ipynb is committed clean, stays thin, and runs on the generated demo trace."""

from __future__ import annotations

import shutil

import nbformat
import papermill

from analysis.paths import REPO_DIR
from analysis.report import KERNEL_ARGS


def test_observed_notebook_is_clean_thin_and_runs(tmp_path, monkeypatch):
    path = REPO_DIR / "notebooks" / "observed.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(len(c.source.splitlines()) <= 15 for c in code)  # logic lives in analysis.tracks.explore
    root = tmp_path / "project"
    (root / "data" / "raw" / "basemap").mkdir(parents=True)
    shutil.copy(
        REPO_DIR / "data" / "raw" / "basemap" / "countries-110m.json", root / "data" / "raw" / "basemap"
    )
    monkeypatch.setenv("FLIGHTS_ROOT", str(root))
    out = papermill.execute_notebook(
        str(path),
        str(tmp_path / "out.ipynb"),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(path.parent),
        extra_arguments=KERNEL_ARGS,
    )
    outputs = [o for c in out.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "4 legs" in text  # the demo aircraft flew 4 legs (generator truth)
    # map and altitude profile, each one output carrying a Vega (5) or Vega-Lite bundle
    assert sum(any("vnd.vega" in k for k in o.get("data", {})) for o in outputs) == 2
