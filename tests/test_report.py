"""The report: every notebook runs, pages are offline, a rerun does little, new data alone adds a page."""

from __future__ import annotations

import json
import re
import time

import nbformat
import papermill
import pytest

from analysis import queries
from analysis.report import report

NOTEBOOKS = ["episode.ipynb", "compare.ipynb", "patterns.ipynb"]
NETWORK = re.compile(r"""(<script[^>]+src=|<link[^>]+href=|<img[^>]+src=["']?https?:|<iframe|url\(\s*["']?https?:|@import)""", re.I)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_clean_with_one_parameters_cell(name, built_project):
    nb = nbformat.read(built_project.notebooks / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_report_has_a_page_per_episode_and_runs_every_notebook(built_report):
    site = built_report.reports
    index = (site / "index.html").read_text(encoding="utf-8")
    for episode_id in queries.episode_ids(built_report):
        page = site / f"episode-{episode_id}.html"
        assert page.exists(), episode_id
        assert f'href="episode-{episode_id}.html"' in index
        assert "Traceback" not in page.read_text(encoding="utf-8")
    for page in ("compare.html", "patterns.html"):
        assert (site / page).exists() and f'href="{page}"' in index


def test_pages_load_nothing_from_the_network(built_report):
    pages = sorted(built_report.reports.glob("*.html"))
    assert len(pages) >= 13
    for page in pages:
        text = page.read_text(encoding="utf-8")
        hits = NETWORK.findall(text)
        assert not hits, (page.name, hits[:3])
        if "flights-spec" in text:
            assert "vegaEmbed" in text  # vega is inlined in the page, not fetched


def test_charts_are_in_the_pages(built_report):
    page = (built_report.reports / "episode-2025-10-caracas.html").read_text(encoding="utf-8")
    assert page.count('class="flights-spec"') >= 2  # the map and the timeline at least


def test_second_report_with_nothing_changed_does_little(built_report):
    t0 = time.monotonic()
    result = report(built_report)
    assert result["status"] == "up-to-date"
    assert time.monotonic() - t0 < 30  # a generous bound: no notebook may run


def test_unknown_episode_stops_the_notebook_with_the_valid_ids(built_project, tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTS_ROOT", str(built_project.root))
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(str(built_project.notebooks / "episode.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"episode_id": "1999-01-nowhere"}, kernel_name="python3",
                                   progress_bar=False, cwd=str(built_project.notebooks))
    assert "UnknownEpisodeError" in str(err.value) and "2019-03-caracas" in str(err.value)


def test_new_episode_by_data_alone_appears_in_the_report(extended_report):
    """As the README says: add rows to data/raw, record checksums (make accept-raw), make report."""
    project = extended_report
    assert (project.reports / "episode-2026-11-managua.html").exists()
    assert 'href="episode-2026-11-managua.html"' in (project.reports / "index.html").read_text(encoding="utf-8")
    e = queries.episode("2026-11-managua", project=project)
    assert e["dest_dwell_h"] == pytest.approx(18 + 55 / 60, abs=0.02)  # 14:05 to 09:00 next day, Managua time
    f = queries.findings("2026-11-managua", category="recurring airframes", project=project)
    assert "2026-11-managua" in f["statement"][0]
    assert "episode-2026-11-managua.html" in json.loads((project.reports / "site.json").read_text())["pages"]
